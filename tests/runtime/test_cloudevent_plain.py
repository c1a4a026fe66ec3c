"""CloudEvent is plain Python: immutable without swapping its class, written only by its own constructor,
and its JSON read through the public `json` API. Checked on the source, since none of these shows in
what an event does: they are how it is built."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import portable_fn.runtime

RUNTIME = Path(portable_fn.runtime.__file__).resolve().parent
REPOSITORY = RUNTIME.parent.parent
CLOUDEVENT = RUNTIME / "cloudevent.py"
# Everything that ships inside a function and builds or reads events: the runtime and the provider shims.
SHIPPED = sorted(RUNTIME.rglob("*.py")) + sorted(REPOSITORY.glob("providers/*/portable_fn_*/*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(REPOSITORY)}:{getattr(node, 'lineno', '?')}"


def _is_object_setattr(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "__setattr__"
        and isinstance(node.value, ast.Name)
        and node.value.id == "object"
    )


def test_the_shipped_modules_are_found() -> None:
    names = {p.name for p in SHIPPED}
    assert {"cloudevent.py", "dispatch.py", "records.py", "events.py"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPOSITORY)))
def test_no_object_has_its_class_swapped(path: Path) -> None:
    """An object's class is the one it was made as: no `x.__class__ = ...`, no `setattr(x, "__class__", ...)`."""
    found = []
    for node in ast.walk(_tree(path)):
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Attribute) and t.attr == "__class__" for t in targets):
            found.append(_where(path, node))
        if isinstance(node, ast.Call) and any(
            isinstance(a, ast.Constant) and a.value == "__class__" for a in node.args
        ):
            found.append(_where(path, node))
    assert not found, f"class swapped at {found}; build the object as its own class"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPOSITORY)))
def test_no_module_writes_an_event_through_its_slot_descriptors(path: Path) -> None:
    """`CloudEvent.__dict__[name].__set__(event, value)` would change an event after it was made."""
    found = [
        _where(path, node)
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Attribute)
        and node.attr == "__dict__"
        and isinstance(node.value, ast.Name)
        and node.value.id == "CloudEvent"
    ]
    assert not found, f"CloudEvent's descriptors read at {found}; use event.with_data() or event.replace()"


def test_only_the_cloudevent_class_writes_past_its_own_guard() -> None:
    """`object.__setattr__` appears once, in the class, where a new event is filled in (as the `__init__`
    of a frozen dataclass does); no descriptor `__set__` anywhere in the module."""
    tree = _tree(CLOUDEVENT)
    event_class = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "CloudEvent")
    inside = {id(n) for n in ast.walk(event_class)}
    outside = [_where(CLOUDEVENT, n) for n in ast.walk(tree) if _is_object_setattr(n) and id(n) not in inside]
    assert not outside, f"object.__setattr__ outside class CloudEvent at {outside}"
    setters = [_where(CLOUDEVENT, n) for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "__set__"]
    assert not setters, f"descriptor writes at {setters}"


def test_cloudevent_reads_json_through_the_public_api_only() -> None:
    """No private or undocumented part of `json` (its scanner, `json.scanner`, `_json`), and no private
    attribute of any standard-library module."""
    tree = _tree(CLOUDEVENT)
    modules = {alias.asname or alias.name for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in (
            "scan_once",
            "parse_object",
            "parse_array",
            "c_make_scanner",
            "py_make_scanner",
        ):
            found.append(f"{_where(CLOUDEVENT, node)} .{node.attr}")
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{_where(CLOUDEVENT, node)} {node.value.id}.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module in ("json.scanner", "json.decoder", "_json"):
            found.append(f"{_where(CLOUDEVENT, node)} from {node.module}")
    assert not found, f"private standard-library API used: {found}"
