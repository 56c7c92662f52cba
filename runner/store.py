"""The tracking store: which one (resolve_tracking_uri), whether it answers (check_reachable),
and opening it safely when parallel jobs share one SQLite file: its schema is created under a
file lock beside it (store_lock), and a call that meets "database is locked" is retried
(RetryingClient).
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path

from runner.errors import UserError
from runner.paths import default_tracking_uri

logging.getLogger("alembic").setLevel(logging.WARNING)
logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)


def resolve_tracking_uri(configured: str | None) -> str:
    """The config's tracking.uri if set, else MLFLOW_TRACKING_URI, else SQLite under outputs/: the explicit choice
    first, as mlflow.set_tracking_uri() beats the variable in MLflow and --tracking-uri in runner.report (before,
    the variable won and a run given tracking.uri=B recorded into A, B logged as its param)."""
    return configured or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def store_lock(uri: str):
    """A file lock beside a SQLite store (mlflow.db.lock); no lock for other stores."""
    if not uri.startswith("sqlite:///") or ":memory:" in uri:
        return contextlib.nullcontext()
    from filelock import FileLock

    path = Path(uri.removeprefix("sqlite:///").split("?")[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(f"{path}.lock", timeout=300)


class RetryingClient:
    """An MlflowClient whose calls are retried when SQLite says "database is locked".

    MLflow waits 20 s for SQLite's write lock, but a transaction that already read can be
    refused at once when another process writes; trying again later succeeds.
    """

    ATTEMPTS = 6

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def call(*args, **kwargs):
            for attempt in range(self.ATTEMPTS):
                try:
                    return method(*args, **kwargs)
                except Exception as error:
                    if "database is locked" not in str(error) or attempt == self.ATTEMPTS - 1:
                        raise
                    time.sleep(0.1 * 2**attempt)

        return call


def unusable_store(uri: str, error: BaseException) -> UserError:
    """The one-line error for a tracking store that cannot be used."""
    detail = " ".join(str(error).split())[:200]
    return UserError(f"tracking URI {uri!r} cannot be used ({detail}); "
                     "accepted: a reachable MLflow tracking URI such as sqlite:///mlflow.db or http://host:5000 "
                     "(MLFLOW_TRACKING_URI or tracking.uri)")


def open_client(uri: str):
    """An MlflowClient of the store at `uri` for the commands that read it (report, replay): a server
    that does not answer, a SQLite file that is not there, or a URI MLflow cannot use is one
    UserError instead of minutes of retries, a new empty store, or a traceback."""
    from mlflow.tracking import MlflowClient

    check_reachable(uri)
    if uri.startswith("sqlite:///") and ":memory:" not in uri:
        path = Path(uri.removeprefix("sqlite:///").split("?")[0])
        if not path.is_file():  # MLflow would make a new, empty store there
            raise UserError(f"tracking URI {uri!r} names no existing store ({path} is missing); accepted: the store "
                            "the runs were recorded in (MLFLOW_TRACKING_URI, or --tracking-uri)")
    try:
        return MlflowClient(tracking_uri=uri)
    except Exception as error:
        raise unusable_store(uri, error) from None


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail fast, before any training, when an HTTP tracking server does not answer its /health.

    MLflow's own client retries a dead server with backoff for minutes.
    """
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as response:
            response.read()
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise UserError(f"tracking URI {uri!r} cannot be reached ({reason}); "
                        "accepted: a running MLflow server (start one with `mlflow server`)") from None


def dashboard_command(uri: str) -> str:
    """How to see the store's runs: the MLflow UI on a database store, the server's page otherwise."""
    return f"open {uri}" if uri.startswith("http") else f"mlflow ui --backend-store-uri {uri}"
