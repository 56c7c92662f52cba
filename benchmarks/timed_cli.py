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

from runner import tracking

spent = {"open": 0.0, "log": 0.0}


def _timed(method, bucket):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            spent[bucket] += time.perf_counter() - started
    return wrapper


for _name in ("__init__", "start", "metric", "flush", "set_tags", "artifact", "finish", "write_metrics_csv"):
    setattr(tracking.Tracker, _name, _timed(getattr(tracking.Tracker, _name), "open" if _name == "__init__" else "log"))
atexit.register(lambda: print("MLFLOW_SECONDS " + json.dumps(spent), file=sys.stderr))

if __name__ == "__main__":
    from runner.__main__ import cli

    sys.exit(cli())
