"""The benchmark command (python -m benchmarks) runs every case and writes a well-formed table.

Its speeds are not judged here (no timing asserts in tests); `--smoke` runs each case once on
smaller data, so that a change to the core or the runner that breaks a benchmark shows in the suite.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASES = ("full-batch epoch, digits", "full-batch epoch, synthetic", "per-sample SGD, digits", "mini-batch b=32",
         "per-sample SGD, synthetic", "gradient check, full", "gradient check, direction",
         "end to end: python -m runner", "MLflow logging calls in that run", "MLflow logging calls, warm",
         "2-worker joblib sweep")


@pytest.mark.slow
def test_the_benchmark_command_runs_every_case_into_a_table(tmp_path):
    output = tmp_path / "results.md"
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--smoke", "--output", str(output)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    text = output.read_text()
    assert text.startswith("# Benchmark results (") and "--smoke" in text.splitlines()[0]
    assert text in done.stdout
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| case")]
    cells = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in rows]
    assert {len(c) for c in cells} == {7}, "a cell holds a '|' and breaks the table"
    for case in CASES:
        assert any(c[0].startswith(case) for c in cells), case
    assert all(c[6] in ("yes", "NO", "-", "skipped") for c in cells)  # never "NO (agreement)"
    assert "train_seconds and epochs_per_second logged: yes" in text
    assert "numpy " in text and "scikit-learn " in text  # the versions the numbers come from


def test_the_benchmark_s_epoch_with_j_steps_as_batch_gd_does():
    """benchmarks/cases.py times an epoch that also sums J; its steps must be batch_gd's own."""
    import numpy as np

    from benchmarks.cases import NOOP, epochs_with_cost, objective, start
    from plugins.optimizers import BatchGD

    rng = np.random.default_rng(0)
    X, y, sizes = rng.normal(size=(15, 4)), rng.integers(0, 3, 15), [4, 5, 3]
    obj, Theta = objective(X, y, sizes), start(sizes)
    expected = BatchGD(lr=0.1, epochs=3).minimize(obj, Theta, None, NOOP)
    for got, want in zip(epochs_with_cost(obj, Theta, 3), expected):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
