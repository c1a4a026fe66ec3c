"""Commands kept in modules of their own (`cost`, `check`, `history`, `export`, ...).

Each module here adds its commands to `portable_fn.cli.cli` when imported, using the options and wiring
that `portable_fn.cli` defines; `portable_fn.cli` imports every module of this package once it is built.
"""
