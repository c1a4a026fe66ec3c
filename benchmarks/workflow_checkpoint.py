"""Measure what a workflow step's checkpoint costs on the local SQLite store, against DBOS Transact on SQLite.

Why it exists: issue 15 checkpoints every finished step of a durable workflow in the portable state store,
and DBOS Transact is the library a Python user would otherwise reach for to do the same on one SQLite
file. The issue's goal: the per-step cost on the local SQLite store no slower than DBOS's, measured side
by side in one run.

The workflow: N trivial steps, each returning a small dict, run to completion in this process. Ours is
`@workflow` calling `wf.step(...)`, started and delivered by `portable_fn.testing.WorkflowDriver` (what
`run_workflow` uses: the starter's create and message, the runner's replay through the invocation
pipeline, a checkpoint per step, the final write) with its stores on SQLite files (`SqliteBackend`, the
local backend); DBOS's is `@DBOS.workflow()` calling an `@DBOS.step()`, with a SQLite system database.
Both stay open for the whole phase; their files are in one temporary directory. Per-step cost: the slope of
the least-squares line through each side's workflow time over N in STEPS, (t(N) - t(0)) / N per N, and
the same for a LONG history in fewer rounds (ours rewrites an instance's whole history at every
checkpoint, so its cost per step grows with N; DBOS adds a row per step).

DBOS opens its SQLite file as SQLite does by default (rollback journal, `journal_mode=DELETE`); ours opens
its files in WAL mode, and both keep SQLite's `synchronous=FULL`. So the run has two phases, each with the
two sides interleaved: DBOS as it comes (the goal's comparison), then DBOS on a file switched to WAL (the
same durability settings as ours; a reference).

Timing (`measure`): one workflow per sample, on the wall clock and in CPU time of this process (DBOS's
background threads included); every round runs each N once per side, in a new (seeded) order each time,
with the garbage collector on; a warm-up round is not counted. Before timing, each side is checked (the
expected result, one recorded step per step) and the store requests of one workflow are counted: SQL
statements and commits for DBOS (SQLAlchemy's engine events), backend calls for ours.

    python benchmarks/workflow_checkpoint.py            # full run (1-3 min), writes results_workflow_checkpoint.json
    python benchmarks/workflow_checkpoint.py --quick    # smoke run (15-30 s), rougher numbers
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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import sqlalchemy
from dbos import DBOS, SetWorkflowID
from run import machine

from portable_fn import Workflow, workflow
from portable_fn.runtime.state import Backend, Record, use_backends
from portable_fn.testing import WorkflowDriver

HERE = Path(__file__).resolve().parent
OUT = HERE / "results_workflow_checkpoint.json"
STEPS = (0, 1, 10, 50)
LONG = 200  # a long history, in fewer rounds: ours rewrites the instance's whole history at every checkpoint
CHECK_STEPS = 3
SEED = 15
GOAL = 1.0  # ours' per-step cost over DBOS's
PHASES = {False: "DBOS as it comes (rollback journal)", True: "DBOS on a WAL file"}
METRICS = {"median_ns": "wall median", "min_ns": "wall min", "cpu_median_ns": "cpu median"}
COLUMNS = ("fit", "n1", "n10", "n50", f"n{LONG}", "fixed")


def reserve(i: int) -> dict[str, Any]:
    """The trivial step both sides run: a small dict, different for every step."""
    return {"step": i, "sku": f"SKU-{i:04d}", "reserved": True}


def expected(n: int) -> dict[str, Any]:
    return {"steps": n, "last": reserve(n - 1) if n else None}


# -- ours: portable-fn's workflow on the local SQLite store ----------------------------------------------


@workflow()
def ours_order(wf: Workflow, n: int) -> dict[str, Any]:
    last = None
    for i in range(n):
        last = wf.step(reserve, i)
    return {"steps": n, "last": last}


def ours_run(driver: WorkflowDriver, n: int) -> str:
    """One instance from its start to its end: the starter's create and message, then the runner's replay
    with a checkpoint per step and the final write, delivered by `driver` (as `testing.run_workflow`
    does, with the driver and its SQLite files kept open between workflows, as DBOS keeps its engine)."""
    instance_id = driver.start(ours_order, n)
    driver.run()
    return instance_id


def check_ours(driver: WorkflowDriver) -> dict[str, Any]:
    """Ours gives the expected result and records one step per step; the store calls one workflow makes."""
    instance = driver.instance(ours_run(driver, CHECK_STEPS))
    assert instance["status"] == "completed" and instance["result"] == expected(CHECK_STEPS), instance
    steps = [entry["result"] for entry in instance["history"] if entry["kind"] == "step"]
    assert steps == [reserve(i) for i in range(CHECK_STEPS)], instance["history"]
    return {f"{n} steps": count_calls(partial(ours_run, driver, n)) for n in (0, 10)}


def count_calls(run: Callable[[], Any]) -> dict[str, int]:
    """The backend calls (by primitive) `run` makes, on every state."""
    seen: Counter[str] = Counter()
    inner = use_backends(None)
    assert inner is not None, "count_calls runs inside a WorkflowDriver, whose stores it counts"
    use_backends(lambda name, locator: CountingBackend(inner(name, locator), seen))
    try:
        run()
    finally:
        use_backends(inner)
    return dict(sorted(seen.items()))


class CountingBackend:
    """A state backend that counts the calls it passes on."""

    def __init__(self, inner: Backend, seen: Counter[str]) -> None:
        self.inner, self.seen = inner, seen

    def read(self, key: str) -> Record | None:
        self.seen["read"] += 1
        return self.inner.read(key)

    def write(self, record: Record) -> None:
        self.seen["write"] += 1
        self.inner.write(record)

    def create(self, record: Record, now: float) -> bool:
        self.seen["create"] += 1
        return self.inner.create(record, now)

    def replace(self, record: Record, version: str) -> bool:
        self.seen["replace"] += 1
        return self.inner.replace(record, version)

    def delete(self, key: str, version: str | None = None) -> bool:
        self.seen["delete"] += 1
        return self.inner.delete(key, version)


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
    return {f"{n} steps": count_sql(engine, partial(dbos_order, n)) for n in (0, 10)}


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


def measure(
    contenders: Mapping[str, Callable[[int], Any]], steps: tuple[int, ...], rounds: int, warm_up: bool
) -> dict[str, dict[int, dict[str, float]]]:
    """Per contender and N in `steps`: wall and CPU ns of one workflow (median and min over rounds)."""
    wall: dict[str, dict[int, list[int]]] = {name: {n: [] for n in steps} for name in contenders}
    cpu: dict[str, dict[int, list[int]]] = {name: {n: [] for n in steps} for name in contenders}
    pairs = [(name, n) for name in contenders for n in steps]
    shuffle = random.Random(SEED).shuffle
    gc.enable()
    for i in range(-1 if warm_up else 0, rounds):  # a warm-up round: caches, the files' first pages
        shuffle(pairs)
        for name, n in pairs:
            w, c = _time(contenders[name], n)
            if i >= 0:
                wall[name][n].append(w)
                cpu[name][n].append(c)
    return {
        name: {n: {**_stats("", wall[name][n]), **_stats("cpu_", cpu[name][n])} for n in steps} for name in contenders
    }


def _time(run: Callable[[int], Any], n: int) -> tuple[int, int]:
    wall, cpu = time.perf_counter_ns(), time.process_time_ns()
    run(n)
    return time.perf_counter_ns() - wall, time.process_time_ns() - cpu


def _stats(prefix: str, samples: list[int]) -> dict[str, float]:
    return {f"{prefix}median_ns": statistics.median(samples), f"{prefix}min_ns": float(min(samples))}


def per_step(times: dict[int, dict[str, float]], metric: str) -> dict[str, float]:
    """The slope of the least-squares line through `metric` over N, (t(N) - t(0)) / N for each N > 0, and
    t(0) (`fixed`)."""
    xs, ys = list(times), [times[n][metric] for n in times]
    out = {"fit": statistics.linear_regression(xs, ys).slope, "fixed": times[0][metric]}
    out.update({f"n{n}": (times[n][metric] - times[0][metric]) / n for n in times if n})
    return out


def phase_rows(times: dict[str, Any], long: dict[str, Any]) -> list[dict[str, Any]]:
    """Per metric: ours' and DBOS's per-step cost (fit and per N, the long history's included), fixed cost
    (N = 0), and the ratios."""
    rows = []
    for metric in METRICS:
        ours, dbos = per_step(times["ours"], metric), per_step(times["dbos"], metric)
        ours[f"n{LONG}"] = per_step(long["ours"], metric)[f"n{LONG}"]
        dbos[f"n{LONG}"] = per_step(long["dbos"], metric)[f"n{LONG}"]
        rows.append(
            {
                "metric": METRICS[metric],
                **{f"ours_{k}": v for k, v in ours.items()},
                **{f"dbos_{k}": v for k, v in dbos.items()},
                **{f"ours_over_dbos_{k}": ours[k] / dbos[k] for k in ours},
            }
        )
    return rows


# -- the run ---------------------------------------------------------------------------------------------


def bench(quick: bool, directory: Path) -> dict[str, Any]:
    """Both phases: ours against DBOS as it comes, then against DBOS on a WAL file."""
    phases = {}
    for wal in (False, True):
        phase = PHASES[wal]
        ours_dir = directory / f"ours-{phase.split()[-1]}"
        with dbos_app(directory, wal) as engine, WorkflowDriver(state_dir=ours_dir) as driver:
            requests = {"ours": check_ours(driver), "dbos": check_dbos(engine)}
            contenders: dict[str, Callable[[int], Any]] = {"ours": partial(ours_run, driver), "dbos": dbos_order}
            times = measure(contenders, STEPS, 3 if quick else 21, warm_up=True)
            long = measure(contenders, (0, LONG), 1 if quick else 5, warm_up=False)
        phases[phase] = {"times": times, "long": long, "requests": requests, "rows": phase_rows(times, long)}
    return phases


def print_report(result: dict[str, Any], info: dict[str, Any]) -> None:
    print(f"\nPython {info['python']} on {info['cores']} cores ({info['cpu']}), load average {result['load']}.")
    print(f"DBOS Transact {result['dbos_version']}, SQLite {sqlite3.sqlite_version}. A workflow of N trivial steps;")
    print("per step: the least-squares slope over N, and (t(N) - t(0)) / N; per workflow: t(0). In ms.")
    for phase, body in result["phases"].items():
        print(f"\n{phase:<40}" + "".join(f"{head:>10}" for head in ("fit", "N=1", "N=10", "N=50", f"N={LONG}", "N=0")))
        for row in body["rows"]:
            for side in ("ours", "dbos"):
                label = row["metric"] if side == "ours" else ""
                cells = "".join(f"{row[f'{side}_{k}'] / 1e6:>10.3f}" for k in COLUMNS)
                print(f"  {label:<14}{side:<24}{cells}")
            ratios = "".join(f"{row[f'ours_over_dbos_{k}']:>9.2f}x" for k in COLUMNS)
            print(f"  {'':<14}{'ours/dbos':<24}{ratios}")
        for side, requests in body["requests"].items():
            calls = "; ".join(f"{n}: " + ", ".join(f"{k} {v}" for k, v in r.items()) for n, r in requests.items())
            print(f"  store requests, {side}: {calls}")
    print(f"\nGoal: ours' per-step cost <= DBOS's ({GOAL:.1f}x), fit of the wall medians:")
    for phase, verdict in result["verdicts"].items():
        print(f"  {phase:<40}{verdict['ratio']:.2f}x  {'met' if verdict['met'] else 'NOT MET'}")


def verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ratio = next(row["ours_over_dbos_fit"] for row in rows if row["metric"] == METRICS["median_ns"])
    return {"ratio": ratio, "met": ratio <= GOAL}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run with few rounds")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write JSON")
    args = parser.parse_args(argv)
    logging.getLogger("portable_fn").addHandler(logging.NullHandler())
    with tempfile.TemporaryDirectory(prefix="bench-checkpoint-") as tmp:
        result: dict[str, Any] = {"phases": bench(args.quick, Path(tmp))}
    result["verdicts"] = {phase: verdict(body["rows"]) for phase, body in result["phases"].items()}
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
