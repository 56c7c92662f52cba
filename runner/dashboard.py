"""`python -m runner.dashboard`: the MLflow UI on the store the runs were recorded in.

    python -m runner.dashboard [--tracking-uri URI] [--port 5000] [--host 127.0.0.1]

It is `mlflow ui --backend-store-uri URI --workers 1`, run with MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false: one
user's dashboard needs one worker process (`mlflow ui` starts 4), and backprop-lab none of MLflow 3's server jobs
(GenAI), whose runner would start 8 more processes, each importing MLflow, and leave a folder in /dev/shm. On the
2-core machine of 2026-11-30 it answered in 12-13 s with 2 processes and 10 s of CPU, against 38-49 s, 15
processes and 42-56 s of CPU for the bare `mlflow ui` (README, Quick start). A store that is not there, holds no
MLflow tables or is a server already is refused in one line, before the UI starts; the UI replaces this process
(Ctrl-C stops it). The store is the one the runs recorded into: --tracking-uri, else MLFLOW_TRACKING_URI, else
SQLite under outputs/ (runner.store.resolve_tracking_uri).
"""
from __future__ import annotations

import argparse
import os
import sys

from runner.errors import UserError, run_command
from runner.store import check_mlflow_file, resolve_tracking_uri, sqlite_path

NO_SERVER_JOBS = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def ui_command(uri: str, host: str, port: int) -> list[str]:
    """The `python -m mlflow ui` command line for the store at uri."""
    return [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--workers", "1", "--host", host,
            "--port", str(port)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.dashboard", description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", default=None,
                        help="the store (default: MLFLOW_TRACKING_URI, else SQLite under outputs/)")
    parser.add_argument("--host", default="127.0.0.1", help="the interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="the port to listen on (default: 5000)")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        raise UserError(f"--port {args.port} is invalid; accepted: a port number from 1 to 65535")
    uri = resolve_tracking_uri(args.tracking_uri)
    if uri.startswith(("http://", "https://")):
        raise UserError(f"tracking URI {uri!r} is a server, whose page is the dashboard; accepted: a database store "
                        f"(sqlite:///PATH), or open {uri} in a browser")
    path = sqlite_path(uri)  # resolve_tracking_uri refused an in-memory one
    if path is not None:
        check_mlflow_file(uri, path)
    print(f"dashboard of {uri}: http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    os.execve(sys.executable, ui_command(uri, args.host, args.port), {**os.environ, **NO_SERVER_JOBS})
    return 0  # not reached: the UI replaced this process


if __name__ == "__main__":
    sys.exit(run_command(main))
