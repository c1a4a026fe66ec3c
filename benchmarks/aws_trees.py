"""Time the AWS shim of two source trees against Powertools, in process CPU time: what a change bought.

Why it exists: on this shared 2-core VM, wall-clock figures of two runs minutes apart differ by more than
the changes being measured. Each tree runs in its own process (both cannot be imported at once), the two
processes alternate, and each times its own shim and Powertools interleaved, in CPU time of the process
(`time.process_time`), so time slices given to other processes are not counted. Compare the ratios to
Powertools within a run; the absolute figures still move with the caches other processes leave.

    git archive <commit> portable_fn providers/aws/portable_fn_aws benchmarks | tar -x -C /tmp/before
    python benchmarks/aws_trees.py /tmp/before .          # SQS (one failing, none failing) and HTTP API v2
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
import timeit
from pathlib import Path
from typing import Any

ROUNDS, LOOPS = 20, 200


def measure(root: Path) -> dict[str, float]:
    """Best µs per call of each contender, the tree at `root` on sys.path first (run in a child process)."""
    sys.path[:0] = [str(root / "benchmarks"), str(root), str(root / "providers" / "aws")]
    import logging

    import aws_http
    import aws_sqs
    import portable_fn_aws

    assert Path(portable_fn_aws.__file__).resolve().is_relative_to(root.resolve()), portable_fn_aws.__file__
    logging.getLogger("portable_fn").addHandler(logging.NullHandler())  # as aws_sqs.main does
    context = aws_sqs.FakeLambdaContext()
    one, none, request = aws_sqs.sqs_event(), aws_sqs.sqs_event(None), aws_http.http_event()
    contenders = {
        "sqs one failing": lambda: aws_sqs.ours(one, context),
        "powertools sqs one failing": lambda: aws_sqs.powertools(one, context),
        "sqs none failing": lambda: aws_sqs.ours(none, context),
        "powertools sqs none failing": lambda: aws_sqs.powertools(none, context),
        "http v2": lambda: aws_http.ours(request, context),
        "powertools http v2": lambda: aws_http.powertools(request, context),
    }
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(ROUNDS):
        for name, fn in contenders.items():
            timer = timeit.Timer(fn, setup=gc.enable, timer=time.process_time)
            best[name] = min(best[name], timer.timeit(LOOPS) / LOOPS * 1e6)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", type=Path, help="source trees to compare (the first is the baseline)")
    parser.add_argument("--runs", type=int, default=2, help="alternations of the trees")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(measure(args.child)))
        return 0
    for run in range(args.runs):
        for tree in args.trees:
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(tree)], check=True, capture_output=True, text=True
            )
            report(run, tree, json.loads(out.stdout))
    return 0


def report(run: int, tree: Path, best: dict[str, Any]) -> None:
    ratios = "  ".join(
        f"{case} {best[case]:.1f} µs ({best[case] / best['powertools ' + case]:.2f}x)"
        for case in ("sqs one failing", "sqs none failing", "http v2")
    )
    print(f"run {run + 1} {tree}: {ratios}")


if __name__ == "__main__":
    sys.exit(main())
