"""The run's figures: the hidden-weights mosaic worked by hand, the decision-regions grid, the PNGs written."""
from __future__ import annotations

import numpy as np
import pytest

from runner import plane_plots, plots


def test_mosaic_tiles_each_unit_scaled_to_its_largest_weight_with_padding_of_minus_one():
    units = np.array([[1.0, -2.0, 0.5, 4.0], [0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 0.0, -1.5]])
    grid = plots.mosaic(units, (2, 2))
    assert grid.shape == (1 + 2 * 3, 1 + 2 * 3)  # 3 units: a 2 x 2 grid of 2 x 2 tiles, 1 pixel of padding
    np.testing.assert_array_equal(grid[1:3, 1:3], [[0.25, -0.5], [0.125, 1.0]])
    np.testing.assert_array_equal(grid[1:3, 4:6], np.zeros((2, 2)))  # an all-zero unit stays zero
    np.testing.assert_array_equal(grid[4:6, 1:3], [[1.0, 0.0], [0.0, -0.5]])
    np.testing.assert_array_equal(grid[4:6, 4:6], -np.ones((2, 2)))  # no fourth unit: background
    assert np.all(grid[0] == -1) and np.all(grid[:, 3] == -1)


def test_the_curves_and_weights_figures_are_written_as_png(tmp_path):
    history = [(key, 1.0 / (step + 1), step) for step in range(5)
               for key in ("train_cost", "val_cost", "train_accuracy", "val_accuracy")]
    curves = plots.learning_curves(history, tmp_path / "curves.png", "a run")
    layers = [(f"{kind}_rms_Theta{l}", 10.0 ** -(l + step), step) for step in range(5) for l in (1, 2, 10)
              for kind in ("grad", "weight")]
    layer_curves = plots.layer_curves(layers, tmp_path / "layers.png", "a run")
    weights = plots.hidden_weights(np.random.default_rng(0).standard_normal((25, 65)), (8, 8), tmp_path / "w.png",
                                   "a run")
    for path in (curves, weights, layer_curves):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_run_that_diverged_at_epoch_0_draws_its_curves_without_a_warning(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns of a legend with no line to label
        path = plots.learning_curves([("train_cost", float("nan"), 0)], tmp_path / "curves.png", "diverged")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_region_grid_labels_each_point_of_a_grid_over_the_data_widened_by_the_margin():
    X = np.array([[0.0, -1.0], [2.0, 3.0], [1.0, 0.0]])
    seen = []

    def predict(points):  # class 1 right of x1 = 1.5, class 2 above x2 = 2 as well
        seen.append(points.copy())
        return (points[:, 0] > 1.5).astype(int) + 2 * (points[:, 1] > 2).astype(int)

    x1, x2, labels = plane_plots.region_grid(predict, X, steps=11, margin=0.1)
    np.testing.assert_allclose([x1[0], x1[-1], x2[0], x2[-1]], [-0.2, 2.2, -1.4, 3.4])  # 10% of 2 and of 4
    assert labels.shape == (11, 11) and len(seen) == 1 and seen[0].shape == (121, 2)
    for i in range(11):  # row i is x2[i], column j is x1[j], as imshow(origin="lower") draws them
        for j in range(11):
            assert labels[i, j] == (x1[j] > 1.5) + 2 * (x2[i] > 2)


def test_region_grid_of_a_constant_feature_still_spans_an_interval():
    x1, x2, labels = plane_plots.region_grid(lambda P: np.zeros(len(P), int), np.array([[1.0, 5.0], [1.0, 7.0]]), steps=5)
    assert x1[0] < 1.0 < x1[-1] and x2[0] < 5.0 and x2[-1] > 7.0 and labels.shape == (5, 5)


def test_decision_regions_are_written_as_png(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 2))
    y = (X[:, 0] > 0).astype(int)
    path = plane_plots.decision_regions(lambda P: (P[:, 0] > 0).astype(int), X, y, ["no", "yes"], tmp_path / "r.png", "run")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    many = np.arange(50) % 25  # more classes than any palette has colours: they repeat
    path = plane_plots.decision_regions(lambda P: np.arange(len(P)) % 25, X, many, list(range(25)), tmp_path / "m.png", "run")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_decision_regions_draw_at_most_max_points_samples_over_a_grid_spanning_all(tmp_path, monkeypatch):
    import matplotlib.axes

    drawn = []
    scatter = matplotlib.axes.Axes.scatter

    def counting(ax, x, y, **kwargs):
        drawn.append(len(x))
        return scatter(ax, x, y, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "scatter", counting)
    X = np.column_stack([np.arange(10.0), np.zeros(10)])
    X[9] = [100.0, 5.0]  # the one sample not drawn still widens the grid
    seen = []
    plane_plots.decision_regions(lambda P: seen.append(P) or np.zeros(len(P), int), X, np.zeros(10, int), ["a", "b"],
                           tmp_path / "r.png", "run", max_points=4)
    assert sum(drawn) == 4
    assert seen[0][:, 0].max() > 100 and seen[0][:, 1].max() > 5


def test_the_confusion_matrix_is_drawn_for_two_to_many_classes_without_a_warning(tmp_path):
    import warnings

    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for K, names in ((2, ["benign", "malignant"]), (10, list(range(10))), (45, [f"c{k}" for k in range(45)])):
            counts = rng.integers(0, 5, (K, K))
            counts[0] = 0  # a class with no sample in the part: a row of zeros, not a division by zero
            path = plots.confusion(counts, names, tmp_path / f"confusion{K}.png", "a run", "test")
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_confusion_matrix_is_of_the_test_part_else_the_validation_part_else_the_training_part(tmp_path):
    import pandas as pd

    from conftest import resolved_config
    from runner.artifacts import write_evaluation
    from runner.setup import prepare

    for fractions, part, size in ((("0.2", "0.2"), "test", 20), (("0.3", "0"), "validation", 30),
                                  (("0", "0"), "training", 100)):
        overrides = ("dataset=moons", "dataset.n_samples=100", f"dataset.val_fraction={fractions[0]}",
                     f"dataset.test_fraction={fractions[1]}", "tracking.figures=false")
        setup = prepare(resolved_config(*overrides))
        path = write_evaluation(setup, setup.Theta0, tmp_path, "a run")
        table = pd.read_csv(path, index_col=0)
        assert table.index.name == f"true \\ predicted ({part} part)" and table.to_numpy().sum() == size
        assert not (tmp_path / "confusion_matrix.png").exists()  # tracking.figures=false: the counts alone


def test_misclassified_images_are_drawn_for_none_a_few_and_more_than_the_limit(tmp_path):
    import warnings

    rng = np.random.default_rng(0)
    images, y = rng.integers(0, 17, (60, 64)), rng.integers(0, 10, 60)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for wrong in (0, 3, 50):
            predicted = y.copy()
            predicted[:wrong] = (y[:wrong] + 1) % 10
            path = plots.misclassified(images, y, predicted, list(range(10)), (8, 8), tmp_path / f"m{wrong}.png",
                                       "a run", "test")
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plane_images_put_high_x2_at_the_top_and_x1_to_the_right(tmp_path):
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    images = plane_plots.plane_images(lambda P: np.column_stack([P[:, 0], P[:, 1]]), X, steps=5)
    assert images.shape == (2, 25)
    x1_image, x2_image = images.reshape(2, 5, 5)
    assert np.all(np.diff(x1_image, axis=1) > 0) and np.all(np.diff(x1_image, axis=0) == 0)  # x1 grows rightwards
    assert np.all(np.diff(x2_image, axis=0) < 0) and np.all(np.diff(x2_image, axis=1) == 0)  # x2 grows upwards
    assert x2_image[0, 0] == pytest.approx(1.1) and x1_image[0, 0] == pytest.approx(-0.1)  # 10% margin
    path = plane_plots.hidden_units(lambda P: 1 / (1 + np.exp(-P @ np.ones((2, 3)))), X, tmp_path / "units.png", "a run")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_regions_over_training_draws_each_panel_s_network_with_its_training_accuracy(tmp_path, monkeypatch):
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([0, 1, 0, 1])
    from matplotlib.axes import Axes

    titles = []
    monkeypatch.setattr(Axes, "set_title", lambda ax, text, **kw: titles.append(text))
    panels = [(0, lambda P: np.zeros(len(P), int)), (4, lambda P: (P[:, 1] > 0.5).astype(int)),
              (9, lambda P: (P[:, 0] > 0.5).astype(int))]
    path = plane_plots.regions_over_training(panels, X, y, ["a", "b"], tmp_path / "r.png", "a run", unit="iteration")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert titles == ["iteration 0: train accuracy 0.500", "iteration 4: train accuracy 0.500",
                      "iteration 9: train accuracy 1.000"]


def test_the_panels_over_training_are_spaced_by_log_epoch_and_end_at_the_final_weights():
    from runner.recording import EpochRecorder

    def panels_of(final, kept):
        recorder = EpochRecorder(None, None, None, snapshots={e: f"Theta at {e}" for e in kept})
        return partial(recorder.snapshot_panels, final=final)

    from functools import partial

    powers = [0] + [2**k for k in range(11)]  # what a 1000-epoch run keeps, 1024 never reached
    assert panels_of(1000, powers[:11])("final") == [(0, "Theta at 0"), (1, "Theta at 1"), (8, "Theta at 8"), (64, "Theta at 64"),
                      (512, "Theta at 512"), (1000, "final")]
    assert [e for e, _ in panels_of(5, [0, 1, 2, 4])("final")] == [0, 1, 2, 4, 5]
    # final weights of epoch 8 (stopped early, or restored) after snapshots up to 16
    assert [e for e, _ in panels_of(8, [0, 1, 2, 4, 8, 16])("final")] == [0, 1, 2, 4, 8]
    assert panels_of(0, [0])("final") == [(0, "final")]  # epochs=0: one panel, no figure


@pytest.mark.parametrize("activation, black", [(lambda Z: 1 / (1 + np.exp(-Z)), 0), (np.tanh, -1)],
                         ids=["sigmoid", "tanh"])
def test_hidden_units_span_black_to_white_over_the_activation_s_own_range(tmp_path, monkeypatch, activation, black):
    from matplotlib.axes import Axes

    drawn = []
    monkeypatch.setattr(Axes, "imshow", lambda ax, image, **kw: drawn.append((image, kw["vmin"], kw["vmax"])))
    X = np.array([[-2.0, -1.0], [2.0, 1.0]])
    plane_plots.hidden_units(lambda P: activation(P @ np.array([[1.0, -1.0], [0.5, 2.0]])), X, tmp_path / "u.png", "a run")
    ((image, vmin, vmax),) = drawn
    assert (vmin, vmax) == (black, 1)
    assert image.max() == 1 and (image[image > -1].min() > 0) == (black == 0)  # sigmoid's tiles hold no negative


def test_learning_curves_draw_restored_weights_as_a_dot_past_the_last_epoch(tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    drawn, marked = [], []
    plot = Axes.plot
    monkeypatch.setattr(Axes, "plot", lambda ax, x, y, *args, **kw: drawn.append((list(x), list(y), args))
                        or plot(ax, x, y, *args, **kw))
    monkeypatch.setattr(Axes, "axvline", lambda ax, x, **kw: marked.append((x, kw["label"])))
    history = [("train_cost", 3.0 - e, e) for e in range(3)] + [("val_cost", [2.0, 1.0, 1.5][e], e) for e in range(3)]
    history += [("train_cost", 2.0, 3), ("val_cost", 1.0, 3), ("restored_epoch", 1, 3)]
    plots.learning_curves(history, tmp_path / "c.png", "a run")
    assert drawn[:4] == [([0, 1, 2], [3.0, 2.0, 1.0], ()), ([3], [2.0], ("o",)),
                         ([0, 1, 2], [2.0, 1.0, 1.5], ()), ([3], [1.0], ("o",))]
    assert marked[0] == (1, "weights restored from epoch 1 (dots)")
    drawn.clear()
    plots.learning_curves(history[:6], tmp_path / "plain.png", "a run")  # nothing restored: whole lines
    assert drawn[:2] == [([0, 1, 2], [3.0, 2.0, 1.0], ()), ([0, 1, 2], [2.0, 1.0, 1.5], ())]


def test_layer_stats_draw_each_hidden_layer_s_activations_at_the_start_and_the_end(tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    from conftest import FAST, resolved_config
    from runner.artifacts import hidden_activations
    from runner.setup import prepare

    setup = prepare(resolved_config(*FAST, "architecture.hidden=[5,4]"))
    Theta = [2 * T for T in setup.Theta0]
    drawn = hidden_activations(setup, Theta, rows=30)
    X = setup.splits.train.X[:30]

    def sigmoid_layer(a, T):
        return 1 / (1 + np.exp(-(a @ T[:, 1:].T + T[:, 0])))

    assert [label for label, _, _ in drawn] == ["a(2)", "a(3)"]
    for weights, which in ((setup.Theta0, 1), (Theta, 2)):
        a2 = sigmoid_layer(X, weights[0])
        np.testing.assert_allclose(drawn[0][which], a2, rtol=1e-12)
        np.testing.assert_allclose(drawn[1][which], sigmoid_layer(a2, weights[1]), rtol=1e-12)
    histograms, hist = [], Axes.hist
    monkeypatch.setattr(Axes, "hist", lambda ax, values, **kw: histograms.append((values, kw.get("label")))
                        or hist(ax, values, **kw))
    history = [("grad_rms_Theta1", 0.1, 0), ("weight_rms_Theta1", 0.2, 0)]
    path = plots.layer_curves(history, tmp_path / "layers.png", "a run", drawn)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [label for _, label in histograms] == ["start", "end"] * 2
    np.testing.assert_array_equal(histograms[3][0], drawn[1][2].ravel())


def test_layer_stats_histograms_share_one_range_so_a_crowded_layer_looks_crowded(tmp_path, monkeypatch):
    """Each panel spanned its own layer's values, so a layer squeezed around 0.5 (the sigmoid's vanishing
    gradients) filled its panel like a layer spread over (0, 1)."""
    spread, crowded = np.linspace(0.02, 0.98, 60).reshape(20, 3), np.linspace(0.45, 0.55, 60).reshape(20, 3)
    figures = drawn_figures(monkeypatch)
    plots.layer_curves([("grad_rms_Theta1", 0.1, 0)], tmp_path / "layers.png", "a run",
                       [("a(2)", spread, spread), ("a(3)", crowded, crowded)])
    panels = [ax for ax in figures[0].axes if ax.get_title() in ("a(2)", "a(3)")]
    assert len(panels) == 2 and panels[0].get_xlim() == panels[1].get_xlim()
    low, high = panels[1].get_xlim()
    assert low <= 0.02 and high >= 0.98
    widths = [[patch.get_width() for patch in ax.patches if hasattr(patch, "get_width")] for ax in panels]
    assert widths[0][0] == pytest.approx(widths[1][0]) == pytest.approx(0.96 / 40)


def drawn_figures(monkeypatch) -> list:
    """Each matplotlib figure saved from now on, drawn (savefig runs as before) and kept to be read back."""
    from matplotlib.figure import Figure

    figures, savefig = [], Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, path, **kw: figures.append(fig) or savefig(fig, path, **kw))
    return figures


@pytest.mark.parametrize("overrides, name", [
    ((), "lbfgs epochs=200 lam=1 [25]"),  # the default run keeps its name
    (("optimizer=sgd", "optimizer.lr=1", "optimizer.lr_decay=0.1"), "sgd lr=1 decay=0.1 epochs=30 lam=1 [25]"),
    (("optimizer=batch_gd", "optimizer.lr=1", "regularization=l1", "architecture.activation=tanh", "cost=mse"),
     "batch_gd lr=1 epochs=1000 l1 lam=1 [25] tanh mse"),
    (("regularization=none", "architecture.hidden=[25,25]"), "lbfgs epochs=200 none [25, 25]"),
    (("cost=softmax_cross_entropy", "architecture.activation=relu"),
     "lbfgs epochs=200 lam=1 [25] relu softmax_cross_entropy"),
    (("initializer=zeros",), "lbfgs epochs=200 lam=1 [25] init=zeros"),
    (("initializer=constant",), "lbfgs epochs=200 lam=1 [25] init=constant(0.1)"),
    (("initializer.eps=0.05",), "lbfgs epochs=200 lam=1 [25] init=epsilon_uniform(0.05)"),
    (("optimizer=minibatch",), "minibatch lr=0.5 epochs=100 lam=1 [25]"),  # its own default batch size: not named
    (("optimizer=minibatch", "optimizer.batch_size=8"), "minibatch lr=0.5 epochs=100 batch=8 lam=1 [25]"),
    (("optimizer=adam", "optimizer.batch_size=null"), "adam lr=0.01 epochs=100 batch=all lam=1 [25]"),
    (("dataset.train_size=80", "regularization.lam=0"), "lbfgs epochs=200 lam=0 [25] m=80"),
    (("optimizer=sgd", "optimizer.epochs=7"), "sgd lr=0.1 epochs=7 lam=1 [25]"),  # before, runs of 7 and 30 epochs
    (("optimizer=momentum", "optimizer.epochs=5000"), "momentum lr=0.1 epochs=5000 lam=1 [25]"),  # had one name
])
def test_the_run_name_says_each_setting_that_differs_from_the_course_s_defaults(overrides, name):
    """Before, the name held only the optimizer, lr or epochs, decay, lam and the hidden sizes: a tanh run, an mse
    run, an l1 run and a zeros-initialized run were all named as the default run."""
    from conftest import resolved_config
    from runner.setup import check_config, run_name

    _, plugins = check_config(resolved_config(*overrides))
    assert run_name(plugins) == name


def test_the_run_name_says_float32_when_given_the_dtype():
    from conftest import resolved_config
    from runner.setup import check_config, run_name

    settings, plugins = check_config(resolved_config("dtype=float32"))
    assert run_name(plugins, settings.dtype) == "lbfgs epochs=200 lam=1 [25] float32"
    assert run_name(plugins, "float64") == run_name(plugins) == "lbfgs epochs=200 lam=1 [25]"


def test_a_float32_run_is_named_so(new_store):
    """The run passes its dtype to run_name: its name in the store says float32."""
    from conftest import FAST

    result = new_store.cli(*FAST, "dtype=float32", "tracking.figures=false")
    assert result.returncode == 0, result.stderr
    (run,) = new_store.runs()
    assert run.info.run_name == "batch_gd lr=1 epochs=12 lam=1 [5] float32"


def test_the_run_name_names_an_initializer_without_a_name_by_its_class():
    """The Initializer protocol is a callable alone (README's "Adding your own plugin"): it may have no name."""
    from conftest import resolved_config
    from runner.setup import check_config, run_name

    class ScaledUniform:
        def __call__(self, layer_sizes, rng):
            return []

    _, plugins = check_config(resolved_config())
    assert run_name({**plugins, "initializer": ScaledUniform()}) == "lbfgs epochs=200 lam=1 [25] init=ScaledUniform"


@pytest.mark.parametrize("preset", ["vanishing_gradients", "initializers", "costs", "batch_sizes", "lr_decay",
                                    "optimizers", "lambda_sweep", "learning_curve", "boundaries"])
def test_each_job_of_a_preset_s_sweep_gets_its_own_run_name(preset):
    """The figures' titles are run_name's: before, vanishing_gradients' three layer_stats.png were all titled
    'batch_gd lr=1 lam=1 [25, 25, 25, 25]: layer by layer', and initializers', costs' and batch_sizes' the same."""
    import itertools

    import yaml
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from conftest import PROJECT_ROOT, resolved_config
    from runner.setup import check_config, run_name

    swept = yaml.safe_load((PROJECT_ROOT / "conf" / "experiment" / f"{preset}.yaml").read_text())
    swept = swept["hydra"]["sweeper"]["params"]
    parsed = OverridesParser.create().parse_overrides([f"{key}={values}" for key, values in swept.items()])
    jobs = list(itertools.product(*[[f"{override.key_or_group}={value}" for value in override.sweep_string_iterator()]
                                    for override in parsed]))
    names = set()
    for job in jobs:
        _, plugins = check_config(resolved_config(f"+experiment={preset}", *job))
        names.add(run_name(plugins))
    assert len(names) == len(jobs) > 1, names


def test_the_hidden_weights_figure_is_titled_with_the_run(tmp_path, monkeypatch):
    figures = drawn_figures(monkeypatch)
    plots.hidden_weights(np.random.default_rng(0).standard_normal((4, 10)), (3, 3), tmp_path / "w.png", "a run")
    ((ax,),) = [figure.axes for figure in figures]
    assert ax.get_title() == "a run\nfirst hidden layer: incoming weights per unit"


def test_a_curve_of_few_points_marks_each_and_a_long_one_only_its_lone_points(tmp_path, monkeypatch):
    """Before, curves were lines alone: epochs=0's single point and a run's epoch-0 values before it diverged at
    epoch 1 (the rest NaN) were drawn as nothing."""
    figures = drawn_figures(monkeypatch)
    single = [(key, 0.5, 0) for key in ("train_cost", "val_cost", "train_accuracy", "val_accuracy")]
    plots.learning_curves(single, tmp_path / "single.png", "epochs=0")
    long = [("train_cost", 1.0 / (e + 1), e) for e in range(50)]
    long += [("val_cost", 1.0 if e == 0 else float("nan"), e) for e in range(50)]  # a lone finite point
    plots.learning_curves(long, tmp_path / "long.png", "diverged")
    lines = [[line for ax in figure.axes for line in ax.lines] for figure in figures]
    assert len(lines[0]) == 4 and all(line.get_marker() == "o" for line in lines[0])
    train, val = lines[1]
    assert train.get_marker() in ("None", None, "")  # 50 joined points: a line, as before
    assert val.get_marker() == "o" and val.get_markevery() == [True] + [False] * 49


@pytest.mark.parametrize("low, high", [(0.0148, 0.248), (0.123, 0.127)], ids=["a decade", "a few percent"])
def test_the_layer_stats_of_epoch_0_mark_their_points_and_keep_their_y_labels_inside_the_figure(tmp_path, monkeypatch,
                                                                                                low, high):
    """Before, the rms panels of an epochs=0 run were empty and the gradient panel's y label was cut off by the
    figure's left edge, beside the log axis's tick labels (2x10^-1, or 1.225x10^-1 for values a few percent apart)."""
    figures = drawn_figures(monkeypatch)
    history = [("grad_rms_Theta1", low, 0), ("grad_rms_Theta2", high, 0),
               ("weight_rms_Theta1", low, 0), ("weight_rms_Theta2", high, 0)]
    start = np.random.default_rng(0).random((30, 25))
    plots.layer_curves(history, tmp_path / "layers.png", "epochs=0", [("a(2)", start, start)])
    (figure,) = figures
    rms_axes = figure.axes[:2]
    assert all(line.get_marker() == "o" for ax in rms_axes for line in ax.lines)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)  # pyplot.close left the figure without its canvas: draw it again to measure
    canvas.draw()
    renderer = canvas.get_renderer()
    for ax in rms_axes:
        assert ax.yaxis.label.get_window_extent(renderer).x0 >= 0


def test_a_log_axis_is_chosen_where_it_has_two_ticks_n_times_10_to_the_k_to_label():
    assert plots.log_ticks_fit([0.0148, 0.248]) and plots.log_ticks_fit([0.2, 0.3, 0.0])
    assert plots.log_ticks_fit([1.7e-4, 0.22, float("nan"), float("inf")])
    assert not plots.log_ticks_fit([0.148, 0.247])  # 0.2 alone: matplotlib would tick 0.16, 0.18, ... as 1.6x10^-1
    assert not plots.log_ticks_fit([0.0, float("nan")]) and not plots.log_ticks_fit([])


def test_hidden_units_frame_the_tiles_in_a_colour_of_their_own_and_label_a_dead_unit(tmp_path, monkeypatch):
    """Before, the separators were black like a relu unit's zero, and a dead unit (0 over the whole plane) was a
    black square among black separators."""
    figures = drawn_figures(monkeypatch)
    X = np.array([[-2.0, -1.0], [2.0, 1.0]])
    Theta = np.array([[1.0, -1.0, -1.0], [0.5, 2.0, -1.0]])  # the third unit: z = -x1 - x2 - 10 < 0 on the plane

    def relu_layer(P):
        return np.maximum(P @ Theta + [0.0, 0.0, -10.0], 0.0)

    plane_plots.hidden_units(relu_layer, X, tmp_path / "u.png", "a run", steps=6)
    (figure,) = figures
    (ax,) = figure.axes
    (image,) = ax.images
    grid = image.get_array()
    _, corners = plots.tile_corners(3, (6, 6), pad=3)
    tiles = np.zeros(grid.shape, dtype=bool)
    for top, left in corners:
        tiles[top:top + 6, left:left + 6] = True
    np.testing.assert_array_equal(np.ma.getmaskarray(grid), ~tiles)  # separators (and the empty 4th cell): masked
    red, green, blue, _ = image.get_cmap().get_bad()
    assert not red == green == blue  # drawn in a colour no grey tile takes
    (dead,) = ax.texts
    top, left = corners[2]
    assert dead.get_text() == "dead" and dead.get_position() == (left + 3, top + 3)
    assert ax.get_title().endswith("\n1 of 3 units dead: 0 over the whole plane")
