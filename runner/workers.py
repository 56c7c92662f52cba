"""How a parallel sweep's worker processes start (`workers.start` in conf/config.yaml), and how they stop.

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
Python starts; runner.preload takes it over from there. It keeps SIGTERM blocked for good: a SIGTERM
sent to every process of the sweep (`timeout`, a scheduler) would end it, and loky, which learns from
the server when a worker forked by it ends, would then take every worker for dead and kill them all.
The server ends with the launching process instead, as multiprocessing's fork server does.

How a sweep stops (Ctrl-C, SIGTERM, hydra.launcher.timeout, a job's error): joblib kills the pool at
once (SIGKILL), so the jobs training in it would lose what a stopped run records (its metrics,
metrics.csv, weights.npz, config.yaml). So joblib's "loky" backend, the one Hydra's launcher asks for, is replaced by
StoppingLokyBackend: before the kill, the launching process hands no further job to a worker, asks every
worker to stop (SIGTERM) and waits, at most STOP_GRACE_SECONDS, until the jobs they ran have returned,
their runs recorded KILLED by runner.experiment as a stopped single run is. What is left RUNNING after
that ends KILLED with the sweep (runner.sweep_runs.end_orphans).

A worker acts on the first stop request only (prepare_worker): a Ctrl-C reaches it from the terminal
and from the launching process, a group's SIGTERM (`timeout`, a scheduler) likewise, and the second
would cut short the run's record of the first. Between jobs a request only keeps the worker from
taking another: a worker that failed or died there would make loky kill the others mid-record.

A launching process that ends without stopping its sweep (kill -9, out of memory) leaves no one to stop the
workers, which went on with the jobs queued for them and then waited for more, and with them the fork server.
So, on Linux, the kernel ends the fork server with the launching process (end_with_parent: SIGKILL, it holds no
record) and asks each worker to stop when its parent ends (SIGTERM, taken as any stop request): its running job
ends KILLED with its records, and the worker, whose sweep is gone, exits once that job has returned. That request comes as
PARENT_ENDED: the kernel sends it as it hands the worker to another parent, so getppid() may not say so yet.
"""
from __future__ import annotations

import _thread
import contextlib
import ctypes
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Mapping

from runner.errors import UserError

START_METHODS = ("forkserver", "loky")
# joblib's limits for loky's workers (joblib/_parallel_backends.py), given here to the fork server
THREAD_LIMITS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS", "NUMEXPR_NUM_THREADS")
# What a job imports, which the fork server preloads (runner/preload.py), heaviest first: MLflow with its
# SQLite store, matplotlib, numba, scipy, then the project
JOB_MODULES = ("mlflow.tracking", "mlflow.store.tracking.sqlalchemy_workspace_store", "sqlalchemy.dialects.sqlite",
               "alembic.command", "alembic.config", "matplotlib.pyplot", "matplotlib.backends.backend_agg",
               "PIL.PngImagePlugin", "plugins.compiled_steps", "scipy.optimize", "threadpoolctl", "filelock",
               "hydra_plugins.hydra_joblib_launcher.joblib_launcher", "runner.app", "plugins.architecture",
               "plugins.datasets", "plugins.initializers", "plugins.optimizers")
STOP_GRACE_SECONDS = 5.0  # a stopped run records itself in about 0.2 s; this bounds a job stuck in a long C call
PR_SET_PDEATHSIG = 1  # prctl(2): the signal this process gets when its parent ends
PARENT_ENDED = signal.SIGUSR1  # that signal, in a worker: blocked, taken by its stop thread
_in_worker = False  # set by prepare_worker in each worker process
_stop_requested = False  # in a worker: the sweep is stopping, take no further job
_orphaned = False  # in a worker: it was stopped because its parent, and so the launching process, had ended
_job_running = threading.Event()  # in a worker: set while job_stops runs a job


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
    """Set up how joblib's workers will start and stop, before the launcher starts them; what was chosen.

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
    _register_stopping_backend()
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
        with _stop_signals_held():  # the server inherits the blocked signals
            forkserver.ensure_running()  # the server takes the environment as it is now
    finally:
        for var in added:
            del os.environ[var]


@contextlib.contextmanager
def _stop_signals_held():
    """SIGINT and SIGTERM blocked in this thread meanwhile; one that came is handled when the block ends."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _register_stopping_backend() -> None:
    """Make joblib's "loky", the backend Hydra's launcher hard-codes, StoppingLokyBackend (module docstring)."""
    from joblib import register_parallel_backend
    from joblib._parallel_backends import LokyBackend

    class StoppingLokyBackend(LokyBackend):
        """loky, with workers that take stop requests (prepare_worker), asked to end their jobs before they die."""

        def configure(self, *args, **kwargs):
            return super().configure(*args, initializer=prepare_worker, **kwargs)

        def abort_everything(self, ensure_ready=True):
            try:
                stop_running_jobs(self._workers)
            except Exception as error:  # raised here it would replace the interrupt or error that stops the sweep
                print(f"warning: the sweep's running jobs could not be asked to stop ({type(error).__name__}: "
                      f"{error}); they end KILLED with what they had recorded", file=sys.stderr)
            finally:  # even if cut short by a second Ctrl-C: the pool must not outlive the sweep
                super().abort_everything(ensure_ready=ensure_ready)

    register_parallel_backend("loky", StoppingLokyBackend)


def stop_running_jobs(executor, grace: float = STOP_GRACE_SECONDS) -> None:
    """In the launching process, before joblib kills the pool: hand no further job to a worker, ask every
    worker to stop (SIGTERM) and wait, at most `grace` seconds, until the jobs they ran have returned.

    Reads loky's executor (private: its work items, call queue and processes); another loky is left to
    joblib's kill. A Ctrl-C or SIGTERM meanwhile ends the wait, and the sweep stops at once.
    """
    try:
        pending, handed, call_queue = executor._pending_work_items, executor._running_work_items, executor._call_queue
        workers = list(executor._processes.values())
    except AttributeError:
        return
    if call_queue is None:  # shut down already: no worker to stop
        return
    for item in list(pending.values()):
        item.future.cancel()  # only those no worker has been handed yet can be: none will be
    unstarted = _take_back(call_queue)
    running = [work_id for work_id in list(handed) if work_id not in unstarted]
    for worker in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    try:
        while time.monotonic() < deadline:
            unstarted |= _take_back(call_queue)  # a job queued as the others were cancelled
            if not any(work_id in pending and work_id not in unstarted for work_id in running):
                return  # loky drops a work item once its worker has returned it
            time.sleep(0.05)
    except KeyboardInterrupt:  # a second Ctrl-C, or SIGTERM: the interrupt already raised goes on
        pass


def _take_back(call_queue) -> set:
    """The work ids of the jobs waiting in loky's call queue, which no worker took yet, taken out of it."""
    taken = set()
    while True:
        try:  # an idle worker waiting on the queue holds its lock: then it is empty (Empty, at once)
            taken.add(call_queue.get(block=False).work_id)
        except (queue.Empty, ValueError, OSError):  # empty; or closed, loky having found a worker dead
            return taken


def prepare_worker() -> None:
    """loky's initializer, in each worker before its first job: stop requests go to a thread of its own.

    SIGTERM and SIGINT stay blocked (a fork server's worker starts with both blocked already); the thread
    takes the first and passes it on as SIGTERM to the main thread, whose handler decides: a run ends KILLED
    (runner.experiment), a job about to run does not run (job_stops), a worker between jobs takes no other.
    The ones after it stay blocked, unheard: a second signal would cut short the first one's record.
    SIGINT ignored from the start (a sweep started in the background by a script) stays ignored. PARENT_ENDED,
    its parent's end (the launching process's, or the fork server's, which ends with it), is a stop request too,
    after which the worker exits (module docstring).
    """
    global _in_worker
    _in_worker = True
    stops = {signal.SIGTERM} | ({signal.SIGINT} if signal.getsignal(signal.SIGINT) != signal.SIG_IGN else set())
    signal.signal(signal.SIGTERM, _between_jobs)
    signal.pthread_sigmask(signal.SIG_BLOCK, stops | {PARENT_ENDED})  # before the thread starts: it inherits it
    threading.Thread(target=_take_first_stop, args=(stops,), name="sweep-stop", daemon=True).start()
    end_with_parent(PARENT_ENDED)


def end_with_parent(signum: int) -> None:
    """Have the kernel send this process signum when its parent ends (Linux's PR_SET_PDEATHSIG; elsewhere
    nothing)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)


def _take_first_stop(stops: set) -> None:
    """The stop thread of a worker: wait for the first of the signals `stops` or PARENT_ENDED, note it, pass it on
    as SIGTERM. Once its parent has ended (the sweep with it: nothing else will end the worker, which would wait
    for jobs), then or after another stop, exit as soon as no job runs, or at most STOP_GRACE_SECONDS later."""
    global _stop_requested, _orphaned
    _orphaned = signal.sigwait(stops | {PARENT_ENDED}) == PARENT_ENDED
    _stop_requested = True
    _thread.interrupt_main(signal.SIGTERM)
    if not _orphaned:  # the launching process stops the sweep, and kills the pool, unless it ends first
        signal.sigwait({PARENT_ENDED})
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while _job_running.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    os._exit(128 + signal.SIGTERM)


def sweep_stop_reason() -> str | None:
    """Why a job's run ends, in a worker asked to stop: the sweep stopped, not necessarily by the user (its timeout,
    another job's error); None elsewhere (a single run, the basic launcher's sweep: the user's Ctrl-C or SIGTERM)."""
    if not _stop_requested:
        return None
    if _orphaned:
        return "stopped: the sweep's launching process had ended without stopping it (killed, or out of memory)"
    return "stopped with the sweep (Ctrl-C, SIGTERM, hydra.launcher.timeout or another job's error)"


def _between_jobs(signum, frame) -> None:
    """A worker's SIGTERM handler between jobs: nothing to end (_stop_requested keeps it from taking a job)."""


@contextlib.contextmanager
def job_stops():
    """Around a job's run: in a sweep's worker, a stop request, made before or while it runs, ends it.

    Until runner.experiment installs its own SIGTERM handler, which ends the run KILLED, and after it has
    restored this one, the job is interrupted as it stands; a job that starts after a stop does not run.
    In any other process (a single run, the basic launcher's sweep) it does nothing.
    """
    if not _in_worker:
        yield
        return
    from runner.experiment import Interrupted, raise_interrupted

    previous = signal.signal(signal.SIGTERM, raise_interrupted)  # before the check: no request falls between
    _job_running.set()
    try:
        if _stop_requested:
            raise Interrupted()
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        _job_running.clear()
