"""python -m benchmarks [--quick] [--only full_batch,per_sample,...]: run the cases, print the table,
write benchmarks/RESULTS.md.

Every contender runs on one BLAS thread (threadpoolctl) and PyTorch on one thread, so the
comparison is of the code, not of threading on a shared 2-core machine.
"""
from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from benchmarks import cases
from benchmarks.timing import blas, machine, versions

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
COLUMNS = ("case", "ours", "peer", "peer_time", "ratio", "target", "met")
HEADERS = ("case", "ours", "peer", "peer", "ratio", "target", "met")


def table(rows: list[dict]) -> str:
    """A Markdown table of the rows."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(str(r[c]) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a rough table in about a minute)")
    parser.add_argument("--only", default="", help="comma-separated cases: full_batch, per_sample, "
                                                   "gradient_check, end_to_end, tracking, sweep")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else 7
    plan = {"full_batch": lambda: cases.full_batch(rounds), "per_sample": lambda: cases.per_sample(max(2, rounds // 2)),
            "gradient_check": lambda: cases.gradient_check(max(2, rounds // 2)),
            "end_to_end": lambda: cases.end_to_end(2 if args.quick else 3),
            "tracking": lambda: cases.tracking_warm(2 if args.quick else 3), "sweep": cases.sweep}
    chosen = [name for name in plan if not args.only or name in args.only.split(",")]
    started = time.perf_counter()
    rows = []
    with threadpool_limits(limits=1):
        info = machine() + blas()
        for name in chosen:
            print(f"[{time.perf_counter() - started:6.1f} s] {name} ...", file=sys.stderr, flush=True)
            rows += plan[name]()
    text = "\n".join([
        f"# Benchmark results ({datetime.datetime.now():%Y-%m-%d %H:%M}, `python -m benchmarks"
        f"{' --quick' if args.quick else ''}`, {time.perf_counter() - started:.0f} s)", "",
        "Medians of rounds taken in turns; ratio = peer time / ours unless it says otherwise. "
        "All contenders on 1 BLAS thread, PyTorch on 1 thread. Full-batch and per-sample networks: sigmoid "
        "hidden units, softmax output, L2 (lam = 1) on the weights, as scikit-learn's and PyTorch's. "
        "end to end runs as the CLI does (its BLAS threads: workers.blas_threads=auto).", "",
        *[f"- {line}" for line in info + [f"{k} {v}" for k, v in versions().items()]], "",
        table(rows), ""])
    print(text)
    RESULTS.write_text(text)
    return 0 if all(r["met"] in ("yes", "-") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
