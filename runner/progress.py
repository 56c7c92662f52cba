"""A one-line progress display for long runs; silent when stderr is not a terminal."""
from __future__ import annotations

import sys
import time


class Progress:
    """Rewrites one stderr line (epoch, cost, validation accuracy) at most ten times a second."""

    def __init__(self, total_epochs: int, mode: str = "auto", stream=None):
        self.stream = stream or sys.stderr
        self.enabled = mode == "on" or (mode == "auto" and self.stream.isatty())
        self.total = total_epochs
        self._last = 0.0

    def update(self, epoch: int, cost: float, val_accuracy: float | None) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and epoch < self.total):
            return
        self._last = now
        accuracy = "" if val_accuracy is None else f"  val accuracy {val_accuracy:.4f}"
        self.stream.write(f"\repoch {epoch}/{self.total}  cost {cost:.6f}{accuracy}   ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
