"""Reductions: sum, max, prod, cumsum, cumprod (primitives) and mean, min, var, std, norm, logsumexp, softmax,
log_softmax, argmax, all/any built on them. PyTorch's `dim` / `keepdim`; NumPy's `axis` / `keepdims` and
the book's `axes` are accepted as the same arguments."""

import collections

from .. import dtypes
from ..backend import xp
from ..tensor import Function, Tensor, _wrap
from .elementwise import Cast, _floating, abs, div, exp, log, maximum, minimum, mul, neg, pow, sqrt, sub
from .index import gather
from .shape import dim_args, normalize_axes, one_axis

values_indices = {name: collections.namedtuple(name, ["values", "indices"]) for name in ("max", "min", "sort",
                                                                                         "topk")}


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


class Prod(Function):
    """Product along one axis; the gradient is the product of the other elements (exact with zeros)."""

    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, a):
        return a.prod(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy, node):
        x, k = node.inputs[0]._data, self.axis
        ones = xp.ones_like(xp.take(x, [0], axis=k))  # (..., 1, ...)
        left = xp.cumprod(xp.concatenate([ones, xp.take(x, range(x.shape[k] - 1), axis=k)], axis=k), axis=k)
        right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(x, k)], axis=k), axis=k), k)[
            (slice(None),) * k + (slice(1, None),)]  # products after each element
        gy = gy if self.keepdims else xp.expand_dims(gy, k)
        return (gy * left * right,)


class Cumsum(Function):
    """Running sum along one axis."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, a):
        return xp.cumsum(a, axis=self.axis)

    def backward(self, gy, node):
        return (xp.flip(xp.cumsum(xp.flip(gy, self.axis), axis=self.axis), self.axis),)


class Cumprod(Function):
    """Running product along one axis; exact gradients where elements are zero."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, a):
        return xp.cumprod(a, axis=self.axis)

    def backward(self, gy, node):
        x, y, k = node.inputs[0]._data, node._data, self.axis
        if (x != 0).all():  # d y_j / d x_i = y_j / x_i for j >= i: a reversed running sum
            return (xp.flip(xp.cumsum(xp.flip(gy * y, k), axis=k), k) / x,)
        x, y, gy = (xp.moveaxis(t, k, 0) for t in (x, y, gy))  # (n, ...)
        r, gx = xp.zeros_like(gy[0]), xp.empty_like(gy)  # r_i = sum_{j>=i} gy_j prod_{i<m<=j} x_m
        for i in reversed(range(len(x))):
            r = gy[i] + (x[i + 1] * r if i + 1 < len(x) else 0)
            gx[i] = r * (y[i - 1] if i else 1)  # times the product before i
        return (xp.moveaxis(gx, 0, k),)


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
        with xp.errstate(invalid="ignore"):  # a row of -inf gives NaN, as PyTorch, without a NumPy warning
            e = xp.exp(a - a.max(axis=self.axis, keepdims=True))
            return e / e.sum(axis=self.axis, keepdims=True)

    def backward(self, gy, node):
        y = node._data
        return (y * (gy - (gy * y).sum(axis=self.axis, keepdims=True)),)


def _with_dtype(a, dtype):
    return a if dtype is None else Cast(dtypes.as_dtype(dtype))(a)


def _count(a, axes):
    n = 1
    for i in axes:
        n *= a.shape[i]
    return n


@dim_args
def sum(a, dim=None, keepdim=False, *, dtype=None):
    """Sum over `dim` (None, an int or a tuple); bool and integer tensors sum to int64, as PyTorch."""
    a = _with_dtype(a, dtype if dtype is not None or a.dtype.kind == "f" else dtypes.int64)
    return Sum(normalize_axes(dim, a.ndim, "dim", a.shape), keepdim)(a)


@dim_args
def mean(a, dim=None, keepdim=False, *, dtype=None):
    """Mean over `dim`."""
    a = _with_dtype(a, dtype)
    if a.dtype.kind != "f":
        raise TypeError(f"mean: input dtype must be floating point, got {a.dtype} (pass dtype=baby.float32)")
    axes = normalize_axes(dim, a.ndim, "dim", a.shape)
    return div(Sum(axes, keepdim)(a), _count(a, axes))


@dim_args
def amax(a, dim=(), keepdim=False):
    """Max over `dim` (all dims for () or None); tied maxima share the gradient evenly."""
    if a.numel() == 0:
        raise RuntimeError(f"amax of an empty tensor of shape {tuple(a.shape)}")
    return Max(normalize_axes(dim if dim != () else None, a.ndim, "dim", a.shape), keepdim)(a)


@dim_args
def amin(a, dim=(), keepdim=False):
    """Min over `dim`; tied minima share the gradient evenly."""
    return neg(amax(neg(a), dim, keepdim))


def _extremum(a, dim, keepdim, kind):
    """max/min as PyTorch: all elements; along dim -> (values, indices); against a tensor -> elementwise."""
    if isinstance(dim, Tensor):
        return (maximum if kind == "max" else minimum)(a, dim)
    if dim is None:
        return amax(a) if kind == "max" else amin(a)
    d = one_axis(dim, a.shape, "dim")
    i = (argmax if kind == "max" else argmin)(a, d, keepdim=True)
    v = gather(a, d, i)
    if not keepdim:
        v, i = v.reshape(*_without(v.shape, d)), i.reshape(*_without(i.shape, d))
    return values_indices[kind](v, i)


def _without(shape, d):
    return shape[:d] + shape[d + 1:]


@dim_args
def max(a, dim=None, keepdim=False):
    """The largest element; with `dim`, (values, indices) along it; with a tensor, the elementwise max."""
    return _extremum(a, dim, keepdim, "max")


@dim_args
def min(a, dim=None, keepdim=False):
    """The smallest element; with `dim`, (values, indices) along it; with a tensor, the elementwise min."""
    return _extremum(a, dim, keepdim, "min")


@dim_args
def argmax(a, dim=None, keepdim=False):
    """Index of the (first) largest element, over all elements (flattened) or along `dim`; int64."""
    if dim is None:
        i = xp.asarray(a._data.argmax(), dtype=xp.int64)
        return _wrap(i.reshape((1,) * a.ndim) if keepdim else i)
    return _wrap(a._data.argmax(axis=one_axis(dim, a.shape, "dim"), keepdims=keepdim).astype(xp.int64))


@dim_args
def argmin(a, dim=None, keepdim=False):
    """Index of the (first) smallest element, flattened or along `dim`; int64."""
    if dim is None:
        i = xp.asarray(a._data.argmin(), dtype=xp.int64)
        return _wrap(i.reshape((1,) * a.ndim) if keepdim else i)
    return _wrap(a._data.argmin(axis=one_axis(dim, a.shape, "dim"), keepdims=keepdim).astype(xp.int64))


@dim_args
def prod(a, dim=None, keepdim=False, *, dtype=None):
    """Product over all elements or along `dim`; integers give int64."""
    a = _with_dtype(a, dtype if dtype is not None or a.dtype.kind == "f" else dtypes.int64)
    if dim is None:
        return Prod(0, False)(a.reshape(-1))
    return Prod(one_axis(dim, a.shape, "dim"), keepdim)(a)


@dim_args
def cumsum(a, dim, *, dtype=None):
    """Running sum along `dim`; integers give int64."""
    a = _with_dtype(a, dtype if dtype is not None or a.dtype.kind == "f" else dtypes.int64)
    return Cumsum(one_axis(dim, a.shape, "dim"))(a)


@dim_args
def cumprod(a, dim, *, dtype=None):
    """Running product along `dim`; integers give int64."""
    a = _with_dtype(a, dtype if dtype is not None or a.dtype.kind == "f" else dtypes.int64)
    return Cumprod(one_axis(dim, a.shape, "dim"))(a)


@dim_args
def var(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over `dim`, dividing by N - correction (correction=1 by default; unbiased=False means 0)."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None else int(unbiased)
    elif unbiased is not None:
        raise TypeError("var: give either correction or unbiased, not both")
    a = _floating(a)
    axes = normalize_axes(dim, a.ndim, "dim", a.shape)
    d = sub(a, mean(a, axes, keepdim=True))
    return div(sum(mul(d, d), axes, keepdim), _count(a, axes) - correction)


@dim_args
def std(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation over `dim` (the square root of var, with the same arguments)."""
    return sqrt(var(a, dim, unbiased, keepdim, correction=correction))


@dim_args
def norm(a, p="fro", dim=None, keepdim=False, *, dtype=None):
    """The p-norm over `dim` (all elements by default): 'fro' or 2, 1, inf, -inf, or any number."""
    a = _with_dtype(_floating(a), dtype)
    if p in ("fro", 2):
        return sqrt(sum(mul(a, a), dim, keepdim))
    if p == float("inf"):
        return amax(abs(a), () if dim is None else dim, keepdim)
    if p == float("-inf"):
        return amin(abs(a), () if dim is None else dim, keepdim)
    if p == 1:
        return sum(abs(a), dim, keepdim)
    if isinstance(p, str):
        raise ValueError(f"norm: p must be a number or 'fro', got {p!r}")
    return pow(sum(pow(abs(a), float(p)), dim, keepdim), 1.0 / p)


@dim_args
def all(a, dim=None, keepdim=False):
    """Whether every element (along `dim`) is true: a bool tensor."""
    axes = normalize_axes(dim, a.ndim, "dim", a.shape)
    return _wrap(xp.asarray(a._data.astype(bool).all(axis=axes, keepdims=keepdim)))


@dim_args
def any(a, dim=None, keepdim=False):
    """Whether some element (along `dim`) is true: a bool tensor."""
    axes = normalize_axes(dim, a.ndim, "dim", a.shape)
    return _wrap(xp.asarray(a._data.astype(bool).any(axis=axes, keepdims=keepdim)))


@dim_args
def logsumexp(a, dim=None, keepdim=False):
    """log(sum(exp(a))) over `dim`, computed stably."""
    a = _floating(a)
    axes = normalize_axes(dim, a.ndim, "dim", a.shape)
    m = xp.max(a._data, axis=axes, keepdims=True)
    m = _wrap(xp.where(xp.isfinite(m), m, 0).astype(a.dtype))  # shift by the max; no gradient through it
    out = log(sum(exp(a - m), axes, keepdim=True)) + m
    return out if keepdim else out.reshape(*[n for i, n in enumerate(out.shape) if i not in axes])


@dim_args
def softmax(a, dim=-1, dtype=None):
    """Softmax along `dim`."""
    a = _with_dtype(_floating(a), dtype)
    return Softmax(one_axis(dim, a.shape, "dim"))(a)


@dim_args
def log_softmax(a, dim=-1, dtype=None):
    """Log-softmax along `dim`."""
    a = _with_dtype(_floating(a), dtype)
    return LogSoftmax(one_axis(dim, a.shape, "dim"))(a)

