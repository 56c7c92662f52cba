"""`python -m benchmarks.timed_cli [overrides]`: `python -m runner`, timing its MLflow work.

The run's Tracker (runner.tracking) is wrapped: its construction (importing mlflow and
opening the store) and its logging calls (run, params, metrics, tags, artifacts, end)
are timed apart, and printed to stderr as one line `MLFLOW_SECONDS {"open": .., "log": ..}`.
"""
from __future__ import annotations

import atexit
import json
import sys
import time

spent = {"open": 0.0, "log": 0.0}


def _timed(method, bucket):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            spent[bucket] += time.perf_counter() - started
    return wrapper


def time_tracker() -> None:
    """Wrap runner.tracking.Tracker's methods so that `spent` adds up their seconds (once per process)."""
    from runner import tracking

    if getattr(tracking.Tracker, "_timed", False):
        return
    for name in ("__init__", "start", "log_datasets", "metric", "flush", "set_tags", "artifact", "finish",
                 "write_metrics_csv"):
        bucket = "open" if name == "__init__" else "log"
        setattr(tracking.Tracker, name, _timed(getattr(tracking.Tracker, name), bucket))
    tracking.Tracker._timed = True


if __name__ == "__main__":
    time_tracker()
    atexit.register(lambda: print("MLFLOW_SECONDS " + json.dumps(spent), file=sys.stderr))
    from runner.__main__ import cli

    sys.exit(cli())
