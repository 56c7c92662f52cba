"""Where backprop-lab writes: the project's outputs/ folder, or BACKPROP_LAB_OUTPUTS."""
from __future__ import annotations

import os
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
