"""Architecture plugin: hidden layer sizes and the hidden units' activation."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from plugins._checks import is_integer, is_one_of, require
from runner.core.activations import ACTIVATIONS


@dataclass
class FeedForward:
    """Fully connected layers [n, *hidden, K]: n from the data's features, K from its classes.

    Two classes need one output unit (K = 1), as in the course; more need one per class.
    """

    hidden: list[int] = field(default_factory=lambda: [25])
    activation: str = "sigmoid"
    name: str = field(default="feedforward", init=False)

    def __post_init__(self):
        if isinstance(self.hidden, Sequence) and not isinstance(self.hidden, str):
            self.hidden = list(self.hidden)
        require(isinstance(self.hidden, list) and len(self.hidden) > 0
                and all(is_integer(s) and s >= 1 for s in self.hidden),
                "hidden", self.hidden, "a non-empty list of integers >= 1, e.g. [25] or [25, 25]")
        require(is_one_of(self.activation, ACTIVATIONS), "activation", self.activation, ", ".join(ACTIVATIONS))

    def layer_sizes(self, n_features: int, n_classes: int) -> list[int]:
        """[s_1, ..., s_L] = [n_features, *hidden, 1 if n_classes == 2 else n_classes]."""
        return [n_features, *self.hidden, 1 if n_classes == 2 else n_classes]
