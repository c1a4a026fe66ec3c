"""Where `files` reads from; imported by `files` only."""

from __future__ import annotations

FILES = {"readme.txt": b"hello"}
