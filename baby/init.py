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


def _draw(fill, shape, dtype, *args):
    """An array of `shape` filled in place by random.fill_uniform or fill_normal(array, *args), drawn in its
    own dtype (float32 unless asked)."""
    dtype = _dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"random init needs a floating dtype, got {dtype}")
    a = xp.empty(shape, dtype)
    fill(a, *args)
    return a, dtype


def _tensor(array, dtype, device, requires_grad):
    as_device(device)
    dtype = _dtype(dtype)
    return Tensor(array.astype(dtype, copy=False), dtype=dtype, requires_grad=requires_grad)


def uniform(shape, low=0.0, high=1.0, dtype=None, device=None, requires_grad=False):
    """Samples from U(low, high)."""
    a, dtype = _draw(random.fill_uniform, _shape((shape,)), dtype, low, high)
    return _tensor(a, dtype, device, requires_grad)


def normal(shape, mean=0.0, std=1.0, dtype=None, device=None, requires_grad=False):
    """Samples from N(mean, std**2)."""
    a, dtype = _draw(random.fill_normal, _shape((shape,)), dtype, mean, std)
    return _tensor(a, dtype, device, requires_grad)


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


def _xavier(fan_in, fan_out, gain, k):
    """Glorot's scale gain * sqrt(k / (fan_in + fan_out)): k = 6 gives the uniform bound, 2 the std."""
    return gain * math.sqrt(k / (fan_in + fan_out))


def _kaiming(fan_in, fan_out, nonlinearity, a, mode, k):
    """He's scale gain * sqrt(k / fan): k = 3 gives the uniform bound, 1 the std."""
    return calculate_gain(nonlinearity, a) * math.sqrt(k / _fan(fan_in, fan_out, mode))


def xavier_uniform(fan_in, fan_out, shape=None, gain=1.0, **kwargs):
    """Glorot uniform: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))."""
    b = _xavier(fan_in, fan_out, gain, 6.0)
    return uniform(shape or (fan_in, fan_out), -b, b, **kwargs)


def xavier_normal(fan_in, fan_out, shape=None, gain=1.0, **kwargs):
    """Glorot normal: N(0, std**2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    return normal(shape or (fan_in, fan_out), 0.0, _xavier(fan_in, fan_out, gain, 2.0), **kwargs)


def kaiming_uniform(fan_in, fan_out, shape=None, nonlinearity="relu", a=0, mode="fan_in", **kwargs):
    """He uniform: U(-b, b), b = gain * sqrt(3 / fan), gain from `nonlinearity` (leaky_relu uses `a`)."""
    b = _kaiming(fan_in, fan_out, nonlinearity, a, mode, 3.0)
    return uniform(shape or (fan_in, fan_out), -b, b, **kwargs)


def kaiming_normal(fan_in, fan_out, shape=None, nonlinearity="relu", a=0, mode="fan_in", **kwargs):
    """He normal: N(0, std**2), std = gain / sqrt(fan)."""
    return normal(shape or (fan_in, fan_out), 0.0, _kaiming(fan_in, fan_out, nonlinearity, a, mode, 1.0),
                  **kwargs)


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


def _draw_(t, fill, *args):
    """Random draws straight into `t`'s memory, in its dtype (counted as an in-place write); returns t."""
    fill(t._data, *args)
    t._vc[0] += 1
    return t


def uniform_(t, a=0.0, b=1.0):
    """Fill `t` from U(a, b)."""
    return _draw_(t, random.fill_uniform, a, b)


def normal_(t, mean=0.0, std=1.0):
    """Fill `t` from N(mean, std**2)."""
    return _draw_(t, random.fill_normal, mean, std)


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
    b = _xavier(*calculate_fan_in_and_fan_out(t), gain, 6.0)
    return uniform_(t, -b, b)


def xavier_normal_(t, gain=1.0):
    """Fill `t` (out, in, *k) with Glorot normal samples."""
    return normal_(t, 0.0, _xavier(*calculate_fan_in_and_fan_out(t), gain, 2.0))


def kaiming_uniform_(t, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """Fill `t` (out, in, *k) with He uniform samples (PyTorch's defaults)."""
    b = _kaiming(*calculate_fan_in_and_fan_out(t), nonlinearity, a, mode, 3.0)
    return uniform_(t, -b, b)


def kaiming_normal_(t, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """Fill `t` (out, in, *k) with He normal samples (PyTorch's defaults)."""
    return normal_(t, 0.0, _kaiming(*calculate_fan_in_and_fan_out(t), nonlinearity, a, mode, 1.0))


_calculate_fan_in_and_fan_out = calculate_fan_in_and_fan_out


def trunc_normal_(t, mean=0.0, std=1.0, a=-2.0, b=2.0):
    """Fill `t` from N(mean, std**2) restricted to [a, b] (redrawing what falls outside)."""
    out = normal_(t, mean, std)._data
    bad = (out < a) | (out > b)  # a bool mask, a quarter of a float32 tensor
    while bad.any():
        out[bad] = normal(int(bad.sum()), mean, std, dtype=t.dtype)._data
        bad = (out < a) | (out > b)
    return t


def orthogonal_(t, gain=1.0):
    """Fill `t` (rows, *cols) with a (semi-)orthogonal matrix from the QR of a normal one, times `gain`."""
    if t.ndim < 2:
        raise ValueError(f"orthogonal_ needs a tensor with at least 2 dims, got shape {tuple(t.shape)}")
    rows, cols = t.shape[0], math.prod(t.shape[1:])
    a = normal((rows, cols), dtype=t.dtype)._data  # in t's dtype, as PyTorch's QR
    a = a.T if rows < cols else a  # (max, min)
    q, r = xp.linalg.qr(a)
    q = q * xp.sign(xp.diag(r))  # a unique, uniformly distributed Q
    q = q.T if rows < cols else q  # (rows, cols)
    return _fill(t, (gain * q).reshape(t.shape))


def eye_(t):
    """Fill the 2-d `t` with the identity."""
    if t.ndim != 2:
        raise ValueError(f"eye_ needs a 2-d tensor, got shape {tuple(t.shape)}")
    t._data[...] = 0
    xp.fill_diagonal(t._data, 1)
    t._vc[0] += 1
    return t


def dirac_(t, groups=1):
    """Fill the conv weight `t` (out, in, *k) so the conv passes its input through (per group)."""
    if not 3 <= t.ndim <= 5 or t.shape[0] % groups:
        raise ValueError(f"dirac_ needs a 3-5-d weight whose out channels divide by groups={groups}, "
                         f"got shape {tuple(t.shape)}")
    t._data[...] = 0
    per, centre = t.shape[0] // groups, tuple(k // 2 for k in t.shape[2:])
    for g in range(groups):
        for i in range(min(per, t.shape[1])):
            t._data[(g * per + i, i) + centre] = 1
    t._vc[0] += 1
    return t
