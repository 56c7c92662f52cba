"""Every config composes and instantiates: each option of each group, each preset, the
overrides the docs show; and every mistake becomes one UserError (or Hydra error) line naming it.

In-process through Hydra's compose API and runner.setup.prepare: no training, no store.
"""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from conftest import resolved_config as compose
from runner.core.network import theta_shapes
from runner.errors import UserError, one_line
from runner.paths import PROJECT_ROOT
from runner.artifacts import save_weights
from runner.settings import PLUGIN_GROUPS, POINTS_PER_CURVE, RunSettings, TrackingSettings
from runner.setup import prepare, run_name

CONF = PROJECT_ROOT / "conf"
OPTIONS = [(group, path.stem) for group in PLUGIN_GROUPS for path in sorted((CONF / group).glob("*.yaml"))]
PRESETS = [path.stem for path in sorted((CONF / "experiment").glob("*.yaml"))]


@pytest.fixture
def csv_file(tmp_path) -> Path:
    """60 rows: three numeric features and a text label column with three classes."""
    rng = np.random.default_rng(0)
    labels = np.array(["a", "b", "c"])[np.arange(60) % 3]
    X = rng.normal(size=(60, 3)) + (np.arange(60) % 3)[:, None]
    lines = ["x1,x2,label,x3"] + [f"{r[0]},{r[1]},{label},{r[2]}" for r, label in zip(X, labels)]
    path = tmp_path / "data.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def digits_weights(tmp_path) -> Path:
    """A weights.npz, as a run saves it, for the default network on digits: 64-25-10."""
    rng = np.random.default_rng(1)
    return save_weights([rng.uniform(-0.1, 0.1, shape) for shape in [(25, 65), (10, 26)]], tmp_path / "weights.npz")


def extra_overrides(group: str, option: str, csv_file: Path, digits_weights: Path) -> list[str]:
    """The values an option cannot default (a file of the user's)."""
    if (group, option) == ("dataset", "csv"):
        return [f"dataset.path={csv_file}", "dataset.target=label"]
    if (group, option) == ("initializer", "from_file"):
        return [f"initializer.path={digits_weights}"]
    return []


def test_every_group_has_options():
    assert {group for group, _ in OPTIONS} == set(PLUGIN_GROUPS)


@pytest.mark.parametrize("group, option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes_and_instantiates(group, option, csv_file, digits_weights):
    config = compose(f"{group}={option}", *extra_overrides(group, option, csv_file, digits_weights))
    target = yaml.safe_load((CONF / group / f"{option}.yaml").read_text())["_target_"]
    assert config[group]["_target_"] == target
    setup = prepare(config)
    plugin = setup.plugins[group]
    module, _, name = target.rpartition(".")
    assert type(plugin) is getattr(importlib.import_module(module), name)
    assert plugin.name == option  # so the plugin.<group> tag and the choice.<group> tag agree
    assert [T.shape for T in setup.Theta0] == theta_shapes(setup.layer_sizes)


@pytest.mark.parametrize("preset", PRESETS)
def test_every_experiment_preset_composes_and_holds_what_it_says(preset):
    config = compose(f"+experiment={preset}")
    plugins = prepare(config).plugins
    raw = yaml.safe_load((CONF / "experiment" / f"{preset}.yaml").read_text())
    raw.pop("hydra", None)  # a sweep preset's sweeper settings: checked in tests/test_sweeps.py
    for entry in raw.pop("defaults", []):
        ((key, option),) = entry.items()
        if key.startswith("override /hydra/"):
            continue
        assert key.startswith("override /") and plugins[key.removeprefix("override /")].name == option
    for section, values in raw.items():
        held = {key: config[section][key] for key in values} if isinstance(values, dict) else config[section]
        assert held == values, section


@pytest.mark.parametrize("optimizer", ["batch_gd", "sgd", "minibatch", "momentum", "adam"])
def test_first_order_optimizers_keep_a_constant_lr_unless_lr_decay_is_set(optimizer):
    plugins = prepare(compose(f"optimizer={optimizer}")).plugins
    assert plugins["optimizer"].lr_decay == 0 and "decay" not in run_name(plugins)
    plugins = prepare(compose(f"optimizer={optimizer}", "optimizer.lr=1", "optimizer.lr_decay=0.5")).plugins
    assert [plugins["optimizer"].step_sizes(t, 2).tolist() for t in (1, 2, 3)] == [[1.0] * 2, [1 / 1.5] * 2, [0.5] * 2]
    per_step = prepare(compose(f"optimizer={optimizer}", "optimizer.lr=1", "optimizer.lr_decay=0.5",
                               "optimizer.lr_decay_per=step")).plugins["optimizer"]
    assert [per_step.step_sizes(t, 2).tolist() for t in (1, 2)] == [[1.0, 1 / 1.5], [0.5, 1 / 2.5]]
    epochs = per_step.epochs
    assert run_name({**plugins, "optimizer": per_step}) == f"{optimizer} lr=1 decay=0.5/step epochs={epochs} lam=1 [25]"
    assert run_name(plugins) == f"{optimizer} lr=1 decay=0.5 epochs={epochs} lam=1 [25]"


def test_the_overrides_of_the_issue_compose(csv_file, tmp_path):
    setup = prepare(compose(
        "optimizer=sgd", "optimizer.lr=0.5", "optimizer.epochs=2", "optimizer.shuffle=false",
        "regularization.lam=3", "architecture.hidden=[25,25]", "architecture.activation=tanh", "seed=1",
        "dataset.scale=none", "dataset.val_fraction=0", "dataset.test_fraction=0", "gradcheck.every=10"))
    optimizer, plugins = setup.plugins["optimizer"], setup.plugins
    assert (optimizer.name, optimizer.lr, optimizer.epochs, optimizer.shuffle) == ("sgd", 0.5, 2, False)
    assert plugins["regularization"].lam == 3
    assert (plugins["architecture"].hidden, plugins["architecture"].activation) == ([25, 25], "tanh")
    assert (setup.settings.seed, setup.settings.gradcheck.every) == (1, 10)
    assert setup.splits.val is None and setup.splits.test is None
    assert setup.splits.train.X.shape == (1797, 64) and setup.splits.train.X.max() == 16  # unscaled pixels
    assert setup.layer_sizes == [64, 25, 25, 10]

    setup = prepare(compose("dataset=csv", f"dataset.path={csv_file}", "dataset.target=label"))
    assert setup.layer_sizes == [3, 25, 3]

    # Starting from an earlier run's weights: the file is read back exactly.
    Theta = [T + 1.0 for T in setup.Theta0]
    path = save_weights(Theta, tmp_path / "earlier.npz")
    setup = prepare(compose("dataset=csv", f"dataset.path={csv_file}", "dataset.target=label",
                            "initializer=from_file", f"initializer.path={path}"))
    for T, T0 in zip(Theta, setup.Theta0):
        np.testing.assert_array_equal(T, T0)


@pytest.mark.parametrize("overrides, named", [
    (["optimizer=nadam"], "optimizer/nadam"),
    (["cost=hinge"], "cost/hinge"),
    (["+experiment=nope"], "experiment/nope"),
    (["optimizer.foo=1"], "optimizer.foo"),
    (["dataset=csv"], "dataset.path is missing"),
])
def test_a_config_that_does_not_compose_is_one_line_naming_the_value(overrides, named):
    with pytest.raises((HydraException, OmegaConfBaseException)) as caught:
        compose(*overrides)
    message = one_line(caught.value)
    assert named in message and "\n" not in message


@pytest.mark.parametrize("overrides, named", [
    (["+optimizer.foo=1"], "unknown key optimizer.foo"),
    (["+gradcheck.foo=1"], "unknown key gradcheck.foo"),
    (["regularization=none", "+regularization.lam=1"],  # before "accepted keys: none", as if a key were named none
     "NoRegularization; accepted no key (plugins.regularization.NoRegularization takes none)"),
    (["optimizer=sgd", "optimizer.lr=abc"], "optimizer.lr='abc'"),
    (["optimizer=sgd", "optimizer.shuffle=maybe"], "optimizer.shuffle='maybe'"),
    (["optimizer.epochs=2.5"], "optimizer.epochs=2.5"),
    (["architecture.hidden=[0]"], "architecture.hidden=[0]"),
    (["architecture.activation=swish"], "architecture.activation='swish'"),
    (["regularization.lam=-1"], "regularization.lam=-1"),
    (["dataset.scale=cubic"], "dataset.scale='cubic'"),
    (["dataset.val_fraction=0.9"], "val_fraction=0.9"),
    (["initializer=from_file", "initializer.path=missing.npz"], "initializer.path='missing.npz'"),
    (["seed=-1"], "seed=-1"),
    (["gradcheck.mode=bogus"], "gradcheck.mode='bogus'"),
    (["tracking.objective=loss"], "tracking.objective='loss'"),
    (["tracking.every=0"], "tracking.every=0"),
    (["tracking.every=often"], "tracking.every='often'"),
    (["tracking.figures=maybe"], "tracking.figures='maybe'"),
    (["tracking.figures=1"], "tracking.figures=1"),
    (["tracking.cost_path=yes"], "tracking.cost_path='yes'"),
    (["optimizer=sgd", "optimizer.lr=inf"], "optimizer.lr=inf"),  # inf passes every range check
    (["regularization.lam=inf"], "regularization.lam=inf"),
    (["initializer.eps=inf"], "initializer.eps=inf"),
    (["dataset=spirals", "dataset.turns=inf"], "dataset.turns=inf"),
    (["early_stopping.min_delta=inf"], "early_stopping.min_delta=inf"),
    (["gradcheck.eps=inf"], "gradcheck.eps=inf"),
])
def test_a_bad_value_is_one_user_error_naming_it(overrides, named):
    config = compose(*overrides)
    with pytest.raises(UserError) as caught:
        prepare(config)
    message = one_line(caught.value)
    assert named in message and "accepted" in message and "\n" not in str(caught.value)


@pytest.mark.parametrize("overrides, message", [
    (["architecture.activation=[sigmoid]"], "activation=['sigmoid'] is invalid; accepted: sigmoid, tanh, relu"),
    (["architecture.activation={a:1}"], "activation={'a': 1} is invalid; accepted: sigmoid, tanh, relu"),
    (["tracking.objective=[val_cost]"], "tracking.objective=['val_cost'] is invalid; accepted: val_cost, val_accuracy"),
    (["tracking.progress={a:1}"], "tracking.progress={'a': 1} is invalid; accepted: auto, on, off"),
    (["gradcheck.mode=[full]"], "gradcheck.mode=['full'] is invalid; accepted: auto, full"),
    (["dtype={a:1}"], "dtype={'a': 1} is invalid; accepted: float64, float32"),
    (["optimizer=minibatch", "optimizer.backend=[numba]"], "optimizer.backend=['numba'] is invalid; accepted: one of"),
    (["tracking=5"], "tracking=5 is invalid; accepted: a section of keys (experiment, uri"),
    (["gradcheck=abc"], "gradcheck='abc' is invalid; accepted: a section of keys (every, mode"),
])
def test_a_list_or_map_where_a_name_is_expected_is_one_user_error(overrides, message):
    """A list or a map for a key checked against a table of names was `TypeError: unhashable type` (a traceback);
    a scalar for a whole section was `TypeError: 'int' object is not iterable`."""
    with pytest.raises(UserError) as caught:
        prepare(compose(*overrides))
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("overrides, key", [(["+seeed=1", "optimizer.epochs=3"], "seeed"),
                                            (["+early_stop.patience=3"], "early_stop")])
def test_an_unknown_top_level_key_is_one_user_error_listing_the_accepted(overrides, key):
    """A typo added with + ran with the default and logged the typo as a param; now it is refused as an unknown
    key inside a section is."""
    with pytest.raises(UserError) as caught:
        prepare(compose(*overrides))
    assert str(caught.value) == (f"unknown key {key}; accepted top-level keys: dataset, architecture, initializer, "
                                 "optimizer, cost, regularization, seed, gradcheck, tracking, dtype, early_stopping, "
                                 "workers")


@pytest.mark.parametrize("preset", [None, *PRESETS])
def test_every_top_level_key_the_config_composes_is_accepted(preset):
    """The keys RunSettings.from_dict accepts at the top level are all that conf/ composes (presets are
    `# @package _global_`): none refused, none accepted that no config has."""
    config = compose(*([f"+experiment={preset}"] if preset else []))
    with pytest.raises(UserError) as caught:
        RunSettings.from_dict({**config, "zzz": 1})
    accepted = str(caught.value).split("accepted top-level keys: ")[1].split(", ")
    assert set(config) == set(accepted)
    assert RunSettings.from_dict(config).seed == config["seed"]


def test_a_wrong_shaped_weights_file_is_a_user_error(tmp_path):
    path = save_weights([np.zeros((3, 3))], tmp_path / "small.npz")
    with pytest.raises(UserError, match="initializer.path"):
        prepare(compose("initializer=from_file", f"initializer.path={path}"))


def test_the_core_imports_neither_hydra_nor_omegaconf_nor_mlflow():
    """runner.core is numpy and the standard library only, at run time in a fresh interpreter, so
    imports made on its behalf (runner/__init__.py, transitive ones) count too; test_plugins.py
    checks each core file's import statements."""
    code = ("import pkgutil, importlib, sys, runner.core\n"
            "for module in pkgutil.iter_modules(runner.core.__path__):\n"
            "    importlib.import_module('runner.core.' + module.name)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'hydra', 'omegaconf', 'mlflow'}))\n"
            "print(sorted(m for m in sys.modules if m.startswith('runner.') and not m.startswith('runner.core')))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["[]", "[]"]


@pytest.mark.parametrize("every, epochs, expected", [("auto", 12, 1), ("auto", 250, 1), ("auto", 251, 2),
                                                     ("auto", 1000, 4), ("auto", 1000000, 4000), (3, 1000, 3),
                                                     (1, 1000000, 1)])
def test_tracking_every_auto_keeps_each_curve_to_at_most_250_points(every, epochs, expected):
    settings = TrackingSettings(every=every)
    assert settings.record_every(epochs) == expected
    if every == "auto":
        assert len(range(0, epochs + 1, expected)) <= POINTS_PER_CURVE + 1  # epoch 0 to the last, every N
