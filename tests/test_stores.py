"""Tracking stores that cannot be used or would lose the runs: one line naming the store, nothing written where it
should not be (runner/store.py, Tracker.start)."""
from __future__ import annotations

import sqlite3

import pytest

from runner.errors import UserError
from runner.store import open_client, resolve_tracking_uri
from runner.tracking import Tracker


def sqlite_file(path, *statements):
    """A SQLite database file at `path` made by another program (a table of its own, no MLflow tables)."""
    connection = sqlite3.connect(path)
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()
    return path


def test_a_store_that_reads_but_cannot_be_written_is_one_line_when_the_run_is_made(tmp_path, capfd, monkeypatch):
    """Before, a read-only SQLite file (chattr +i, or its folder read-only) gave 244 lines of SQLAlchemy's traceback
    from create_run and exit 1; the sweep's callback met the same exception."""
    monkeypatch.setenv("BACKPROP_LAB_OUTPUTS", str(tmp_path / "outputs"))
    (tmp_path / "db").mkdir()
    tracker = Tracker(f"sqlite:///{tmp_path}/db/mlflow.db", "backprop-lab", tmp_path)
    (tmp_path / "db").rename(tmp_path / "gone")  # SQLite still reads its open file, but can no longer write
    capfd.readouterr()
    with pytest.raises(UserError, match=r"^tracking URI 'sqlite:///.*/db/mlflow.db' cannot be used \(sqlite3\."
                                        r"OperationalError: attempt to write a readonly database\); accepted: "):
        tracker.start("kept", {}, {"seed": "0"})
    assert capfd.readouterr().err == ""  # MLflow's own log of the failed call left out


def test_a_store_whose_folder_cannot_be_made_names_the_store(tmp_path):
    """Before, a plain OSError that the runner reported as a bad hydra.run.dir or BACKPROP_LAB_OUTPUTS."""
    (tmp_path / "afile").touch()
    uri = f"sqlite:///{tmp_path}/afile/x.db"
    with pytest.raises(UserError, match=rf"^tracking URI '{uri}' cannot be used \({tmp_path}/afile: File exists\); "
                                        "accepted: a SQLite file in a folder this user can make and write"):
        Tracker(uri, "backprop-lab", tmp_path)


@pytest.mark.parametrize("uri", ["sqlite:///", "sqlite:///:memory:", "sqlite://", "sqlite:///x.db?mode=memory"])
def test_an_in_memory_store_is_refused_before_any_run(uri, tmp_path, monkeypatch):
    """Before, the run printed FINISHED and a dashboard command of a store gone with the process, and left a
    `..lock` file in the working folder."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=r"cannot be used \(an in-memory SQLite store, lost when the process ends\)"):
        resolve_tracking_uri(uri)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with pytest.raises(UserError, match="in-memory"):
        resolve_tracking_uri(None)
    assert list(tmp_path.iterdir()) == []


def test_a_relative_sqlite_uri_is_made_absolute_from_the_working_folder(tmp_path, monkeypatch):
    """Before, sqlite:///rel.db was recorded and printed as is: the dashboard and report commands then named another
    file from any other folder."""
    monkeypatch.chdir(tmp_path)
    assert resolve_tracking_uri("sqlite:///rel.db") == f"sqlite:///{tmp_path}/rel.db"
    assert resolve_tracking_uri("sqlite:///sub/../rel.db?timeout=5") == f"sqlite:///{tmp_path}/rel.db?timeout=5"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///env.db")
    assert resolve_tracking_uri(None) == f"sqlite:///{tmp_path}/env.db"
    assert resolve_tracking_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


def test_same_store_compares_sqlite_files_by_their_resolved_paths(tmp_path, monkeypatch):
    from runner.store import same_store

    monkeypatch.chdir(tmp_path)
    (tmp_path / "link").symlink_to(tmp_path)
    assert same_store("sqlite:///mlflow.db", f"sqlite:///{tmp_path}/mlflow.db")
    assert same_store(f"sqlite:///{tmp_path}/link/mlflow.db", f"sqlite:///{tmp_path}/./mlflow.db")
    assert not same_store("sqlite:///mlflow.db", "sqlite:///other.db")
    assert same_store("http://host:5000/", "http://host:5000")
    assert not same_store("http://host:5000", "http://host:5001")


@pytest.mark.parametrize("content, why", [
    (None, "is empty"),
    ("another program's", "has no MLflow tables: no alembic_version, runs"),
    ("text", "cannot be read as SQLite: file is not a database"),
])
def test_a_reading_command_refuses_a_file_that_is_no_mlflow_store_and_writes_nothing_into_it(tmp_path, content, why):
    """Before, runner.report --tracking-uri on an empty file or another program's SQLite database wrote MLflow's
    tables into it."""
    path = tmp_path / "afile"
    if content is None:
        path.touch()
    elif content == "text":
        path.write_text("hello\n")
    else:
        sqlite_file(path, "create table notes (body text)")
    before = path.read_bytes()
    with pytest.raises(UserError, match=rf"^tracking URI 'sqlite:///{path}' names no MLflow store \({path} {why}\); "
                                        "accepted: the store the runs were recorded in"):
        open_client(f"sqlite:///{path}")
    assert path.read_bytes() == before


def test_a_sqlite_file_given_as_a_path_is_answered_with_its_uri(tmp_path):
    """Before, MLflow's text on its filesystem backend in maintenance mode, which does not say what to type."""
    path = sqlite_file(tmp_path / "r.db", "create table notes (body text)")
    with pytest.raises(UserError, match=rf"^tracking URI '{path}' cannot be used \(a SQLite file given as a path, "
                                        rf"which MLflow reads as a folder of runs\); accepted: its SQLite URI "
                                        rf"sqlite:///{path}$"):
        open_client(str(path))
    with pytest.raises(UserError, match="accepted: its SQLite URI"):
        resolve_tracking_uri(str(path))
