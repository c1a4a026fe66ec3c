"""Measure what a workflow step's checkpoint costs on the local SQLite store, against DBOS Transact on SQLite.

Why it exists: issue 15 checkpoints every finished step of a durable workflow in the portable state store,
and DBOS Transact is the library a Python user would otherwise reach for to do the same on one SQLite
file. The issue's goal: the per-step cost on the local SQLite store no slower than DBOS's, measured side
by side in one run.

The workflow: N trivial steps, each returning a small dict, run to completion in this process, for N in
STEPS. Ours is `@workflow` calling `wf.step(...)`, driven to its end by `portable_fn.testing.run_workflow`
with its stores on SQLite files (`SqliteBackend`, the local backend); DBOS's is `@DBOS.workflow()` calling
an `@DBOS.step()`, with a SQLite system database. Both files are in one temporary directory on the same
disk. Per-step cost: the slope of the least-squares line through each side's median workflow time over N,
and, per N, (t(N) - t(0)) / N.

DBOS opens its SQLite file as SQLite does by default (rollback journal, `journal_mode=DELETE`); ours opens
its files in WAL mode, and both keep SQLite's `synchronous=FULL`. So the run has two phases, each with the
two sides interleaved: DBOS as it comes (the goal's comparison), then DBOS on a file switched to WAL (the
same durability settings as ours; a reference).

Timing (`measure`): one workflow per sample, on the wall clock and in CPU time of this process (DBOS's
background threads included); every round runs each N once per side, N and the sides in a new (seeded)
order each time, with the garbage collector on; the first round is a warm-up and not counted. Before
timing, each side is checked (the same result, one recorded step per step) and the store requests one
workflow sends are counted: SQL statements and commits for DBOS (SQLAlchemy's engine events), backend calls
for ours.

    python benchmarks/workflow_checkpoint.py            # full run (1-2 min), writes results_workflow_checkpoint.json
    python benchmarks/workflow_checkpoint.py --quick    # smoke run (about 15 s), rougher numbers
    python benchmarks/run.py workflow_checkpoint        # the same, through run.py

Goal: ours' per-step cost <= DBOS's (ratio ours/DBOS <= 1.0).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import sqlalchemy
from dbos import DBOS, SetWorkflowID
from run import machine

HERE = Path(__file__).resolve().parent
OUT = HERE / "results_workflow_checkpoint.json"
STEPS = (0, 1, 10, 50)
CHECK_STEPS = 3
SEED = 15
GOAL = 1.0  # ours' per-step cost over DBOS's


def reserve(i: int) -> dict[str, Any]:
    """The trivial step both sides run: a small dict, different for every step."""
    return {"step": i, "sku": f"SKU-{i:04d}", "reserved": True}


def expected(n: int) -> dict[str, Any]:
    return {"steps": n, "last": reserve(n - 1) if n else None}


# -- DBOS Transact ---------------------------------------------------------------------------------------


@DBOS.step()
def dbos_reserve(i: int) -> dict[str, Any]:
    return reserve(i)


@DBOS.workflow()
def dbos_order(n: int) -> dict[str, Any]:
    last = None
    for i in range(n):
        last = dbos_reserve(i)
    return {"steps": n, "last": last}


@contextmanager
def dbos_app(directory: Path, wal: bool) -> Iterator[sqlalchemy.Engine]:
    """DBOS launched on a new SQLite system database in `directory` (in WAL mode when `wal`); its engine."""
    path = directory / f"dbos-{'wal' if wal else 'default'}.sqlite3"
    app = DBOS(config={"name": "bench-checkpoint", "system_database_url": f"sqlite:///{path}", "log_level": "WARNING"})
    DBOS.launch()
    if wal:  # the journal mode is kept in the file: every connection DBOS opens from now on uses WAL
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    try:
        yield app._sys_db.engine  # the engine DBOS made (private; read only to count its SQL)
    finally:
        DBOS.destroy(destroy_registry=False)  # the decorated functions stay registered for the next phase


def check_dbos(engine: sqlalchemy.Engine) -> dict[str, Any]:
    """DBOS gives the expected result and records one step per step; the SQL one workflow sends."""
    workflow_id = str(uuid.uuid4())
    with SetWorkflowID(workflow_id):
        assert dbos_order(CHECK_STEPS) == expected(CHECK_STEPS)
    steps = DBOS.list_workflow_steps(workflow_id)
    assert [s["output"] for s in steps] == [reserve(i) for i in range(CHECK_STEPS)], steps
    return {f"{n} steps": count_sql(engine, lambda n=n: dbos_order(n)) for n in (0, 10)}


def count_sql(engine: sqlalchemy.Engine, run: Callable[[], Any]) -> dict[str, int]:
    """SQL statements (by verb) and commits `run` sends through `engine`."""
    seen: Counter[str] = Counter()

    def statement(conn: Any, cursor: Any, text: str, *args: Any) -> None:
        seen[text.split(None, 1)[0].upper()] += 1

    def commit(conn: Any) -> None:
        seen["commits"] += 1

    sqlalchemy.event.listen(engine, "before_cursor_execute", statement)
    sqlalchemy.event.listen(engine, "commit", commit)
    try:
        run()
    finally:
        sqlalchemy.event.remove(engine, "before_cursor_execute", statement)
        sqlalchemy.event.remove(engine, "commit", commit)
    return dict(sorted(seen.items()))


# -- timing ----------------------------------------------------------------------------------------------


def measure(contenders: dict[str, Callable[[int], Any]], quick: bool) -> dict[str, dict[int, dict[str, float]]]:
    """Per contender and N: wall and CPU ns of one workflow (median and min over rounds)."""
    rounds = 3 if quick else 21
    wall: dict[str, dict[int, list[int]]] = {name: {n: [] for n in STEPS} for name in contenders}
    cpu: dict[str, dict[int, list[int]]] = {name: {n: [] for n in STEPS} for name in contenders}
    pairs = [(name, n) for name in contenders for n in STEPS]
    shuffle = random.Random(SEED).shuffle
    gc.enable()
    for i in range(rounds + 1):  # round 0 warms up: caches, prepared statements, the files' first pages
        shuffle(pairs)
        for name, n in pairs:
            w, c = _time(contenders[name], n)
            if i:
                wall[name][n].append(w)
                cpu[name][n].append(c)
    return {
        name: {n: {**_stats("", wall[name][n]), **_stats("cpu_", cpu[name][n])} for n in STEPS} for name in contenders
    }


def _time(run: Callable[[int], Any], n: int) -> tuple[int, int]:
    wall, cpu = time.perf_counter_ns(), time.process_time_ns()
    run(n)
    return time.perf_counter_ns() - wall, time.process_time_ns() - cpu


def _stats(prefix: str, samples: list[int]) -> dict[str, float]:
    return {f"{prefix}median_ns": statistics.median(samples), f"{prefix}min_ns": float(min(samples))}


def per_step(times: dict[int, dict[str, float]], metric: str) -> dict[str, float]:
    """The slope of the least-squares line through `metric` over N, and (t(N) - t(0)) / N for each N > 0."""
    xs, ys = list(STEPS), [times[n][metric] for n in STEPS]
    out = {"fit": statistics.linear_regression(xs, ys).slope, "fixed": ys[0]}
    out.update({f"n{n}": (times[n][metric] - times[0][metric]) / n for n in STEPS if n})
    return out


def phase_rows(times: dict[str, dict[int, dict[str, float]]], dbos_name: str) -> list[dict[str, Any]]:
    rows = []
    for metric in ("median_ns", "min_ns", "cpu_median_ns"):
        ours, ref = per_step(times["ours"], metric), per_step(times[dbos_name], metric)
        row: dict[str, Any] = {"metric": metric.removesuffix("_ns").replace("_", " ")}
        for key in ours:
            row[key] = {"ours": ours[key], "dbos": ref[key], "ours_over_dbos": ours[key] / ref[key]}
        rows.append(row)
    return rows


# -- the run ---------------------------------------------------------------------------------------------


def bench(quick: bool, directory: Path) -> dict[str, Any]:
    phases = {}
    for wal in (False, True):
        name = "dbos wal" if wal else "dbos"
        with dbos_app(directory, wal) as engine:
            dbos_sql = check_dbos(engine)
            times = measure({"dbos": dbos_order}, quick)
        phases[name] = {"times": times, "requests": {"dbos": dbos_sql}}
    return phases


def print_report(result: dict[str, Any], info: dict[str, Any]) -> None:
    print(f"\nPython {info['python']} on {info['cores']} cores ({info['cpu']}), load average {result['load']}.")
    print(f"DBOS Transact {result['dbos_version']}, SQLite {sqlite3.sqlite_version}; a workflow of N trivial steps.")
    for phase, body in result["phases"].items():
        print(f"\n{phase}: ms per workflow (median of rounds), by N")
        for name, times in body["times"].items():
            cells = "".join(f"{times[n]['median_ns'] / 1e6:>10.2f}" for n in STEPS)
            print(f"  {name:<10}{cells}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run with few rounds")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write JSON")
    args = parser.parse_args(argv)
    logging.getLogger("portable_fn").addHandler(logging.NullHandler())
    with tempfile.TemporaryDirectory(prefix="bench-checkpoint-") as tmp:
        result = {"phases": bench(args.quick, Path(tmp))}
    result["load"] = " ".join(f"{n:.1f}" for n in os.getloadavg())
    result["dbos_version"] = version("dbos")
    info = machine()
    print_report(result, info)
    out = {"machine": info, "quick": args.quick, **result}
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
