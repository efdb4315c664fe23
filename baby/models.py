"""Reference models: MLP (LeNet5 and ResNet9 join later)."""

import numbers
from itertools import pairwise

from . import nn


def _size(name, n):
    """`n` as an int >= 1, or a ValueError naming `name`."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"MLP: {name} must be an integer >= 1, got {n!r}")
    return int(n)


class MLP(nn.Sequential):
    """Flatten, then Linear + ReLU (+ Dropout) per hidden width, then a Linear to `num_classes` logits."""

    def __init__(self, in_features=64, hidden=(128,), num_classes=10, dropout=0.0):
        in_features, num_classes = _size("in_features", in_features), _size("num_classes", num_classes)
        hidden = (hidden,) if isinstance(hidden, numbers.Integral) else tuple(hidden)
        widths = (in_features,) + tuple(_size("hidden", n) for n in hidden)
        layers = [nn.Flatten()]
        for n_in, n_out in pairwise(widths):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
        super().__init__(*layers, nn.Linear(widths[-1], num_classes))
