"""The tests' CLI fork server: imports what `python -m runner` and its sibling commands need once, then forks
a child per command line a test runs (tests/conftest.py, Store.module).

A fresh interpreter pays 4-5 s of imports (MLflow and its SQLite store alone 3.5 s) before a command does
anything; most of the suite's time went there. A child forked from here starts with them loaded, as the
workers of a sweep's fork server do (runner/workers.py), and is otherwise the process `python -m MODULE ARGS`
would be: it takes the request's working folder, environment, argument vector and standard streams, puts
that folder first on sys.path, and leaves the server's loop to run the module at top level through runpy's
`_run_module_as_main` (what `-m` calls), so the interpreter itself reports an uncaught exception, joins
threads, runs atexit and flushes the streams as it ends, as in a fresh process.

What a fork cannot give is what a process reads from its environment at start or at import: sys.path from
PYTHONPATH, BLAS threads and kernel (OPENBLAS_*), numba's settings. So the server is started with the
environment the tests give every command, and conftest.py forks only commands whose environment differs
from it in LAZY_VARIABLES and MLflow's alone; any other command runs in a fresh interpreter.

Protocol, a JSON line each way: {"module", "args", "env", "cwd", "stdout", "stderr"} (the last two file
paths) in, {"pid"} once forked, then {"returncode"} (negative: killed by that signal, as subprocess says).
"""
from __future__ import annotations

import gc
import importlib
import json
import os
import runpy
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# read when used, not at start or import, so a forked command may be given other values than the server's:
# the outputs folder, MLflow's settings (mlflow/environment_variables.py; in-process tests' MLflow clients set
# its telemetry session id) and PYTEST_CURRENT_TEST, which pytest changes for each test, read by no command
LAZY_VARIABLES = ("BACKPROP_LAB_OUTPUTS", "_MLFLOW_TELEMETRY_SESSION_ID", "PYTEST_CURRENT_TEST")
LAZY_PREFIX = "MLFLOW_"
FRESH_VARIABLE = "BACKPROP_LAB_TESTS_FRESH"  # =1: every command in a fresh interpreter, as without the server
COMMAND_MODULES = ("runner.predict", "runner.replay", "runner.report", "runner.sync",
                   "runner.resume", "runner.dashboard")


def preload() -> None:
    """Import a job's modules (runner.workers.JOB_MODULES) and the commands'; no thread may be left running."""
    from runner.workers import JOB_MODULES, end_with_parent

    end_with_parent(signal.SIGKILL)  # the pytest worker that started the server is gone: so is the server
    for name in (*JOB_MODULES, *COMMAND_MODULES):
        importlib.import_module(name)
    threads = threading.enumerate()
    assert threads == [threading.main_thread()], f"a preloaded module started threads: {threads}"
    gc.freeze()  # as runner.preload: the children share the imported objects copy-on-write


def serve(requests, replies) -> dict | None:
    """Fork a child per request until stdin ends; in the child, return its request (the server returns None)."""
    for line in requests:
        request = json.loads(line)
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            return request
        print(json.dumps({"pid": pid}), file=replies, flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), file=replies, flush=True)
    return None


def become(request: dict) -> None:
    """Make this child the process `python -m MODULE ARGS` would be, in the request's folder and environment."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    stdin = os.open(os.devnull, os.O_RDONLY)
    stdout = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    stderr = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = open(0, closefd=False)  # the server's read the requests
    sys.argv = [sys.argv[0], *request["args"]]
    sys.path[0] = os.getcwd()  # where `python -m` looks first
    sys.excepthook = sys.__excepthook__
    sys.modules.pop(request["module"], None)  # preloaded, but `-m` runs a module not imported yet, as __main__


def run_fresh(module: str, args, env: dict[str, str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    """`python -m module args` in a fresh interpreter, as the tests ran every command before the server."""
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


class ForkServer:
    """The test side: starts the server with `environment`, and runs command lines in it or, when their
    environment differs from it beyond the lazy variables, in a fresh interpreter."""

    def __init__(self, environment: dict[str, str]):
        self.environment = environment
        self.process = None

    def forks(self, env: dict[str, str]) -> bool:
        """Whether a command with environment env may be forked from the server (never with FRESH_VARIABLE=1)."""
        if os.environ.get(FRESH_VARIABLE) == "1":
            return False

        def eager(e):
            return {key: value for key, value in e.items()
                    if key not in LAZY_VARIABLES and not key.startswith(LAZY_PREFIX)}
        return eager(env) == eager(self.environment)

    def run(self, module: str, args, env: dict[str, str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
        """`python -m module args` in cwd with env, as subprocess.run(capture_output=True, text=True) gives it."""
        command = [sys.executable, "-m", module, *args]
        if not self.forks(env):
            return run_fresh(module, args, env, cwd, timeout)
        with tempfile.TemporaryDirectory() as folder:
            out, err = Path(folder) / "stdout", Path(folder) / "stderr"
            request = dict(module=module, args=list(args), env=env, cwd=str(cwd), stdout=str(out), stderr=str(err))
            os.write(self._started().stdin.fileno(), (json.dumps(request) + "\n").encode())
            pid = self._reply(60)["pid"]
            try:
                returncode = self._reply(timeout)["returncode"]
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
                self._reply(60)
                raise subprocess.TimeoutExpired(command, timeout, out.read_text(), err.read_text()) from None
            return subprocess.CompletedProcess(command, returncode, out.read_text(), err.read_text())

    def close(self) -> None:
        """End the server: it exits when its stdin ends."""
        if self.process is not None:
            self.process.stdin.close()
            self.process.wait(timeout=60)
            self.process = None

    def _started(self) -> subprocess.Popen:
        if self.process is None:
            self.process = subprocess.Popen([sys.executable, __file__], env=self.environment, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, bufsize=0)
            self._reply(300)  # its imports done
        return self.process

    def _reply(self, seconds: float) -> dict:
        """The server's next reply line, within seconds; read byte-wise, so that no reply waits in a buffer unseen."""
        fd, line, deadline = self.process.stdout.fileno(), b"", time.monotonic() + seconds
        while not line.endswith(b"\n"):
            if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise subprocess.TimeoutExpired(self.process.args, seconds)
            byte = os.read(fd, 1)
            assert byte, f"the CLI fork server ended (exit code {self.process.wait()})"
            line += byte
        return json.loads(line)


if __name__ == "__main__":
    server_stdout = sys.stdout
    sys.stdout = sys.stderr  # nothing a preloaded module prints may reach the protocol
    preload()
    print(json.dumps({"ready": os.getpid()}), file=server_stdout, flush=True)
    child_request = serve(sys.stdin, server_stdout)
    if child_request is None:
        sys.exit(0)
    sys.stdout = server_stdout
    become(child_request)
    runpy._run_module_as_main(child_request["module"])
