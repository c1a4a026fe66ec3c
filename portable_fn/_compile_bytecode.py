"""Run by `portable_fn.bytecode` under an interpreter of the target's Python version, never imported.

    python3.X -s -S _compile_bytecode.py 3.X ROOT  < JSON list of archive names

compiles each `ROOT/src/<name>` to `ROOT/out/<folder>/__pycache__/<stem>.<cache tag>.pyc` (unchecked
hash-based, PEP 552, no optimisation) and prints a JSON object: each name and the pyc written for it, or
null for a file that does not compile under this version (it ships without bytecode, as pip leaves it).
Exit status 3: this interpreter is not Python 3.X. Standard library only, and no syntax newer than the
oldest Python a function runs on.
"""

from __future__ import annotations

import json
import py_compile
import sys


def main(target: str, root: str) -> int:
    if f"{sys.version_info[0]}.{sys.version_info[1]}" != target:
        return 3
    written: dict[str, str | None] = {}
    for name in json.load(sys.stdin):
        folder, _, file = name.rpartition("/")
        cached = f"__pycache__/{file[:-3]}.{sys.implementation.cache_tag}.pyc"
        pyc = f"{folder}/{cached}" if folder else cached
        try:
            py_compile.compile(
                f"{root}/src/{name}",
                cfile=f"{root}/out/{pyc}",
                dfile=name,
                doraise=True,
                optimize=0,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
        except py_compile.PyCompileError:
            written[name] = None
        else:
            written[name] = pyc
    json.dump(written, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
