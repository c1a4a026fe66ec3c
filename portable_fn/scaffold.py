"""`portable-fn init` and `portable-fn new`: a new app from a template, a new function in an app.

Templates live in `templates/`: `common/` (pyproject.toml, .gitignore, the package) is written for
every app, then the chosen template's own files (`TEMPLATES`); `function/` holds one module and one
test per trigger kind for `new_function`. `{{name}}` (the app), `{{module}}`, `{{function}}` and
`{{resource}}` (the function's queue, topic or route, its name with '-') are filled in.
"""

from __future__ import annotations

import ast
import keyword
import re
import sys
import unicodedata
from collections.abc import Collection
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .config import load_config
from .packaging import import_closure
from .runtime.errors import ConfigError

TEMPLATES_DIR = Path(__file__).parent / "templates"
TEMPLATES = {
    "api": "An HTTP API: a public GET route, and a queue for background jobs.",
    "queue-worker": "A worker for a queue: retries what fails, dead-letters what never can succeed.",
    "scheduled-job": "Jobs run by a timer: one every hour, one at 03:00 UTC.",
    "storage-pipeline": "Functions run for each file created in, or deleted from, a bucket.",
}
TRIGGERS = ("http", "queue", "topic", "schedule", "storage")
# template files stored without their leading dot (package data globs skip hidden files)
DOTTED = {"gitignore": ".gitignore"}
_NAME = re.compile(r"[a-z][a-z0-9-]{1,30}[a-z0-9]\Z")
_FUNCTION = re.compile(r"[a-z][a-z0-9_]{0,62}\Z")  # a module name, and a function name every cloud takes


class BadName(ConfigError):
    """A name given on the command line that cannot name an app or a function (a usage error: exit code 2)."""


def suggested(name: str, pattern: re.Pattern[str], separator: str, taken: Collection[str] = ()) -> str:
    """ " Try 'x'." with the name `name` most likely meant, when `pattern` accepts it and it is not `taken`: lower
    case, each run of other characters one `separator` ("Make Thumbnail" -> "make_thumbnail"). Otherwise ""."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()  # "Über" -> "Uber"
    guess = separator.join(re.findall(r"[a-z0-9]+", plain.lower()))
    usable = pattern.match(guess) and not (separator == "_" and keyword.iskeyword(guess)) and guess not in taken
    return f" Try {guess!r}." if usable else ""


def create_app(target: Path, template: str = "api") -> Path:
    """Write the template into `target` (which must not exist yet); the app is named after it."""
    name = target.name
    if name in ("", ".."):  # `init .`: the directory exists, and its path names no app
        raise BadName(
            f"init creates a new directory named after the app, and {str(target)!r} names none: give the app's "
            "name, like `portable-fn init my-app`."
        )
    if template not in TEMPLATES:
        raise ConfigError(f"There is no template {template!r}; choose one of {', '.join(TEMPLATES)}.")
    if not _NAME.match(name):
        raise BadName(
            f"App name {name!r} is invalid: use 3-32 lowercase letters, digits and '-', starting with a "
            f"letter (it names every cloud resource).{suggested(name, _NAME, '-')}"
        )
    if target.exists():
        raise ConfigError(f"{target} already exists; choose a new directory name.")
    values = {"{{name}}": name, "{{module}}": name.replace("-", "_")}
    for folder in (TEMPLATES_DIR / "common", TEMPLATES_DIR / template):
        for source in sorted(folder.rglob("*")):
            if source.is_file() and "__pycache__" not in source.parts:
                relative = _fill(str(source.relative_to(folder)), values)
                _write(target / DOTTED.get(relative, relative), _fill(source.read_text("utf-8"), values))
    return target


def new_function(app_dir: Path, name: str, trigger: str) -> list[Path]:
    """Add function `name` triggered by `trigger` to the app in `app_dir`: a module `<name>.py` next to
    the app's first module, listed in `modules`, and its test in the app's tests/. The files written."""
    config = load_config(app_dir)
    source = (app_dir / config.source).resolve()
    package = config.modules[0].rpartition(".")[0]
    module = f"{package}.{name}" if package else name
    module_file = source.joinpath(*module.split(".")).with_suffix(".py")
    test_file = app_dir / "tests" / f"test_{name}.py"
    _check_new(name, trigger, source, config.modules, [module_file, test_file])
    pyproject = app_dir / "pyproject.toml"
    listed = _with_module(pyproject.read_text("utf-8"), module, config.modules, pyproject)
    values = {"{{function}}": name, "{{module}}": module, "{{resource}}": name.replace("_", "-")}
    _write(module_file, _fill((TEMPLATES_DIR / "function" / f"{trigger}.py").read_text("utf-8"), values))
    _write(test_file, _fill((TEMPLATES_DIR / "function" / f"test_{trigger}.py").read_text("utf-8"), values))
    pyproject.write_text(listed, encoding="utf-8")
    return [module_file, test_file, pyproject]


def _check_new(name: str, trigger: str, source: Path, modules: list[str], files: list[Path]) -> None:
    """Refuse an unknown trigger, a name that cannot be a module and a function, or one in use."""
    if trigger not in TRIGGERS:
        raise ConfigError(f"There is no trigger {trigger!r}; choose one of {', '.join(TRIGGERS)}.")
    declared = _declared_functions(source, modules)
    if not _FUNCTION.match(name) or keyword.iskeyword(name):
        raise BadName(
            f"Function name {name!r} is invalid: use up to 63 lowercase letters, digits and '_', starting "
            "with a letter, and not a Python keyword (it names the module, the handler and the cloud "
            f"function).{suggested(name, _FUNCTION, '_', taken=declared)}"
        )
    if name in declared:
        raise ConfigError(f"The app already has a function named {name!r} ({declared[name]}); choose another name.")
    existing = next((f for f in files if f.exists()), None)
    if existing is not None:
        raise ConfigError(f"{existing} already exists; choose another function name.")


def _declared_functions(source: Path, modules: list[str]) -> dict[str, str]:
    """Name -> `file:line` of each `@function` declared in the app's modules (read, not imported)."""
    found: dict[str, str] = {}
    for archive_name in import_closure(source, modules):
        try:
            tree = ast.parse((source / archive_name).read_bytes())
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for decorator in node.decorator_list:
                    if isinstance(decorator, ast.Call) and _called(decorator) == "function":
                        found.setdefault(_function_name(node, decorator), f"{archive_name}:{node.lineno}")
    return found


def _called(call: ast.Call) -> str:
    return getattr(call.func, "id", getattr(call.func, "attr", ""))


def _function_name(node: ast.FunctionDef | ast.AsyncFunctionDef, decorator: ast.Call) -> str:
    given = next((k.value for k in decorator.keywords if k.arg == "name"), None)
    return given.value if isinstance(given, ast.Constant) and isinstance(given.value, str) else node.name


def _with_module(text: str, module: str, modules: list[str], pyproject: Path) -> str:
    """pyproject.toml's text with `module` added to `modules` under [tool.portable-fn], the rest as it was."""
    table = re.search(r"^\[tool\.portable-fn\][ \t]*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    listing = re.search(r"^modules\s*=\s*\[(.*?)\]", table.group(1), re.M | re.S) if table else None
    if table is None or listing is None:
        raise ConfigError(
            f"{pyproject}: `modules` under [tool.portable-fn] was not found as a list; add {module!r} to it by hand."
        )
    items = listing.group(1)
    kept = items.rstrip()
    if "\n" in items:  # one module a line: a line of its own, before the closing bracket's
        last = items.rindex("\n") + 1
        before = items[:last].rstrip()
        comma = "," if before.endswith(('"', "'")) else ""  # the last item had none
        added = f'{before}{comma}{items[len(before) : last]}    "{module}",\n{items[last:]}'
    else:
        added = f'{kept}{" " if kept.endswith(",") else ", "}"{module}"'
    at = table.start(1) + listing.start(1)
    updated = text[:at] + added + text[at + len(items) :]
    try:
        now = tomllib.loads(updated).get("tool", {}).get("portable-fn", {}).get("modules")
    except tomllib.TOMLDecodeError:
        now = None
    if now != [*modules, module]:  # a comment holding ']' in the list, say
        raise ConfigError(
            f"{pyproject}: `modules` under [tool.portable-fn] could not be extended safely; "
            f"add {module!r} to it by hand."
        )
    return updated


def _fill(text: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
