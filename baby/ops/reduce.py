"""Reductions: sum, max (and the mean, min, logsumexp, softmax, log_softmax built on them)."""

from ..backend import xp
from ..tensor import Function, Tensor
from .elementwise import div, exp, log, neg
from .shape import normalize_axes, one_axis


class Sum(Function):
    """Sum over `axes` (a tuple)."""

    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, a):
        return a.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy, node):
        x = node.inputs[0]
        gy = gy if self.keepdims else xp.expand_dims(gy, self.axes)  # reduced axes back as size 1
        return (xp.broadcast_to(gy, x.shape),)


class Max(Function):
    """Max over `axes`; tied maxima share the gradient evenly (as torch.amax)."""

    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, a):
        return a.max(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy, node):
        x = node.inputs[0]._data
        y, gy = (node._data, gy) if self.keepdims else (xp.expand_dims(node._data, self.axes),
                                                       xp.expand_dims(gy, self.axes))
        mask = x == y
        return (mask * (gy / mask.sum(axis=self.axes, keepdims=True, dtype=gy.dtype)),)


class LogSoftmax(Function):
    """x - logsumexp(x) along one axis, computed stably."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, a):
        z = a - a.max(axis=self.axis, keepdims=True)
        return z - xp.log(xp.exp(z).sum(axis=self.axis, keepdims=True))

    def backward(self, gy, node):
        return (gy - xp.exp(node._data) * gy.sum(axis=self.axis, keepdims=True),)


class Softmax(Function):
    """exp(x) / sum(exp(x)) along one axis, computed stably."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, a):
        e = xp.exp(a - a.max(axis=self.axis, keepdims=True))
        return e / e.sum(axis=self.axis, keepdims=True)

    def backward(self, gy, node):
        y = node._data
        return (y * (gy - (gy * y).sum(axis=self.axis, keepdims=True)),)


def _reduce(op, a, axis, keepdims):
    axes = normalize_axes(axis, a.ndim, "axis", a.shape)
    return op(axes, keepdims)(a)


def sum(a, axis=None, keepdims=False):
    """Sum over `axis` (None, int, negative int or tuple)."""
    return _reduce(Sum, a, axis, keepdims)


def mean(a, axis=None, keepdims=False):
    """Mean over `axis`."""
    axes = normalize_axes(axis, a.ndim, "axis", a.shape)
    n = 1
    for i in axes:
        n *= a.shape[i]
    return div(Sum(axes, keepdims)(a), n)


def max(a, axis=None, keepdims=False):
    """Max over `axis` (gradient shared among ties)."""
    if a.numel() == 0:
        raise ValueError(f"max of an empty tensor of shape {a.shape}")
    return _reduce(Max, a, axis, keepdims)


def min(a, axis=None, keepdims=False):
    """Min over `axis`."""
    return neg(max(neg(a), axis, keepdims))


def logsumexp(a, axis=None, keepdims=False):
    """log(sum(exp(a))) over `axis`, computed stably."""
    axes = normalize_axes(axis, a.ndim, "axis", a.shape)
    m = xp.max(a._data, axis=axes, keepdims=True)
    m = Tensor(xp.where(xp.isfinite(m), m, 0), dtype=a.dtype)  # shift by the max; no gradient through it
    out = log(sum(exp(a - m), axes, keepdims=True)) + m
    return out if keepdims else out.reshape(*[n for i, n in enumerate(out.shape) if i not in axes])


def softmax(a, axis=-1):
    """Softmax along `axis`."""
    return Softmax(one_axis(axis, a.shape))(a)


def log_softmax(a, axis=-1):
    """Log-softmax along `axis`."""
    return LogSoftmax(one_axis(axis, a.shape))(a)
