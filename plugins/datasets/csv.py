"""A dataset read from a CSV file with a header row: one target column, numeric feature columns (every other
column, or those named in `features`), and categorical ones one-hot encoded (`categorical`); rows with missing
values refused, dropped, or filled with the training means (`missing`)."""
from __future__ import annotations

import numbers
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from plugins._checks import one_of, require
from plugins.datasets._base import SplitScaleDataset


MANY_CLASSES = 10  # more distinct labels than this and than half the rows: not classes
MISSING = ("error", "drop", "mean")  # what a missing feature value does: refused, its row dropped, filled
MISSING_WORDS = ("na", "n/a", "nan", "null", "none")  # other programs' words for a missing value; here, text


@dataclass
class CsvDataset(SplitScaleDataset):
    """Every column but target is a feature, or those in `features`; target's values (text or numbers) are
    the labels."""

    path: str
    target: str
    features: list[str] | None = None  # the feature columns, in this order; None: every column but target
    categorical: list[str] = field(default_factory=list)  # feature columns to one-hot encode
    missing: str = "error"  # a missing feature value: error, drop (its row), mean (the training rows' mean)
    name: str = field(default="csv", init=False)
    categories: dict[str, list[str]] = field(default_factory=dict, init=False)  # each categorical column's values
    column_names: list[str] = field(default_factory=list, init=False)  # X's columns, categories one-hot encoded

    def __post_init__(self):
        super().__post_init__()
        require(isinstance(self.path, (str, os.PathLike)) and Path(self.path).is_file(),
                "path", self.path, f"the path of an existing CSV file (relative ones start at {os.getcwd()})")
        self.target = column_name(self.target)
        require(isinstance(self.target, str) and self.target != "", "target", self.target,
                "the name of a column of the CSV file (quote a name the command line reads as null, true or "
                "false: dataset.target=\"'null'\")")
        if self.features is not None:
            self.features = self._columns("features", self.features, "such as [age,height], or null for every "
                                                                     "column but target")
            require(len(self.features) > 0, "features", self.features, "at least one column, or null for all")
        self.categorical = self._columns("categorical", self.categorical, "such as [color,city], or [] for none")
        outside = [c for c in self.categorical if self.features is not None and c not in self.features]
        require(not outside, "categorical", self.categorical, f"columns among features={self.features}")
        one_of("missing", self.missing, MISSING)

    def _columns(self, name: str, value, example: str) -> list[str]:
        """`value` as a list of distinct column names other than the target; a one-line ValueError otherwise."""
        require(isinstance(value, Sequence) and not isinstance(value, str), name, value,
                f"a list of column names {example}")
        value = [column_name(c) for c in value]
        require(all(isinstance(c, str) and c for c in value) and len(set(value)) == len(value), name, value,
                "a list of distinct column names")
        require(self.target not in value, name, value,
                f"feature columns, not the target {self.target!r} (always the class label)")
        return list(value)

    def read(self) -> pd.DataFrame:
        """The file's rows; a ValueError if it has no header or no data rows."""
        try:
            frame = read_table(self.path)
        except pd.errors.EmptyDataError:
            frame = pd.DataFrame()
        except CsvFileError as error:
            raise ValueError(error.said_of(f"path={str(self.path)!r}")) from None
        except UnicodeDecodeError as error:
            raise ValueError(f"path={str(self.path)!r} is invalid (it holds the byte {error.object[error.start]:#04x}, "
                             "which is not UTF-8); accepted: a CSV file in UTF-8 (save it as UTF-8)") from None
        except pd.errors.ParserError as error:
            raise ValueError(f"path={str(self.path)!r} is invalid ({' '.join(str(error).split())}); accepted: a CSV "
                             "file whose every row has as many fields as its header") from None
        require(len(frame) > 0, "path", str(self.path),
                "a CSV file with a header row and at least one data row (this one is empty)")
        return frame

    def features_and_labels(self, rng):
        """X from every column but target, the labels from target; the file's content is checked here."""
        frame = self.read()
        where = f"path={str(self.path)!r}"
        require(self.target in frame.columns, "target", self.target,
                f"a column of {self.path}: " + shown_names(frame.columns) + quoting([self.target]))
        labels = frame[self.target]
        reject_first(labels, labels.isna(), f"{where}: target column {self.target!r}", "a label in every row")
        require(labels.nunique() >= 2, "target", self.target,
                f"a column with at least 2 classes (it holds only {plain(labels.iloc[0])!r})")
        numbers = pd.to_numeric(labels, errors="coerce")
        if numbers.notna().all():  # numeric labels must be whole numbers: a measurement is not a class
            reject_first(labels, numbers != np.round(numbers), f"{where}: target column {self.target!r}",
                         "class labels, text or whole numbers (a continuous target is a regression task)")
        require(labels.nunique() <= max(MANY_CLASSES, len(labels) / 2), "target", self.target,
                f"a column of class labels that rows share (it holds {labels.nunique()} distinct values in "
                f"{len(labels)} rows: an id or a measurement?)")
        features = frame.drop(columns=[self.target])
        if self.features is not None:
            unknown = [c for c in self.features if c not in features.columns]
            require(not unknown, "features", self.features,
                    f"columns of {self.path} (it has no {', '.join(map(repr, unknown))}): "
                    + shown_names(features.columns) + quoting(unknown))
            features = features[self.features]
        require(features.shape[1] > 0, "path", str(self.path), "a CSV file with feature columns besides target")
        unknown = [c for c in self.categorical if c not in features.columns]
        require(not unknown, "categorical", self.categorical,
                "feature columns of " + str(self.path) + ": " + shown_names(features.columns)
                + quoting(unknown))
        if self.missing == "drop":
            kept = features.notna().all(axis=1).to_numpy()
            require(kept.any(), "missing", self.missing, f"a file with some row that has every feature ({self.path} "
                                                         "has none): dataset.missing=mean fills the gaps")
            features, labels = features[kept], labels[kept]  # their index stays the row in the file
            require(labels.nunique() >= 2, "missing", self.missing, "a file whose rows with every feature hold at "
                                                                   "least 2 classes (dataset.missing=mean fills gaps)")
        for column in features.columns:
            if column in self.categorical:
                reject_first(features[column], features[column].isna(), f"{where}: categorical column {column!r}",
                             "a value in every row (or dataset.missing=drop)")
                continue
            numeric = pd.to_numeric(features[column], errors="coerce")
            hint = "" if self.features else "; dataset.features=[...] names the columns to use"
            text = numeric.isna() & features[column].notna()
            word = next((v for v in features[column][text] if str(v).lower() in MISSING_WORDS), None)
            empty = "" if word is None else f", where a missing value is an empty cell, not {word!r}"
            reject_first(features[column], text, f"{where}: feature column {column!r}",
                         f"numeric feature columns{empty} (dataset.categorical=[{column}] one-hot encodes a "
                         f"column of categories{hint})")
            reject_first(features[column], np.isinf(numeric), f"{where}: feature column {column!r}",
                         "finite numbers (1e400 reads as infinite)")
            if self.missing == "error":
                reject_first(features[column], numeric.isna(), f"{where}: feature column {column!r}",
                             "a value in every row (dataset.missing=drop drops such rows, dataset.missing=mean fills "
                             "them with the training rows' mean)")
            features[column] = numeric
        self.categories = {c: sorted(category_text(features[c]).unique(), key=category_order) for c in self.categorical}
        encoded = one_hot(features, self.categories)
        self.column_names = [str(c) for c in encoded.columns]
        return encoded.to_numpy(dtype=np.float64), labels.to_numpy()


class CsvFileError(ValueError):
    """A file read_table refuses: `reason` says what is wrong with it (may be empty), `accepted` what it takes."""

    def __init__(self, reason: str, accepted: str):
        super().__init__(f"{reason}; accepted: {accepted}")
        self.reason, self.accepted = reason, accepted

    def said_of(self, what: str) -> str:
        """The one-line refusal of the file named by `what` ("path='x.csv'", "--csv x.csv")."""
        return f"{what} is invalid{f' ({self.reason})' if self.reason else ''}; accepted: {self.accepted}"


COMPRESSED = "a CSV file, compressed as its name's ending says (.gz, .bz2, .xz, .zst, or .zip holding one file)"


def read_table(path, text_columns: Sequence[str] = ()) -> pd.DataFrame:
    """A CSV file's rows as pandas reads them, except that only an empty cell is a missing value (pandas' default
    also takes NA, N/A, null, None, nan: a region 'NA' or a label 'None' would be lost), a column with neither a
    header name nor a value is left out (the trailing comma of every line of an Excel export, also when only the
    data rows end with one), header names lose their spaces ('a, b, label ' names a, b and label) and the columns
    of text_columns are read as written. A ParserError when every row has more fields than the header (pandas' own
    reading makes the first column the index and names the others wrongly); a CsvFileError for a file that is not
    the compressed file its name says, a header that names a column twice (pandas would rename the second 'label'
    'label.1', a feature) or holds numbers only (the first row of a file with no header), or a file of one column
    that seems to separate with ';', a tab or '|'."""
    read = dict(skipinitialspace=True, keep_default_na=False, na_values=[""], low_memory=False)
    header = decompressed(lambda: pd.read_csv(path, header=None, nrows=1, dtype=str, **read)).iloc[0]
    written = [name if isinstance(name, str) else "" for name in header]  # an empty name reads as NaN
    names = [name.strip() for name in written]
    check_header(names)
    dtype = {raw: str for raw, name in zip(written, names) if name in text_columns} or None
    with warnings.catch_warnings(record=True) as caught:  # index_col=False: no column becomes the index, and
        warnings.simplefilter("always", pd.errors.ParserWarning)  # fields past the header's are cut, with a warning
        frame = decompressed(lambda: pd.read_csv(path, index_col=False, dtype=dtype, **read))
    if any("does not match length of data" in str(warning.message) for warning in caught):
        shifted = pd.read_csv(path, **read)  # pandas' own reading: the rows' last fields in the last column
        if not shifted.iloc[:, -1].isna().all():  # values, not the empty field a trailing comma makes
            raise pd.errors.ParserError(f"its header names {len(frame.columns)} columns and its rows have more fields")
    frame.columns = [name or column for name, column in zip(names, frame.columns)]
    unnamed = [c for i, c in enumerate(frame.columns) if c == f"Unnamed: {i}" and frame[c].isna().all()]
    return frame.drop(columns=unnamed)


def decompressed(read):
    """read(), its failure to decompress the file as its name's ending says a CsvFileError."""
    import zipfile

    try:
        return read()
    except (zipfile.BadZipFile, EOFError) as error:
        raise CsvFileError(f"it cannot be decompressed as its name says: {error}", COMPRESSED) from None
    except OSError as error:
        if error.errno is not None:  # the file system's (not found, a folder, no permission): the caller's to say
            raise
        raise CsvFileError(f"it cannot be decompressed as its name says: {error}", COMPRESSED) from None
    except ValueError as error:
        if "ZIP file" not in str(error):
            raise
        raise CsvFileError(" ".join(str(error).split()), COMPRESSED) from None


def check_header(names: list[str]) -> None:
    """A CsvFileError for a header that names a column twice, holds numbers only (but the column numbers 0 .. n-1
    pandas writes for unnamed columns) or names one column with another separator in its name."""
    twice = sorted({name for name in names if name and names.count(name) > 1})
    if twice:
        raise CsvFileError(f"its header names {', '.join(map(repr, twice))} more than once",
                           "a header row that names each column once")
    numbers = pd.to_numeric(pd.Series(names, dtype=object), errors="coerce")
    if numbers.notna().all() and names != [str(i) for i in range(len(names))]:
        shown = ",".join(names[:5]) + (",..." if len(names) > 5 else "")
        raise CsvFileError(f"its first row, {shown}, holds numbers only: it seems to have no header row",
                           "a CSV file with a header row naming its columns")
    named = [name for name in names if name]
    other = next((sep for sep in (";", "\t", "|") if len(named) == 1 and sep in named[0]), None)
    if other is not None:  # a ';' file of several columns, or of decimal commas ('1,5;2'), read as one column
        raise CsvFileError("", f"a comma-separated file (this one has one column and seems to separate with "
                               f"{other!r})")


def column_name(value):
    """A column name as the header writes it: the command line reads dataset.target=3 as the number 3."""
    return str(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else value


def shown_names(names) -> str:
    """Column names for a message: 'a, b, label', or quoted, 'a', 'b', ' label', when a name written plainly would
    hide where it starts or ends (spaces around it, a comma in it, no name)."""
    names = [str(name) for name in names]
    plain_enough = all(name and name == name.strip() and "," not in name for name in names)
    return ", ".join(names if plain_enough else map(repr, names))


def quoting(names: list[str]) -> str:
    """A hint when a name that is not in the file looks like a number: the command line read it as one, and
    its text (1000.0 for 1e3) may not be the header's."""
    if not any(pd.notna(pd.to_numeric(name, errors="coerce")) for name in names):
        return ""
    return " (a name that looks like a number is read as one, 1e3 as 1000.0: quote it as the header writes it, " \
           "e.g. dataset.target=\"'1e3'\")"


def plain(value):
    """A numpy scalar as the Python value it holds, so a message shows 1, not np.int64(1)."""
    return value.item() if isinstance(value, np.generic) else value


def category_text(values: pd.Series) -> pd.Series:
    """Each value as the text it is compared by: a whole number read as a float (pandas reads a column of
    numbers with an empty cell as floats) as the integer, so 1.0 and 1 are one category."""
    return values.map(lambda value: str(int(value)) if isinstance(value, float) and value.is_integer()
                      else str(value))


def category_order(value: str) -> tuple:
    """Numbers in numeric order, then text: '2' before '10', both before 'red'."""
    number = pd.to_numeric(value, errors="coerce")
    return (0, float(number), "") if pd.notna(number) else (1, 0.0, value)


def one_hot(frame: pd.DataFrame, categories: dict[str, list[str]]) -> pd.DataFrame:
    """Each column named in `categories` replaced where it stands by one 0/1 column per category, named
    'column=category' (values compared as `category_text`); the other columns as they are. A value outside its column's
    categories is a ValueError naming it and its row."""
    parts = []
    for column in frame.columns:
        if column not in categories:
            parts.append(frame[[column]])
            continue
        values = category_text(frame[column])
        known = categories[column]
        reject_first(frame[column], ~values.isin(known), f"categorical column {column!r}",
                     "one of the values the run trained on: " + ", ".join(known))
        parts.append(pd.DataFrame({f"{column}={c}": (values == c).astype(np.float64) for c in known},
                                  index=frame.index))
    return pd.concat(parts, axis=1)


def reject_first(values: pd.Series, bad: pd.Series, what: str, accepted: str) -> None:
    """A ValueError naming the first bad value, if any, and its data row, the index values has from the file (0-based,
    header excluded; rows dropped before keep their numbers)."""
    rows = np.flatnonzero(bad.to_numpy())
    if len(rows):
        row = int(values.index[rows[0]])
        value = plain(values.iloc[rows[0]])
        shown = "a missing value" if pd.isna(value) else f"the value {value!r}"
        raise ValueError(f"{what} has {shown} at data row {row}; accepted: {accepted}")
