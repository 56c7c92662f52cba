"""Bad input anywhere a user can give it: one line naming the value, exit code 2, no traceback,
and no run left looking FINISHED.

Every case runs the real command-line entry point (`runner.__main__.cli`, Hydra included)
in this process, which is quick; a few also run as real subprocesses to check the
process's exit code. The README's "Bad input" table lists these cases and their messages.
"""
from __future__ import annotations

import contextlib
import io
import socket
import sys

import numpy as np
import pytest


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write(path, text):
    path.write_text(text)
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The bad files of the table, made once."""
    d = tmp_path_factory.mktemp("bad_files")
    made = {
        "empty_csv": _write(d / "empty.csv", ""),
        "nan_csv": _write(d / "nan.csv", "a,b,label\n1,2,x\n3,,y\n5,6,x\n7,8,y\n"),
        "text_csv": _write(d / "text.csv", "a,b,label\n1,2,x\n3,hello,y\n5,6,x\n7,8,y\n"),
        "no_target_csv": _write(d / "no_target.csv", "a,b,klass\n1,2,x\n3,4,y\n"),
        "one_class_csv": _write(d / "one_class.csv", "a,b,label\n1,2,x\n3,4,x\n5,6,x\n"),
        "one_number_csv": _write(d / "one_number.csv", "a,b,label\n1,2,1\n3,4,1\n5,6,1\n"),
        "na_text_csv": _write(d / "na_text.csv", "a,b,label\n1,2,x\n3,NA,y\n5,6,x\n7,8,y\n"),
        "number_csv": _write(d / "number.csv", "a,b,1e3\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n"),
        "not_a_file": _write(d / "plain.txt", "x"),
    }
    np.savez(d / "wrong_shapes.npz", Theta1=np.zeros((3, 3)), Theta2=np.zeros((1, 4)))
    np.savez(d / "pickled.npz", Theta1=np.array([{"a": 1}], dtype=object))
    np.save(d / "single.npy", np.zeros((25, 65)))
    np.savez(d / "complex.npz", Theta1=np.zeros((25, 65)) + 1j, Theta2=np.zeros((10, 26)))
    made["npy"], made["complex"], made["empty_npz"] = str(d / "single.npy"), str(d / "complex.npz"), _write(
        d / "empty.npz", "")
    made["wrong_shapes"] = str(d / "wrong_shapes.npz")
    made["pickled"] = str(d / "pickled.npz")
    np.savez(d / "theta_x.npz", Theta1=np.zeros((25, 65)), Theta2=np.zeros((10, 26)), ThetaX=np.zeros(3))
    made["theta_x"] = str(d / "theta_x.npz")
    made["missing_csv"] = str(d / "missing.csv")
    return made


CSV = ("dataset=csv", "dataset.target=label", "dataset.val_fraction=0", "dataset.test_fraction=0")

# (case id, overrides, environment, text the message must contain)
CASES = [
    ("unknown plugin", ["optimizer=nadam"], {}, ["nadam", "sgd", "lbfgs"]),
    ("unknown key", ["optimizer.foo=1"], {}, ["optimizer.foo"]),
    ("unknown added key", ["+optimizer.foo=1"], {}, ["optimizer.foo"]),
    ("a key the chosen option lacks", ["optimizer=lbfgs", "optimizer.lr=0.1"], {},
     ["optimizer.lr=0.1 cannot be set with optimizer=lbfgs, whose config has no key lr", "keys of optimizer=lbfgs: "
      "epochs, or optimizer=OPTION with the key lr: adam, batch_gd, minibatch, momentum, sgd"]),
    ("a key the preset's option lacks", ["+experiment=course", "optimizer.lr=0.1"], {},
     ["optimizer.lr=0.1 cannot be set with optimizer=cg, whose config has no key lr"]),
    ("a key no option has", ["dataset.bar=2"], {},
     ["dataset.bar=2 cannot be set with dataset=digits, whose config has no key bar; accepted: the keys of "
      "dataset=digits: val_fraction, test_fraction, train_size, scale"]),
    ("a forced key one swept option lacks", ["-m", "optimizer=sgd,lbfgs", "++optimizer.lr=0.1"], {},
     ["++optimizer.lr=0.1 cannot be set with optimizer=lbfgs (of optimizer=sgd,lbfgs), whose config has no key lr"]),
    ("a key under a swept group", ["-m", "optimizer=sgd,adam", "optimizer.lr=0.1"], {},  # Hydra: "use +optimizer.lr"
     ["optimizer.lr=0.1 is set on the sweep's base config, optimizer=lbfgs, whose config has no key lr, before each "
      "job takes its optimizer=sgd,adam; accepted: ++optimizer.lr=0.1, which sets it in each job"]),
    ("wrong type", ["optimizer=sgd", "optimizer.lr=abc"], {}, ["lr='abc'"]),
    ("lr zero", ["optimizer=sgd", "optimizer.lr=0"], {}, ["lr=0"]),
    ("lr negative", ["optimizer=batch_gd", "optimizer.lr=-0.5"], {}, ["lr=-0.5"]),
    ("epochs negative", ["optimizer.epochs=-1"], {}, ["epochs=-1"]),
    ("lr_decay negative", ["optimizer=sgd", "optimizer.lr_decay=-0.1"], {}, ["lr_decay=-0.1", "a number >= 0"]),
    ("lr_decay_per unknown", ["optimizer=sgd", "optimizer.lr_decay_per=hour"], {},
     ["lr_decay_per='hour'", "one of epoch, step"]),
    ("hidden empty", ["architecture.hidden=[]"], {}, ["hidden=[]"]),
    ("hidden zero", ["architecture.hidden=[0]"], {}, ["hidden=[0]"]),
    ("hidden negative", ["architecture.hidden=[25,-3]"], {}, ["hidden=[25, -3]"]),
    ("lam negative", ["regularization.lam=-1"], {}, ["lam=-1"]),
    ("eps zero", ["initializer.eps=0"], {}, ["eps=0"]),
    ("batch_size zero", ["optimizer=minibatch", "optimizer.batch_size=0"], {}, ["batch_size=0"]),
    ("batch_size above m", ["optimizer=minibatch", "optimizer.batch_size=100000"], {}, ["batch_size=100000", "m ="]),
    ("fraction out of range", ["dataset.val_fraction=1.5"], {}, ["val_fraction=1.5"]),
    ("fractions sum to 1", ["dataset.val_fraction=0.5", "dataset.test_fraction=0.5"], {}, ["test_fraction=0.5"]),
    ("train_size one", ["dataset.train_size=1"], {}, ["train_size=1", "integer >= 2"]),
    ("train_size above the training part", ["dataset.train_size=5000"], {},
     ["train_size=5000", "1079 training samples", "from 2 to 1079"]),
    ("patience negative", ["early_stopping.patience=-1"], {}, ["early_stopping.patience=-1", "integer >= 0"]),
    ("min_delta text", ["early_stopping.min_delta=x"], {}, ["early_stopping.min_delta='x'", "number >= 0"]),
    ("patience without a validation part", ["early_stopping.patience=5", "dataset.val_fraction=0"], {},
     ["early_stopping.patience=5 needs a validation part", "dataset.val_fraction > 0"]),
    ("test objective without a test part", ["tracking.objective=test_accuracy", "dataset.test_fraction=0"], {},
     ["tracking.objective=test_accuracy needs a test part", "dataset.test_fraction > 0"]),
    ("restore_best not a bool", ["early_stopping.restore_best=maybe"], {},
     ["early_stopping.restore_best='maybe'", "true or false"]),
    ("restore_best without a validation part", ["early_stopping.restore_best=true", "dataset.val_fraction=0"], {},
     ["early_stopping.restore_best=true needs a validation part", "early_stopping.restore_best=false"]),
    ("gradcheck tolerance zero", ["gradcheck.tolerance=0"], {}, ["gradcheck.tolerance=0", "a number > 0", "null"]),
    ("seed negative", ["seed=-1"], {}, ["seed=-1"]),
    ("a list for a named choice", ["architecture.activation=[sigmoid]"], {},
     ["architecture.activation=['sigmoid'] is invalid; accepted: sigmoid, tanh, relu"]),
    ("a map for a named choice", ["architecture.activation={{a:1}}"], {},  # {{ }}: _fill formats the overrides
     ["architecture.activation={{'a': 1}} is invalid; accepted: sigmoid, tanh, relu"]),
    ("a list for the objective", ["tracking.objective=[val_cost]"], {},
     ["tracking.objective=['val_cost'] is invalid; accepted: val_cost, val_accuracy"]),
    ("workers not a section", ["workers=5"], {},  # a TypeError traceback before
     ["workers=5 is invalid; accepted: a section of keys (blas_threads, start), e.g. workers.blas_threads=VALUE"]),
    ("workers not a section in a sweep", ["-m", "workers=5", "seed=1,2"], {},  # checked by the sweep's callback
     ["workers=5 is invalid; accepted: a section of keys (blas_threads, start)"]),
    ("unknown top-level key (added)", ["+seeed=1", "optimizer.epochs=3"], {},
     ["unknown key seeed; accepted top-level keys: dataset, architecture", "seed", "early_stopping, workers"]),
    ("unknown top-level section (added)", ["+early_stop.patience=3"], {},
     ["unknown key early_stop; accepted top-level keys: ", "early_stopping"]),
    ("csv path missing", ["dataset=csv"], {}, ["dataset.path"]),
    ("csv missing file", [*CSV, "dataset.path={missing_csv}"], {}, ["missing.csv"]),
    ("csv empty", [*CSV, "dataset.path={empty_csv}"], {}, ["empty.csv"]),
    ("csv NaN feature", [*CSV, "dataset.path={nan_csv}"], {}, ["'b'"]),
    ("csv text feature", [*CSV, "dataset.path={text_csv}"], {}, ["'b'", "hello"]),
    ("csv feature not in the file", [*CSV, "dataset.path={text_csv}", "dataset.features=[a,weight]"], {},
     ["dataset.features=['a', 'weight']", "it has no 'weight'", ": a, b"]),
    ("csv features not a list", [*CSV, "dataset.path={text_csv}", "dataset.features=a"], {},
     ["dataset.features='a'", "a list of column names"]),
    ("csv no target column", [*CSV, "dataset.path={no_target_csv}"], {}, ["label", "klass"]),
    ("csv one class", [*CSV, "dataset.path={one_class_csv}"], {}, ["label"]),
    ("csv one class of numbers", [*CSV, "dataset.path={one_number_csv}"], {}, ["(it holds only 1)"]),
    ("csv NA in a numeric feature", [*CSV, "dataset.path={na_text_csv}"], {},
     ["feature column 'b' has the value 'NA' at data row 1", "where a missing value is an empty cell, not 'NA'"]),
    ("csv target read as a number", ["dataset=csv", "dataset.path={number_csv}", "dataset.target=1e3"], {},
     ["dataset.target='1000.0'", "a, b, 1e3", "quote it as the header writes it"]),
    ("npz wrong shapes", ["initializer=from_file", "initializer.path={wrong_shapes}"], {}, ["wrong_shapes.npz", "(25, 65)"]),
    ("npz pickled", ["initializer=from_file", "initializer.path={pickled}"], {}, ["pickled.npz", "pickle"]),
    ("npz not a zip", ["initializer=from_file", "initializer.path={not_a_file}"], {},
     ["plain.txt", "(it is not an .npz file)"]),
    ("npy instead of npz", ["initializer=from_file", "initializer.path={npy}"], {},
     ["(it is one .npy array, not an .npz)"]),
    ("npz empty", ["initializer=from_file", "initializer.path={empty_npz}"], {}, ["empty.npz", "(it is empty)"]),
    ("npz complex", ["initializer=from_file", "initializer.path={complex}"], {}, ["(Theta1 holds complex128)"]),
    ("npz misnamed array", ["initializer=from_file", "initializer.path={theta_x}"], {},
     ["theta_x.npz", "(it holds an array named 'ThetaX', not Theta and a layer number from 1)", "Theta1 .. ThetaN"]),
    ("joblib n_jobs zero", ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=0", "seed=1,2"], {},
     ["hydra.launcher.n_jobs=0", "-1 for every core"]),
    ("joblib backend unknown", ["-m", "hydra/launcher=joblib", "hydra.launcher.backend=dask", "seed=1,2"], {},
     ["hydra.launcher.backend='dask'", "loky"]),
    ("empty sweep", ["-m", "seed=range(0)"], {}, ["the sweep launched no job (its space: seed=range(0))"]),
    ("joblib timeout", ["-m", "hydra/launcher=joblib", "hydra.launcher.timeout=0", "seed=1,2"], {},
     ["hydra.launcher.timeout=0", "seconds > 0"]),
    ("sweep folder not writable", ["-m", "hydra.sweep.dir={not_a_file}/sweep", "seed=1,2"], {},
     ["hydra.sweep.dir=", "plain.txt/sweep", "Not a directory"]),
    ("run folder not writable", ["hydra.run.dir={not_a_file}/run"], {}, ["plain.txt/run", "Not a directory"]),
    ("optuna direction", ["-m", "hydra/sweeper=optuna", "+experiment=optuna_search", "hydra.sweeper.direction=up"], {},
     ["hydra.sweeper.direction='up'", "minimize, maximize"]),
    ("optuna n_trials zero", ["-m", "hydra/sweeper=optuna", "+experiment=optuna_search", "hydra.sweeper.n_trials=0"],
     {}, ["hydra.sweeper.n_trials=0", "integer >= 1"]),
    ("optuna n_jobs zero", ["-m", "hydra/sweeper=optuna", "+experiment=optuna_search", "hydra.sweeper.n_jobs=0"],
     {}, ["hydra.sweeper.n_jobs=0", "integer >= 1"]),
    ("optuna failure rate", ["-m", "hydra/sweeper=optuna", "+experiment=optuna_search",
                             "hydra.sweeper.max_failure_rate=2"], {}, ["max_failure_rate=2.0", "from 0 to 1"]),
    ("optuna storage", ["-m", "hydra/sweeper=optuna", "+experiment=optuna_search",
                        "hydra.sweeper.storage=sqlite:///optuna.db"], {}, ["hydra.sweeper.storage=", "accepted: null"]),
    ("unreachable tracking", [], {"MLFLOW_TRACKING_URI": "http://127.0.0.1:{port}"}, ["127.0.0.1"]),
    ("unknown tracking scheme", [], {"MLFLOW_TRACKING_URI": "nosuch://store"},
     ["nosuch://store", "such as sqlite:///mlflow.db or http://host:5000"]),
    ("a folder as tracking uri", ["tracking.uri={not_a_file}.d"], {"MLFLOW_TRACKING_URI": ""},
     ["plain.txt.d", "cannot be used", "such as sqlite:///mlflow.db"]),
    ("outputs not writable", [], {"BACKPROP_LAB_OUTPUTS": "{not_a_file}/outputs"}, ["plain.txt/outputs"]),
]


def _in_process(store, monkeypatch, overrides, env) -> tuple[int, str]:
    """Run `python -m runner OVERRIDES` as runner.__main__.cli in this process; (exit code, stderr)."""
    from runner.__main__ import cli

    for key, value in store_env(store).items():
        monkeypatch.setenv(key, value)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    monkeypatch.setattr(sys, "argv", ["runner", *overrides])
    monkeypatch.chdir(store.root)
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            code = cli()
        except SystemExit as exit_:
            code = exit_.code
    return code, stderr.getvalue()


def store_env(store) -> dict[str, str]:
    return {"MLFLOW_TRACKING_URI": store.uri, "BACKPROP_LAB_OUTPUTS": str(store.root / "outputs")}


def _check(code, stderr, expected, store):
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    for text in expected:
        assert text in lines[0], lines[0]
    assert not [r for r in store.runs() if r.info.status == "FINISHED"]


def _fill(case, files):
    _, overrides, env, expected = case
    values = {**files, "port": _closed_port()}
    return ([o.format(**values) for o in overrides], {k: v.format(**values) for k, v in env.items()},
            [t.format(**values) for t in expected])


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_no_finished_run(store, files, monkeypatch, case):
    overrides, env, expected = _fill(case, files)
    code, stderr = _in_process(store, monkeypatch, overrides, env)
    _check(code, stderr, expected, store)


def test_a_launcher_whose_plugin_is_not_installed_is_one_line(store, monkeypatch):
    import importlib.util

    if importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is not None:
        pytest.skip("hydra-submitit-launcher is installed here")
    code, stderr = _in_process(store, monkeypatch, ["-m", "hydra/launcher=submitit_slurm", "seed=1,2"], {})
    _check(code, stderr, ["hydra_submitit_launcher", "pip install hydra-submitit-launcher"], store)


@pytest.mark.parametrize("sweep", [False, True], ids=["run", "sweep"])
def test_a_deleted_experiment_is_one_line_and_no_run(new_store, monkeypatch, sweep):
    """MLflow keeps a deleted experiment's name and makes no run in it: a traceback before (and in a sweep, no
    parent and a warning about sweep.json from each job); now one line saying how to restore it."""
    from mlflow.entities import ViewType

    client = new_store.client
    experiment_id = client.create_experiment("qa_deleted")
    client.delete_experiment(experiment_id)
    overrides = ["tracking.experiment=qa_deleted", "optimizer.epochs=3"]
    overrides = ["-m", *overrides, "regularization.lam=0,1"] if sweep else overrides
    code, stderr = _in_process(new_store, monkeypatch, overrides, {})
    _check(code, stderr, [f"tracking.experiment='qa_deleted' is deleted in the store {new_store.uri} (experiment "
                          f"{experiment_id}); accepted:", f"mlflow experiments restore --experiment-id {experiment_id}",
                          "tracking.experiment=NAME"], new_store)
    assert not client.search_runs([experiment_id], run_view_type=ViewType.ALL)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"


def test_the_advised_force_override_sets_the_key_in_each_swept_option(new_store, monkeypatch):
    """What the "key under a swept group" line advises works: ++optimizer.lr=0.05 reaches the lr of each job."""
    overrides = ["-m", "optimizer=sgd,adam", "++optimizer.lr=0.05", "optimizer.epochs=2"]
    code, stderr = _in_process(new_store, monkeypatch, overrides, {})
    assert code == 0, stderr
    jobs = [run for run in new_store.runs() if "mlflow.parentRunId" in run.data.tags]
    assert sorted((run.data.params["optimizer._target_"].rsplit(".")[-1], run.data.params["optimizer.lr"],
                   run.info.status) for run in jobs) == [("Adam", "0.05", "FINISHED"), ("SGD", "0.05", "FINISHED")]


SUBPROCESS_CASES = ["unknown plugin", "wrong type", "csv text feature", "npz pickled", "unreachable tracking"]


@pytest.mark.slow
@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_bad_input_exit_code_of_the_real_process(store, files, name):
    overrides, env, expected = _fill(next(c for c in CASES if c[0] == name), files)
    result = store.cli(*overrides, **env)
    _check(result.returncode, result.stderr, expected, store)


@pytest.mark.parametrize("overrides", [["optimizer=sgd", "optimizer.lr=-1"], ["+optimizer.foo=1"]])
def test_debug_shows_the_traceback_and_keeps_the_exit_code_2(store, overrides):
    """Before, --debug re-raised the error: a traceback and exit code 1 where the error is 2."""
    result = store.cli(*overrides, "--debug")
    assert result.returncode == 2, result.stderr
    assert "Traceback (most recent call last)" in result.stderr and "UserError" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: ") and "accepted" in result.stderr.splitlines()[-1]
