"""Early stopping, restore_best and the divergence guard: the core's rules (runner.core.training) and what a
run records of them (runner.experiment), the latter end to end through the CLI on small moons networks.

The two bests of early stopping: restore_best ends with the recorded epoch of lowest val_cost, while patience
counts from the last epoch that improved by more than min_delta (README, early stopping).
"""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from runner.core.training import Diverged, DivergenceGuard, EarlyStopping, StoppedEarly
from runner.recording import validation_objective
from runner.setup import prepare

# A 2-5-1 relu network on 100 moons points with momentum: at lr=1 its val_cost falls to 0.1394 at epoch 2 and
# 0.1196 at epoch 3 (lower by less than min_delta 0.05), then rises; at lr=30 it diverges at epoch 2.
MOONS = ("dataset=moons", "dataset.n_samples=100", "architecture.hidden=[5]", "optimizer.epochs=12",
         "tracking.progress=off", "tracking.figures=false")
RELU_MOMENTUM = (*MOONS, "architecture.activation=relu", "optimizer=momentum")


def history(store, run_id: str, key: str) -> list[tuple[int, float]]:
    """(step, value) of one metric of a run, by step."""
    return sorted((m.step, m.value) for m in store.client.get_metric_history(run_id, key))


def saved_val_cost(store, run_id: str) -> float:
    """The validation cost (lambda = 0) of the weights.npz the run saved, on the run's own validation part."""
    setup = prepare(yaml.safe_load(store.download(run_id, "config.yaml").read_text()))
    with np.load(store.download(run_id, "weights.npz"), allow_pickle=False) as npz:
        Theta = [npz[f"Theta{l}"] for l in range(1, len(npz.files) + 1)]
    return validation_objective(setup).value(Theta)


# --- the core's rules ------------------------------------------------------------------------------

def test_the_lowest_val_cost_is_kept_apart_from_the_last_improvement_by_more_than_min_delta():
    """Before, one best served both: with min_delta a lower val_cost by less than min_delta was never the best,
    so restore_best restored an epoch that was not the lowest and said it was."""
    stopping = EarlyStopping(patience=2, min_delta=0.5, keep_best=True)
    Theta = [np.zeros((2, 3))]
    with pytest.raises(StoppedEarly) as error:
        for epoch, val_cost in enumerate([5.0, 4.6, 4.55]):  # lower each time, never by more than 0.5
            Theta[0][:] = epoch
            stopping.check(epoch, val_cost, Theta)
    assert (error.value.epoch, stopping.improved_epoch, stopping.improved) == (2, 0, 5.0)  # patience counts from 0
    assert (stopping.best_epoch, stopping.best) == (2, 4.55) and np.all(stopping.best_weights[0] == 2)
    without_patience = EarlyStopping(min_delta=0.5, keep_best=True)
    for epoch, val_cost in enumerate([5.0, 4.3, 4.0, 4.1]):
        without_patience.check(epoch, val_cost, [np.full((1, 1), float(epoch))])
    assert (without_patience.improved_epoch, without_patience.best_epoch) == (1, 2)
    assert without_patience.best == 4.0 and without_patience.best_weights[0][0, 0] == 2.0


def test_the_stop_message_names_min_delta_the_value_patience_counts_from_and_the_lowest():
    """Before: 'has not improved on 5 (epoch 0)', though epoch 2 was lower (by less than min_delta)."""
    stopping = EarlyStopping(patience=2, min_delta=0.5)
    for epoch, val_cost in enumerate([5.0, 4.6]):
        stopping.check(epoch, val_cost)
    with pytest.raises(StoppedEarly) as error:
        stopping.check(2, 4.55)
    assert str(error.value) == ("stopped early at epoch 2: val_cost has not improved on 5 (epoch 0) by more than "
                                "min_delta 0.5 for 2 epochs; its lowest 4.55 (epoch 2)")
    plain = EarlyStopping(patience=1)  # min_delta 0: the last improvement is the lowest, said once
    plain.check(0, 5.0)
    with pytest.raises(StoppedEarly, match=r"^stopped early at epoch 1: val_cost has not improved on 5 \(epoch 0\) "
                                           r"for 1 epoch$"):
        plain.check(1, 5.0)


def test_the_stop_message_names_the_optimizers_step():
    """lbfgs and cg count iterations (runner.setup.step_unit), as the README and the metrics' steps do."""
    stopping = EarlyStopping(patience=3, unit="iteration")
    for iteration, val_cost in enumerate([2.0, 1.0, 1.5, 1.2]):
        stopping.check(iteration, val_cost)
    with pytest.raises(StoppedEarly, match=r"^stopped early at iteration 4: val_cost has not improved on 1 "
                                           r"\(iteration 1\) for 3 iterations$"):
        stopping.check(4, 1.1)


def test_the_divergence_message_states_the_limit_as_it_is():
    """The limit is factor x max(J at epoch 0, 1): before, a start of 0.7201 was shown as 'its start 1'."""
    guard = DivergenceGuard()
    guard.check(0, 0.7201)
    with pytest.raises(Diverged) as error:
        guard.check(1, 4146.0)
    assert str(error.value) == "diverged at epoch 1: cost 4146 exploded past 1000 x max(its start 0.7201, 1)"
    above_1 = DivergenceGuard(factor=10.0)
    above_1.check(0, 7.942)
    above_1.check(1, 79.0)  # below 10 x 7.942
    with pytest.raises(Diverged, match=r"cost 80 exploded past 10 x max\(its start 7.942, 1\)$"):
        above_1.check(2, 80.0)


# --- what a run records, end to end ----------------------------------------------------------------

@pytest.mark.parametrize("patience", [5, 0])
def test_restore_best_with_min_delta_ends_with_the_lowest_val_cost(new_store, patience):
    """Epoch 3's val_cost is the lowest but below epoch 2's by less than min_delta: the run ends with epoch 3's
    weights (before: epoch 2's, 'the best'). With patience 5 it stops at epoch 7, 5 past epoch 2."""
    result = new_store.cli(*RELU_MOMENTUM, "optimizer.lr=1", "early_stopping.min_delta=0.05",
                           "early_stopping.restore_best=true", f"early_stopping.patience={patience}")
    assert result.returncode == 0, result.stderr
    (run,) = new_store.runs()
    run_id, metrics, tags = run.info.run_id, run.data.metrics, run.data.tags
    *trained, (restored_step, restored_value) = history(new_store, run_id, "val_cost")
    (best, lowest), *_ = sorted(trained, key=lambda point: point[1])
    assert any(0 < value - lowest <= 0.05 for step, value in trained if step < best)  # what min_delta hid
    assert metrics["restored_epoch"] == metrics["best_epoch"] == best < restored_step - 1
    assert restored_value == metrics["val_cost"] == metrics["best_val_cost"] == lowest
    assert saved_val_cost(new_store, run_id) == pytest.approx(lowest, abs=1e-12)
    assert tags["restored"] == f"restored the weights of epoch {best}, its val_cost {lowest:.4g} the best"
    if patience:
        stop = restored_step - 1
        assert tags["stopped_early"].startswith(f"stopped early at epoch {stop}: val_cost has not improved on ")
        assert tags["stopped_early"].endswith(f"by more than min_delta 0.05 for {patience} epochs; "
                                              f"its lowest {lowest:.4g} (epoch {best})")
    else:
        assert "stopped_early" not in tags and restored_step == 13


def test_restore_best_applies_to_a_run_that_diverged(new_store):
    """It diverges at epoch 2; epoch 1 is its last finite one, epoch 0 its lowest val_cost. Before, restore_best
    was skipped and epoch 1's weights saved; now the run stays FAILED and diverged, with epoch 0's weights."""
    result = new_store.cli(*RELU_MOMENTUM, "optimizer.lr=30", "early_stopping.restore_best=true")
    assert result.returncode == 1, result.stderr
    (run,) = new_store.runs()
    run_id, metrics, tags = run.info.run_id, run.data.metrics, run.data.tags
    assert run.info.status == "FAILED" and tags["diverged"] == "true"
    train_cost = history(new_store, run_id, "train_cost")
    diverged_at = next(step for step, J in train_cost if J > 1e3 * max(train_cost[0][1], 1))
    *trained, (restored_step, restored_value) = history(new_store, run_id, "val_cost")
    (best, lowest), *_ = sorted(trained, key=lambda point: point[1])
    assert best < diverged_at - 1 and restored_step == diverged_at + 1  # the lowest is not the last finite epoch
    assert tags["failure_reason"].startswith(f"diverged at epoch {diverged_at}: ")
    assert tags["failure_reason"].endswith(f"; the weights saved are those of epoch {best}")
    assert tags["restored"] == f"restored the weights of epoch {best}, its val_cost {lowest:.4g} the best"
    assert metrics["restored_epoch"] == metrics["best_epoch"] == best
    assert restored_value == metrics["val_cost"] == lowest
    assert saved_val_cost(new_store, run_id) == pytest.approx(lowest, abs=1e-12)


@pytest.mark.parametrize(("optimizer", "unit"), [("lbfgs", "iteration"), ("batch_gd", "epoch")])
def test_a_run_stops_early_at_the_step_its_optimizer_counts(new_store, optimizer, unit):
    """No step lowers val_cost by more than min_delta 10: the run stops one step in, an iteration for lbfgs."""
    result = new_store.cli(*MOONS, f"optimizer={optimizer}", "early_stopping.patience=1", "early_stopping.min_delta=10")
    assert result.returncode == 0, result.stderr
    (run,) = new_store.runs()
    assert run.data.tags["stopped_early"].startswith(f"stopped early at {unit} 1: val_cost has not improved on ")
    assert f"({unit} 0) by more than min_delta 10 for 1 {unit}; its lowest " in run.data.tags["stopped_early"]
