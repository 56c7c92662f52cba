"""How a parallel sweep's worker processes start: `workers.start` in conf/config.yaml.

joblib's own way ("loky") starts each worker as a fresh interpreter that imports NumPy, MLflow
and its SQLAlchemy store, matplotlib, numba and this project before its first job: about 3 s
of a core per worker here, on top of the launching process, which has its own sweep to set up.
On a 2-core machine that start alone cost a 16-job sweep a fifth of its wall time.

"forkserver" (the default where the platform has it) starts Python's fork server as soon as the
sweep starts, with runner.preload to preload: it imports a job's modules once, on the other core, while the
launching process composes the sweep and creates its parent run; every worker is then forked
from it with those modules already loaded. The server runs no job and opens no store, file or
thread of the sweep, so nothing is shared that a fork could break. joblib itself is unchanged:
the start method is the one of loky, the executor joblib's launcher uses.

loky sets its workers' thread limits (OMP_NUM_THREADS, ...) under its own start method only, so
the fork server is given the same ones; a job's BLAS limit is applied in the job itself as well
(`workers.blas_threads`, runner/jobs.py).

The server starts with SIGINT blocked, as multiprocessing's resource tracker does: a Ctrl-C, which
the terminal sends to every process of the sweep, would otherwise stop it with a traceback while
Python starts; runner.preload takes it over from there.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from collections.abc import Mapping

from runner.errors import UserError

START_METHODS = ("forkserver", "loky")
# joblib's limits for loky's workers (joblib/_parallel_backends.py), given here to the fork server
THREAD_LIMITS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def start_method(workers: dict) -> str:
    """workers.start: forkserver, or loky (joblib's default). First of the workers section's checks: it must be one."""
    if not isinstance(workers, Mapping):  # a dict in a job, the sweep's DictConfig in its callback
        raise UserError(f"workers={workers!r} is invalid; accepted: a section of keys (blas_threads, start), e.g. "
                        "workers.blas_threads=VALUE")
    value = workers.get("start", "forkserver")
    if not any(value == method for method in START_METHODS):  # == not in: a list given is not hashed
        raise UserError(f"workers.start={value!r} is invalid; accepted: {', '.join(START_METHODS)}")
    if value == "forkserver" and "forkserver" not in multiprocessing.get_all_start_methods():
        return "loky"  # Windows
    return value


def start_workers(workers: dict, launcher: dict) -> str | None:
    """Set up how joblib's workers will start, before the launcher starts them; what was chosen.

    None when the launcher starts no worker processes of loky's (not joblib, joblib with
    n_jobs=1, or joblib told to use another backend: threads or multiprocessing's own).
    """
    method = start_method(workers)
    if not str(launcher.get("_target_", "")).endswith("JoblibLauncher"):
        return None
    other_backend = (launcher.get("backend") not in (None, "loky") or launcher.get("prefer") == "threads"
                     or launcher.get("require") == "sharedmem")
    if launcher.get("n_jobs") == 1 or other_backend:
        return None
    if method == "forkserver":
        _start_fork_server(int(launcher["n_jobs"]))
    return method


def _start_fork_server(n_jobs: int) -> None:
    """Start the server now, so that it imports runner.preload while this process sets the sweep up."""
    from multiprocessing import forkserver, resource_tracker

    from joblib import cpu_count, effective_n_jobs
    from joblib.externals.loky.backend.context import set_start_method

    set_start_method("forkserver", force=True)
    forkserver.set_forkserver_preload(["runner.preload"])
    # As joblib does for loky's workers: cpu_count // n_jobs threads each, unless set already.
    # With one, the server loads its BLAS with no thread to carry over a fork.
    threads = str(max(cpu_count() // effective_n_jobs(n_jobs), 1))
    added = {var: threads for var in THREAD_LIMITS if var not in os.environ}
    os.environ.update(added)
    try:
        resource_tracker.ensure_running()  # first: starting it unblocks SIGINT in this thread
        with _sigint_held():  # the server inherits the blocked signal
            forkserver.ensure_running()  # the server takes the environment as it is now
    finally:
        for var in added:
            del os.environ[var]


@contextlib.contextmanager
def _sigint_held():
    """SIGINT blocked in this thread meanwhile; one that came is handled when the block ends."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
