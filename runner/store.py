"""The tracking store: which one (resolve_tracking_uri, same_store), whether it answers (check_reachable),
and opening it safely when parallel jobs share one SQLite file: its schema is created under a
file lock beside it (store_lock), and a call that meets "database is locked" is retried
(RetryingClient). The reading commands open it with open_client, which refuses a file that is no MLflow store.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import time
from pathlib import Path
from urllib.parse import urlsplit

from runner.errors import UserError
from runner.paths import default_tracking_uri

logging.getLogger("alembic").setLevel(logging.WARNING)
logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)

SQLITE = "sqlite:///"
SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file
MLFLOW_TABLES = {"alembic_version", "runs"}  # what MLflow's schema has and another program's database has not
ACCEPTED_URIS = ("a reachable MLflow tracking URI such as sqlite:///mlflow.db or http://host:5000 "
                 "(MLFLOW_TRACKING_URI or tracking.uri)")


def resolve_tracking_uri(configured: str | None) -> str:
    """The config's tracking.uri if set, else MLFLOW_TRACKING_URI, else SQLite under outputs/: the explicit choice
    first, as mlflow.set_tracking_uri() beats the variable in MLflow and --tracking-uri in runner.report (before,
    the variable won and a run given tracking.uri=B recorded into A, B logged as its param). A SQLite path is made
    absolute, as the default's is: the URI printed and recorded then names the same file from any folder."""
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()
    check_uri(uri)
    return absolute_sqlite_uri(uri)


def sqlite_path(uri: str) -> Path | None:
    """The file of a SQLite URI (sqlite:///rel.db -> rel.db, sqlite:////abs/x.db -> /abs/x.db); None for another
    scheme."""
    if not uri.startswith(SQLITE):
        return None
    return Path(uri.removeprefix(SQLITE).split("?")[0])


def absolute_sqlite_uri(uri: str) -> str:
    """A SQLite URI with its path made absolute from the working folder (its query kept); other URIs unchanged."""
    path = sqlite_path(uri)
    if path is None:
        return uri
    query = uri.partition("?")[2]
    return f"{SQLITE}{os.path.abspath(path)}" + (f"?{query}" if query else "")


def same_store(uri_a: str, uri_b: str) -> bool:
    """Whether two tracking URIs name one store: SQLite files compared by their resolved paths (relative to the
    working folder, symbolic links followed, query ignored), other URIs by their text without a trailing /."""
    return normalized_uri(uri_a) == normalized_uri(uri_b)


def normalized_uri(uri: str) -> str:
    """The form same_store compares."""
    path = sqlite_path(uri)
    return f"{SQLITE}{path.resolve()}" if path is not None else uri.rstrip("/")


def check_uri(uri: str) -> None:
    """Refuse what MLflow would take and then lose or misread: an in-memory SQLite store (every run gone when the
    process ends), and a SQLite file given as a plain path (MLflow's filesystem backend, in maintenance mode)."""
    if in_memory(uri):
        raise UserError(f"tracking URI {uri!r} cannot be used (an in-memory SQLite store, lost when the process "
                        "ends); accepted: a SQLite file such as sqlite:///mlflow.db, or a server such as "
                        "http://host:5000 (MLFLOW_TRACKING_URI or tracking.uri)")
    if "://" not in uri and is_sqlite_file(Path(uri)):
        raise UserError(f"tracking URI {uri!r} cannot be used (a SQLite file given as a path, which MLflow reads as "
                        f"a folder of runs); accepted: its SQLite URI {SQLITE}{os.path.abspath(uri)}")


def in_memory(uri: str) -> bool:
    """sqlite://, sqlite:///, sqlite:///:memory: and SQLite's mode=memory: a store no file keeps."""
    if not uri.startswith("sqlite:"):
        return False
    parts = urlsplit(uri)
    return parts.path.lstrip("/") in ("", ":memory:") or "mode=memory" in parts.query


def is_sqlite_file(path: Path) -> bool:
    """Whether `path` is a file that starts as a SQLite database does."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


@contextlib.contextmanager
def store_lock(uri: str):
    """A file lock beside a SQLite store (mlflow.db.lock), its folder made first; no lock for other stores. A folder
    that cannot be made or written is a UserError naming the store."""
    path = sqlite_path(uri)
    if path is None or in_memory(uri):
        yield
        return
    from filelock import FileLock

    lock = FileLock(f"{path}.lock", timeout=300)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except OSError as error:
        reason = f"{error.filename}: {error.strerror}" if error.strerror else str(error)
        raise UserError(f"tracking URI {uri!r} cannot be used ({reason}); accepted: a SQLite file in a folder this "
                        "user can make and write (tracking.uri or MLFLOW_TRACKING_URI)") from None
    try:
        yield
    finally:
        lock.release()


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


def error_detail(error: BaseException) -> str:
    """One line on why a store call failed: the database driver's own error when MLflow wraps one with its SQL and
    parameters ('sqlite3.OperationalError: attempt to write a readonly database'), else the message, shortened."""
    driver = re.search(r"\(([\w.]+(?:Error|Exception))\) ([^\n\[]+)", str(error))
    if driver:
        return f"{driver[1]}: {driver[2].strip()}"
    return " ".join(str(error).split())[:300] or type(error).__name__


def unusable_store(uri: str, error: BaseException) -> UserError:
    """The one-line error for a tracking store that cannot be used."""
    return UserError(f"tracking URI {uri!r} cannot be used ({error_detail(error)[:200]}); accepted: {ACCEPTED_URIS}")


def deleted_experiment(given: str, uri: str, experiment_id: str, another: str) -> UserError:
    """The refusal of an experiment deleted in the store at `uri` (MLflow keeps its name and makes no run in it), as
    `given` named it, with how to restore it or `another` way to name one; the runner's and the reading commands'."""
    return UserError(f"{given} is deleted in the store {uri} (experiment {experiment_id}); accepted: an active "
                     f"experiment: restore it (MLFLOW_TRACKING_URI={uri} mlflow experiments restore --experiment-id "
                     f"{experiment_id}), or choose {another}")


def open_client(uri: str):
    """An MlflowClient of the store at `uri` for the commands that read it (report, replay, predict, resume): a
    server that does not answer, a SQLite file that is not there or holds no MLflow store, or a URI MLflow cannot
    use is one UserError instead of minutes of retries, MLflow's tables written into another file, or a traceback."""
    from mlflow.tracking import MlflowClient

    check_uri(uri)
    check_reachable(uri)
    path = sqlite_path(uri)
    if path is not None and not in_memory(uri):
        check_mlflow_file(uri, path)
    try:
        return MlflowClient(tracking_uri=uri)
    except Exception as error:
        raise unusable_store(uri, error) from None


def check_mlflow_file(uri: str, path: Path) -> None:
    """Refuse a SQLite store's file that is missing, empty or holds no MLflow tables: MLflow would make its schema
    there. Read with SQLite's read-only mode, so that nothing is written into the file."""
    accepted = "accepted: the store the runs were recorded in (MLFLOW_TRACKING_URI, or --tracking-uri)"
    if not path.is_file():  # MLflow would make a new, empty store there
        raise UserError(f"tracking URI {uri!r} names no existing store ({path} is missing); {accepted}")
    why = "is empty" if path.stat().st_size == 0 else mlflow_tables_missing(path)
    if why:
        raise UserError(f"tracking URI {uri!r} names no MLflow store ({path} {why}); {accepted}")


def mlflow_tables_missing(path: Path) -> str | None:
    """Why the SQLite file `path` is no MLflow store (not a database, or lacking MLflow's tables), or None."""
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as connection:
            tables = {row[0] for row in connection.execute("select name from sqlite_master where type = 'table'")}
    except sqlite3.Error as error:
        return f"cannot be read as SQLite: {error}"
    missing = sorted(MLFLOW_TABLES - tables)
    return f"has no MLflow tables: no {', '.join(missing)}" if missing else None


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
    """How to see the store's runs: the MLflow UI on a database store (runner.dashboard: `mlflow ui` with one
    worker and no server jobs), the server's page otherwise."""
    return f"open {uri}" if uri.startswith("http") else f"python -m runner.dashboard --tracking-uri {uri}"
