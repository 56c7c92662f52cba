"""CSV files as users have them, read alike by training (CsvDataset) and runner.predict (read_samples): a header
with repeated or spaced names or none at all, other separators, compressed files that are not, values near
float64's limit, empty cells outside the training rows, and rows numbered as the file numbers them."""
from __future__ import annotations

import gzip
import zipfile

import numpy as np
import pytest

from plugins.datasets import CsvDataset
from plugins.datasets._prepare import encode_labels, split_rows
from runner.errors import UserError
from runner.predict import RunInputs, read_samples


def rng(seed=0):
    return np.random.default_rng(seed)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def points(m=40):
    """m rows 'a,b,label' of two classes."""
    return "a,b,label\n" + "".join(f"{i * 0.5},{i % 5},{i % 2}\n" for i in range(m))


def refused_by_both(path, words, target="label"):
    """Training and predict each refuse the file in one line holding `words`; the two messages."""
    with pytest.raises(ValueError) as training:
        CsvDataset(path, target).load(rng())
    with pytest.raises(UserError) as predict:
        read_samples(path, None, RunInputs(2))
    for message in (str(training.value), str(predict.value)):
        assert "\n" not in message and "accepted: " in message and all(word in message for word in words), message
    return str(training.value), str(predict.value)


def test_mean_fills_an_empty_cell_of_a_validation_or_test_row_when_the_training_rows_have_none(tmp_path):
    """Before, the means were kept only when a training row had an empty cell: val_cost was nan, the run FINISHED."""
    text = points(60)
    labels = [line.split(",")[2] for line in text.splitlines()[1:]]
    _, val, test = split_rows(encode_labels(np.array(labels, dtype=object))[0], 0.2, 0.2, rng())
    lines = text.splitlines()
    for row in (val[0], test[0]):
        lines[row + 1] = "," + lines[row + 1].split(",", 1)[1]  # column a empty
    splits = CsvDataset(write(tmp_path, "gaps.csv", "\n".join(lines) + "\n"), "label", missing="mean").load(rng())
    assert splits.fill is not None
    assert all(np.isfinite(part.X).all() for part in (splits.train, splits.val, splits.test))


def test_a_repeated_header_name_is_refused_naming_it_not_renamed_into_a_feature(tmp_path):
    """Before, pandas renamed the second label 'label.1', a feature that leaked the label (accuracy 1.0)."""
    path = write(tmp_path, "twice.csv", "a,label,b,label\n" + "".join(f"0,{i % 2},0,{i % 2}\n" for i in range(20)))
    refused_by_both(path, ["its header names 'label' more than once", "a header row that names each column once"])


def test_header_names_lose_their_spaces_and_messages_show_names_as_written(tmp_path):
    path = write(tmp_path, "spaced.csv", "a, b , label \n" + "".join(f"{i},{i % 5},{i % 2}\n" for i in range(20)))
    dataset = CsvDataset(path, "label", val_fraction=0, test_fraction=0, scale="none")
    assert dataset.load(rng()).train.X.shape == (20, 2) and dataset.column_names == ["a", "b"]
    X, labels = read_samples(path, "label", RunInputs(2, ["b", "a"]))
    assert X[3].tolist() == [3, 3] and labels.tolist()[:2] == [0, 1]
    with pytest.raises(ValueError, match=r"target='label ' is invalid; accepted: a column of .*: a, b, label$"):
        CsvDataset(path, "label ").load(rng())  # before: 'a column of spaced.csv: a, b, label ', the space unseen
    comma = write(tmp_path, "comma.csv", '"x,y",label\n1,0\n2,1\n')
    with pytest.raises(ValueError, match=r"target='kind' is invalid; accepted: a column of .*: 'x,y', 'label'$"):
        CsvDataset(comma, "kind").load(rng())


def test_a_label_column_mixing_numbers_and_text_past_pandas_chunk_is_read_as_text(tmp_path):
    """Before, pandas read the first 262144 rows' labels as numbers and the rest as text: a TypeError traceback."""
    rows = "".join(f"{i % 7},{i % 2}\n" for i in range(262_200)) + "".join(f"{i},{'yes' if i % 2 else 'no'}\n"
                                                                         for i in range(10))
    path = write(tmp_path, "mixed.csv", "a,label\n" + rows)
    classes = CsvDataset(path, "label", val_fraction=0, test_fraction=0).load(rng()).classes
    assert classes == ["0", "1", "no", "yes"]


@pytest.mark.parametrize("name, make, words", [
    ("plain.zip", lambda path: path.write_text(points()), ["File is not a zip file"]),
    ("two.zip", None, ["Multiple files found in ZIP file"]),
    ("plain.csv.gz", lambda path: path.write_text(points()), ["Not a gzipped file"]),
    ("cut.csv.gz", lambda path: path.write_bytes(gzip.compress(points(2000).encode())[:300]), ["ended before"]),
])
def test_a_file_that_is_not_the_compressed_file_its_name_says_is_one_line(tmp_path, name, make, words):
    """Before: BadZipFile and 'Multiple files' tracebacks, 'Not a gzipped file' with no path, '(None)' in predict."""
    path = tmp_path / name
    if make is None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("a.csv", points())
            archive.writestr("b.csv", points())
    else:
        make(path)
    training, predict = refused_by_both(str(path), [*words, "accepted: a CSV file, compressed as its name's ending "
                                                             "says (.gz, .bz2, .xz, .zst, or .zip holding one file)"])
    assert training.startswith(f"path={str(path)!r} is invalid (it") or "Multiple" in training
    assert predict.startswith(f"--csv {path} is invalid (")


def test_a_file_with_no_header_row_is_refused_not_read_without_its_first_sample(tmp_path):
    """Before, np.savetxt's rows lost the first one to the header, silently."""
    path = tmp_path / "rows.csv"
    np.savetxt(path, np.random.default_rng(0).uniform(1, 5, (10, 4)).round(1), delimiter=",", fmt="%g")
    training, predict = refused_by_both(str(path), ["holds numbers only: it seems to have no header row",
                                                    "accepted: a CSV file with a header row naming its columns"])
    numbered = write(tmp_path, "numbered.csv", "0,1\n1.5,2\n2.5,3\n")  # pandas' to_csv of unnamed columns
    assert read_samples(numbered, None, RunInputs(2))[0].shape == (2, 2)


@pytest.mark.parametrize("text", ["a;b;label\n1,5;2;0\n2,5;3;1\n", "a;b;label\n1;2;0\n2;3;1\n"])
def test_a_semicolon_file_with_decimal_commas_says_it_seems_to_separate_with_semicolons(tmp_path, text):
    """Before, decimal commas gave 'its header names 1 columns and its rows have more fields' and no hint."""
    refused_by_both(write(tmp_path, "semi.csv", text), ["accepted: a comma-separated file (this one has one column "
                                                        "and seems to separate with ';')"])


def test_after_dropped_rows_an_error_names_the_row_as_the_file_numbers_it(tmp_path):
    path = write(tmp_path, "gaps.csv", "a,b,label\n1,2,0\n,3,1\n2,x,0\n3,4,1\n4,5,0\n5,6,1\n")
    with pytest.raises(ValueError, match=r"feature column 'b' has the value 'x' at data row 2; accepted"):
        CsvDataset(path, "label", missing="drop").load(rng())


def test_values_near_the_float64_limit_scale_to_finite_features(tmp_path):
    """Before, x - mean overflowed: -inf features, a FINISHED run whose gradient check was nan."""
    values = np.where(np.arange(40) % 4 == 0, -1.7e308, 1.7e308)
    path = write(tmp_path, "huge.csv", "a,b,label\n" + "".join(f"{float(v)!r},{i % 3},{i % 2}\n"
                                                                 for i, v in enumerate(values)))
    splits = CsvDataset(path, "label").load(rng())
    assert all(np.isfinite(part.X).all() for part in (splits.train, splits.val, splits.test))
    np.testing.assert_allclose(splits.train.X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(splits.train.X.std(axis=0), 1, rtol=1e-12)


def test_a_range_beyond_float64_is_refused_by_minmax_in_one_line(tmp_path):
    path = write(tmp_path, "huge.csv", "a,label\n" + "".join(f"{(-1) ** i * 1.7e308!r},{i % 2}\n" for i in range(20)))
    with pytest.raises(ValueError, match=r"^feature column 'a' spans -1.7e\+308 to 1.7e\+308, a range beyond "
                                         r"float64's 1.8e308, which scale=minmax cannot divide by; accepted: "
                                         r"scale=standard"):
        CsvDataset(path, "label", scale="minmax").load(rng())


def test_float32_refuses_features_beyond_its_range_in_one_line(new_store):
    """With dataset.scale=none, values above 3.4e38 became inf under dtype=float32 and the run FINISHED on nonsense
    (gradient check nan); scaled, the same file trains."""
    (new_store.root / "big.csv").write_text("a,b,label\n" + "".join(f"{i * 1e38},{i},{i % 2}\n" for i in range(40)))
    args = ("dataset=csv", "dataset.path=big.csv", "dataset.target=label", "dtype=float32", "optimizer.epochs=2",
            "tracking.progress=off", "tracking.figures=false")
    refused = new_store.cli(*args, "dataset.scale=none")
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert refused.stderr.strip() == ("error: dtype=float32 is invalid for these data: a feature of the train part "
                                      "reaches 3.8e+39 as the network gets it, beyond float32's largest 3.4e+38; "
                                      "accepted: dtype=float64, or dataset.scale=standard or minmax")
    assert new_store.runs() == []
    scaled = new_store.cli(*args)
    assert scaled.returncode == 0, scaled.stderr[-3000:]
