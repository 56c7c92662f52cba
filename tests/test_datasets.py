"""Dataset plugins: shapes, seeded splits, train-only scaling, label encoding, CSV files, argument checks."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
import subprocess
import sys

import sklearn.datasets
from sklearn.datasets import load_wine

from plugins.datasets import BreastCancer, CsvDataset, Digits, Iris, Moons, Spirals, Wine, Xor, bundled
from plugins.datasets.csv import one_hot
from plugins.datasets._prepare import (apply_scaling, encode_labels, first_rows, fit_scaling, split_rows,
                                       split_size)
from runner.core.protocols import Dataset


def rng(seed=0):
    """A fresh generator, the only source of randomness a dataset may use."""
    return np.random.default_rng(seed)


def parts(splits):
    """The splits that exist, in the order train, val, test."""
    return [s for s in (splits.train, splits.val, splits.test) if s is not None]


def sorted_rows(X):
    """X's rows in lexicographic order, to compare two sets of rows as multisets."""
    return X[np.lexsort(X.T[::-1])]


def write_csv(tmp_path, text, name="data.csv"):
    """A CSV file with the given text in the test's temp dir; its path as a string."""
    path = tmp_path / name
    path.write_text(text)
    return str(path)


ALL = {"digits": Digits, "iris": Iris, "breast_cancer": BreastCancer, "wine": Wine,
       "xor": Xor, "moons": Moons, "spirals": Spirals}
EXPECTED = {  # m, n, K, image_shape
    "digits": (1797, 64, 10, (8, 8)), "iris": (150, 4, 3, None), "breast_cancer": (569, 30, 2, None),
    "wine": (178, 13, 3, None), "xor": (400, 2, 2, None), "moons": (400, 2, 2, None),
    "spirals": (400, 2, 2, None),
}


@pytest.mark.parametrize("config_name", ALL)
def test_each_dataset_loads_with_expected_shapes(config_name):
    dataset = ALL[config_name](val_fraction=0.2, test_fraction=0.2, scale="standard")  # as Hydra calls it
    m, n, K, image_shape = EXPECTED[config_name]
    splits = dataset.load(rng())
    assert isinstance(dataset, Dataset) and dataset.name == config_name
    assert sum(s.m for s in parts(splits)) == m
    assert splits.n_features == n and splits.n_classes == K and splits.image_shape == image_shape
    assert splits.classes == list(range(K))
    for s in parts(splits):
        assert s.X.dtype == np.float64 and s.X.flags.c_contiguous and s.y.dtype == np.int64
        assert s.X.shape == (s.m, n) and set(np.unique(s.y)) <= set(range(K))
    assert len(np.unique(splits.train.y)) == K


BUNDLED = {Digits: "load_digits", Iris: "load_iris", BreastCancer: "load_breast_cancer", Wine: "load_wine"}


@pytest.mark.parametrize("dataset", BUNDLED)
def test_bundled_files_read_directly_equal_scikit_learns_loaders(dataset, monkeypatch):
    X, y = getattr(sklearn.datasets, BUNDLED[dataset])(return_X_y=True)
    assert bundled.sklearn_data_file(dataset.file) is not None  # the direct path is the one taken here
    ours = dataset().features_and_labels(rng())
    np.testing.assert_array_equal(ours[0], X)
    np.testing.assert_array_equal(ours[1], y)
    assert ours[1].dtype == y.dtype
    monkeypatch.setattr(bundled, "sklearn_data_file", lambda name: None)  # moved: scikit-learn's loader
    np.testing.assert_array_equal(dataset().features_and_labels(rng())[0], X)


@pytest.mark.parametrize("text", ["1,2,3\n4,5,6\n", "not,a,number\n1,2,x\n"])
def test_a_bundled_file_of_another_shape_or_format_falls_back_to_the_loader(tmp_path, monkeypatch, text):
    (tmp_path / "iris.csv").write_text(text)
    monkeypatch.setattr(bundled, "sklearn_data_file", lambda name: tmp_path / name)
    X, y = Iris().features_and_labels(rng())
    np.testing.assert_array_equal(X, sklearn.datasets.load_iris(return_X_y=True)[0])


def test_loading_digits_does_not_import_scikit_learn():
    code = ("import sys, numpy; from plugins.datasets import Digits; "
            "Digits().load(numpy.random.default_rng(0)); print('sklearn' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("make", [Iris, lambda **kw: Moons(noise=0.2, **kw)])
def test_same_seed_same_splits_different_seed_different(make):
    a, b, c = make().load(rng(1)), make().load(rng(1)), make().load(rng(2))
    for sa, sb, sc in zip(parts(a), parts(b), parts(c)):
        np.testing.assert_array_equal(sa.X, sb.X)
        np.testing.assert_array_equal(sa.y, sb.y)
    assert not np.array_equal(a.train.X, c.train.X)


def test_zero_fractions_give_no_val_or_test_and_all_rows_in_train():
    splits = Iris(val_fraction=0, test_fraction=0, scale="none").load(rng())
    assert splits.val is None and splits.test is None and splits.train.m == 150
    only_val = Iris(val_fraction=0.3, test_fraction=0.0).load(rng())
    assert only_val.test is None and only_val.val.m == 45 and only_val.train.m == 105


def test_split_sizes_match_fractions_and_are_stratified():
    splits = BreastCancer(val_fraction=0.15, test_fraction=0.25).load(rng())
    assert (splits.train.m, splits.val.m, splits.test.m) == (569 - 85 - 142, 85, 142)
    overall = np.bincount(np.concatenate([s.y for s in parts(splits)])) / 569
    for s in parts(splits):
        np.testing.assert_allclose(np.bincount(s.y) / s.m, overall, atol=0.02)


def test_splits_partition_the_original_rows():
    splits = Wine(scale="none").load(rng(3))
    X = load_wine().data
    np.testing.assert_array_equal(sorted_rows(np.vstack([s.X for s in parts(splits)])), sorted_rows(X))


@pytest.mark.parametrize("scale", ["standard", "minmax", "none"])
def test_unscaled_gives_back_the_datasets_own_features(scale):
    splits = Digits(scale=scale).load(rng(3))
    raw = np.vstack([splits.unscaled(s.X) for s in parts(splits)])
    np.testing.assert_allclose(sorted_rows(np.round(raw)), sorted_rows(sklearn.datasets.load_digits().data))
    np.testing.assert_allclose(raw, np.round(raw), atol=1e-12)  # whole pixel values, up to rounding


def test_standard_scaling_is_fitted_on_train_only():
    splits = Wine(scale="standard").load(rng())
    np.testing.assert_allclose(splits.train.X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(splits.train.X.std(axis=0), 1, atol=1e-12)
    assert not np.allclose(splits.test.X.mean(axis=0), 0, atol=1e-6)


def test_minmax_scaling_is_fitted_on_train_only():
    splits = Wine(scale="minmax").load(rng())
    np.testing.assert_allclose(splits.train.X.min(axis=0), 0)
    np.testing.assert_allclose(splits.train.X.max(axis=0), 1)
    test_X = splits.test.X
    assert not (np.allclose(test_X.min(axis=0), 0) and np.allclose(test_X.max(axis=0), 1))


@pytest.mark.parametrize("scale", ["standard", "minmax"])
def test_constant_features_scale_to_zero_without_dividing_by_zero(scale):
    splits = Digits(scale=scale).load(rng())  # digits' corner pixels are always 0
    constant = np.ptp(splits.train.X, axis=0) == 0
    assert constant.any() and all(np.isfinite(s.X).all() for s in parts(splits))
    X_train = np.array([[1.0, 5.0], [3.0, 5.0]])
    scaled = apply_scaling(X_train, *fit_scaling(X_train, scale))
    np.testing.assert_array_equal(scaled[:, 1], [0.0, 0.0])


def test_none_scaling_keeps_the_values():
    X = np.array([[1.0, -2.0], [3.0, 7.0]])
    np.testing.assert_array_equal(apply_scaling(X, *fit_scaling(X, "none")), X)


def test_string_and_float_labels_map_to_sorted_integers():
    y, classes = encode_labels(np.array(["pear", "apple", "fig", "apple"], dtype=object))
    assert classes == ["apple", "fig", "pear"] and y.tolist() == [2, 0, 1, 0] and y.dtype == np.int64
    y, classes = encode_labels([2.5, -1.0, 2.5])
    assert classes == [-1.0, 2.5] and y.tolist() == [1, 0, 1]


CSV_TEXT = "a,b,label\n" + "".join(f"{i},{i % 3 * 0.5},{'yes' if i % 2 else 'no'}\n" for i in range(20))


def test_csv_happy_path(tmp_path):
    dataset = CsvDataset(path=write_csv(tmp_path, CSV_TEXT), target="label", val_fraction=0.25,
                         test_fraction=0.25, scale="none")
    splits = dataset.load(rng())
    assert dataset.name == "csv" and isinstance(dataset, Dataset)
    assert splits.classes == ["no", "yes"] and splits.n_features == 2 and splits.image_shape is None
    assert [s.m for s in parts(splits)] == [10, 5, 5]
    X = np.vstack([s.X for s in parts(splits)])
    y = np.concatenate([s.y for s in parts(splits)])
    np.testing.assert_array_equal(y, X[:, 0] % 2)  # odd a -> "yes" -> 1
    assert sorted(X[:, 0]) == list(range(20))


def test_csv_labels_written_as_whole_floats_and_many_classes_of_few_rows_are_accepted(tmp_path):
    text = "x,kind\n" + "".join(f"{i},{float(i % 2)}\n" for i in range(10))
    assert CsvDataset(write_csv(tmp_path, text), "kind").load(rng()).classes == [0.0, 1.0]
    text = "x,kind\n" + "".join(f"{i},{i // 2}\n" for i in range(40))  # 20 classes of 2 rows
    assert len(CsvDataset(write_csv(tmp_path, text), "kind", val_fraction=0, test_fraction=0).load(rng()).classes) == 20


def test_csv_numeric_labels_keep_their_values_as_classes(tmp_path):
    text = "x,kind\n" + "".join(f"{i},{[3, 10, 7][i % 3]}\n" for i in range(30))
    splits = CsvDataset(write_csv(tmp_path, text), "kind").load(rng())
    assert splits.classes == [3, 7, 10]


def test_csv_features_choose_and_order_the_columns_and_skip_the_others(tmp_path):
    text = "id,a,b,name,label\n" + "".join(f"{i},{i},{i % 3 * 0.5},n{i},{'yes' if i % 2 else 'no'}\n"
                                           for i in range(20))
    path = write_csv(tmp_path, text)
    splits = CsvDataset(path, "label", features=["b", "a"], scale="none", val_fraction=0, test_fraction=0).load(rng())
    assert splits.n_features == 2
    np.testing.assert_array_equal(splits.train.X[:, 0], splits.train.X[:, 1] % 3 * 0.5)  # b first, then a
    np.testing.assert_array_equal(splits.train.y, splits.train.X[:, 1] % 2)
    with pytest.raises(ValueError, match=r"feature column 'name' .* \(dataset.categorical=\[name\] one-hot encodes a "
                                         r"column of categories; dataset.features=\[...\] names the columns to use\)"):
        CsvDataset(path, "label").load(rng())  # without features, the text column is refused, with the way out
    with pytest.raises(ValueError, match=r"^features=\['a', 'weight'\] is invalid; accepted: columns of .*"
                                         r"\(it has no 'weight'\): id, a, b, name"):
        CsvDataset(path, "label", features=["a", "weight"]).load(rng())


def test_csv_categorical_columns_become_one_hot_columns_where_they_stood(tmp_path):
    text = "size,city,w,label\n" + "".join(f"{[10, 2, 1][i % 3]},{['rome', 'oslo'][i % 2]},{i},{i % 2}\n"
                                            for i in range(12))
    dataset = CsvDataset(write_csv(tmp_path, text), "label", categorical=["city", "size"], scale="none",
                         val_fraction=0, test_fraction=0)
    splits = dataset.load(rng())
    assert dataset.categories == {"city": ["oslo", "rome"], "size": ["1", "2", "10"]}  # numbers in numeric order
    X, y = splits.train.X, splits.train.y
    assert X.shape == (12, 6)  # size=1, size=2, size=10, city=oslo, city=rome, w
    w = X[:, 5].astype(int)
    np.testing.assert_array_equal(X[:, :3], np.eye(3)[[[2, 1, 0][i % 3] for i in w]])
    np.testing.assert_array_equal(X[:, 3:5], np.eye(2)[[1 - i % 2 for i in w]])  # rome for even rows, oslo odd
    np.testing.assert_array_equal(y, w % 2)
    new = pd.DataFrame({"size": [2, 5], "city": ["rome", "rome"], "w": [0, 1]})
    with pytest.raises(ValueError, match=r"categorical column 'size' has the value 5 at data row 1; accepted: one "
                                         r"of the values the run trained on: 1, 2, 10"):
        one_hot(new, dataset.categories)
    assert list(one_hot(new.head(1), dataset.categories).columns) == ["size=1", "size=2", "size=10", "city=oslo",
                                                                     "city=rome", "w"]


@pytest.mark.parametrize("kwargs, words", [
    ({"categorical": "city"}, ["categorical='city'", "a list of column names such as [color,city]"]),
    ({"categorical": ["city", "city"]}, ["categorical=['city', 'city']", "distinct"]),
    ({"categorical": ["label"]}, ["categorical=['label']", "not the target 'label' (always the class label)"]),
    ({"categorical": ["city"], "features": ["w"]}, ["categorical=['city']", "among features=['w']"]),
])
def test_bad_categorical_arguments_are_one_line(tmp_path, kwargs, words):
    with pytest.raises(ValueError) as error:
        CsvDataset(write_csv(tmp_path, "w,city,label\n1,a,x\n"), "label", **kwargs)
    assert all(word in str(error.value) for word in words) and "\n" not in str(error.value)


def test_csv_categorical_columns_must_exist_and_have_a_value_in_every_row(tmp_path):
    path = write_csv(tmp_path, "w,city,label\n1,a,x\n2,,y\n3,b,x\n4,a,y\n")
    with pytest.raises(ValueError, match="categorical column 'city' has a missing value at data row 1"):
        CsvDataset(path, "label", categorical=["city"]).load(rng())
    with pytest.raises(ValueError, match=r"categorical=\['town'\] is invalid; accepted: feature columns of .*: "
                                         r"w, city"):
        CsvDataset(path, "label", categorical=["town"]).load(rng())


def test_fill_is_each_feature_s_training_mean_over_the_rows_that_have_it():
    from plugins.datasets._prepare import apply_fill, fit_fill

    X = np.array([[1.0, np.nan], [3.0, 4.0], [np.nan, 8.0], [9.0, 9.0]])
    fill = fit_fill(X, np.arange(3))  # the last row is not a training row
    np.testing.assert_array_equal(fill, [2.0, 6.0])
    np.testing.assert_array_equal(apply_fill(np.array([[np.nan, np.nan], [5.0, 1.0]]), fill), [[2.0, 6.0], [5.0, 1.0]])
    assert fit_fill(np.ones((2, 2)), np.arange(2)) is None
    np.testing.assert_array_equal(fit_fill(X[[3, 0]], np.array([0])), [9.0, 9.0])  # only a held-out row misses one
    with pytest.raises(ValueError, match="feature 1 has no value in the 2 training rows"):
        fit_fill(np.array([[1.0, np.nan], [2.0, np.nan]]), np.arange(2))


def test_csv_missing_values_are_refused_dropped_or_filled_with_the_training_mean(tmp_path):
    rows = [f"{i},{'' if i % 4 == 0 else i * 0.5},{i % 2}" for i in range(40)]
    path = write_csv(tmp_path, "id,a,label\n" + "\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"feature column 'a' has a missing value at data row 0; accepted: a value "
                                         r"in every row \(dataset.missing=drop"):
        CsvDataset(path, "label").load(rng())
    dropped = CsvDataset(path, "label", missing="drop", scale="none").load(rng())
    kept = np.concatenate([p.X[:, 0] for p in parts(dropped)])
    assert sorted(kept) == [i for i in range(40) if i % 4]  # the 10 rows without a are gone
    filled = CsvDataset(path, "label", missing="mean", scale="none").load(rng())
    train_ids = filled.train.X[:, 0]
    present = [i * 0.5 for i in train_ids if i % 4]
    assert filled.fill[1] == pytest.approx(np.mean(present))  # the training rows that have a value, only
    for part in parts(filled):
        ids, a = part.X[:, 0], part.X[:, 1]
        np.testing.assert_allclose(a[ids % 4 == 0], filled.fill[1])
        np.testing.assert_allclose(a[ids % 4 != 0], ids[ids % 4 != 0] * 0.5)
    text = write_csv(tmp_path, "a,label\n1,x\noops,y\n,x\n4,y\n", "text.csv")
    with pytest.raises(ValueError, match=r"feature column 'a' has the value 'oops' at data row 1; accepted: numeric"):
        CsvDataset(text, "label", missing="mean").load(rng())  # text is not a missing value
    categories = write_csv(tmp_path, "a,city,label\n1,x,x\n2,,y\n3,y,x\n4,x,y\n", "categories.csv")
    with pytest.raises(ValueError, match=r"categorical column 'city' has a missing value at data row 1"):
        CsvDataset(categories, "label", categorical=["city"], missing="mean").load(rng())
    assert CsvDataset(categories, "label", categorical=["city"], missing="drop", val_fraction=0,
                      test_fraction=0).load(rng()).train.m == 3
    numbered = write_csv(tmp_path, "a,size,label\n1,1,x\n,2,y\n3,2,x\n4,1,y\n5,,x\n", "numbered.csv")
    dropped = CsvDataset(numbered, "label", categorical=["size"], missing="drop", val_fraction=0, test_fraction=0)
    dropped.load(rng())  # the empty cell makes pandas read size as floats: 1.0, 2.0
    assert dropped.categories == {"size": ["1", "2"]}
    assert list(one_hot(pd.DataFrame({"a": [1], "size": [2]}), dropped.categories).iloc[0]) == [1, 0, 1]
    one_class_left = write_csv(tmp_path, "a,label\n1,x\n,y\n3,x\n", "one_class.csv")
    with pytest.raises(ValueError, match=r"missing='drop' is invalid; accepted: a file whose rows with every feature "
                                         r"hold at least 2 classes"):
        CsvDataset(one_class_left, "label", missing="drop").load(rng())


BAD_ARGUMENTS = [
    (lambda: Iris(val_fraction=1.5), "val_fraction", "1.5"),
    (lambda: Iris(val_fraction=-0.1), "val_fraction", "-0.1"),
    (lambda: Iris(test_fraction=1.0), "test_fraction", "1.0"),
    (lambda: Iris(val_fraction=0.5, test_fraction=0.5), "test_fraction", "0.5"),
    (lambda: Iris(val_fraction="0.2"), "val_fraction", "'0.2'"),
    (lambda: Iris(test_fraction=True), "test_fraction", "True"),
    (lambda: Iris(test_fraction=None), "test_fraction", "None"),
    (lambda: Digits(scale="zscore"), "scale", "zscore"),
    (lambda: Digits(train_size=1), "train_size", "1"),
    (lambda: Digits(train_size=100.5), "train_size", "100.5"),
    (lambda: Digits(train_size="100"), "train_size", "'100'"),
    (lambda: Iris(train_size=True), "train_size", "True"),
    (lambda: Wine(scale=None), "scale", "None"),
    (lambda: Moons(n_samples=0), "n_samples", "0"),
    (lambda: Xor(n_samples=10.5), "n_samples", "10.5"),
    (lambda: Spirals(n_samples="100"), "n_samples", "'100'"),
    (lambda: Moons(noise=-0.1), "noise", "-0.1"),
    (lambda: Xor(noise="high"), "noise", "high"),
    (lambda: Spirals(turns=0), "turns", "0"),
    (lambda: CsvDataset(path="no/such/file.csv", target="y"), "path", "no/such/file.csv"),
    (lambda: CsvDataset(path=3, target="y"), "path", "3"),
    (lambda: CsvDataset(path=__file__, target="y", features="a"), "features", "'a'"),
    (lambda: CsvDataset(path=__file__, target="y", missing="zero"), "missing", "zero"),
    (lambda: CsvDataset(path=__file__, target="y", features=[]), "features", "[]"),
    (lambda: CsvDataset(path=__file__, target="y", features=["a", "a"]), "features", "['a', 'a']"),
    (lambda: CsvDataset(path=__file__, target="y", features=["a", "y"]), "features", "'y'"),
]


@pytest.mark.parametrize("make, argument, value", BAD_ARGUMENTS)
def test_bad_arguments_raise_a_one_line_value_error_naming_them(make, argument, value):
    with pytest.raises(ValueError) as error:
        make()
    message = str(error.value)
    assert argument in message and value in message and "accepted" in message and "\n" not in message


BAD_CSV = [  # file text, target, words the message must hold
    ("", "label", ["path", "empty"]),
    ("a,label\n", "label", ["path", "empty"]),
    ("a,b,label\n1,2,x\n3,4,y\n", "kind", ["target", "kind", "a, b, label"]),
    ("a,b,label\n1,2,x\n3,oops,y\n5,6,x\n", "label", ["path", "'b'", "oops", "row 1"]),
    ("a,b,label\n1,2,x\n3,4,y\n,6,x\n", "label", ["path", "'a'", "missing", "row 2"]),
    ("a,label\n1,x\n2,x\n3,x\n", "label", ["target", "label", "2 classes", "'x'"]),
    # every row one value more than the header: pandas made column a the index and named the others wrongly
    ("a,b,label\n1,2,0,9\n3,4,1,9\n5,6,0,9\n7,8,1,9\n", "label",
     ["path", "its header names 3 columns and its rows have more fields", "as many fields as its header"]),
    ("a,label\n1,1\n2,1\n3,1\n", "label", ["(it holds only 1)"]),  # the number, not np.int64(1)
    ("a,label\n1,x\n2,\n3,y\n", "label", ["path", "'label'", "missing", "row 1"]),
    ("label\nx\ny\n", "label", ["path", "feature columns"]),
    ("a;b;label\n1;2;x\n3;4;y\n", "a;b;label", ["path", "comma-separated", "';'"]),
    ("a\tlabel\n1\tx\n3\ty\n", "label", ["path", "comma-separated", "'\\t'"]),
    ("a,label\n1,0\n2,1\n3,0.5\n4,1\n", "label", ["path", "'label'", "the value 0.5 at", "row 2", "whole numbers"]),
    ("a,label\n" + "".join(f"{i},id{i}\n" for i in range(12)), "label",
     ["target", "12 distinct values in 12 rows"]),
]


@pytest.mark.parametrize("text, target, words", BAD_CSV)
def test_bad_csv_content_raises_on_load_naming_the_problem(tmp_path, text, target, words):
    path = write_csv(tmp_path, text)
    dataset = CsvDataset(path=path, target=target)  # the file exists; its content is checked on load
    with pytest.raises(ValueError) as error:
        dataset.load(rng())
    message = str(error.value)
    assert all(word in message for word in words), message
    assert "\n" not in message


def test_train_size_trains_on_the_first_rows_of_the_training_part_and_keeps_val_and_test():
    full = Digits(scale="none").load(rng())
    fewer = Digits(scale="none", train_size=100).load(rng())
    np.testing.assert_array_equal(fewer.train.X, full.train.X[:100])
    np.testing.assert_array_equal(fewer.train.y, full.train.y[:100])
    for part in ("val", "test"):
        np.testing.assert_array_equal(getattr(fewer, part).X, getattr(full, part).X)
    counts = np.bincount(fewer.train.y, minlength=10)
    assert counts.min() >= 9 and counts.max() <= 11  # a stratified order: every class, in proportion


def test_train_size_of_the_whole_training_part_changes_nothing_and_scaling_fits_the_rows_used():
    full = Digits().load(rng())
    same = Digits(train_size=full.train.m).load(rng())
    for a, b in zip(parts(full), parts(same)):
        np.testing.assert_array_equal(a.X, b.X)
    fewer = Digits(train_size=50).load(rng())
    np.testing.assert_allclose(fewer.train.X.mean(axis=0), 0, atol=1e-12)
    assert not np.allclose(fewer.test.X, full.test.X)


def test_a_train_size_beyond_the_training_part_or_of_one_class_raises_naming_what_fits():
    with pytest.raises(ValueError, match=r"train_size=5000 is more than the 1079 training samples; "
                                         r"accepted: an integer from 2 to 1079"):
        Digits(train_size=5000).load(rng())
    with pytest.raises(ValueError, match="train_size=2 gives a training part of one class"):
        first_rows(np.arange(4), np.array([0, 0, 1, 1]), 2)


def test_a_split_too_small_to_hold_a_sample_raises():
    with pytest.raises(ValueError, match="val_fraction=0.001"):
        Iris(val_fraction=0.001).load(rng())


def test_a_training_part_with_one_class_raises():
    with pytest.raises(ValueError, match="fewer than 2 classes"):
        Moons(n_samples=3, val_fraction=0.3, test_fraction=0.3).load(rng())


@settings(max_examples=150, deadline=None)
@given(class_sizes=st.lists(st.integers(1, 30), min_size=2, max_size=5),
       val_fraction=st.floats(0, 0.99), test_fraction=st.floats(0, 0.99), seed=st.integers(0, 2**32 - 1))
def test_valid_fractions_partition_the_rows(class_sizes, val_fraction, test_fraction, seed):
    """For valid fractions either a clear ValueError, or train/val/test partition 0..m-1 in the stated sizes."""
    assume(val_fraction + test_fraction < 1)
    y = np.repeat(np.arange(len(class_sizes)), class_sizes)
    m = len(y)
    try:
        train, val, test = split_rows(y, val_fraction, test_fraction, rng(seed))
    except ValueError as error:
        assert "fraction" in str(error)
        return
    chosen = [rows for rows in (train, val, test) if rows is not None]
    np.testing.assert_array_equal(np.sort(np.concatenate(chosen)), np.arange(m))
    for rows, fraction in ((val, val_fraction), (test, test_fraction)):
        assert (rows is None) == (fraction == 0)
        assert rows is None or abs(len(rows) - fraction * m) <= 0.5
    assert len(np.unique(y[train])) >= 2


@settings(max_examples=100, deadline=None)
@given(labels=st.lists(st.text(max_size=3) | st.sampled_from(["a", "b"]), min_size=1, max_size=30))
def test_encoded_labels_decode_to_the_originals(labels):
    y, classes = encode_labels(np.array(labels, dtype=object))
    assert classes == sorted(set(labels))
    assert [classes[i] for i in y] == labels


@pytest.mark.parametrize("scale", ["standard", "minmax"])
def test_scaling_fits_features_near_1e200_without_overflow(scale):
    """(x - mean)^2 of 1e200 overflows to inf, and std = inf scaled the feature to 0 everywhere."""
    X = np.random.default_rng(0).normal(size=(50, 2)) * np.array([1e200, 1.0])
    with np.errstate(all="raise"):  # no overflow, no warning
        shift, factor = fit_scaling(X, scale)
    scaled = apply_scaling(X, shift, factor)
    reference = apply_scaling(X / 1e200, *fit_scaling(X / 1e200, scale))  # the same feature at a sane size
    np.testing.assert_allclose(scaled[:, 0], reference[:, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(fit_scaling(X[:, 1:], scale)[1], factor[1:])  # other columns as before, bitwise


def test_csv_infinite_feature_values_are_refused_naming_their_row(tmp_path):
    path = write_csv(tmp_path, "a,b,label\n1,2,x\n3,1e400,y\n5,6,x\n7,8,y\n")
    with pytest.raises(ValueError, match=r"feature column 'b' has the value inf at data row 1; accepted: finite "):
        CsvDataset(path, "label").load(rng())


def test_csv_header_spaces_other_encodings_ragged_rows_and_an_empty_column_are_named(tmp_path):
    spaced = write_csv(tmp_path, "a, b, label\n1, 2, x\n3, 4, y\n5, 6, x\n7, 8, y\n", "spaced.csv")
    splits = CsvDataset(spaced, "label", val_fraction=0, test_fraction=0, scale="none").load(rng())
    assert splits.classes == ["x", "y"] and splits.train.X.shape == (4, 2)  # ' x' read as 'x', ' 2' as 2
    latin = tmp_path / "latin.csv"
    latin.write_bytes("a,label\n1,caf\u00e9\n2,th\u00e9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"path='.*latin.csv' is invalid \(it holds the byte 0xe9, which is not "
                                         r"UTF-8\); accepted: a CSV file in UTF-8"):
        CsvDataset(str(latin), "label").load(rng())
    ragged = write_csv(tmp_path, "a,b,label\n1,2,x\n3,4,y,9,9\n", "ragged.csv")
    with pytest.raises(ValueError, match=r"ragged.csv' is invalid \(Error tokenizing data.*\); accepted: a CSV file "
                                         r"whose every row has as many fields as its header"):
        CsvDataset(ragged, "label").load(rng())
    empty = write_csv(tmp_path, "a,c,label\n" + "".join(f"{i},,{'xy'[i % 2]}\n" for i in range(12)), "empty.csv")
    with pytest.raises(ValueError, match=r"feature column 'c' has no value in the \d+ training rows"):
        CsvDataset(empty, "label", missing="mean").load(rng())


def test_csv_only_an_empty_cell_is_a_missing_value(tmp_path):
    """pandas would read NA, N/A, null, None and nan as missing; here they are text like any other."""
    words = ["NA", "N/A", "null", "None", "nan"]
    rows = [f"{i},{words[i % 5]},{'EU' if i % 3 else 'NA'},{'' if i == 7 else i}" for i in range(30)]
    path = write_csv(tmp_path, "a,region,kind,b\n" + "\n".join(rows) + "\n")
    dataset = CsvDataset(path, "kind", categorical=["region"], missing="drop", val_fraction=0, test_fraction=0)
    splits = dataset.load(rng())
    assert splits.classes == ["EU", "NA"] and splits.train.m == 29  # only row 7, whose b is empty, is dropped
    assert dataset.categories == {"region": sorted(words)}
    assert CsvDataset(path, "region", features=["a"], val_fraction=0, test_fraction=0).load(rng()).classes == \
        sorted(words)
    filled = CsvDataset(path, "kind", categorical=["region"], missing="mean", val_fraction=0, test_fraction=0)
    assert filled.load(rng()).train.m == 30  # the empty cell is still filled
    text = write_csv(tmp_path, "a,b,label\n1,2,x\n3,NA,y\n5,,x\n7,8,y\n", "text.csv")
    for missing in ("error", "drop", "mean"):
        with pytest.raises(ValueError, match=r"^path='.*text.csv': feature column 'b' has the value 'NA' at data "
                                             r"row 1; accepted: numeric feature columns, where a missing value is "
                                             r"an empty cell, not 'NA' \(dataset.categorical=\[b\]"):
            CsvDataset(text, "label", missing=missing).load(rng())


def test_csv_column_names_given_as_numbers_match_the_header(tmp_path):
    """The command line reads dataset.target=3 as the number 3; the header's 3 is the text '3'."""
    rows = [f"{i},{i % 3},{i * 0.5},{i % 2}" for i in range(20)]
    path = write_csv(tmp_path, "x,2,2.5,3\n" + "\n".join(rows) + "\n")
    dataset = CsvDataset(path, 3, features=[2.5, 2, "x"], categorical=[2], val_fraction=0, test_fraction=0,
                         scale="none")
    splits = dataset.load(rng())
    assert dataset.target == "3" and splits.classes == [0, 1] and dataset.categories == {"2": ["0", "1", "2"]}
    assert dataset.column_names == ["2.5", "2=0", "2=1", "2=2", "x"]
    with pytest.raises(ValueError, match=r"^target='1000.0' is invalid; accepted: a column of .*: x, 2, 2.5, 3 \(a "
                                         r"name that looks like a number is read as one, 1e3 as 1000.0: quote it"):
        CsvDataset(path, 1e3).load(rng())
    with pytest.raises(ValueError, match=r"^features=\['4'\] is invalid; accepted: .*\(it has no '4'\).* quote it"):
        CsvDataset(path, 3, features=[4]).load(rng())
    with pytest.raises(ValueError, match=r"^target=None is invalid; accepted: the name of a column of the CSV file "
                                         r"\(quote a name the command line reads as null, true or false"):
        CsvDataset(path, None)


def test_csv_an_unnamed_empty_column_of_trailing_commas_is_left_out(tmp_path):
    """An Excel export ends every line with a comma: pandas reads a last column 'Unnamed: 3' with no value."""
    rows = [f"{i},{i % 3},{i % 2}," for i in range(20)]
    path = write_csv(tmp_path, "a,b,label,\r\n" + "\r\n".join(rows) + "\r\n")
    dataset = CsvDataset(path, "label", val_fraction=0, test_fraction=0, scale="none")
    assert dataset.load(rng()).n_features == 2 and dataset.column_names == ["a", "b"]
    # Only the data rows end with a comma: pandas made column a the index and shifted b and label under a and b.
    rows_only = write_csv(tmp_path, "a,b,label\n" + "".join(f"{i},{i % 3},{i % 2},\n" for i in range(20)), "rows.csv")
    splits = CsvDataset(rows_only, "label", val_fraction=0, test_fraction=0, scale="none").load(rng())
    assert sorted(splits.train.X[:, 0]) == list(range(20)) and sorted(set(splits.train.X[:, 1])) == [0, 1, 2]
    valued = write_csv(tmp_path, "a,,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)), "valued.csv")
    dataset = CsvDataset(valued, "label", val_fraction=0, test_fraction=0)
    assert dataset.load(rng()).n_features == 2 and dataset.column_names == ["a", "Unnamed: 1"]  # a value: kept


@pytest.mark.parametrize("m", [2, 3, 7, 100, 150, 1797, 20000])
def test_the_fraction_an_empty_split_error_advises_gives_a_sample(m):
    """The advice was 0.5 / m to 3 digits, rounded to nearest: for m=150, 0.00333, which gives no sample either."""
    with pytest.raises(ValueError, match=rf"gives an empty split of m={m} samples; accepted: val_fraction=0 or "
                                         r"val_fraction >= ") as error:
        split_size(0.1 / m, m, "val_fraction")
    assert split_size(float(str(error.value).rsplit(">= ", 1)[1]), m, "val_fraction") == 1
