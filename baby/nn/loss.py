"""Loss modules: CrossEntropyLoss and MSELoss (they call nn.functional)."""

from ..tensor import Tensor
from . import functional as F
from .module import Module


def _reduction(reduction):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    return reduction


class CrossEntropyLoss(Module):
    """Softmax cross-entropy of logits (N, C, *d) against integer classes (N, *d); `weight` is a buffer."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__()
        if not 0 <= label_smoothing <= 1:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
        weight = weight if weight is None or isinstance(weight, Tensor) else Tensor(weight)
        self.register_buffer("weight", weight)
        self.ignore_index, self.reduction = ignore_index, _reduction(reduction)
        self.label_smoothing = label_smoothing

    def forward(self, x, target):
        return F.cross_entropy(x, target, self.weight, self.ignore_index, self.reduction,
                               self.label_smoothing)


class MSELoss(Module):
    """Mean squared error (or summed, or per-element with reduction='none')."""

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = _reduction(reduction)

    def forward(self, x, target):
        return F.mse_loss(x, target, self.reduction)
