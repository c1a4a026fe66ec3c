"""User code for the runtime tests: real modules, imported the way an app's modules are.

`models.py` holds the user's data types; `events.py` and `web.py` hold valid functions; every `bad_*.py`
module holds one mistake that `@function` must reject while the module is being imported.
"""
