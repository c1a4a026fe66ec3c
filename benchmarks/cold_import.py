"""Cold import of samples/shop as each cloud runs it: every provider's artifact unzipped into a read-only
directory, its entry module imported by a fresh interpreter that can write no bytecode.

Why it exists: Lambda and Azure run-from-package mount the code read-only, so what a cold start pays to
import the entry module is what the artifact ships: with bytecode, the importer loads it; without, it
compiles every module of the runtime, the app and its dependencies, every time. Goal: each entry module
<= 10 ms over `python -c pass`, and below `import cloudevents.http`, `import aws_lambda_powertools` and
`import azure.functions`.

What is imported, each from its own read-only directory by the python of an empty virtualenv (site runs,
as in the clouds, but none of this machine's site-packages and their .pth files) with
PYTHONDONTWRITEBYTECODE=1 and PYTHONPATH set to what the cloud puts on the path:

- aws: the `portable-fn package` zip; `import portable_fn_entry` (the Lambda handler module).
- aws, plain zip: the app's requirements by `pip install --target --no-compile`, plus the same entry
  module, app, runtime and shim, zipped: no bytecode; `import portable_fn_entry`.
- gcp: the source zip as Cloud Functions builds it (requirements.txt installed by pip in a layer and
  compiled as unchecked hash-based pycs, `compileall -f -q .` over the source); `import main`.
- azure: the zip (wwwroot and its `.python_packages/lib/site-packages`, which holds azure-functions);
  `import function_app`, with the v2 model's registration it does at import.
- parts: each provider's shim and runtime alone (`import portable_fn_aws.shim`, ...), what portable-fn
  itself adds; the app's dependency alone (`from pydantic import BaseModel`); and the azure-functions of
  the Azure zip alone, which the Python worker has imported before it indexes function_app.py.
- references, from a `pip install --target` (pip compiles them, as a layer would ship them):
  `cloudevents.http`, `aws_lambda_powertools`, `azure.functions`.

Every case runs once first with `-v` to count the modules it compiles from source in its directory (ours
must be 0), then N rounds, the cases interleaved round by round so a noisy machine slows all alike. CPU
time is the child's user + system time (`getrusage`); wall time includes the process start. Figures are
over the same measure of `python -c pass` (the same interpreter): median and min.

    python benchmarks/cold_import.py            # full run, a few minutes; writes results_cold_import.json
    python benchmarks/cold_import.py --quick    # smoke run, about a minute, rougher numbers

Building needs PyPI (the Lambda and Azure wheels, the pinned GCP requirements); pip's cache makes later
runs quick.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import resource
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portable_fn_aws.packaging import build_package as build_aws
from portable_fn_aws.packaging import requirements as aws_requirements
from portable_fn_azure.packaging import build_package as build_azure
from portable_fn_gcp.packaging import build_package as build_gcp
from run import machine

from portable_fn.app import load_app

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GOAL_MS = 10.0
SITE = ".python_packages/lib/site-packages"
REFERENCES = ("cloudevents", "aws-lambda-powertools", "azure-functions")


@dataclass(frozen=True)
class Case:
    """One import: `statement` run with `path` (directories) as PYTHONPATH; `entry` marks a row with the
    goal (an entry module, or the part of it that is portable-fn's)."""

    name: str
    path: tuple[Path, ...]
    statement: str
    entry: bool = False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run with few rounds")
    parser.add_argument("--out", type=Path, default=HERE / "results_cold_import.json", help="where to write JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cold-import-") as tmp:
        work = Path(tmp)
        cases = prepare(work)
        compiled = {case.name: compiled_from_source(case, work) for case in cases}
        rows = measure(cases, work, rounds=5 if args.quick else 30)
        for directory in work.iterdir():
            writable(directory)
    report(rows, compiled)
    args.out.write_text(
        json.dumps(
            {
                "machine": machine(),
                "quick": args.quick,
                "cold_import": [{**row, "compiled_from_source": compiled[row["case"]]} for row in rows],
            },
            indent=2,
        )
        + "\n"
    )


# -- the artifacts, unzipped read-only ---------------------------------------------------------------------


def prepare(work: Path) -> list[Case]:
    """Build every artifact of a copy of samples/shop and unzip each into a read-only directory."""
    shop = shutil.copytree(
        ROOT / "samples" / "shop", work / "shop", ignore=shutil.ignore_patterns(".portable-fn", "__pycache__")
    )
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"  # the interpreter that imports is the app's Python
    pyproject = shop / "pyproject.toml"
    pyproject.write_text(re.sub(r'(?m)^python = "[0-9.]+"$', f'python = "{python}"', pyproject.read_text()))
    app = load_app(shop)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(work / "venv")], check=True)
    aws = unzipped(build_aws(app, "dev", work / "out-aws", progress).path, work / "aws")
    gcp = unzipped(build_gcp(app, "dev", work / "out-gcp", progress).path, work / "gcp")
    azure = unzipped(build_azure(app, "dev", work / "out-azure", progress).path, work / "azure")
    layer = gcp_layer(gcp, work / "gcp-layer")
    plain = plain_zip(app, aws, work)
    refs = pip_target(work / "references", [f"{name}=={importlib.metadata.version(name)}" for name in REFERENCES])
    for directory in (aws, gcp, layer, azure, plain, refs):
        read_only(directory)
    return [
        Case("aws: import portable_fn_entry", (aws,), "import portable_fn_entry", entry=True),
        Case("gcp: import main", (gcp, layer), "import main", entry=True),
        Case("azure: import function_app", (azure / SITE, azure), "import function_app", entry=True),
        Case("aws, plain pip --target zip: import portable_fn_entry", (plain,), "import portable_fn_entry"),
        Case("aws: shim and runtime alone", (aws,), "import portable_fn_aws.shim", entry=True),
        Case("gcp: shim and runtime alone", (gcp, layer), "import portable_fn_gcp.shim", entry=True),
        Case("azure: shim and runtime alone", (azure / SITE, azure), "import portable_fn_azure.shim", entry=True),
        Case("the app's dependency alone (pydantic)", (aws,), "from pydantic import BaseModel"),
        Case("azure: azure.functions alone (the worker's)", (azure / SITE, azure), "import azure.functions"),
        Case("import cloudevents.http", (refs,), "import cloudevents.http"),
        Case("import aws_lambda_powertools", (refs,), "import aws_lambda_powertools"),
        Case("import azure.functions", (refs,), "import azure.functions"),
    ]


def python_of(work: Path) -> Path:
    """The interpreter that imports: the empty virtualenv's (`prepare`)."""
    return work / "venv" / "bin" / "python"


def progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr)


def unzipped(archive: Path, into: Path) -> Path:
    shutil.unpack_archive(archive, into)
    return into


def gcp_layer(source: Path, layer: Path) -> Path:
    """What Cloud Functions' build does with the source zip: its requirements installed in a layer and
    compiled as unchecked hash-based pycs, and `compileall -f -q .` over the source (timestamp pycs)."""
    pip_target(layer, ["-r", str(source / "requirements.txt")], compile_=False)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-qq", "--invalidation-mode", "unchecked-hash", str(layer)], check=False
    )
    subprocess.run(
        [sys.executable, "-m", "compileall", "-f", "-q", "."], cwd=source, check=True, stdout=subprocess.DEVNULL
    )
    return layer


def plain_zip(app: Any, aws: Path, work: Path) -> Path:
    """The same app as a plain `pip install --target --no-compile` of its requirements, plus the files of
    our zip that are not dependencies (entry module, app, runtime, shim), without bytecode, zipped and
    unzipped."""
    build = pip_target(work / "plain-build", aws_requirements(app), compile_=False)
    for name in ("portable_fn_entry.py", "pyproject.toml", "shop", "portable_fn", "portable_fn_aws"):
        source = aws / name
        if source.is_dir():
            shutil.copytree(source, build / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, build / name)
    archive = shutil.make_archive(str(work / "plain"), "zip", build)
    return unzipped(Path(archive), work / "plain-task")


def pip_target(target: Path, requirements: list[str], *, compile_: bool = True) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
            str(target),
            *([] if compile_ else ["--no-compile"]),
            *requirements,
        ],
        check=True,
    )
    return target


def read_only(root: Path) -> None:
    """chmod -R a-w, as Lambda and run-from-package mount the code."""
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


# -- measuring ---------------------------------------------------------------------------------------------


def command(case: Case | None, work: Path, *flags: str) -> tuple[list[str], dict[str, str]]:
    """The interpreter command and environment of `case` (None: `python -c pass`); it runs in the
    virtualenv's directory, since `-c` puts the working directory first on the path."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1", "SHOP_DATA_DIR": str(work / "shop-data")}
    if case is not None:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in case.path)
    return [str(python_of(work)), *flags, "-s", "-c", case.statement if case else "pass"], env


def compiled_from_source(case: Case, work: Path) -> int:
    """How many modules of the case's directories the import compiles from source (`-v` names where each
    code object comes from); the import must succeed."""
    cmd, env = command(case, work, "-v")
    done = subprocess.run(cmd, env=env, cwd=work / "venv", capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{case.name} failed:\n{done.stderr[-3000:]}")
    origins = re.findall(r"^# code object from '?([^'\n]+)'?$", done.stderr, re.MULTILINE)
    return len([o for o in origins if o.endswith(".py") and any(o.startswith(str(p)) for p in case.path)])


def run_once(case: Case | None, work: Path) -> tuple[float, float]:
    """(CPU ms, wall ms) of one fresh interpreter running the case."""
    cmd, env = command(case, work)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=work / "venv", check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu * 1e3, wall * 1e3


def measure(cases: list[Case], work: Path, rounds: int) -> list[dict[str, Any]]:
    """Per case, CPU and wall time over `python -c pass`: median and min over `rounds` interleaved rounds."""
    cpu: dict[str, list[float]] = {name: [] for name in ["pass", *(c.name for c in cases)]}
    wall: dict[str, list[float]] = {name: [] for name in cpu}
    for i in range(rounds + 1):  # the first round warms the page cache and is not counted
        for case in [None, *cases]:
            name = case.name if case else "pass"
            took_cpu, took_wall = run_once(case, work)
            if i:
                cpu[name].append(took_cpu)
                wall[name].append(took_wall)
    rows = []
    for case in cases:
        row: dict[str, Any] = {"case": case.name, "entry": case.entry}
        for label, times in (("cpu", cpu), ("wall", wall)):
            row[f"{label}_median_ms"] = statistics.median(times[case.name]) - statistics.median(times["pass"])
            row[f"{label}_min_ms"] = min(times[case.name]) - min(times["pass"])
        row["baseline_cpu_median_ms"] = statistics.median(cpu["pass"])
        row["baseline_wall_median_ms"] = statistics.median(wall["pass"])
        rows.append(row)
    return rows


def report(rows: list[dict[str, Any]], compiled: dict[str, int]) -> None:
    info = machine()
    print(
        f"Python {info['python']} on {info['cores']} cores ({info['cpu']}); over `python -c pass` "
        f"(CPU {rows[0]['baseline_cpu_median_ms']:.1f} ms, wall {rows[0]['baseline_wall_median_ms']:.1f} ms)"
    )
    print()
    references = [r for r in rows if r["case"].startswith("import ")]
    floor = min(r["cpu_median_ms"] for r in references)
    print(
        f"{'cold import, read-only':<56}{'CPU med':>9}{'CPU min':>9}{'wall med':>10}{'wall min':>10}"
        f"{'compiled':>10}  goal (<= {GOAL_MS:.0f} ms CPU, below the references)"
    )
    for row in rows:
        verdict = ""
        if row["entry"]:
            met = row["cpu_median_ms"] <= GOAL_MS and row["cpu_median_ms"] < floor
            verdict = "met" if met else "NOT MET"
        print(
            f"{row['case']:<56}{row['cpu_median_ms']:>6.1f} ms{row['cpu_min_ms']:>6.1f} ms"
            f"{row['wall_median_ms']:>7.1f} ms{row['wall_min_ms']:>7.1f} ms{compiled[row['case']]:>10}  {verdict}"
        )
    by_case = {row["case"]: row for row in rows}
    azure, worker = by_case["azure: import function_app"], by_case["azure: azure.functions alone (the worker's)"]
    print(
        f"azure: function_app beyond the azure.functions the worker has loaded: "
        f"{azure['cpu_median_ms'] - worker['cpu_median_ms']:.1f} ms CPU (median)"
    )


if __name__ == "__main__":
    main()
