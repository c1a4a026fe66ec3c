"""Deterministic packaging: the same inputs always give the same zip bytes and the same hash; and what
of the app's source directory ships (`app_files`), decided here once for every provider.

Entries are sorted, timestamps fixed, permissions normalised, so an unchanged app hashes the same on
any machine and is never uploaded again.

What ships is what the app needs: its modules, the packages and data files under its source directory,
and what the user includes on purpose. These stay out by default (names compared without case):

| what                    | rule                                                                        |
|-------------------------|-----------------------------------------------------------------------------|
| hidden files and folders| any path part starting with "." (`.git`, `.venv`, `.env*`, `.ssh`, `.aws`,   |
|                         | `.netrc`, `.git-credentials`, `.streamlit`, `.terraform`, `.idea`, `.vscode`) |
| VCS, IDE, virtualenvs   | the folders in `EXCLUDED_DIRS`, and any folder holding a `pyvenv.cfg`       |
| caches, build output    | `__pycache__/`, `*.pyc`, `*.pyo`, `build/`, `dist/`, `*.egg-info/`, `htmlcov/` |
| tests                   | `tests/` and `test/` folders, `conftest.py`, `test_*.py`, `*_test.py`, unless |
|                         | an app module is (or lives in) it: one declared in `modules`, or one they   |
|                         | import, directly or through other app modules (`import_closure`)            |
| IaC state and inputs    | `*.tfstate*`, `terraform.tfstate.d/`, `*.tfvars`, `*.tfvars.json`,           |
|                         | `Pulumi.*.yaml`, `cdk.out/`                                                 |
| secret folders          | `secrets/` and `credentials/`                                               |
| secret files            | `SECRET_FILES`: `secrets.*`, `credentials*`, `*.pem`, `*.key`, `*.p12`,      |
|                         | `*.pfx`, `*.jks`, `*.keystore`, `*.ppk`, `id_rsa*`, `id_dsa*`, `id_ecdsa*`,  |
|                         | `id_ed25519*`, `_netrc`, `htpasswd`, `service-account*.json` (and `_`, no    |
|                         | separator), `client_secret*.json`, `kubeconfig`, `*.kubeconfig`,             |
|                         | `*.publishsettings`, `local.settings.json`, `*.p8`, `secring.*`, and the     |
|                         | dotfiles without their dot (`npmrc`, `pypirc`, `pgpass`, `netrc`,           |
|                         | `git-credentials`, `dockercfg`), `application_default_credentials.json`;    |
|                         | never a `*.py` module (code, which the content check reads like any other)  |

Names are compared as `fold_name` reads them: fullwidth and other compatibility forms, accents, invisible
characters, Cyrillic and Greek letters drawn like Latin ones (`id_rsa` with a Cyrillic i) and trailing dots do
not make a name another.

`include` and `exclude` under `[tool.portable-fn]` are globs relative to the source directory (`*` and
`?` within a path part, `**` for any number of parts; a glob that matches a folder matches everything in
it). `include` puts back what the default rules leave out; `exclude` removes more, and wins over
`include`. A module the app imports that does not ship anyway (`exclude` names it, or a rule other than
the tests rule leaves it out) stops the build: the error names the importing file and line, the module,
and the fix, rather than a function that fails with ModuleNotFoundError in the cloud only.

Then the content check (`CREDENTIAL_SHAPES`) reads every kept text file of at most `SCANNED_BYTES`
(UTF-8 or UTF-16; binaries and larger files are not read) and refuses to package one that looks like a
credential: a PEM private key (also split into string pieces or JSON lines, or escaped inside JSON), a
service-account JSON key or a Google user credential, `.netrc`-style passwords, an AWS key pair, a password
in a URL, an Azure storage or Service Bus key or shared access signature, a PuTTY key, a GitHub, GitLab,
Slack, Stripe, npm, PyPI or Vault token, a Google API key, a Slack webhook, a Docker registry login; and any
of these written in base64 (a kubeconfig's `client-key-data`), in hex, in UTF-7, with escapes (`\\u002d`, `%2D`,
`&#45;`) or in string pieces (Python's read by its parser); and a private key in DER. An archive (zip, tar,
gzip, bzip2, xz: by its first bytes, whatever its name) is opened, and the archives inside it: each file in
it is held to the name rules for credentials (`_credential_name`) and to this content check, and the error
names it `archive!member`; one too big to check (`ARCHIVE_MEMBERS`, `ARCHIVE_BYTES`), unreadable, nested
deeper, or of a kind the standard library cannot open (7z, RAR, Zstandard) is refused. A symbolic link to a
file outside the app, or to nothing, is refused the same way, and so is a hard link to a file with a name that
does not ship (outside the app, or left out). Only naming the file itself in `include` (its path, no
wildcard) ships it anyway; the error names each file and what it looks like, never the secret. A `source`
outside the app's directory (`..`, an absolute path, a link) is refused when the app loads (`config`). What
packaging generates from the app's settings (a `requirements.txt` with the app's index options) is checked
too (`refuse_generated_credential`), and progress lines and errors show URLs with their credentials as `***`.

The parts every provider's packaging shares live here too: the app's requirement lines
(`app_requirements`) and the modules of a provider package its runtime shim needs (`module_closure`).
One import scanner (`import_lines`) decides what of the app and of a provider package ships: it follows
relative imports, imports inside functions and `import_module` / `__import__` with a constant name, and
skips `if TYPE_CHECKING:` blocks, which never run.
The app's own bytecode never ships; the Lambda and Azure packages ship bytecode compiled from what they
hold, for the app's Python (`portable_fn.bytecode`).
"""

from __future__ import annotations

import ast
import base64
import bz2
import gzip
import hashlib
import io
import lzma
import os
import re
import shlex
import stat
import sys
import tarfile
import unicodedata
import zipfile
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .deploy.models import Artifact
from .runtime.errors import ConfigError, DeployError

if TYPE_CHECKING:
    from .app import App

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# Folders that hold credentials by name, as the files in `SECRET_FILES` do: left out of the app, refused in an archive.
SECRET_DIRS = frozenset({"secrets", "secret", "credentials"})
# Folders left out wherever they are (hidden ones, `.git`, `.venv`, `.idea` and the like, are already).
EXCLUDED_DIRS = (
    frozenset(
        {
            "__pycache__",
            "venv",
            "env",
            "virtualenv",
            "__pypackages__",
            "node_modules",
            "build",
            "dist",
            "htmlcov",
            "cdk.out",
            "terraform.tfstate.d",
            "cvs",
            "nbproject",
        }
    )
    | SECRET_DIRS
)
# The hidden folders of tools that keep their credentials in them: what of a home directory an archive may hold.
CREDENTIAL_DOT_DIRS = frozenset({".ssh", ".aws", ".azure", ".gnupg", ".docker", ".kube", ".gcloud", ".password-store"})
TEST_DIRS = frozenset({"tests", "test"})
TEST_FILES = ("conftest.py", "test_*.py", "*_test.py")
# Infrastructure-as-code state and inputs, which hold the resources' secrets in clear.
STATE_FILES = ("*.tfstate", "*.tfstate.*", "*.tfvars", "*.tfvars.json", "pulumi.*.yaml", "pulumi.*.yml")
# Bytecode, IaC state, and logs.
EXCLUDED_FILES = (
    "*.pyc",
    "*.pyo",
    *STATE_FILES,
    "*.log",  # a log written beside the app (`portable-fn dev . > dev.log`): output, and `dev` reloaded on it
)
# Files that hold credentials by convention; never applied to a `.py` module, which is code.
SECRET_FILES = (
    "secrets.*",
    "credentials*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.ppk",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "_netrc",
    "htpasswd",
    "service-account*.json",
    "service_account*.json",
    "serviceaccount*.json",
    "client_secret*.json",
    "kubeconfig",
    "*.kubeconfig",
    "*.publishsettings",
    "local.settings.json",
    # the dotfiles of package managers, git and databases, without their dot (hidden ones are left out anyway)
    "npmrc",
    "pypirc",
    "pgpass",
    "netrc",
    "git-credentials",
    "dockercfg",
    "application_default_credentials.json",
    "secring.*",
    "*.p8",
    # environment files without their leading dot (`prod.env`, `env.local`): what `.env` holds, under a name
    "*.env",
    "env",
    "dotenv",
    "env.local",
    "env.*.local",
    "env.development",
    "env.production",
    "env.staging",
    "env.test",
    "*.jwk",
    "*.jwks",
)
SCANNED_BYTES = 1024 * 1024  # the content check reads a file whole up to this size, else its head and tail
# An archive in the app (zip, tar, gzip, bzip2 or xz, by its first bytes) is opened and its files held to the name and
# content rules, within these bounds; one beyond them, or unreadable, or nested deeper, is refused unless included.
ARCHIVE_MEMBERS = 10_000  # files in one archive, those of the archives inside it included
ARCHIVE_BYTES = 64 * 1024 * 1024  # what they unpack to, added up
ARCHIVE_DEPTH = 1  # an archive inside an archive is opened; one inside that is not
# Letters of other scripts drawn like Latin ones, by their Unicode names, and the Latin letter each is read as by
# `fold_name` (in a name only: `id_rsa` written with a Cyrillic "i" is held to the rules of `id_rsa`).
LOOKALIKES = {
    "a": (
        "CYRILLIC SMALL LETTER A",
        "CYRILLIC CAPITAL LETTER A",
        "GREEK SMALL LETTER ALPHA",
        "GREEK CAPITAL LETTER ALPHA",
    ),
    "b": ("CYRILLIC CAPITAL LETTER VE", "GREEK CAPITAL LETTER BETA"),
    "c": ("CYRILLIC SMALL LETTER ES", "CYRILLIC CAPITAL LETTER ES", "GREEK LUNATE SIGMA SYMBOL"),
    "d": ("CYRILLIC SMALL LETTER KOMI DE", "CYRILLIC CAPITAL LETTER KOMI DE"),
    "e": ("CYRILLIC SMALL LETTER IE", "CYRILLIC CAPITAL LETTER IE", "GREEK CAPITAL LETTER EPSILON"),
    "g": ("LATIN SMALL LETTER SCRIPT G",),
    "h": ("CYRILLIC SMALL LETTER SHHA", "CYRILLIC CAPITAL LETTER EN", "GREEK CAPITAL LETTER ETA"),
    "i": (
        "CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I",
        "CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I",
        "CYRILLIC LETTER PALOCHKA",
        "GREEK SMALL LETTER IOTA",
        "GREEK CAPITAL LETTER IOTA",
        "LATIN SMALL LETTER DOTLESS I",
    ),
    "j": ("CYRILLIC SMALL LETTER JE", "CYRILLIC CAPITAL LETTER JE", "GREEK LETTER YOT", "LATIN SMALL LETTER DOTLESS J"),
    "k": ("CYRILLIC CAPITAL LETTER KA", "GREEK SMALL LETTER KAPPA", "GREEK CAPITAL LETTER KAPPA"),
    "l": ("CYRILLIC SMALL LETTER PALOCHKA",),
    "m": ("CYRILLIC CAPITAL LETTER EM", "GREEK CAPITAL LETTER MU"),
    "n": ("CYRILLIC SMALL LETTER PE", "GREEK CAPITAL LETTER NU"),
    "o": (
        "CYRILLIC SMALL LETTER O",
        "CYRILLIC CAPITAL LETTER O",
        "GREEK SMALL LETTER OMICRON",
        "GREEK CAPITAL LETTER OMICRON",
    ),
    "p": (
        "CYRILLIC SMALL LETTER ER",
        "CYRILLIC CAPITAL LETTER ER",
        "GREEK SMALL LETTER RHO",
        "GREEK CAPITAL LETTER RHO",
    ),
    "q": ("CYRILLIC SMALL LETTER QA", "CYRILLIC CAPITAL LETTER QA"),
    "r": ("CYRILLIC SMALL LETTER GHE",),
    "s": ("CYRILLIC SMALL LETTER DZE", "CYRILLIC CAPITAL LETTER DZE"),
    "t": ("CYRILLIC CAPITAL LETTER TE", "GREEK CAPITAL LETTER TAU"),
    "u": ("GREEK SMALL LETTER UPSILON",),
    "v": ("GREEK SMALL LETTER NU",),
    "w": ("CYRILLIC SMALL LETTER WE", "CYRILLIC CAPITAL LETTER WE"),
    "x": (
        "CYRILLIC SMALL LETTER HA",
        "CYRILLIC CAPITAL LETTER HA",
        "GREEK SMALL LETTER CHI",
        "GREEK CAPITAL LETTER CHI",
    ),
    "y": (
        "CYRILLIC SMALL LETTER U",
        "CYRILLIC CAPITAL LETTER U",
        "CYRILLIC SMALL LETTER STRAIGHT U",
        "CYRILLIC CAPITAL LETTER STRAIGHT U",
        "GREEK SMALL LETTER GAMMA",
        "GREEK CAPITAL LETTER UPSILON",
    ),
    "z": ("GREEK CAPITAL LETTER ZETA",),
    "-": ("HYPHEN", "FIGURE DASH", "EN DASH", "MINUS SIGN"),
}
# Small capitals ("LATIN LETTER SMALL CAPITAL D"; Unicode has one for each letter but x) are read as letters too.
SMALL_CAPITALS = {f"LATIN LETTER SMALL CAPITAL {letter.upper()}": letter for letter in "abcdefghijklmnopqrstuvwyz"}
_LOOKALIKE_TABLE = str.maketrans(
    {unicodedata.lookup(name): latin for latin, names in LOOKALIKES.items() for name in names}
    | {unicodedata.lookup(name): latin for name, latin in SMALL_CAPITALS.items()}
)
RUNTIME_DIR = Path(__file__).parent
# The portable-fn distributions themselves: the runtime ships from this machine, providers never ship.
OWN_DISTRIBUTIONS = re.compile(r"^portable[-_.]fn([-_.](aws|gcp|azure))?$", re.IGNORECASE)
# The distribution name at the start of a requirement line.
REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
Entry = tuple[str, "bytes | Path"]


def app_files(app: App, skip: Path | None = None, *, context: str | None = None) -> list[tuple[str, Path]]:
    """(archive name, path) for every file of the app's source directory that ships (see the module
    docstring), sorted; none from inside `skip` (the directory the package is written to, when it lies in
    the source). A file that looks like a credential stops the build, unless `include` names it.

    `context` starts the error ("Packaging 'shop' for gcp")."""
    imported = import_closure(app.source_dir, app.config.modules)
    rules = ShipRules.of(app, frozenset(imported))
    files = rules.select(app.source_dir, skip)
    shipped = {name for name, _ in files}
    missing = [(name, by) for name, by in imported.items() if name not in shipped]
    if missing:
        raise DeployError(_missing_modules(rules, missing, context or f"Packaging {app.name!r}"))
    root = app.source_dir.resolve()
    links = _shipped_links(files)
    flagged = [
        (name, shown, what)
        for name, path in files
        if not rules.names(name)
        for shown, what in _problems(name, path, root, rules, links)
    ]
    if flagged:
        raise DeployError(_refusal(app, flagged, context or f"Packaging {app.name!r}"))
    return files


def _problems(
    name: str, path: Path, root: Path, rules: ShipRules, links: Counter[tuple[int, int]]
) -> list[tuple[str, str]]:
    """(name shown, what it looks like) for each reason the app's file `name` (at `path`) cannot ship unchecked:
    what it is (`_file_problem`), the credentials inside it when it is an archive (`archive_problems`, each shown
    as `name!member`), what its content looks like (`looks_like_credential`), or a hard link to a file that does
    not ship (`_hard_link_problem`). [] for a file that ships."""
    what = _file_problem(path, root, rules)
    if what is not None:
        return [(name, what)]
    inside = archive_problems(path, name)
    if inside:
        return inside
    what = looks_like_credential(path) or _hard_link_problem(path, links)
    return [] if what is None else [(name, what)]


def _shipped_links(files: list[tuple[str, Path]]) -> Counter[tuple[int, int]]:
    """How many of the shipped files are each file (device, inode): the names of a hard-linked file that ship."""
    found: Counter[tuple[int, int]] = Counter()
    for _, path in files:
        try:
            info = path.lstat()
        except OSError:
            continue
        found[(info.st_dev, info.st_ino)] += 1
    return found


def _hard_link_problem(path: Path, links: Counter[tuple[int, int]]) -> str | None:
    """Why a hard link cannot ship unchecked: the file has more names than those that ship, so one lies outside
    the app or is one the rules leave out (a `.env`, `~/.aws/credentials` linked in under a harmless name)."""
    try:
        info = path.lstat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_nlink <= links[(info.st_dev, info.st_ino)]:
        return None
    return (
        f"a hard link to a file with {info.st_nlink} names, of which only {links[(info.st_dev, info.st_ino)]} "
        "ship: another lies outside the app or is left out of it (copy the file instead of linking it)"
    )


@dataclass(frozen=True)
class Glob:
    """One `include` or `exclude` glob: it matches a path, or a folder the path lies in."""

    text: str
    parts: tuple[re.Pattern[str] | None, ...]  # one per path part; None for `**`
    whole: re.Pattern[str]

    @classmethod
    def parse(cls, text: str) -> Glob:
        """The glob `text`; a ValueError says why it cannot be one."""
        if "\\" in text:
            raise ValueError("has a backslash; separate path parts with /")
        if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
            raise ValueError("is absolute; globs are relative to the source directory")
        parts = [part for part in text.split("/") if part not in ("", ".")]
        if not parts:
            raise ValueError("is empty")
        if ".." in parts:
            raise ValueError("reaches outside the source directory")
        if any("**" in part and part != "**" for part in parts):
            raise ValueError("has ** inside a path part; ** must be a whole part, as in 'data/**/*.json'")
        segments = [None if part == "**" else _segment(part) for part in parts]
        regex = "".join(
            (".*" if i == len(parts) - 1 else "(?:[^/]+/)*")
            if segment is None
            else segment + ("" if i == len(parts) - 1 else "/")
            for i, segment in enumerate(segments)
        )
        return cls("/".join(parts), tuple(None if s is None else re.compile(s) for s in segments), re.compile(regex))

    def matches(self, path: PurePosixPath) -> bool:
        """Whether the glob matches `path` or one of the folders it lies in."""
        return any(self.whole.fullmatch(str(p)) for p in (path, *path.parents) if str(p) != ".")

    def may_reach(self, folder: PurePosixPath) -> bool:
        """Whether the glob could match something inside `folder`."""
        for i, name in enumerate(folder.parts):
            if i >= len(self.parts):
                return False
            part = self.parts[i]
            if part is None:
                return True
            if not part.fullmatch(name):
                return False
        return True

    def names(self, folder: PurePosixPath) -> bool:
        """Whether a part of the glob other than `**`, at the folder's depth, matches the folder's own name."""
        depth = len(folder.parts) - 1
        if depth >= len(self.parts) or any(part is None for part in self.parts[:depth]):
            return False
        part = self.parts[depth]
        return part is not None and part.fullmatch(folder.name) is not None

    @property
    def literal(self) -> bool:
        return not any(c in self.text for c in "*?[")


@dataclass(frozen=True)
class ShipRules:
    """The default rules, the app's `include` and `exclude` globs, and the files of its modules (which
    ship even when named like tests). `ShipRules()` is the default rules alone."""

    include: tuple[Glob, ...] = ()
    exclude: tuple[Glob, ...] = ()
    modules: frozenset[str] = frozenset()  # archive names of the app's modules (`import_closure`)

    @classmethod
    def of(cls, app: App, modules: frozenset[str]) -> ShipRules:
        """The rules of `app` whose modules are the files `modules`; a ConfigError names a glob that
        cannot be one, and its key."""
        return cls(_globs(app, "include"), _globs(app, "exclude"), modules)

    def select(self, source_dir: Path, skip: Path | None = None) -> list[tuple[str, Path]]:
        """(archive name, path) of the files of `source_dir` these rules ship, sorted by name."""
        left_out: set[PurePosixPath] = set()  # folders the default rules leave out that include reaches
        found: list[tuple[str, Path]] = []
        for top, dirs, names in os.walk(source_dir):
            here = Path(top)
            folder = PurePosixPath(here.relative_to(source_dir).as_posix())
            dirs[:] = [d for d in dirs if self._enters(folder / d, here / d, folder in left_out, left_out, skip)]
            for name in names:
                rel = folder / name
                if self._ships(rel, folder in left_out):
                    found.append((str(rel), here / name))
        return sorted(found)

    def names(self, archive_name: str) -> bool:
        """Whether `include` names this file itself (its path, no wildcard): that waives the content check."""
        return any(glob.literal and glob.text == archive_name for glob in self.include)

    def _enters(
        self, folder: PurePosixPath, path: Path, inside_left_out: bool, left_out: set[PurePosixPath], skip: Path | None
    ) -> bool:
        if any(glob.matches(folder) for glob in self.exclude):
            return False
        if skip is not None and path.resolve().is_relative_to(skip.resolve()):
            return False
        own = self._default_out_folder(folder, path)
        if inside_left_out or own:
            # A folder the default rules leave out is entered by a glob that names it (`.well-known/*`), not
            # by a `**` that would reach into every hidden folder and virtualenv (`**/*.py`).
            if not any(
                glob.matches(folder) or (glob.may_reach(folder) and (not own or glob.names(folder)))
                for glob in self.include
            ):
                return False
            left_out.add(folder)
        return True

    def leaves_out(self, rel: PurePosixPath, root: Path) -> bool:
        """Whether these rules leave out the file `rel` of the source directory `root` (one of the folders it
        lies in, or its own name): what a symbolic link inside the app points to is held to them too."""
        left_out: set[PurePosixPath] = set()
        parent = PurePosixPath(".")
        for folder in reversed(rel.parents[:-1]):  # the top folder first
            if not self._enters(folder, root / folder, parent in left_out, left_out, None):
                return True
            parent = folder
        return not self._ships(rel, parent in left_out)

    def _ships(self, rel: PurePosixPath, inside_left_out: bool) -> bool:
        if any(glob.matches(rel) for glob in self.exclude):
            return False
        if any(glob.matches(rel) for glob in self.include):
            return True
        return not (inside_left_out or self._default_out_file(rel))

    def _default_out_folder(self, folder: PurePosixPath, path: Path) -> bool:
        name = fold_name(folder.name)
        if name in TEST_DIRS:
            return not any(PurePosixPath(module).is_relative_to(folder) for module in self.modules)
        return (
            name.startswith(".")
            or name in EXCLUDED_DIRS
            or name.endswith(".egg-info")
            or (path / "pyvenv.cfg").is_file()
        )

    def _default_out_file(self, rel: PurePosixPath) -> bool:
        name = fold_name(rel.name)
        if any(fnmatchcase(name, pattern) for pattern in TEST_FILES):
            return str(rel) not in self.modules
        return (
            name.startswith(".")
            or any(fnmatchcase(name, pattern) for pattern in EXCLUDED_FILES)
            or (not _is_python(rel.name) and any(fnmatchcase(name, pattern) for pattern in SECRET_FILES))
        )


def fold_name(name: str) -> str:
    """`name` as the name rules read it: compatibility forms as the letters they stand for (fullwidth letters,
    ligatures; Unicode's NFKD), without accents and invisible characters (`credentiáls`, a zero-width space),
    letters of other scripts that look like Latin ones as those (`LOOKALIKES`, `SMALL_CAPITALS`), in lower case,
    without the dots and spaces it ends with (which Windows drops: `netrc.` is `netrc`)."""
    decomposed = unicodedata.normalize("NFKD", name)
    kept = "".join(char for char in decomposed if unicodedata.category(char) not in ("Mn", "Cf"))
    return kept.translate(_LOOKALIKE_TABLE).lower().rstrip(". ") or kept


def _is_python(name: str) -> bool:
    """Whether a file of this name is a Python module, by its name as written (not `fold_name`'s: a `.py` in
    Cyrillic letters is no module, and a name rule holds it)."""
    return name.lower().endswith((".py", ".pyw"))


ANY_MODULE = "*"  # what `import_lines` says for `import_module(name)` with a name built at run time


def import_closure(source_dir: Path, modules: Iterable[str]) -> dict[str, str]:
    """The archive name of every module of the app at `source_dir` that `modules` (module names) import,
    directly or through other app modules, with their packages' `__init__.py`; each with where it is first
    imported ("shop/functions.py line 3"). A name built at run time cannot be followed."""
    found: dict[str, str] = {}
    todo = deque((module, "`modules` under [tool.portable-fn]") for module in modules)
    while todo:
        module, where = todo.popleft()
        for name in app_module_files(source_dir, module):
            if name not in found:
                found[name] = where
                todo += ((imported, f"{name} line {line}") for line, imported in app_imports(source_dir, name))
    return found


def app_module_files(source_dir: Path, module: str) -> list[str]:
    """Archive names of `module` and of the `__init__.py` of each package above it, those in the app."""
    parts = module.split(".")
    if not all(part.isidentifier() for part in parts):
        return []
    found = [f"{'/'.join(parts[:i])}/__init__.py" for i in range(1, len(parts) + 1)]
    found.append(f"{'/'.join(parts)}.py")
    return [name for name in found if (source_dir / name).is_file()]


def app_imports(source_dir: Path, archive_name: str) -> list[tuple[int, str]]:
    """`import_lines` of the app's file `archive_name`, whose relative imports resolve against its folder."""
    try:
        tree = ast.parse((source_dir / archive_name).read_bytes())
    except (SyntaxError, ValueError):  # not Python 3 source: nothing can import it, nothing to follow
        return []
    return import_lines(tree, ".".join(archive_name.split("/")[:-1]))


def import_lines(tree: ast.AST, package: str) -> list[tuple[int, str]]:
    """(line, absolute name) of each module the module `tree` imports when it runs: the one scanner that
    decides what of the app and of a provider package ships. `package` is the package the module lies in
    ("" at the top level), against which relative imports resolve.

    Imports inside functions count; those under `if TYPE_CHECKING:` do not (that block never runs).
    `from m import a` gives `m` and `m.a` (which may be a submodule); `importlib.import_module(name)`
    and `__import__(name)` give the name if it is a constant (a relative one resolved against a constant
    package or `__package__`), else `ANY_MODULE`."""
    found: list[tuple[int, str]] = []
    for node in _run_time_nodes(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            origin = _absolute(node.module or "", node.level, package)
            found += [
                (node.lineno, origin),
                *((node.lineno, f"{origin}.{a.name}".lstrip(".")) for a in node.names if a.name != "*"),
            ]
        elif isinstance(node, ast.Call) and _last_name(node.func) in ("__import__", "import_module"):
            found.append((node.lineno, _dynamic_name(node, package)))
    return sorted(((line, module) for line, module in found if module), key=lambda found: found[0])


def _run_time_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """The nodes of `tree` (breadth first, as `ast.walk`) but the bodies of `if TYPE_CHECKING:`."""
    todo = deque([tree])
    while todo:
        node = todo.popleft()
        yield node
        if isinstance(node, ast.If) and _last_name(node.test) == "TYPE_CHECKING":
            todo += [node.test, *node.orelse]
        else:
            todo += ast.iter_child_nodes(node)


def _last_name(node: ast.AST) -> str:
    """The last part of a name or attribute (`importlib.import_module` -> "import_module"), else ""."""
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def _absolute(module: str, level: int, package: str) -> str:
    """The absolute name of `module` imported with `level` leading dots from a module of `package`."""
    if not level:
        return module
    parts = package.split(".") if package else []
    base = parts[: max(0, len(parts) - level + 1)]
    return ".".join([*base, *([module] if module else [])])


def _dynamic_name(call: ast.Call, package: str) -> str:
    """The module an `import_module(name, package)` / `__import__(name, ..., level)` call imports, or
    `ANY_MODULE` when its name is built at run time."""
    arguments: dict[int | str, ast.expr] = {
        **dict(enumerate(call.args)),
        **{k.arg: k.value for k in call.keywords if k.arg},
    }
    name = arguments.get(0, arguments.get("name"))
    if not (isinstance(name, ast.Constant) and isinstance(name.value, str) and name.value.strip(".")):
        return ANY_MODULE
    if _last_name(call.func) == "__import__":
        level = arguments.get(4, arguments.get("level"))
        if level is None:
            return name.value
        if isinstance(level, ast.Constant) and isinstance(level.value, int):
            return _absolute(name.value, level.value, package)
        return ANY_MODULE
    relative_to = arguments.get(1, arguments.get("package"))
    dots = len(name.value) - len(name.value.lstrip("."))
    if not dots:
        return name.value
    if isinstance(relative_to, ast.Name) and relative_to.id == "__package__":
        return _absolute(name.value[dots:], dots, package)
    if isinstance(relative_to, ast.Constant) and isinstance(relative_to.value, str):
        return _absolute(name.value[dots:], dots, relative_to.value)
    return ANY_MODULE


def refuse_generated_credential(name: str, text: str, context: str) -> str:
    """`text`, the generated file `name` a package ships, when it holds no credential (`credential_in`); else
    a DeployError. What portable-fn writes comes from the app's settings: an index URL with a token in the
    app's requirements, say, would otherwise ship in the `requirements.txt` a cloud builds from."""
    what = credential_in(text.encode("utf-8"))
    if what is None and _HTTP_USERINFO.search(text):  # a token alone is a credential too (https://TOKEN@host)
        what = "a credential in a URL (https://token@host)"
    if what is not None:
        raise DeployError(
            f"{context}: the generated {name} would hold {what}, taken from the app's requirements or settings, "
            "and ship with the code, so nothing was packaged. Keep credentials out of them: give the package "
            "index its credentials where the build runs (pip's keyring or an environment variable such as "
            "PIP_EXTRA_INDEX_URL set on the build), or vendor the private packages into the app."
        )
    return text


def redact(text: str) -> str:
    """`text` with the credentials of URLs in it replaced by `***` (`https://__token__:***@host`,
    `https://***@host`): for progress lines and errors that repeat the app's requirement lines."""
    return _URL_USERINFO.sub(_redacted, text)


def _redacted(match: re.Match[str]) -> str:
    user, colon, _ = match.group(2).partition(":")
    return f"{match.group(1)}{user}:***@" if colon else f"{match.group(1)}***@"


_URL_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)([^\s/@\"'<>]+)@")
# Userinfo in an http(s) URL (git+https too): over https a user name alone is a token; `git+ssh://git@` is not.
_HTTP_USERINFO = re.compile(r"\b(?:[A-Za-z0-9]+\+)?https?://[^\s/@\"'<>]+@", re.IGNORECASE)


def _file_problem(path: Path, root: Path, rules: ShipRules) -> str | None:
    """Why a file cannot ship unchecked. A symbolic link: it names nothing or loops, or it points to a file
    outside the app or to one the rules leave out (whatever the link is called, what ships is that file: a
    key kept beside the app, the app's `.env`). Anything else: it is no regular file (a FIFO would stop the
    build, waiting to be read). None for a regular file."""
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):  # nothing there, or a loop
            return f"a symbolic link to nothing, or one that loops ({os.readlink(path)})"
        if not target.is_relative_to(root):
            return "a symbolic link to a file outside the app"
        if target.is_file() and rules.leaves_out(PurePosixPath(target.relative_to(root).as_posix()), root):
            return f"a symbolic link to {target.relative_to(root).as_posix()}, which does not ship"
    try:
        regular = stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return "a file that cannot be read"
    return None if regular else "no regular file (a FIFO, socket or device)"


class _Unchecked(Exception):
    """An archive that cannot be checked; the message says why ("it holds more than 10000 files")."""


@dataclass
class _Budget:
    """What may still be read of one archive of the app, the archives inside it included."""

    files: int
    size: int

    def next_file(self) -> None:
        """Count one more file."""
        self.files -= 1
        if self.files < 0:
            raise _Unchecked(f"it holds more than {ARCHIVE_MEMBERS} files")

    def read(self, stream: IO[bytes] | io.BufferedIOBase) -> bytes:
        """What `stream` (a file of the archive, unpacked) holds, counted; never more than is left to read."""
        data = stream.read(self.size + 1)
        self.size -= len(data)
        if self.size < 0:
            raise _Unchecked(f"it unpacks to more than {_bytes(ARCHIVE_BYTES)}")
        return data


def _bytes(size: int) -> str:
    return f"{size // (1024 * 1024)} MiB" if size >= 1024 * 1024 else f"{size} bytes"


# What an archive cannot be read for: a damaged or truncated one, an encrypted zip (RuntimeError), a compression
# zipfile does not know (NotImplementedError).
_UNREADABLE = (
    OSError,
    EOFError,
    ValueError,
    RuntimeError,
    NotImplementedError,
    zipfile.BadZipFile,
    tarfile.TarError,
    lzma.LZMAError,
    zlib.error,
)


def archive_problems(path: Path, name: str) -> list[tuple[str, str]]:
    """(`name!member`, what it looks like) for each file inside the archive `name` of the app (at `path`) that
    looks like a credential by its name or content (`_member_problem`), the archives inside it opened too (one
    level, `ARCHIVE_DEPTH`); `(name, why)` when it cannot be checked (too big, unreadable). [] for a file that
    is no archive, or one that holds no credential."""
    found: list[tuple[str, str]] = []
    try:
        with path.open("rb") as file:
            kind = _archive_kind(file, path.name)
            if kind is not None:
                _check_archive(kind, file, name, _Budget(ARCHIVE_MEMBERS, ARCHIVE_BYTES), 0, found)
    except _Unchecked as why:
        found.append((name, _unchecked(str(why))))
    except OSError:  # the file itself cannot be opened: `_file_problem` and the content check say so
        pass
    return found


def _unchecked(why: str) -> str:
    return f"an archive that cannot be checked ({why}); name the archive in `include` to ship it unchecked"


# Archives the standard library cannot open, by their first bytes: refused, as they cannot be checked.
_UNOPENED_ARCHIVES = {"7z": b"7z\xbc\xaf\x27\x1c", "RAR": b"Rar!\x1a\x07", "Zstandard": b"\x28\xb5\x2f\xfd"}


def _archive_kind(file: IO[bytes], name: str) -> str | None:
    """What archive `file` (named `name`) is, by its first bytes: "zip", "gz", "bz2", "xz", "tar" (also a `.tar`
    without the "ustar" mark of newer ones), or one of `_UNOPENED_ARCHIVES`; None for any other file."""
    head = file.read(512)
    is_zip = head.startswith(b"PK\x03\x04") or zipfile.is_zipfile(file)  # a zip may start with something else
    file.seek(0)
    if is_zip:
        return "zip"
    if head.startswith(b"\x1f\x8b\x08"):
        return "gz"
    if head.startswith(b"BZh") and head[4:10] == b"1AY&SY":
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    for kind, magic in _UNOPENED_ARCHIVES.items():
        if head.startswith(magic):
            return kind
    if head[257:262] == b"ustar" or name.lower().endswith(".tar"):
        return "tar"
    return None


def _check_archive(
    kind: str, file: IO[bytes], shown: str, budget: _Budget, depth: int, found: list[tuple[str, str]]
) -> None:
    """Add to `found` each file of the archive `file` (of `kind`, shown as `shown`) that looks like a credential,
    as `shown!member`; an archive inside it is opened in turn while `depth` allows, else refused. An _Unchecked
    says why the archive cannot be checked."""
    try:
        for member, data in _members(kind, file, shown, budget):
            where = f"{shown}!{member}"
            what = _member_problem(member, data)
            if what is not None:
                found.append((where, what))
                continue
            inner = None if data is None else _archive_kind(io.BytesIO(data), member)
            if data is None or inner is None:
                continue
            if depth >= ARCHIVE_DEPTH:
                found.append(
                    (where, _unchecked(f"it is nested in archives {depth + 1} deep; they are opened one deep"))
                )
                continue
            try:
                _check_archive(inner, io.BytesIO(data), where, budget, depth + 1, found)
            except _Unchecked as why:
                found.append((where, _unchecked(str(why))))
    except _UNREADABLE as exc:
        raise _Unchecked(f"it cannot be read: {str(exc) or type(exc).__name__}") from None


def _members(kind: str, file: IO[bytes], name: str, budget: _Budget) -> Iterator[tuple[str, bytes | None]]:
    """(name, content) of each file of the archive `file` of `kind`, or None for a link or a device (whose name
    is all there is to check). A gzip, bzip2 or xz file holds a tar (`.tar.gz`, or the "ustar" mark), else one
    file: named as `gzip` kept it, else as the archive `name` without its suffix."""
    if kind in _UNOPENED_ARCHIVES:
        raise _Unchecked(f"it is a {kind} archive, which portable-fn cannot open")
    if kind == "zip":
        with zipfile.ZipFile(file) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    budget.next_file()
                    with archive.open(info) as member:
                        yield info.filename, budget.read(member)
        return
    if kind == "tar":
        data = budget.read(file)  # a tar is as big as what it unpacks to
    else:
        with _decompressing(kind, file) as stream:
            data = budget.read(stream)
        base = name.rpartition("!")[2].rpartition("/")[2]
        if data[257:262] != b"ustar" and not re.search(r"\.(tar\.[a-z0-9]+|tgz|tbz2?|txz)$", base.lower()):
            file.seek(0)
            budget.next_file()
            yield (_gzip_name(file.read(1024)) if kind == "gz" else "") or base.rpartition(".")[0] or base, data
            return
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:", ignore_zeros=True) as tar:
        for entry in tar:
            budget.next_file()
            extracted = tar.extractfile(entry) if entry.isfile() else None
            if extracted is not None:
                yield entry.name, extracted.read()
            elif not entry.isdir():
                yield entry.name, None


def _decompressing(kind: str, file: IO[bytes]) -> io.BufferedIOBase:
    """`file`, a gzip, bzip2 or xz file (`kind`), read decompressed."""
    if kind == "gz":
        return gzip.GzipFile(fileobj=file)
    return bz2.BZ2File(file) if kind == "bz2" else lzma.LZMAFile(file)


def _gzip_name(head: bytes) -> str:
    """The name of the file a gzip file holds, as `gzip FILE` keeps it in its header (RFC 1952), or ""."""
    flags = head[3] if len(head) > 3 else 0
    if not flags & 0x08:  # FNAME
        return ""
    start = 10
    if flags & 0x04:  # FEXTRA comes first: its length, then it
        start += 2 + int.from_bytes(head[10:12], "little")
    end = head.find(b"\0", start)
    return head[start:end].decode("latin-1") if end > start else ""


def _member_problem(member: str, data: bytes | None) -> str | None:
    """What a file inside an archive looks like, if a credential: by its content (`credential_in`, read as a
    file of the app is) or by its name (`_credential_name`)."""
    if data is not None:
        found = (
            credential_in(data, member)
            if len(data) <= SCANNED_BYTES
            else credential_in(data[:SCANNED_BYTES], member) or credential_in(data[-SCANNED_BYTES:], member)
        )
        if found is not None:
            return found
    return _credential_name(member)


def _credential_name(member: str) -> str | None:
    """Whether the path `member` of a file inside an archive names a credential: its name (without leading dots,
    so `.netrc` is `netrc` and `.env.prod` is `env.prod`) matches `SECRET_FILES` or `STATE_FILES`, or it lies in
    a folder of `SECRET_DIRS` or `CREDENTIAL_DOT_DIRS`. Names are read through `fold_name`. What else the rules
    leave out of the app (tests, caches, other hidden files) is no credential, and an archive keeps it."""
    parts = [fold_name(part) for part in member.replace("\\", "/").split("/") if part not in ("", ".")]
    if not parts:
        return None
    name = parts[-1].lstrip(".")
    if any(fnmatchcase(name, pattern) for pattern in STATE_FILES) or (
        not _is_python(member) and any(fnmatchcase(name, pattern) for pattern in SECRET_FILES)
    ):
        return "a file named like a credential"
    folder = next((part for part in parts[:-1] if part in SECRET_DIRS or part in CREDENTIAL_DOT_DIRS), None)
    if folder is not None:
        return f"a file in a {folder}/ folder, where credentials are kept"
    return None


def looks_like_credential(path: Path) -> str | None:
    """What the file looks like (`CREDENTIAL_SHAPES`), if a credential. A file over `SCANNED_BYTES` is read
    at its head and its tail (where a key pasted into a large file or an archive's member list sits); a
    binary (a SQLite database, a tar) is searched for the bytes of a private key."""
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            if size <= SCANNED_BYTES:
                return credential_in(file.read(), path.name)
            head = file.read(SCANNED_BYTES)
            file.seek(max(size - SCANNED_BYTES, SCANNED_BYTES))
            tail = file.read(SCANNED_BYTES)
    except OSError:
        return None
    return credential_in(head, path.name) or credential_in(tail, path.name)


def credential_in(data: bytes, name: str = "") -> str | None:
    """What `data` looks like (`CREDENTIAL_SHAPES`), if text holding a credential; for a binary, whether it
    is a private key in DER or holds the bytes of one. UTF-16 and UTF-32 text (what Windows PowerShell 5 writes)
    is read as text; a credential written in another form inside it (`_other_forms`: base64, hex, UTF-7, string
    pieces) is read decoded. `name`, the file's name, says whether it is Python source (`_python_strings`)."""
    if _DER_KEY.match(data):
        return "a private key in DER (the binary form of a PEM key)"
    text = _text(data)
    if text is None:
        return _in_binary(data)
    found = _shape(text)
    if found is None and b"\0" in data:  # what looked like UTF-16 or -32 may be a binary (a tar's NUL padding)
        found = _in_binary(data)
    if found is None:
        for how, decoded in _other_forms(text, name):
            inner = credential_in(decoded)  # each form is shorter than the text it was read from
            if inner is not None:
                return f"{inner}, {how}"
    return found


def _other_forms(text: str, name: str) -> Iterator[tuple[str, bytes]]:
    """(how it was written, what it says) for each run of `text` that may be a credential in another form:
    base64 (a kubeconfig's `client-key-data`, a Kubernetes secret, a DER key), hex digits (`xxd -p`, `.hex()`,
    `\\x2d` or `0x2d, ` escapes), UTF-7 (`+AC0-` for `-`), and string literals split into pieces (`"-----BEGIN "
    "RSA PRIVATE KEY-----"`, or with `+` between them): Python's read by its parser, escapes and all
    (`_python_strings`), other languages' joined where one quote meets the next (`_QUOTES_MEETING`)."""
    for run in _BASE64_RUN.findall(text):
        run = "".join(run.split())  # wrapped at 64 or 76 columns, as base64 tools write it
        try:
            yield "in base64", base64.b64decode(run + "=" * (-len(run) % 4))
        except ValueError:
            continue
    for run in _HEX_RUN.findall(text):
        digits = re.sub(r"\\x|0x|[^0-9A-Fa-f]", "", run)
        yield "hex-encoded", bytes.fromhex(digits[: len(digits) // 2 * 2])
    unescaped = _ESCAPED_CHARACTER.sub(_unescaped, text)
    if unescaped != text:
        yield "written with escapes", unescaped.encode("utf-8")
    if "+A" in text:  # UTF-7 writes an ASCII character as `+A...`
        decoded = _UTF7_SHIFT.sub(_utf7_ascii, text)
        if decoded != text:
            yield "in UTF-7", decoded.encode("utf-8")
    joined = _python_strings(text) if _is_python(name) else _QUOTES_MEETING.sub("", text)
    if joined and joined != text:
        yield "in string pieces", joined.encode("utf-8")


def _unescaped(escape: re.Match[str]) -> str:
    """The character an escape (`_ESCAPED_CHARACTER`) stands for."""
    text = escape.group()
    if text.startswith("&#x"):
        code = int(text[3:-1], 16)
    elif text.startswith("&#"):
        code = int(text[2:-1])
    elif text.startswith(("\\x", "\\u")):
        code = int(text[2:], 16)
    elif text.startswith("%"):
        code = int(text[1:], 16)
    else:  # \\055
        code = int(text[1:], 8)
    return chr(code) if code < 0x110000 else text


def _utf7_ascii(shifted: re.Match[str]) -> str:
    """A UTF-7 sequence (`+AC0ALQAtAC0ALQ-` for `-----`) as the ASCII it encodes; else as it is (a `+` in a base64
    run or in prose)."""
    try:
        decoded = shifted.group().encode("ascii").decode("utf-7")
    except UnicodeError:
        return shifted.group()
    return decoded if decoded and decoded.isascii() else shifted.group()


def _python_strings(source: str) -> str:
    """The string constants of Python `source` as Python reads them (escapes such as `\\x2d` read, prefixes
    dropped), pieces written one after another joined (`"a" "b"` by the parser, `"a" + "b"` by `_joined`); one
    a line, in the order they are written. Source that does not parse is joined as other languages' are."""
    try:
        found = sorted(_constants(ast.parse(source)))
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return _QUOTES_MEETING.sub("", source)
    return "\n".join(text for _, _, text in found)


def _constants(node: ast.AST) -> Iterator[tuple[int, int, str]]:
    """(line, column, text) of each string constant under `node`, those added together as one; a list or tuple of
    them also as `"".join` makes them one."""
    text = _joined(node)
    if text is not None and isinstance(node, ast.expr):
        yield node.lineno, node.col_offset, text
        return
    if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
        pieces = [_joined(element) for element in node.elts]
        if all(piece is not None for piece in pieces):
            yield node.lineno, node.col_offset, "".join(piece or "" for piece in pieces)
    for child in ast.iter_child_nodes(node):
        yield from _constants(child)


def _joined(node: ast.AST) -> str | None:
    """The text of a string constant (bytes read as Latin-1), or of constants added together; else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
        return node.value.decode("latin-1")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _joined(node.left), _joined(node.right)
        return None if left is None or right is None else left + right
    return None


def _shape(text: str) -> str | None:
    return next((what for what, test in CREDENTIAL_SHAPES if test(text)), None)


def _text(data: bytes) -> str | None:
    """`data` as text: UTF-8, or UTF-32 or UTF-16 with a byte-order mark or with its NUL bytes where those
    put them; None for a binary."""
    if data[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        return data.decode("utf-32", "replace")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", "replace")
    if b"\0" not in data:
        return data.decode("utf-8", "replace")
    head = data[:4096]
    for nonzero, encoding in ((0, "utf-32-le"), (3, "utf-32-be")):
        zeros = bytes(b for i, b in enumerate(head) if i % 4 != nonzero)
        if len(head) >= 4 and zeros.count(0) >= len(zeros) * 0.9:
            return data.decode(encoding, "replace")
    for zeros, encoding in ((head[1::2], "utf-16-le"), (head[0::2], "utf-16-be")):
        if len(head) >= 2 and zeros.count(0) >= len(zeros) * 0.9:
            return data.decode(encoding, "replace")
    return None


# A base64 run that decodes to a PEM block ("LS0tLS": "-----"), a JSON object ('{"'), a DER key ("M": an ASN.1
# SEQUENCE) or an OpenSSH key ("openssh-key-v1"), wrapped or not: read again, decoded.
_BASE64_RUN = re.compile(
    r"(?<![A-Za-z0-9+/])(?:LS0tLS|eyJ|ewo|ewog|M|b3BlbnNzaC1rZXktdjE)(?:[A-Za-z0-9+/]|\r?\n){60,}={0,2}"
)
# At least 48 bytes (the smallest DER key) written as hex digits, two a byte: run together or apart (spaces, colons,
# commas, line breaks), each byte bare or as `\x2d` or `0x2d`. A sha256 digest (32 bytes) is no such run.
_HEX_RUN = re.compile(r"(?<![0-9A-Za-z])(?:(?:\\x|0x)?[0-9A-Fa-f]{2}[ \t:,]*(?:\r?\n[ \t]*)?){48,}")
# A character written as an escape: `\\x2d` and `\\055` (C, Python), `\\u002d` (JSON, JavaScript, Java), `%2D` (URLs),
# `&#x2d;` and `&#45;` (HTML, XML).
_ESCAPED_CHARACTER = re.compile(
    r"\\x[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4}|\\[0-7]{3}|%[0-9A-Fa-f]{2}|&#x[0-9A-Fa-f]{1,6};|&#[0-9]{1,7};"
)
# A UTF-7 sequence: `+`, modified base64, and an optional `-`.
_UTF7_SHIFT = re.compile(r"\+[A-Za-z0-9+/]+-?")
# Where one string literal ends and the next begins, with spaces or a `+` between them (`"a" "b"`, `'a' + 'b'`).
_QUOTES_MEETING = re.compile(r"""(["'`])(?:\s+|\s*\+\s*)\1""")

# A private key in DER, the binary form of a PEM one: an ASN.1 SEQUENCE (0x30 and its length) opening with the
# version, 0 or 1, then what a key has next (PKCS#8: its algorithm, a SEQUENCE; PKCS#1 RSA and DSA: an INTEGER;
# an EC key: an OCTET STRING). A certificate or a public key opens with a SEQUENCE, not a version.
_DER_KEY = re.compile(
    rb"\x30(?:[\x00-\x7f]|\x81[\x80-\xff]|\x82[\x01-\xff][\x00-\xff])\x02\x01(?:\x00[\x30\x02]|\x01[\x30\x04])"
)

# The bytes of a private key inside a binary (a database, an uncompressed archive), in UTF-8 or UTF-16, or those
# of an OpenSSH key decoded from its base64.
_BINARY_KEY = re.compile(
    rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----|\"private_key\"\s*:\s*\"-----BEGIN"
    rb"|-\x00-\x00-\x00-\x00-\x00B\x00E\x00G\x00I\x00N\x00|openssh-key-v1\x00"
)


def _in_binary(data: bytes) -> str | None:
    """What a binary holds, if the bytes of a private key (the text of a key inside a SQLite file or a tar)."""
    return "a private key inside a binary file" if _BINARY_KEY.search(data) else None


_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])")


def _aws_key_pair(text: str) -> bool:
    """An access key id and, anywhere in the file, a 40-character secret key (random base64 holds upper and
    lower case and a digit or / or +; a hex digest does not)."""
    return _AWS_KEY_ID.search(text) is not None and any(
        re.search(r"[A-Z]", s) and re.search(r"[a-z]", s) and re.search(r"[0-9/+]", s)
        for s in _AWS_SECRET.findall(text)
    )


# What separates the parts of a PEM block written into code or data: line breaks, their escapes (`\\n`, doubled
# in JSON inside JSON), and the quotes, commas, brackets and `+` of a string split into pieces.
_PEM_GAP = r"""(?:\s|\\+[rn]|["',+()\[\]\\])+"""

# What a credential looks like, most specific first: (what the error says, a test of the file's text).
CREDENTIAL_SHAPES: tuple[tuple[str, Callable[[str], object]], ...] = (
    (
        'a service-account key (JSON with a "private_key")',
        re.compile(r'\\*"private_key\\*"\s*:\s*\\*"(?:-----BEGIN|\\u002[dD]|[A-Za-z0-9+/=]{40})').search,
    ),
    (
        "a PEM private key (-----BEGIN ... PRIVATE KEY-----)",
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----" + _PEM_GAP + r"(?:[A-Za-z-]+:|[A-Za-z0-9+/]{32})"
        ).search,
    ),
    (
        "a Google user credential (authorized_user, with its refresh token)",
        re.compile(
            r'\\*"type\\*"\s*:\s*\\*"authorized_user\\*"[\s\S]*refresh_token|refresh_token[\s\S]*authorized_user'
        ).search,
    ),
    ("an AWS access key id with its secret key", _aws_key_pair),
    (
        "a .netrc-style password (machine ... password ...)",
        re.compile(
            r"(?:^|\n)[ \t]*(?:machine\s+\S+|default)(?:\s+(?:login|account|port)\s+\S+)*\s+password\s+\S"
        ).search,
    ),
    (
        "a password in a URL (scheme://user:password@host)",
        re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@\"'<>{}$%]*:(?![$%{<*])[^\s/@\"'<>]+@[A-Za-z0-9.-]").search,
    ),
    (
        "an Azure storage or Service Bus key (AccountKey= or SharedAccessKey=)",
        re.compile(r"\b(?:AccountKey|SharedAccessKey)=[A-Za-z0-9+/]{20}", re.IGNORECASE).search,
    ),
    ("an Azure shared access signature (sig=)", re.compile(r"[?&;]sig=[A-Za-z0-9%+/]{30,}").search),
    ("a PuTTY private key", re.compile(r"PuTTY-User-Key-File-[0-9]+:").search),
    (
        'a JSON Web Key with its private part ("d")',
        re.compile(
            r'"kty"\s*:[\s\S]{0,2000}"d"\s*:\s*"[A-Za-z0-9_-]{20}|"d"\s*:\s*"[A-Za-z0-9_-]{20}[\s\S]{0,2000}"kty"'
        ).search,
    ),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60})").search),
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20}").search),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}").search),
    ("a Slack token", re.compile(r"\b(?:xox[abposr]|xapp)-[A-Za-z0-9-]{10}").search),
    ("an OpenAI or Anthropic API key", re.compile(r"\bsk-(?:proj|ant|svcacct|admin)-[A-Za-z0-9_-]{20}").search),
    ("a SendGrid API key", re.compile(r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}").search),
    ("an npm token", re.compile(r"\bnpm_[A-Za-z0-9]{36}").search),
    ("a Slack webhook", re.compile(r"hooks\.slack\.com/services/T[A-Za-z0-9]+/B[A-Za-z0-9]+/[A-Za-z0-9]{16}").search),
    ("a Stripe secret key", re.compile(r"\b[rs]k_live_[A-Za-z0-9]{20}").search),
    ("an npm token (_authToken)", re.compile(r"_authToken\s*=\s*[^\s$]{8}").search),
    ("an npm password (_auth or _password)", re.compile(r"(?:^|[\s:])_(?:auth|password)\s*=\s*[^\s$]{8}").search),
    ("a registry identity token (a Docker config's)", re.compile(r'"identitytoken"\s*:\s*"[^"$]{8}').search),
    (
        "a password in a connection string (Password=...;)",
        re.compile(r"(?:^|[;\"'])\s*(?:Password|Pwd)\s*=\s*[^;'\"\s{$%<]{4}[^;'\"\s]*;", re.IGNORECASE).search,
    ),
    ("a PyPI token", re.compile(r"\bpypi-[A-Za-z0-9_-]{50}").search),
    ("a HashiCorp Vault token", re.compile(r"\bhv[sb]\.[A-Za-z0-9_-]{24}").search),
    (
        "a registry login (a Docker config's auth)",
        re.compile(r'"auths"\s*:[\s\S]*"auth"\s*:\s*"[A-Za-z0-9+/]{8}').search,
    ),
)


def user_cache(name: str) -> Path:
    """Where packaging keeps what it downloads or resolves once for every app (`name`: `wheels`, `gcp-pins`,
    ...): under `PORTABLE_FN_CACHE_DIR` when set, else `$XDG_CACHE_HOME/portable-fn`, else
    `~/.cache/portable-fn`. Read at each build, so a CI job or a test can point it elsewhere."""
    root = os.environ.get("PORTABLE_FN_CACHE_DIR")
    if root:
        return Path(root) / name
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "portable-fn" / name


def runtime_files(requirements: Iterable[str] = ()) -> Iterator[tuple[str, Path]]:
    """The portable runtime as it ships inside a function: `portable_fn/__init__.py` and `runtime/`, and
    portable-fn's OpenTelemetry modules when the app's `requirements` (`app_requirements`) hold the
    OpenTelemetry SDK, which the runtime loads when the environment asks for it."""
    yield "portable_fn/__init__.py", RUNTIME_DIR / "__init__.py"
    yield "portable_fn/py.typed", RUNTIME_DIR / "py.typed"
    for path in sorted((RUNTIME_DIR / "runtime").glob("*.py")):
        yield f"portable_fn/runtime/{path.name}", path
    if any(_name(line) in OTEL_SDK for line in requirements):
        for name in OTEL_MODULES:
            yield f"portable_fn/{name}", RUNTIME_DIR / name


OTEL_SDK = {"opentelemetry-sdk", "opentelemetry_sdk", "opentelemetry.sdk"}
OTEL_MODULES = ("otel.py", "otel_json.py")


def _name(requirement: str) -> str:
    match = REQUIREMENT_NAME.match(requirement)
    return match.group(1).lower() if match else ""


def write_zip(target: Path, entries: Iterable[tuple[str, bytes | Path]]) -> Artifact:
    """Write a deterministic zip from (archive name, content or path) pairs; later duplicates lose."""
    chosen: dict[str, bytes | Path] = {}
    for name, content in entries:
        chosen.setdefault(name, content)
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(chosen):
            content = chosen[name]
            data = content.read_bytes() if isinstance(content, Path) else content
            executable = isinstance(content, Path) and content.stat().st_mode & 0o111
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.external_attr = ((0o755 if executable else 0o644) | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            archive.writestr(info, data)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    return Artifact(target, digest, target.stat().st_size, len(chosen))


def app_requirements(app: App, *, context: str, unresolvable: str, split_options: bool = False) -> list[str]:
    """The app's requirement lines: the file named by `requirements`, else pyproject's
    `[project].dependencies`; portable-fn's own distributions are left out (the runtime ships itself).

    `context` starts every error ("Packaging 'shop' for gcp"); `unresolvable` ends the refusal of nested
    files ("cannot be pinned for Cloud Functions"). With `split_options`, an option line of a requirements
    file (`--index-url URL`) becomes its words, as pip takes them as arguments; else it stays one line.
    """
    if app.config.requirements:
        path = app.root / app.config.requirements
        if not path.is_file():
            raise DeployError(
                f"{context}: the requirements file {path} (tool.portable-fn."
                "requirements) does not exist; fix the path or remove the key."
            )
        return _requirement_file(path, context, unresolvable, split_options)
    project = tomllib.loads((app.root / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    return _without_own([str(dep) for dep in project.get("dependencies", [])])


def _without_own(lines: list[str]) -> list[str]:
    """Requirement lines without portable-fn's own distributions, whose extras (`portable-fn[otel]`) are
    replaced by what those extras require (the runtime ships itself; its optional dependencies do not)."""
    kept: list[str] = []
    for line in lines:
        if not is_own(line):
            kept.append(line)
            continue
        extras = re.match(r"^\s*[A-Za-z0-9._-]+\s*\[([^\]]*)\]", line)
        for extra in (e.strip() for e in extras.group(1).split(",")) if extras else ():
            kept += [r for r in _extra_requirements(extra) if r not in kept and not is_own(r)]
    return kept


def _extra_requirements(extra: str) -> list[str]:
    """What portable-fn's extra `extra` requires, from its installed metadata (`otel` -> the SDK ...)."""
    from importlib import metadata

    marker = re.compile(r";\s*extra\s*==\s*[\"']" + re.escape(extra) + r"[\"']\s*$")
    try:
        declared = metadata.requires("portable-fn") or []
    except metadata.PackageNotFoundError:
        return []
    return [marker.sub("", line).strip() for line in declared if marker.search(line)]


def is_own(requirement: str) -> bool:
    """Whether a requirement line names one of portable-fn's own distributions."""
    match = REQUIREMENT_NAME.match(requirement)
    return match is not None and OWN_DISTRIBUTIONS.match(match.group(1)) is not None


def module_closure(package_dir: Path, package_name: str, roots: Iterable[str], *, stub_init: bytes) -> list[Entry]:
    """(archive name, path) for the top-level modules of the package `package_name` (at `package_dir`)
    that `roots` (module names without `.py`) import, directly or not (`import_lines`), then its
    `__init__.py`: as is if it imports only those modules, the stdlib and `portable_fn.runtime`, else
    `stub_init`. What every provider's `shim_files` ships."""
    shipped = _imported_closure(package_dir, package_name, roots)
    entries: list[Entry] = [(f"{package_name}/{name}.py", package_dir / f"{name}.py") for name in sorted(shipped)]
    init = package_dir / "__init__.py"
    if not foreign_imports(init, package_name, shipped):
        entries.append((f"{package_name}/__init__.py", init))
    else:  # the package's __init__ pulls in more than the shim: ship a stub that does not
        entries.append((f"{package_name}/__init__.py", stub_init))
    return entries


def package_imports(tree: ast.AST, package_name: str) -> list[str]:
    """The top-level modules of the package `package_name` (names without `.py`) that `tree`, one of its
    modules or a generated entry module beside it, imports."""
    prefix = f"{package_name}."
    return [m[len(prefix) :].split(".")[0] for _, m in import_lines(tree, package_name) if m.startswith(prefix)]


def foreign_imports(path: Path, package_name: str, shipped: set[str]) -> list[tuple[int, str]]:
    """(line, module) of each import in `path` (a module of `package_name`) that a function could not
    satisfy with the package's `shipped` top-level modules (names without `.py`), the standard library and
    the portable runtime: what decides whether `__init__` ships as is, and what the providers'
    stdlib-only checks report. `from m import a` is reported once, as `m` when `m` is foreign."""
    found = import_lines(ast.parse(path.read_bytes()), package_name)
    foreign = {(line, m) for line, m in found if not _runtime_safe(m, package_name, shipped)}
    return [(line, m) for line, m in found if (line, m) in foreign and (line, m.rpartition(".")[0]) not in foreign]


def _imported_closure(package_dir: Path, package_name: str, roots: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or not (package_dir / f"{name}.py").is_file():
            continue
        seen.add(name)
        todo += package_imports(ast.parse((package_dir / f"{name}.py").read_bytes()), package_name)
    return seen


def _runtime_safe(module: str, package_name: str, shipped: set[str]) -> bool:
    """Whether importing `module` in the cloud needs nothing but the shipped modules, stdlib and runtime
    (`portable_fn` itself ships as the runtime's package, and the package's `__init__` always ships)."""
    top, _, rest = module.partition(".")
    if top == package_name:
        return not rest or rest.split(".")[0] in shipped
    return (
        top in sys.stdlib_module_names
        or module in ("portable_fn", "portable_fn.runtime")
        or module.startswith("portable_fn.runtime.")
    )


def _requirement_file(path: Path, context: str, unresolvable: str, split_options: bool) -> list[str]:
    """Requirement lines and index options (`--index-url URL` ...) of a requirements file."""
    out: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split(" #")[0].strip()
        if line.startswith(("-r", "-c", "-e", "--requirement", "--constraint", "--editable")):
            raise DeployError(
                f"{context}: {path} has {redact(line)!r}; list every requirement in this one file "
                f"(nested files, constraints and editable installs {unresolvable})."
            )
        if split_options and line.startswith("-"):
            out += shlex.split(line)
        elif line and not line.startswith("#"):
            out += _without_own([line])
    return out


def _globs(app: App, key: str) -> tuple[Glob, ...]:
    texts: list[str] = getattr(app.config, key)
    globs = []
    for text in texts:
        try:
            globs.append(Glob.parse(text))
        except ValueError as exc:
            raise ConfigError(
                f"{app.root / 'pyproject.toml'}: {key} = {texts!r} under [tool.portable-fn]: {text!r} {exc}. "
                f'Globs are relative to the source directory {app.source_dir}, like "data/*.json" or '
                '"assets/**".'
            ) from None
    return tuple(globs)


def _segment(part: str) -> str:
    """The regular expression of one path part of a glob: `*`, `?` and `[...]` stay within the part."""
    out: list[str] = []
    i = 0
    while i < len(part):
        char = part[i]
        if char == "[":
            end = part.find("]", i + 2)
            if end < 0:
                raise ValueError("has a [ without its ]")
            body = part[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append({"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char)))
        i += 1
    return "".join(out)


def _missing_modules(rules: ShipRules, missing: list[tuple[str, str]], context: str) -> str:
    lines = []
    for name, where in sorted(missing):
        glob = next((g.text for g in rules.exclude if g.matches(PurePosixPath(name))), None)
        lines.append(
            f"  {name}, imported by {where}: "
            + (
                f'`exclude` has "{glob}"; remove it from `exclude` (or narrow it so it leaves this file in)'
                if glob
                else f'the default rules leave it out; add "{name}" to `include`'
            )
        )
    return (
        f"{context}: {len(missing)} module(s) the app imports would not ship, so its functions would fail with "
        f"ModuleNotFoundError in the cloud; nothing was packaged:\n"
        + "\n".join(lines)
        + "\n(`include` and `exclude` are under [tool.portable-fn] in pyproject.toml.)"
    )


def _refusal(app: App, flagged: list[tuple[str, str, str]], context: str) -> str:
    """The error for the app's files `flagged`: (file, name shown, what it looks like), a file inside an archive
    shown as `archive!member`."""
    listed = "\n".join(f"  {shown}: looks like {what}" for _, shown, what in flagged)
    first = flagged[0][0]
    archives = any(shown != name for name, shown, _ in flagged)
    return (
        f"{context}: {len({name for name, _, _ in flagged})} file(s) in {app.source_dir} look like credentials, "
        f"so nothing was packaged:\n{listed}\n"
        + (
            "(`archive!member` names a file inside an archive; the settings below name the archive.)\n"
            if archives
            else ""
        )
        + "Remove each from the app (and rotate the key if it is real), leave it out with `exclude` "
        f'under [tool.portable-fn] (exclude = ["{first}"]), or, if a function must read it, name the file in '
        f'`include` (include = ["{first}"]): an exact path ships it unchecked.'
    )
