"""More elementwise math: trigonometry, log1p/expm1, rounding, clamp, logical ops and closeness tests.

Composed from the primitives where that gives PyTorch's values and gradients (tan, log2, rsqrt, square,
clamp from where); primitives only for sin, cos, log1p, expm1 (accuracy) and the zero-gradient roundings.
"""

import math

from ..backend import xp
from ..tensor import Function, Tensor, _wrap
from .elementwise import Rounding, _binary, _floating, div, gt, log, lt, mul, pow, where


class Sin(Function):
    """sin(a)."""

    def forward(self, a):
        return xp.sin(a)

    def backward(self, gy, node):
        return (gy * xp.cos(node.inputs[0]._data),)


class Cos(Function):
    """cos(a)."""

    def forward(self, a):
        return xp.cos(a)

    def backward(self, gy, node):
        return (-gy * xp.sin(node.inputs[0]._data),)


class Log1p(Function):
    """log(1 + a), accurate for small a."""

    def forward(self, a):
        return xp.log1p(a)

    def backward(self, gy, node):
        return (gy / (1 + node.inputs[0]._data),)


class Expm1(Function):
    """exp(a) - 1, accurate for small a."""

    def forward(self, a):
        return xp.expm1(a)

    def backward(self, gy, node):
        return (gy * (node._data + 1),)


def sin(a):
    """Sine."""
    return Sin()(_floating(a))


def cos(a):
    """Cosine."""
    return Cos()(_floating(a))


def tan(a):
    """Tangent."""
    a = _floating(a)
    return div(sin(a), cos(a))


def log1p(a):
    """log(1 + a)."""
    return Log1p()(_floating(a))


def expm1(a):
    """exp(a) - 1."""
    return Expm1()(_floating(a))


def log2(a):
    """Base-2 logarithm."""
    return div(log(a), math.log(2))


def log10(a):
    """Base-10 logarithm."""
    return div(log(a), math.log(10))


def rsqrt(a):
    """1 / sqrt(a)."""
    return pow(_floating(a), -0.5)


def reciprocal(a):
    """1 / a."""
    return pow(_floating(a), -1.0)


def square(a):
    """a * a."""
    return mul(a, a)


def _rounding(fn, doc):
    def rounding(a):
        return Rounding(fn)(a)

    rounding.__doc__ = doc
    return rounding


floor = _rounding(xp.floor, "Round down (gradient zero).")
ceil = _rounding(xp.ceil, "Round up (gradient zero).")
trunc = _rounding(xp.trunc, "Round toward zero (gradient zero).")
sign = _rounding(xp.sign, "-1, 0 or 1 by the sign of each element (gradient zero).")


def round(a, decimals=0):
    """Round half to even, to `decimals` places (gradient zero)."""
    return Rounding(lambda x: xp.round(x, decimals))(a) if decimals else Rounding(xp.round)(a)


def clamp(a, min=None, max=None):
    """Each element limited to [min, max] (tensors or numbers); the gradient passes where min <= a <= max."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    y = a if min is None else where(lt(a, min), min, a)
    return y if max is None else where(gt(y, max), max, y)


def _data(x):
    return x._data if isinstance(x, Tensor) else x


def floor_divide(a, b):
    """a / b rounded down (integers stay integers; gradient zero)."""
    return div(a, b, rounding_mode="floor")


def remainder(a, b):
    """a - floor(a / b) * b: the remainder with the sign of b, as Python's %."""
    a, b = _binary(a, b)
    if a._data.dtype.kind in "iub":
        return _wrap(xp.remainder(a._data, b._data))
    return a - floor(a / b) * b


def fmod(a, b):
    """a - trunc(a / b) * b: the remainder with the sign of a, as C's fmod."""
    a, b = _binary(a, b)
    if a._data.dtype.kind in "iub":
        return _wrap(xp.fmod(a._data, b._data))
    return a - trunc(a / b) * b


def _logical(fn):
    def logical(a, b):
        a, b = _binary(a, b)
        return _wrap(fn(a._data, b._data))

    logical.__doc__ = f"Elementwise {fn.__name__} of the truth values (a bool tensor)."
    return logical


logical_and, logical_or, logical_xor = map(_logical, (xp.logical_and, xp.logical_or, xp.logical_xor))


def logical_not(a):
    """Elementwise not of the truth values (a bool tensor)."""
    return _wrap(xp.logical_not(_data(a)))


def isnan(a):
    """Where a is NaN."""
    return _wrap(xp.isnan(_data(a)))


def isinf(a):
    """Where a is +-infinity."""
    return _wrap(xp.isinf(_data(a)))


def isfinite(a):
    """Where a is neither infinite nor NaN."""
    return _wrap(xp.isfinite(_data(a)))


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Where |a - b| <= atol + rtol * |b|, elementwise."""
    a, b = _binary(a, b)
    return _wrap(xp.isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element is close (a Python bool)."""
    return bool(isclose(a, b, rtol, atol, equal_nan)._data.all())


def equal(a, b):
    """Whether a and b have the same shape and elements (a Python bool)."""
    return a.shape == b.shape and bool((_data(a) == _data(b)).all())
