"""Weight initialisers: the book's call form returning new Tensors, and PyTorch's in-place `*_` variants.

Everything draws from `baby.random.generator()` (so `manual_seed` reproduces it) in float32 unless a
dtype is given. Kaiming: U(-b, b) with b = gain * sqrt(3 / fan) or N(0, gain / sqrt(fan)); Xavier:
b = gain * sqrt(6 / (fan_in + fan_out)) or std = gain * sqrt(2 / (fan_in + fan_out)).
"""

import math
import numbers

from . import dtypes, random
from .backend import xp
from .device import as_device
from .tensor import Tensor

_GAINS = {"linear": 1.0, "identity": 1.0, "sigmoid": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0,
          "conv_transpose1d": 1.0, "conv_transpose2d": 1.0, "conv_transpose3d": 1.0,
          "tanh": 5 / 3, "relu": math.sqrt(2.0), "selu": 3 / 4}


def calculate_gain(nonlinearity, param=None):
    """Recommended gain for `nonlinearity`; leaky_relu takes its negative slope as `param` (default 0.01)."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, numbers.Real):
            raise ValueError(f"leaky_relu gain: param must be a number (the negative slope), got {param!r}")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity not in _GAINS:
        names = ["leaky_relu", *_GAINS]
        raise ValueError(f"unsupported nonlinearity {nonlinearity!r}; expected one of {names}")
    return _GAINS[nonlinearity]


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def _dtype(dtype):
    """`dtype` as a NumPy dtype, the default float when None."""
    return dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)


def _draw(kind, shape, dtype):
    """Standard uniform [0, 1) or normal samples of `shape`, drawn in float32 (float64 only if asked)."""
    dtype = _dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"random init needs a floating dtype, got {dtype}")
    draw_dtype = xp.float64 if dtype == xp.float64 else xp.float32
    draw = random.generator().random if kind == "uniform" else random.generator().standard_normal
    return draw(shape, dtype=draw_dtype), dtype


def _tensor(array, dtype, device, requires_grad):
    as_device(device)
    dtype = _dtype(dtype)
    return Tensor(array.astype(dtype, copy=False), dtype=dtype, requires_grad=requires_grad)


def uniform(shape, low=0.0, high=1.0, dtype=None, device=None, requires_grad=False):
    """Samples from U(low, high)."""
    a, dtype = _draw("uniform", _shape((shape,)), dtype)
    return _tensor(a * (high - low) + low, dtype, device, requires_grad)


def normal(shape, mean=0.0, std=1.0, dtype=None, device=None, requires_grad=False):
    """Samples from N(mean, std**2)."""
    a, dtype = _draw("normal", _shape((shape,)), dtype)
    return _tensor(a * std + mean, dtype, device, requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros (`shape` as ints or one tuple)."""
    return _tensor(xp.zeros(_shape(shape), dtype=_dtype(dtype)), dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    """A tensor of ones (`shape` as ints or one tuple)."""
    return _tensor(xp.ones(_shape(shape), dtype=_dtype(dtype)), dtype, device, requires_grad)


def _fan(fan_in, fan_out, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    if fan <= 0:
        raise ValueError(f"kaiming init needs a positive {mode}, got {fan}")
    return fan


def xavier_uniform(fan_in, fan_out, shape=None, gain=1.0, **kwargs):
    """Glorot uniform: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))."""
    b = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(shape or (fan_in, fan_out), -b, b, **kwargs)


def xavier_normal(fan_in, fan_out, shape=None, gain=1.0, **kwargs):
    """Glorot normal: N(0, std**2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    return normal(shape or (fan_in, fan_out), 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), **kwargs)


def kaiming_uniform(fan_in, fan_out, shape=None, nonlinearity="relu", a=0, mode="fan_in", **kwargs):
    """He uniform: U(-b, b), b = gain * sqrt(3 / fan), gain from `nonlinearity` (leaky_relu uses `a`)."""
    b = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(fan_in, fan_out, mode))
    return uniform(shape or (fan_in, fan_out), -b, b, **kwargs)


def kaiming_normal(fan_in, fan_out, shape=None, nonlinearity="relu", a=0, mode="fan_in", **kwargs):
    """He normal: N(0, std**2), std = gain / sqrt(fan)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(fan_in, fan_out, mode))
    return normal(shape or (fan_in, fan_out), 0.0, std, **kwargs)


# ---- PyTorch's in-place forms: fill an existing tensor, return it ---------------------------------------
def calculate_fan_in_and_fan_out(t):
    """(fan_in, fan_out) of a weight laid out as PyTorch's (out, in, *kernel)."""
    if t.ndim < 2:
        raise ValueError(f"fan in/out need a tensor with at least 2 dims, got shape {tuple(t.shape)}")
    receptive = math.prod(t.shape[2:])
    return t.shape[1] * receptive, t.shape[0] * receptive


def _fill(t, source):
    """Write `source` into `t`'s memory (counted as an in-place write); returns t."""
    t._data[...] = source._data if isinstance(source, Tensor) else source
    t._vc[0] += 1
    return t


def uniform_(t, a=0.0, b=1.0):
    """Fill `t` from U(a, b)."""
    return _fill(t, uniform(t.shape, a, b, dtype=t.dtype))


def normal_(t, mean=0.0, std=1.0):
    """Fill `t` from N(mean, std**2)."""
    return _fill(t, normal(t.shape, mean, std, dtype=t.dtype))


def constant_(t, val):
    """Fill `t` with `val`."""
    return _fill(t, val)


def zeros_(t):
    """Fill `t` with zeros."""
    return constant_(t, 0)


def ones_(t):
    """Fill `t` with ones."""
    return constant_(t, 1)


def xavier_uniform_(t, gain=1.0):
    """Fill `t` (out, in, *k) with Glorot uniform samples."""
    return _fill(t, xavier_uniform(*calculate_fan_in_and_fan_out(t), shape=t.shape, gain=gain, dtype=t.dtype))


def xavier_normal_(t, gain=1.0):
    """Fill `t` (out, in, *k) with Glorot normal samples."""
    return _fill(t, xavier_normal(*calculate_fan_in_and_fan_out(t), shape=t.shape, gain=gain, dtype=t.dtype))


def kaiming_uniform_(t, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """Fill `t` (out, in, *k) with He uniform samples (PyTorch's defaults)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    return _fill(t, kaiming_uniform(fan_in, fan_out, t.shape, nonlinearity, a, mode, dtype=t.dtype))


def kaiming_normal_(t, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """Fill `t` (out, in, *k) with He normal samples (PyTorch's defaults)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    return _fill(t, kaiming_normal(fan_in, fan_out, t.shape, nonlinearity, a, mode, dtype=t.dtype))


_calculate_fan_in_and_fan_out = calculate_fan_in_and_fan_out


def trunc_normal_(t, mean=0.0, std=1.0, a=-2.0, b=2.0):
    """Fill `t` from N(mean, std**2) restricted to [a, b] (redrawing what falls outside)."""
    out = normal(t.shape, mean, std, dtype=xp.float64)._data
    bad = (out < a) | (out > b)
    while bad.any():
        out[bad] = normal(int(bad.sum()), mean, std, dtype=xp.float64)._data
        bad = (out < a) | (out > b)
    return _fill(t, out)


def orthogonal_(t, gain=1.0):
    """Fill `t` (rows, *cols) with a (semi-)orthogonal matrix from the QR of a normal one, times `gain`."""
    if t.ndim < 2:
        raise ValueError(f"orthogonal_ needs a tensor with at least 2 dims, got shape {tuple(t.shape)}")
    rows, cols = t.shape[0], math.prod(t.shape[1:])
    a = normal((rows, cols), dtype=xp.float64)._data
    a = a.T if rows < cols else a  # (max, min)
    q, r = xp.linalg.qr(a)
    q = q * xp.sign(xp.diag(r))  # a unique, uniformly distributed Q
    q = q.T if rows < cols else q  # (rows, cols)
    return _fill(t, (gain * q).reshape(t.shape))


def eye_(t):
    """Fill the 2-d `t` with the identity."""
    if t.ndim != 2:
        raise ValueError(f"eye_ needs a 2-d tensor, got shape {tuple(t.shape)}")
    return _fill(t, xp.eye(*t.shape))


def dirac_(t, groups=1):
    """Fill the conv weight `t` (out, in, *k) so the conv passes its input through (per group)."""
    if not 3 <= t.ndim <= 5 or t.shape[0] % groups:
        raise ValueError(f"dirac_ needs a 3-5-d weight whose out channels divide by groups={groups}, "
                         f"got shape {tuple(t.shape)}")
    out = xp.zeros(t.shape)
    per, centre = t.shape[0] // groups, tuple(k // 2 for k in t.shape[2:])
    for g in range(groups):
        for i in range(min(per, t.shape[1])):
            out[(g * per + i, i) + centre] = 1
    return _fill(t, out)
