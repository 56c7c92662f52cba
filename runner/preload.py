"""What a parallel sweep's fork server imports before it forks the workers (runner/workers.py).

Importing this module imports what a job needs (a job run afterwards imports nothing of note:
tests/test_workers.py), then freezes it all (gc.freeze). Frozen, those ~10^6 objects stay out of
the collector's reach: the workers forked from the server share them copy-on-write (the use
Python's documentation gives for gc.freeze), and the server, which finalizes them when the sweep
ends, exits in 0.07 s instead of 1.1 s. Never import it in a process that goes on working.

A Ctrl-C signals every process of the sweep, and the launching process is the one that stops it
and its workers. The server starts with SIGINT blocked (runner/workers.py) and, during these
imports, ends at once and silently on SIGINT, or when the launching process has ended (stopped
by SIGTERM, or failed), instead of importing on for seconds or printing a traceback. Afterwards
the server keeps SIGINT blocked (multiprocessing makes it ignore SIGINT as well); SIGTERM it keeps
blocked all along (runner/workers.py says why). Each worker is forked with both blocked until its
stop thread takes them over (runner.workers.prepare_worker): a Ctrl-C ends its run KILLED. A worker
forked as the sweep stops may find its pool's semaphores released already: it says nothing.
On Linux the kernel ends the server (SIGKILL) when the launching process ends, also afterwards: its workers
hold it open, and a launching process killed outright (kill -9) would leave it, and them, running for good.
"""
from __future__ import annotations

import gc
import importlib
import os
import signal
import sys
import threading
import traceback
from multiprocessing import synchronize

from runner.workers import JOB_MODULES, end_with_parent

SIGINT_SET = {signal.SIGINT}
PREVIOUS_EXCEPTHOOK = sys.excepthook


def _quit(*_) -> None:
    """End the server now, silently: the launching process reports the interrupt and stops the sweep."""
    os._exit(128 + signal.SIGINT)


def _watch(launcher: int, done: threading.Event) -> None:
    """Quit once the launching process has ended: the server, adopted, then has another parent."""
    while not done.wait(0.1):
        if os.getppid() != launcher:
            _quit()


def _unblock_sigint() -> None:
    """Let SIGINT through again, while the server imports."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGINT_SET)


def _report(kind, error, tb) -> None:
    """sys.excepthook, by which the server reports a worker that failed to start (forkserver.py): silent when
    the semaphores of the worker's pool were gone, released by the launching process as it stopped the sweep."""
    last = traceback.extract_tb(tb, limit=-1)
    if not (issubclass(kind, FileNotFoundError) and last and last[0].filename == synchronize.__file__):
        PREVIOUS_EXCEPTHOOK(kind, error, tb)


def import_job_modules() -> None:
    """Import JOB_MODULES; SIGINT, or the end of the launching process meanwhile, ends the server."""
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(os.getppid(), done), daemon=True)
    watcher.start()  # while SIGINT is blocked: it never gets it (a handler runs in the main thread anyway)
    previous = signal.signal(signal.SIGINT, _quit)
    _unblock_sigint()  # a Ctrl-C held since the server started is handled here
    for name in JOB_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as error:  # the fork server would drop it silently; the workers import what they need
            print(f"warning: the sweep's fork server could not import {name} ({error}); its workers will",
                  file=sys.stderr)
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGINT_SET)  # handles one that came before; none reaches the server now
    signal.signal(signal.SIGINT, previous)  # what multiprocessing gives each worker back after the fork
    done.set()
    watcher.join()


end_with_parent(signal.SIGKILL)
import_job_modules()
sys.excepthook = _report
gc.freeze()
