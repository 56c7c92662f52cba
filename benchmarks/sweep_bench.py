"""Benchmark (not a test): parallel sweep speed-up, and `runner.report` on 1000 runs.

    python benchmarks/sweep_bench.py [--jobs 16] [--workers 2] [--epochs 1000] [--repeats 3] [--fresh-store]
                                     [--modes serial,loky,forkserver] [--runs 1000] [--steps 50]

1. The same sweep of --jobs small runs (digits, 25 hidden units, --epochs of batch GD)
   with the basic launcher and one BLAS thread, then with joblib and --workers processes
   (one BLAS thread each), started by loky (joblib's default) and by the fork server
   (workers.start, runner/workers.py), or the --modes chosen; each into its own copy of an existing empty SQLite
   store (--fresh-store: a new one, whose tables MLflow makes first), --repeats rounds.
   Speed-up = serial wall / parallel wall; efficiency = the sum of the jobs' training time
   (metric train_seconds) / (wall x workers), the share of the workers' time spent
   training (the rest: process start, imports, Hydra, logging).
2. A store of --runs child runs under one sweep parent, each with ~35 params and a
   --steps-long history of four metrics, written with MlflowClient.log_batch; then the
   time of `python -m runner.report` on it, and of its bulk SQL read of the histories
   against get_metric_history run by run (--runs 0: skipped).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODES = ("serial", "loky", "forkserver")
JOB = ("dataset=digits", "architecture.hidden=[25]", "optimizer=batch_gd", "tracking.progress=off")


def run(module: str, args: list[str], root: Path, **env: str) -> float:
    """`python -m module ARGS` against a store under root; its wall time in seconds."""
    environment = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    environment.update(MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}", BACKPROP_LAB_OUTPUTS=str(root),
                       PYTHONPATH=str(PROJECT_ROOT), **env)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", module, *args], cwd=root, env=environment,
                            capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{module} {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return seconds


def children(root: Path) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    ids = [e.experiment_id for e in client.search_experiments()]
    return [r for r in client.search_runs(ids, max_results=5000) if "mlflow.parentRunId" in r.data.tags]


def template_store(scratch: Path) -> Path:
    """An empty store with MLflow's tables, made once, untimed: the state of any store after its first run."""
    from mlflow.tracking import MlflowClient

    path = scratch / "template.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


def one_sweep(mode: str, extra: list[str], args: argparse.Namespace, root: Path, template: Path | None) -> dict:
    """Run the sweep once into a store under root; its wall time and what its runs say."""
    root.mkdir()
    if template is not None:
        shutil.copy(template, root / "mlflow.db")
    lams = ",".join(str(lam) for lam in range(args.jobs))
    launched = time.time()
    wall = run("runner", ["-m", *extra, *JOB, f"optimizer.epochs={args.epochs}", f"regularization.lam={lams}"], root)
    ended = time.time()
    runs = children(root)
    assert len(runs) == args.jobs and all(r.info.status == "FINISHED" for r in runs), f"{mode}: runs lost"
    first_start, last_end = min(r.info.start_time for r in runs) / 1000, max(r.info.end_time for r in runs) / 1000
    return {"wall": wall, "training": sum(r.data.metrics["train_seconds"] for r in runs),
            "busy": sum((r.info.end_time - r.info.start_time) / 1000 for r in runs),
            "jobs_phase": last_end - first_start,  # first job's start to last job's end
            "ends": (first_start - launched) + (ended - last_end)}  # before the first job, after the last


def sweep_speedup(args: argparse.Namespace, scratch: Path) -> None:
    workers = args.workers
    joblib = ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={workers}"]
    every_mode = {"serial": ("serial, 1 BLAS thread", 1, ["workers.blas_threads=1"]),
                  "loky": (f"joblib, {workers} workers, loky", workers, [*joblib, "workers.start=loky"]),
                  "forkserver": (f"joblib, {workers} workers, forkserver", workers, [*joblib, "workers.start=forkserver"])}
    modes = {label: (n, extra) for key, (label, n, extra) in every_mode.items() if key in args.modes}
    template = None if args.fresh_store else template_store(scratch)
    print(f"{args.jobs} jobs of {args.epochs} epochs, each sweep into {'a new' if args.fresh_store else 'an existing'} "
          f"store; {args.repeats} rounds, modes alternating, medians")
    results: dict[str, list[dict]] = {mode: [] for mode in modes}
    for round_ in range(args.repeats):
        for number, (mode, (_, extra)) in enumerate(modes.items()):
            results[mode].append(one_sweep(mode, extra, args, scratch / f"sweep{round_}-{number}", template))
    median = {mode: {key: statistics.median(r[key] for r in rs) for key in rs[0]} for mode, rs in results.items()}
    serial_mode = next(iter(modes))
    serial = median[serial_mode]
    for mode, (n, _) in modes.items():
        m = median[mode]
        capacity = m["wall"] * n
        walls = " ".join(f"{r['wall']:.1f}" for r in results[mode])
        print(f"{mode:34s} wall {m['wall']:5.1f} s ({walls}), {serial['wall'] / m['wall']:.2f}x; "
              f"jobs' phase {m['jobs_phase']:5.1f} s ({serial['jobs_phase'] / m['jobs_phase']:.2f}x), "
              f"outside it {m['ends']:4.1f} s; efficiency {m['training'] / capacity:4.0%} "
              f"(jobs' own time / (wall x workers) {m['busy'] / capacity:4.0%})")
    bound = serial["wall"] / (serial["ends"] + (serial["wall"] - serial["ends"]) / workers)
    print(f"Amdahl: the serial sweep spends {serial['ends']:.1f} s before its first job and after its last (process "
          f"start, imports, store, parent run, Hydra composing every job's config, summary); with the rest split "
          f"perfectly over {workers} workers that cost nothing to start, {workers} workers can gain at most "
          f"{bound:.2f}x")


def make_store(root: Path, n_runs: int, steps: int) -> str:
    """n_runs child runs of one sweep parent, written in bulk; returns the sweep id."""
    import numpy as np
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    from runner.paths import outputs_dir

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.create_experiment("backprop-lab", artifact_location=(outputs_dir() / "mlartifacts").as_uri())
    sweep_id = "bench-1000"
    parent = client.create_run(experiment, run_name="sweep bench", tags={
        "sweep.id": sweep_id, "sweep.role": "parent", "sweep.objective": "val_cost",
        "sweep.space": "optimizer.lr=... regularization.lam=... architecture.hidden.0=..."}).info.run_id
    rng = np.random.default_rng(0)
    now = int(time.time() * 1000)
    for i in range(n_runs):
        lr, lam, hidden = 10 ** rng.uniform(-3, 0), rng.uniform(0, 10), int(rng.choice([8, 16, 32, 64]))
        name = f"optimizer.lr={lr:.4g} regularization.lam={lam:.3g} architecture.hidden.0={hidden}"
        tags = {"mlflow.parentRunId": parent, "sweep.id": sweep_id, "sweep.role": "job", "choice.optimizer": "sgd",
                "choice.dataset": "moons", "choice.regularization": "l2"}
        run_id = client.create_run(experiment, run_name=name, tags=tags).info.run_id
        params = {"optimizer.lr": f"{lr:.4g}", "regularization.lam": f"{lam:.3g}",
                  "architecture.hidden": f"[{hidden}]", **{f"fixed.param{k}": str(k) for k in range(32)}}
        decay = 0.7 * np.exp(-np.arange(steps) * lr * 5) + 0.1 + 0.01 * lam
        metrics = [Metric(key, float(value), now, step) for step, value in enumerate(decay)
                   for key, value in (("train_cost", value), ("val_cost", value * 1.1),
                                      ("train_accuracy", 1 - value / 2), ("val_accuracy", 1 - value / 2.2))]
        metrics.append(Metric("train_seconds", 0.5, now, steps - 1))
        client.log_batch(run_id, metrics=metrics, params=[Param(k, v) for k, v in params.items()])
        client.set_terminated(run_id, "FINISHED")
    client.set_terminated(parent, "FINISHED")
    return sweep_id


def report_timing(n_runs: int, steps: int, scratch: Path) -> None:
    from mlflow.tracking import MlflowClient

    root = scratch / "report"
    root.mkdir()
    os.environ["BACKPROP_LAB_OUTPUTS"] = str(root)
    started = time.perf_counter()
    sweep_id = make_store(root, n_runs, steps)
    print(f"generated {n_runs} runs x {steps} steps x 4 metrics in {time.perf_counter() - started:.1f} s")
    seconds = run("runner.report", ["--sweep", sweep_id, "--top", "5"], root)
    print(f"python -m runner.report on {n_runs} runs: {seconds:.1f} s (the whole command, imports included)")

    from runner.report import metric_histories

    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("backprop-lab").experiment_id
    ids = [r.info.run_id for r in client.search_runs([experiment], max_results=5000)]
    started = time.perf_counter()
    bulk = metric_histories(uri, client, experiment, ids, "train_cost")
    sql = time.perf_counter() - started
    sample = ids[:100]
    started = time.perf_counter()
    for run_id in sample:
        client.get_metric_history(run_id, "train_cost")
    per_run = (time.perf_counter() - started) / len(sample)
    print(f"train_cost histories of {len(ids)} runs ({len(bulk)} points): one SQL query {sql:.2f} s; "
          f"get_metric_history run by run {per_run * 1000:.1f} ms/run, {per_run * len(ids):.1f} s for all")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fresh-store", action="store_true", help="each sweep into a new store (MLflow makes its tables)")
    parser.add_argument("--modes", type=lambda text: text.split(","), default=list(MODES),
                        help="which sweeps, comma-separated: serial (the baseline, always run), loky, forkserver")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    if unknown := set(args.modes) - set(MODES):
        parser.error(f"--modes {','.join(sorted(unknown))} is invalid; accepted: {', '.join(MODES)}")
    args.modes = ["serial", *args.modes]
    sys.path.insert(0, str(PROJECT_ROOT))
    with tempfile.TemporaryDirectory(prefix="sweep_bench_") as scratch:
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        sweep_speedup(args, Path(scratch))
        if args.runs:
            report_timing(args.runs, args.steps, Path(scratch))


if __name__ == "__main__":
    main()
