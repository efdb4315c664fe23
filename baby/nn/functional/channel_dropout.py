"""Channel dropout: zero whole feature maps (dropout1d/2d/3d) and alpha dropout for SELU networks."""

import math

from ... import random
from ...backend import xp
from ...tensor import Tensor
from .basic import dropout


def _channels(x, p, training, n, name):
    """Zero each channel of x (N, C, *d) with n spatial dims (or (C, *d)) with probability p."""
    if x.ndim not in (n + 1, n + 2):
        raise ValueError(f"{name}: expected a ({n + 1}-D or {n + 2}-D) input (N, C, *d), got shape "
                         f"{tuple(x.shape)}")
    if not training or p == 0:
        dropout(x, p, training)  # checks p
        return x
    dropout(x, p, False)
    lead = x.shape[:x.ndim - n]  # (N, C) or (C,)
    keep = random.generator().random(lead, dtype=xp.float32) >= p
    scale = keep / xp.float32(1 - p) if p < 1 else keep * xp.float32(0)
    return x * Tensor(scale.reshape(lead + (1,) * n), dtype=x.dtype)


def dropout1d(x, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) with probability p, scaling the rest by 1 / (1 - p)."""
    y = _channels(x, p, training, 1, "dropout1d")
    return x.copy_(y) if inplace and y is not x else y


def dropout2d(x, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) with probability p, scaling the rest by 1 / (1 - p)."""
    y = _channels(x, p, training, 2, "dropout2d")
    return x.copy_(y) if inplace and y is not x else y


def dropout3d(x, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) with probability p, scaling the rest by 1 / (1 - p)."""
    y = _channels(x, p, training, 3, "dropout3d")
    return x.copy_(y) if inplace and y is not x else y


def alpha_dropout(x, p=0.5, training=False, inplace=False):
    """Dropout that keeps SELU's zero mean and unit variance: dropped values become -alpha * scale."""
    dropout(x, p, False)
    if not training or p == 0:
        return x
    alpha = -1.7580993408473766  # -scale * alpha of SELU
    keep = random.generator().random(x.shape) >= p
    a = 1 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    b = -a * alpha * p
    y = x * Tensor(keep * a, dtype=x.dtype) + Tensor(~keep * (a * alpha) + b, dtype=x.dtype)
    return x.copy_(y) if inplace else y
