"""Shared test helpers: an independent reference of the course's network, and small problems.

`Textbook` is written apart from runner.core on purpose: it follows ex4's nnCostFunction
sample by sample, with column vectors and an explicit bias unit 1 prepended to every
layer (a(1) = [1; x], z(l+1) = Theta(l) a(l)), so an error shared with the vectorized
core cannot hide in both. Layers count from 0 here too, like the core's lists.

`store` and `new_store` are temporary SQLite MLflow stores with `cli(*overrides)`, which runs
the real `python -m runner` against them; `FAST` holds overrides for a run of a few seconds.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def one_blas_thread():
    """Tiny matrices run faster on one BLAS thread; two threads on 2 busy cores are up to 30x slower."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# g and g'(z), both as functions of z (the core writes g' as a function of a = g(z)).
G = {
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1.0 / np.cosh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
}


class Textbook:
    """The course's per-sample forward pass, cost and backprop (ex4 nnCostFunction, loop form)."""

    @staticmethod
    def forward(Theta, x, activation="sigmoid", cost="cross_entropy"):
        """[1; x] -> ... -> h for one sample x; returns the biased activations, the z's and h."""
        g = G[activation][0]
        a = [np.concatenate(([1.0], x))]
        zs = []
        for l, T in enumerate(Theta):
            z = T @ a[-1]
            zs.append(z)
            if l < len(Theta) - 1:
                a.append(np.concatenate(([1.0], g(z))))
        if cost == "softmax_cross_entropy" and z.size > 1:
            e = np.exp(z - z.max())
            h = e / e.sum()
        else:
            h = _sigmoid(z)
        return a, zs, h

    @staticmethod
    def cost_and_gradient(Theta, X, Y, activation="sigmoid", cost="cross_entropy",
                          regularization="none", lam=0.0, m=None):
        """J and D over the rows of X; the penalty divides by m (the rows' count by default)."""
        m_rows = X.shape[0]
        m = m_rows if m is None else m
        g_prime = G[activation][1]
        J = 0.0
        Delta = [np.zeros_like(T, dtype=float) for T in Theta]
        for x, y in zip(X, Y):
            a, zs, h = Textbook.forward(Theta, x, activation, cost)
            if cost == "mse":
                J += 0.5 * np.sum((h - y) ** 2)
                delta = (h - y) * h * (1.0 - h)
            elif cost == "softmax_cross_entropy" and h.size > 1:
                J += -np.sum(y * np.log(h))
                delta = h - y
            else:
                J += np.sum(-y * np.log(h) - (1.0 - y) * np.log(1.0 - h))
                delta = h - y
            for l in range(len(Theta) - 1, -1, -1):
                Delta[l] += np.outer(delta, a[l])
                if l > 0:
                    delta = (Theta[l].T @ delta)[1:] * g_prime(zs[l - 1])
        J /= m_rows
        D = [Dl / m_rows for Dl in Delta]
        for l, T in enumerate(Theta):
            W = T[:, 1:]
            if regularization == "l2":
                J += lam / (2 * m) * np.sum(W**2)
                D[l][:, 1:] += lam / m * W
            elif regularization == "l1":
                J += lam / m * np.sum(np.abs(W))
                D[l][:, 1:] += lam / m * np.sign(W)
        return J, D


@pytest.fixture
def textbook():
    """The independent per-sample reference implementation."""
    return Textbook


@dataclass
class Problem:
    """A small classification problem: X (m, n), labels y, targets Y (m, K) and a Theta."""

    X: np.ndarray
    y: np.ndarray
    Y: np.ndarray
    Theta: list


def random_problem(layer_sizes, m=6, seed=0, activation="sigmoid"):
    """Random X, labels and Theta whose non-bias weights have |w| in [0.2, 1] (L1's kink stays far).

    For relu, seeds are skipped until every hidden |z| > 0.05, so the central differences
    (step 1e-4) never straddle the kink at z = 0 and every hidden layer has a live unit.
    """
    n, K = layer_sizes[0], layer_sizes[-1]
    for s in count(seed):
        rng = np.random.default_rng(s)
        X = rng.standard_normal((m, n))
        Theta = []
        for s_in, s_out in zip(layer_sizes[:-1], layer_sizes[1:]):
            W = rng.uniform(0.2, 1.0, (s_out, s_in)) * rng.choice([-1.0, 1.0], (s_out, s_in))
            Theta.append(np.column_stack([rng.uniform(-0.5, 0.5, s_out), W]))
        classes = max(K, 2)
        y = np.arange(m) % classes
        rng.shuffle(y)
        Y = y.reshape(-1, 1).astype(float) if K == 1 else np.eye(K)[y]
        if activation != "relu" or _relu_safe(Theta, X):
            return Problem(X, y, Y, Theta)


def _relu_safe(Theta, X):
    a = X
    for T in Theta[:-1]:
        z = a @ T[:, 1:].T + T[:, 0]
        if np.min(np.abs(z)) < 0.05 or not np.any(z > 0):
            return False
        a = np.maximum(z, 0.0)
    return True


# --- A temporary MLflow store, and the real CLI run against it ----------------------------

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def resolved_config(*overrides: str) -> dict:
    """The resolved config `python -m runner OVERRIDES` would run, as a plain dict (Hydra's compose API)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import runner.app  # noqa: F401  (registers the resolvers conf/config.yaml uses)

    with initialize_config_dir(config_dir=str(PROJECT_ROOT / "conf"), version_base="1.3"):
        config = compose(config_name="config", overrides=list(overrides))
    return OmegaConf.to_container(config, resolve=True, throw_on_missing=True)


def multirun_config(*overrides: str):
    """The config of `python -m runner -m OVERRIDES` with its hydra node, as the sweep's callback gets it."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    import runner.app  # noqa: F401  (registers the resolvers conf/config.yaml uses)

    with initialize_config_dir(config_dir=str(PROJECT_ROOT / "conf"), version_base="1.3"):
        return GlobalHydra.instance().hydra.compose_config("config", list(overrides), run_mode=RunMode.MULTIRUN)


# Overrides for a run of a few seconds: 100 generated points, a 2-5-1 network, 12 epochs.
FAST = ("dataset=moons", "dataset.n_samples=100", "optimizer=batch_gd", "optimizer.lr=1",
        "optimizer.epochs=12", "architecture.hidden=[5]", "tracking.progress=off")


@dataclass
class Store:
    """A SQLite tracking store with its artifacts and Hydra run folders under `root`."""

    root: Path

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.root / 'mlflow.db'}"

    @property
    def client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.uri)

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a subprocess against this store: one BLAS thread, no debug switches;
        the project stays importable through PYTHONPATH (appended to any PYTHONPATH given)."""
        return self.env_from(os.environ, **extra)

    def env_from(self, base, **extra: str) -> dict[str, str]:
        """env, from the environment base instead of this process's."""
        environment = {k: v for k, v in base.items()
                       if k not in ("MLFLOW_TRACKING_URI", "HYDRA_FULL_ERROR", "BACKPROP_LAB_DEBUG")}
        environment.update(MLFLOW_TRACKING_URI=self.uri, BACKPROP_LAB_OUTPUTS=str(self.root / "outputs"),
                           OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        environment.update(extra)
        environment["PYTHONPATH"] = os.pathsep.join(p for p in (extra.get("PYTHONPATH"), str(PROJECT_ROOT)) if p)
        return environment

    def cli(self, *overrides: str, **env: str) -> subprocess.CompletedProcess:
        """`python -m runner OVERRIDES` in a subprocess against this store, run from `root`."""
        return self.module("runner", *overrides, **env)

    def module(self, module: str, *args: str, **env: str) -> subprocess.CompletedProcess:
        """`python -m MODULE ARGS` (runner, runner.replay, runner.sync, runner.report) against this store,
        forked from the CLI fork server where its environment allows (tests/cli_server.py)."""
        return fork_server().run(module, args, self.env(**env), self.root, timeout=600)

    def runs(self) -> list:
        """Every run in every experiment of the store, oldest first."""
        client = self.client
        ids = [e.experiment_id for e in client.search_experiments()]
        return client.search_runs(ids, order_by=["attributes.start_time ASC"]) if ids else []

    def download(self, run_id: str, path: str) -> Path:
        """One artifact of a run, copied into a fresh folder under root."""
        target = Path(tempfile.mkdtemp(dir=self.root))
        return Path(self.client.download_artifacts(run_id, path, str(target)))


_fork_server: list = []  # the one ForkServer of this pytest process, made on first use
SESSION_ENVIRONMENT: dict[str, str] = {}  # as the tests start, before any of them changed it


def pytest_collection_finish(session):
    """Note the environment once the test modules are imported (scikit-learn's import sets KMP_INIT_AT_FORK)."""
    SESSION_ENVIRONMENT.update(os.environ)


def new_fork_server():
    """A CLI fork server (not started) with the environment Store.env gives every command in a session whose
    tests change none: made within a test that does, it must not take that change to every later command."""
    from cli_server import ForkServer

    return ForkServer(Store(Path(tempfile.gettempdir())).env_from(SESSION_ENVIRONMENT))


def fork_server():
    """This pytest process's CLI fork server."""
    if not _fork_server:
        _fork_server.append(new_fork_server())
    return _fork_server[0]


@pytest.fixture(autouse=True, scope="session")
def _close_fork_server():
    yield
    if _fork_server:
        _fork_server[0].close()


@pytest.fixture(scope="session")
def _store_template(tmp_path_factory) -> Path:
    """An empty store with MLflow's schema, made once: creating the tables takes seconds."""
    from mlflow.tracking import MlflowClient

    db = tmp_path_factory.mktemp("store_template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()
    return db


def _store_from(template: Path, root: Path) -> Store:
    shutil.copyfile(template, root / "mlflow.db")
    return Store(root)


@pytest.fixture(scope="module")
def store(_store_template, tmp_path_factory) -> Store:
    """A store shared by the tests of one module (run it once, assert many things)."""
    return _store_from(_store_template, tmp_path_factory.mktemp("store"))


@pytest.fixture
def new_store(_store_template, tmp_path) -> Store:
    """A store of the test's own, empty."""
    root = tmp_path / "store"
    root.mkdir()
    return _store_from(_store_template, root)


# --- A real MLflow tracking server ------------------------------------------------------

def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_health(url: str, process: subprocess.Popen, what: str, output=lambda: "") -> None:
    """Wait, at most 180 s, until the MLflow server or UI `process` at url answers /health; fail with `output()`
    should the process end first."""
    import time
    import urllib.request

    deadline = time.monotonic() + 180
    while True:
        assert process.poll() is None, output()
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{what} did not answer /health in 180 s"
        time.sleep(0.5)


@contextlib.contextmanager
def mlflow_server_at(folder: Path):
    """A real `mlflow server` on 127.0.0.1 (free port, SQLite backend and served artifacts in
    folder), yielding (url, process); stopped, with its worker processes, on exit."""
    from runner.dashboard import NO_SERVER_JOBS

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    folder.mkdir(parents=True, exist_ok=True)
    log = open(folder / "server.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                               "--backend-store-uri", f"sqlite:///{folder / 'server.db'}",
                               "--artifacts-destination", str(folder / "served"), "--serve-artifacts",
                               "--workers", "1"],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                              # MLflow's job runner (GenAI jobs, unused here) would start 8 more processes, each
                              # importing MLflow, and leave a folder in /dev/shm behind
                              env={**os.environ, **NO_SERVER_JOBS})
    try:
        wait_for_health(url, server, "mlflow server", lambda: (folder / "server.log").read_text()[-3000:])
        commands = group_commands(server.pid)
        assert not any("mlflow.server.jobs" in command for command in commands), commands
        yield url, server
    finally:
        stop_server(server)
        log.close()


def group_commands(pgid: int) -> list[str]:
    """The command lines of the processes of process group pgid (Linux: /proc/PID/stat, field 5 its group)."""
    commands = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                commands.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
    return commands


def stop_server(server: subprocess.Popen) -> None:
    """SIGTERM the server's whole process group (uvicorn worker, job runners); SIGKILL if it lingers."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@pytest.fixture
def mlflow_server(tmp_path):
    """The URL of a real `mlflow server` that lives for one test."""
    with mlflow_server_at(tmp_path / "server") as (url, _):
        yield url
