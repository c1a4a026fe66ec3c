"""The vault test app: what ships is its modules, its data files and what it includes on purpose."""
