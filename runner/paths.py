"""Where backprop-lab lives and writes: its checkout (and git commit), its outputs/ folder or BACKPROP_LAB_OUTPUTS."""
from __future__ import annotations

import os
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


def git_commit() -> str | None:
    """The project's git commit, when it is a checkout with git available."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                                text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None
