"""Where backprop-lab lives and writes: its checkout (and git commit), its outputs/ folder or BACKPROP_LAB_OUTPUTS."""
from __future__ import annotations

import functools
import getpass
import os
import shlex
import subprocess
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def outputs_dir() -> Path:
    """The absolute outputs folder: $BACKPROP_LAB_OUTPUTS if set, else <project>/outputs."""
    return Path(os.environ.get("BACKPROP_LAB_OUTPUTS") or PROJECT_ROOT / "outputs").resolve()


def default_tracking_uri() -> str:
    """An absolute SQLite URI under outputs/, so it does not depend on the working directory."""
    return f"sqlite:///{outputs_dir() / 'mlflow.db'}"


def default_artifact_root() -> str:
    """Artifacts of a local store live beside it, under outputs/mlartifacts."""
    return (outputs_dir() / "mlartifacts").as_uri()


def _git(*args: str) -> str | None:
    """git's output in the project's checkout, or None (not a checkout, or no git)."""
    try:
        result = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def git_state() -> tuple[str, bool] | None:
    """(the project's git commit, whether tracked files differ from it), once a process: the code a process
    runs is what it imported at its start."""
    commit = _git("rev-parse", "HEAD")
    if not commit:
        return None
    changes = _git("status", "--porcelain", "--untracked-files=no")
    return commit, bool(changes)


SWEEP_SETTINGS = ("hydra.mode", "hydra.sweep.", "hydra.sweeper", "hydra/sweeper", "hydra.launcher", "hydra/launcher",
                  "hydra.run.dir")  # Hydra overrides of how and where a sweep runs: not a job's to repeat


def command_line(entry: str, hydra_overrides, task_overrides, keep_sweep_settings: bool = False) -> str:
    """The shell command that runs it again: `entry`, then Hydra's own overrides (hydra.searchpath, which finds a
    user's config files, ...) and the task's, each quoted for the shell. Without keep_sweep_settings, those
    of SWEEP_SETTINGS are left out (a sweep job's command is a single run's); hydra.mode always is (-m says it)."""
    kept = [o for o in hydra_overrides if not o.lstrip("+~").startswith("hydra.mode")
            and (keep_sweep_settings or not o.lstrip("+~").startswith(SWEEP_SETTINGS))]
    return " ".join([entry, *(shlex.quote(str(o)) for o in [*kept, *task_overrides])])


def code_tags(entry: str) -> dict[str, str]:
    """What identifies the code of a run: git_commit and git_dirty ('true': tracked files differed from that
    commit, which then does not give the code), and MLflow's own tags for what the dashboard shows as the run's
    Source (`entry`, the command), Version (the commit) and User."""
    tags = {"mlflow.source.name": entry, "mlflow.source.type": "LOCAL"}
    try:
        tags["mlflow.user"] = getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        pass
    state = git_state()
    if state:
        commit, dirty = state
        tags.update({"git_commit": commit, "git_dirty": str(dirty).lower(), "mlflow.source.git.commit": commit})
    return tags
