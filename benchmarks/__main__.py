"""python -m benchmarks [--quick] [--only full_batch,per_sample,...] [--output FILE]: run the cases, print the
table, write it to benchmarks/RESULTS.md (or FILE).

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
    parser.add_argument("--smoke", action="store_true", help="every case once, the large network on 2000 rows: "
                                                             "checks the command, its numbers judge nothing")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the table goes (default: %(default)s)")
    args = parser.parse_args(argv)
    rounds = 1 if args.smoke else 3 if args.quick else 7
    runs = 1 if args.smoke else 2 if args.quick else 3
    plan = {"full_batch": lambda: cases.full_batch(rounds, large_rows=2000 if args.smoke else 20000),
            "per_sample": lambda: cases.per_sample(max(1 if args.smoke else 2, rounds // 2)),
            "gradient_check": lambda: cases.gradient_check(max(1 if args.smoke else 2, rounds // 2),
                                                           row_counts=(200,) if args.smoke else (200, 1797)),
            "end_to_end": lambda: cases.end_to_end(runs), "tracking": lambda: cases.tracking_warm(runs),
            "sweep": cases.sweep}
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
        f"{' --quick' if args.quick else ''}{' --smoke' if args.smoke else ''}`, "
        f"{time.perf_counter() - started:.0f} s)", "",
        "Medians of rounds taken in turns; ratio = peer time / ours unless it says otherwise. "
        "All contenders on 1 BLAS thread, PyTorch on 1 thread. Full-batch and per-sample networks: sigmoid "
        "hidden units, softmax output, L2 (lam = 1) on the weights, as scikit-learn's and PyTorch's. "
        "end to end runs as the CLI does (its BLAS threads: workers.blas_threads=auto).", "",
        *[f"- {line}" for line in info + [f"{k} {v}" for k, v in versions().items()]], "",
        table(rows), ""])
    print(text)
    args.output.write_text(text)
    if args.smoke:  # sizes and rounds too small to judge speed; the agreement of the checks still counts
        return 1 if any(r["met"] == "NO (agreement)" for r in rows) else 0
    return 0 if all(r["met"] in ("yes", "-") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
