"""The measured cases. Each returns table rows: (case, ours, peer, peer's time, ratio, target, met).

Times are medians of rounds taken in turns (benchmarks.timing.in_turns); a ratio is
peer / ours (how many times faster ours is) unless the row says otherwise.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks import peers
from benchmarks.timing import in_turns, seconds
from plugins.costs import CrossEntropy, SoftmaxCrossEntropy
from plugins.optimizers import SGD, BatchGD, MiniBatch
from plugins.regularization import L2
from runner.core.activations import get_activation
from runner.core.differences import central_differences
from runner.core.gradcheck import gradient_check as check
from runner.core.gradcheck import naive_differences
from runner.core.network import NetworkObjective, one_hot, unroll

ROOT = Path(__file__).resolve().parent.parent
LAM = 1.0
NOOP = lambda epoch, Theta: None  # noqa: E731


def digits():
    """scikit-learn's 1797 8x8 digits, standardized: 64 inputs, 10 classes."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X - X.mean(0)) / (X.std(0) + 1e-8), y, [64, 25, 10]


def synthetic(m=20000, n=400, K=10):
    """m x n standard normal inputs labelled by a random linear teacher: 400-100-100-10."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((m, n))
    return X, np.argmax(X @ rng.standard_normal((n, K)), axis=1), [n, 100, 100, K]


def start(sizes, dtype=np.float64):
    """Theta0 uniform in +-0.12 (the course's epsilon), seeded."""
    rng = np.random.default_rng(1)
    return [rng.uniform(-0.12, 0.12, (s_out, s_in + 1)).astype(dtype) for s_in, s_out in zip(sizes[:-1], sizes[1:])]


def objective(X, y, sizes, dtype=np.float64, cost=SoftmaxCrossEntropy):
    return NetworkObjective(X.astype(dtype), one_hot(y, sizes[-1]).astype(dtype), get_activation("sigmoid"),
                            cost(), L2(LAM))


def fmt(seconds_: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds_ >= scale or unit == "us":
            return f"{seconds_ / scale:.3g} {unit}"


def row(case, ours, peer, peer_time, ratio, target, met):
    return {"case": case, "ours": ours, "peer": peer, "peer_time": peer_time, "ratio": ratio, "target": target,
            "met": met}


def faster(case, ours, times, peer, name, need=None):
    """A row comparing ours with a peer: 'N x faster' (peer / ours), and whether it meets `need`."""
    if peer not in times:
        return row(case, fmt(times[ours]), name, "skipped", "-", f">= {need:g}x faster" if need else "-",
                   "skipped" if need else "-")
    ratio = times[peer] / times[ours]
    return row(case, fmt(times[ours]), name, fmt(times[peer]), f"{ratio:.2f}x faster",
               f">= {need:g}x faster" if need else "(info)", ("yes" if ratio >= need else "NO") if need else "-")


def epochs_with_cost(obj, Theta0, epochs: int) -> list:
    """The issue's epoch, J included: forward, cost, backprop, update (BatchGD's own loop skips J, which it never reads)."""
    optimizer, Theta = BatchGD(lr=0.1), [T.copy() for T in Theta0]
    for _ in range(epochs):
        _, D = obj.value_and_gradient(Theta)
        optimizer.update(Theta, D, None, optimizer.lr)
    return Theta


def full_batch(repeats: int, large_rows: int = 20000) -> list[dict]:
    """1. One full-batch epoch: forward, J, backprop, update (BatchGD), vs sklearn, PyTorch, the BLAS floor."""
    rows = []
    for (X, y, sizes), epochs, label in ((digits(), 50, "digits 64-25-10, m=1797"),
                                         (synthetic(m=large_rows), 2, f"synthetic 400-100-100-10, m={large_rows}")):
        for dtype in (np.float64, np.float32):
            kind = np.dtype(dtype).name
            obj, Theta0 = objective(X, y, sizes, dtype), start(sizes, dtype)
            optimizer = BatchGD(lr=0.1, epochs=epochs)
            contenders = {"ours": lambda: seconds(lambda: epochs_with_cost(obj, Theta0, epochs), epochs),
                          "batch_gd": lambda: seconds(lambda: optimizer.minimize(obj, Theta0, None, NOOP), epochs)}
            for columns in (False, True):
                floor = peers.BlasFloor(X.shape[0], sizes, dtype, np.random.default_rng(2), columns)
                contenders[f"floor{int(columns)}"] = partial(floor.epoch, epochs)
            if dtype == np.float64:
                contenders["sklearn"] = partial(peers.sklearn_epoch, X, y, sizes[1:-1], X.shape[0], LAM,
                                                (1, 1 + epochs))
            if peers.torch_available():
                contenders["torch"] = partial(peers.TorchNet(X, y, sizes, LAM, dtype).epoch, epochs)
            times = in_turns(contenders, repeats)
            times["floor"] = min(times.pop("floor0"), times.pop("floor1"))
            case = f"full-batch epoch, {label}, {kind}"
            big = sizes[0] == 400
            if dtype == np.float64:
                rows.append(faster(case, "ours", times, "sklearn", "scikit-learn MLPClassifier(sgd, batch=m)", 1.5))
                rows.append(faster(f"{case}, as BatchGD trains (J not summed: nothing reads it)", "batch_gd", times,
                                   "sklearn", "scikit-learn MLPClassifier(sgd, batch=m)"))
            rows.append(faster(case, "ours", times, "torch", "PyTorch CPU autograd + SGD",
                               1.0 if (not big and dtype == np.float64) else None))
            ratio = times["ours"] / times["floor"]
            need = big and dtype == np.float64
            rows.append(row(case, fmt(times["ours"]), "BLAS floor (the epoch's matrix products only, faster layout)",
                            fmt(times["floor"]), f"{ratio:.2f}x the floor", "<= 1.5x the floor" if need else "(info)",
                            ("yes" if ratio <= 1.5 else "NO") if need else "-"))
    return rows


def per_sample(repeats: int) -> list[dict]:
    """2. Per-sample SGD (and mini-batch b=32) epochs, per sample: numba, our numpy path, the peers."""
    rows = []
    for (X, y, sizes), m, label in ((digits(), 1797, "digits 64-25-10"),
                                    (synthetic(m=1000), 1000, "synthetic 400-100-100-10")):
        obj, Theta0 = objective(X[:m], y[:m], sizes), start(sizes)
        few = objective(X[:200], y[:200], sizes)
        numba_sgd, numpy_sgd = SGD(lr=0.01, epochs=1), SGD(lr=0.01, epochs=1, backend="numpy")
        rng = np.random.default_rng(3)
        contenders = {
            "ours": lambda: seconds(lambda: numba_sgd.minimize(obj, Theta0, rng, NOOP), m),
            "numpy": lambda: seconds(lambda: numpy_sgd.minimize(few, Theta0, rng, NOOP), 200),
            "plain": lambda: seconds(lambda: peers.plain_numpy_sgd(X[:m], obj.Y, [T.copy() for T in Theta0],
                                                                   0.01, LAM / m), m),
            "sklearn": lambda: peers.sklearn_epoch(X[:m], y[:m], sizes[1:-1], 1, LAM, (1, 2)) / m,
        }
        if peers.torch_available():
            net = peers.TorchNet(X[:m], y[:m], sizes, LAM, np.float64)
            contenders["torch"] = partial(net.per_sample, m)
        times = in_turns(contenders, repeats)
        assert numba_sgd.backend_used == "numba"
        case = f"per-sample SGD, {label}, per sample"
        rows.append(faster(case, "ours", times, "sklearn", "scikit-learn MLPClassifier(sgd, batch_size=1)", 20))
        rows.append(faster(case, "ours", times, "plain", "plain numpy loop (benchmarks/peers.py)", 5))
        rows.append(faster(case, "ours", times, "torch", "PyTorch CPU loop, one row per step"))
        rows.append(faster(case, "ours", times, "numpy", "our own numpy path (backend: numpy)"))

        b = 32
        mini, mini_numpy = MiniBatch(lr=0.1, epochs=1, batch_size=b), MiniBatch(lr=0.1, epochs=1, batch_size=b,
                                                                                  backend="numpy")
        contenders = {"ours": lambda: seconds(lambda: mini.minimize(obj, Theta0, rng, NOOP), m),
                      "numpy": lambda: seconds(lambda: mini_numpy.minimize(obj, Theta0, rng, NOOP), m),
                      "sklearn": lambda: peers.sklearn_epoch(X[:m], y[:m], sizes[1:-1], b, LAM, (1, 3)) / m}
        times = in_turns(contenders, repeats)
        case = f"mini-batch b={b}, {label}, per sample (ours ran {mini.backend_used})"
        rows.append(faster(case, "ours", times, "sklearn", f"scikit-learn MLPClassifier(sgd, batch_size={b})"))
        if mini.backend_used == "numba":  # else "ours" is the numpy path itself, timed twice
            rows.append(faster(case, "ours", times, "numpy", "our own numpy path (backend: numpy)"))
    return rows


def gradient_check(repeats: int, row_counts: tuple[int, ...] = (200, 1797)) -> list[dict]:
    """3. The full check (every coordinate) of the digits network: central_differences vs the naive loop,
    and the directional check (two evaluations of J) against one evaluation of J."""
    rows = []
    X, y, sizes = digits()
    Theta = start(sizes)
    coords = np.arange(unroll(Theta).size)
    for m in row_counts:
        obj = objective(X[:m], y[:m], sizes, cost=CrossEntropy)
        fast = central_differences(obj, Theta, coords, 1e-4)
        naive = naive_differences(obj.value, Theta, coords, 1e-4)
        agreement = np.linalg.norm(fast - naive) / np.linalg.norm(naive)
        times = in_turns({"ours": lambda: seconds(lambda: central_differences(obj, Theta, coords, 1e-4)),
                          "naive": lambda: seconds(lambda: naive_differences(obj.value, Theta, coords, 1e-4))},
                         repeats if m == 200 else max(1, repeats // 2))
        case = (f"gradient check, full ({coords.size} coords), digits on {m} rows; relative difference from the "
                f"naive loop {agreement:.1e}")
        r = faster(case, "ours", times, "naive", "naive loop, 2P evaluations of J", 10)
        if agreement > 1e-8:
            r["met"] = "NO (agreement)"
        rows.append(r)
    _, D = obj.value_and_gradient(Theta)
    times = in_turns({"ours": lambda: seconds(lambda: check(obj.value, Theta, D, mode="direction")),
                      "J": lambda: seconds(lambda: obj.value(Theta))}, repeats)
    rows.append(row(f"gradient check, direction (2 evaluations of J), digits on {m} rows", fmt(times["ours"]),
                    "one evaluation of J", fmt(times["J"]), f"{times['ours'] / times['J']:.2f} evaluations of J",
                    "about 2", "yes" if times["ours"] / times["J"] < 3 else "NO"))
    return rows


def end_to_end(runs: int) -> list[dict]:
    """4 and 5. `python -m runner` with defaults, the whole process, first with a new SQLite store, then
    `runs` times with it existing; its MLflow work timed inside (benchmarks.timed_cli)."""
    import json

    from mlflow.tracking import MlflowClient

    walls, mlflow = [], []
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        env = {**os.environ, "BACKPROP_LAB_OUTPUTS": tmp, "MLFLOW_TRACKING_URI": uri}
        for _ in range(runs + 1):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "benchmarks.timed_cli"], cwd=ROOT, env=env,
                                  capture_output=True, text=True)
            walls.append(time.perf_counter() - started)
            if done.returncode != 0:
                raise RuntimeError(f"python -m runner failed:\n{done.stderr[-2000:]}")
            line = next(l for l in done.stderr.splitlines() if l.startswith("MLFLOW_SECONDS "))
            mlflow.append(json.loads(line.split(" ", 1)[1]))
        client = MlflowClient(uri)
        run = client.search_runs([client.get_experiment_by_name("backprop-lab").experiment_id])[0]
    have = all(k in run.data.metrics for k in ("train_seconds", "epochs_per_second"))
    wall = statistics.median(walls[1:])
    log = statistics.median(m["log"] for m in mlflow[1:])
    opened = statistics.median(m["open"] for m in mlflow[1:])
    return [row("end to end: python -m runner (defaults), store already created", fmt(wall), "-", "-", "-",
                "< 10 s", "yes" if wall < 10 else "NO"),
            row("end to end: python -m runner (defaults), first run (new SQLite store)", fmt(walls[0]), "-", "-",
                "-", "(info)", "-"),
            row(f"MLflow logging calls in that run (run, params, {run.data.metrics and len(run.data.metrics)} metric "
                f"keys, tags, artifacts; train_seconds and epochs_per_second logged: {'yes' if have else 'NO'})",
                fmt(log), "-", "-", f"{log / wall * 100:.1f}% of the run's wall", "< 5%",
                "yes" if log / wall < 0.05 and have else "NO"),
            row("MLflow import and store opening in that run (Tracker construction)", fmt(opened), "-", "-",
                f"{opened / wall * 100:.0f}% of the run's wall", "(info)", "-")]


def tracking_warm(runs: int) -> list[dict]:
    """4, strictly: MLflow logging calls against a warm in-process run_experiment (imports already paid)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import runner.app  # noqa: F401  (the ${blab.outputs:} resolver)
    from benchmarks import timed_cli
    from runner.experiment import run_experiment

    shares, walls = [], []
    with tempfile.TemporaryDirectory() as tmp:
        saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "BACKPROP_LAB_OUTPUTS")}
        os.environ.update(MLFLOW_TRACKING_URI=f"sqlite:///{tmp}/mlflow.db", BACKPROP_LAB_OUTPUTS=tmp)
        try:
            with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
                config = OmegaConf.to_container(compose("config", ["tracking.progress=off"]), resolve=True)
            timed_cli.time_tracker()
            for n in range(runs + 1):  # the first run creates the store and imports: not counted
                timed_cli.spent.update(open=0.0, log=0.0)
                outcome = run_experiment(config, Path(tmp) / f"run{n}")
                if n:
                    shares.append(timed_cli.spent["log"] / outcome.seconds)
                    walls.append(outcome.seconds)
        finally:
            for k, v in saved.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    share = statistics.median(shares)
    return [row("MLflow logging calls, warm in-process run_experiment (imports paid before)",
                f"{share * statistics.median(walls) * 1e3:.0f} ms of {fmt(statistics.median(walls))}", "-", "-",
                f"{share * 100:.1f}%", "(info: strict reading of < 5%)", "-")]


def sweep() -> list[dict]:
    """6. Measured elsewhere."""
    return [row("2-worker joblib sweep", "-", "see benchmarks/sweep_bench.py", "-", "-", "-", "-")]
