"""Tensor factories with PyTorch's signatures: sizes as ints or one sequence; dtype, device, requires_grad."""

import math
import numbers

from . import dtypes, random
from .backend import xp
from .device import as_device
from .tensor import Tensor, _to_array, _wrap


def _size(size, name="size"):
    """Sizes given as ints or as one sequence, as a tuple of non-negative ints."""
    size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    if any(isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0 for n in size):
        raise TypeError(f"{name} must be non-negative ints, got {size!r}")
    return tuple(int(n) for n in size)


def _first(*ds):
    """The first of `ds` that is not None (dtypes are falsy, so `or` would skip them)."""
    return next(d for d in ds if d is not None)


def _dtype(dtype, default=None):
    """The dtype a factory makes: `dtype`, else `default`, else the default float."""
    return _first(dtypes.as_dtype(dtype), default, dtypes.get_default_dtype())


def _make(a, dtype, device, requires_grad, default=None):
    """A leaf tensor from array `a` in `dtype` (else `default`, else the default float)."""
    as_device(device)
    d = _first(dtypes.as_dtype(dtype), default, dtypes.get_default_dtype())
    t = _wrap(a.astype(d, copy=False))
    return t.requires_grad_(requires_grad)


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor copying `data`; the dtype is inferred as PyTorch does (ints int64, floats float32)."""
    as_device(device)
    a = _to_array(data, dtype, infer=True)
    t = _wrap(a.copy() if a is getattr(data, "_data", data) else a)
    return t.requires_grad_(requires_grad)


def from_numpy(a):
    """A tensor sharing the memory of NumPy array `a` (same dtype)."""
    if not isinstance(a, xp.ndarray):
        raise TypeError(f"from_numpy expects a NumPy array, got {type(a).__name__}")
    return _wrap(_to_array(a, None, infer=True))


def _shaped(fill):
    def make(*size, dtype=None, device=None, requires_grad=False):
        return _make(fill(_size(size), _dtype(dtype)), dtype, device, requires_grad)  # made in its dtype

    return make


empty = _shaped(xp.empty)
empty.__doc__ = "An uninitialised tensor of the given size."
zeros = _shaped(xp.zeros)
zeros.__doc__ = "A tensor of zeros."
ones = _shaped(xp.ones)
ones.__doc__ = "A tensor of ones."


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor filled with `fill_value` (dtype inferred from it: bool, int64 or the default float)."""
    v = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    d = _dtype(dtype, dtypes.scalar_dtype(v))
    return _make(xp.full(_size((size,)), v, d), dtype, device, requires_grad, d)


def _like(fill):
    def make(t, dtype=None, device=None, requires_grad=False):
        a = fill(t.shape, _first(dtypes.as_dtype(dtype), t.dtype))
        return _make(a, dtype, device, requires_grad, t.dtype)

    return make


zeros_like = _like(xp.zeros)
zeros_like.__doc__ = "Zeros with the shape (and dtype, unless given) of `t`."
ones_like = _like(xp.ones)
ones_like.__doc__ = "Ones with the shape (and dtype, unless given) of `t`."
empty_like = _like(xp.empty)
empty_like.__doc__ = "An uninitialised tensor with the shape (and dtype, unless given) of `t`."


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    """`fill_value` everywhere, with the shape (and dtype, unless given) of `t`."""
    d = _dtype(dtype, t.dtype)
    return _make(xp.full(t.shape, fill_value, d), dtype, device, requires_grad, d)


def _float_draws(draw, size, dtype):
    """Draws in `dtype` (float32 or float64 straight from the generator; float16 through float32)."""
    d = _first(dtypes.as_dtype(dtype), dtypes.get_default_dtype())
    if d.kind != "f":
        raise TypeError(f"random floats need a floating-point dtype, got {d}")
    return draw(random.generator(), size, d if d == xp.float64 else xp.float32).astype(d, copy=False)


def randn(*size, dtype=None, device=None, requires_grad=False):
    """Standard normal samples from the library's seeded generator."""
    a = _float_draws(lambda g, s, d: g.standard_normal(s, dtype=d), _size(size), dtype)
    return _make(a, dtype, device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False):
    """Uniform [0, 1) samples from the library's seeded generator."""
    a = _float_draws(lambda g, s, d: g.random(s, dtype=d), _size(size), dtype)
    return _make(a, dtype, device, requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    """Standard normal samples with the shape (and dtype, unless given) of `t`."""
    return randn(*t.shape, dtype=_first(dtype, t.dtype), device=device, requires_grad=requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False):
    """Uniform [0, 1) samples with the shape (and dtype, unless given) of `t`."""
    return rand(*t.shape, dtype=_first(dtype, t.dtype), device=device, requires_grad=requires_grad)


def randint(*args, size=None, dtype=None, device=None, requires_grad=False):
    """Integers uniform in [low, high): randint(high, size) or randint(low, high, size); int64."""
    if size is None:
        *args, size = args
    low, high = (0, *args) if len(args) == 1 else args
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    a = random.generator().integers(low, high, _size((size,)))
    return _make(a, dtype, device, requires_grad, dtypes.int64)


def randperm(n, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0 .. n-1 (int64)."""
    return _make(random.generator().permutation(n), dtype, device, requires_grad, dtypes.int64)


def normal(mean, std=1.0, size=None, dtype=None, device=None, requires_grad=False):
    """Normal samples: elementwise for tensor mean/std, or `size` draws for Python numbers."""
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    shape = _size((size,)) if size is not None else xp.broadcast_shapes(xp.shape(m), xp.shape(s))
    if xp.any(xp.asarray(s) < 0):
        raise RuntimeError(f"normal expects std >= 0, got {std}")
    like = next((t.dtype for t in (mean, std) if isinstance(t, Tensor)), None)
    d = _first(dtype, like, dtypes.get_default_dtype())
    z = _float_draws(lambda g, sh, d: g.standard_normal(sh, dtype=d), shape, d)
    z *= xp.asarray(s, z.dtype)  # in place: the draws are the result's only array of its size
    z += xp.asarray(m, z.dtype)
    return _make(z, dtype, device, requires_grad, like)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Evenly spaced values in [start, end): int64 for integer arguments, else the default float."""
    start, end = (0, start) if end is None else (start, end)
    if step == 0 or (end - start) * step < 0:
        raise RuntimeError(f"arange: the range [{start}, {end}) with step {step} is empty or infinite")
    ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    d = _dtype(dtype, dtypes.int64 if ints else None)
    if d.kind != "f":
        return _make(xp.arange(start, end, step, dtype=d if ints else None), dtype, device, requires_grad, d)
    n = math.ceil((end - start) / step)
    return _make(_chunked(n, d, lambda i: start + i * step), dtype, device, requires_grad, d)  # as NumPy's


def _chunked(n, d, value, chunk=1 << 12):
    """An array of `n` elements of dtype `d`, value(i) (float64 indices) computed a chunk at a time, so no
    float64 array of the result's size exists."""
    out = xp.empty(n, d)
    for lo in range(0, n, chunk):
        out[lo:lo + chunk] = value(xp.arange(lo, min(lo + chunk, n), dtype=xp.float64))
    return out


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """`steps` evenly spaced values from start to end inclusive."""
    return _make(_spaced(start, end, _size((steps,), "steps")[0], _dtype(dtype), None), dtype, device,
                 requires_grad)


def _spaced(start, end, n, d, base):
    """NumPy's linspace (or with `base`, logspace) values, computed in float64 chunks into dtype `d`."""
    step = (end - start) / max(n - 1, 1)
    out = _chunked(n, d, lambda i: i * step + start if base is None else base ** (i * step + start))
    if n > 1:
        out[-1] = end if base is None else base ** end
    return out


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    """`steps` values from base**start to base**end, evenly spaced in the exponent."""
    return _make(_spaced(start, end, _size((steps,), "steps")[0], _dtype(dtype), base), dtype, device,
                 requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """The identity matrix (n x m)."""
    return _make(xp.eye(n, m, dtype=_dtype(dtype)), dtype, device, requires_grad)


def numel(t):
    """The number of elements of `t`."""
    return math.prod(t.shape)


def is_tensor(obj):
    """Whether `obj` is a baby Tensor."""
    return isinstance(obj, Tensor)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """`num_samples` category indices per row of the non-negative weights `input` (1-d or 2-d); int64."""
    p = input._data if isinstance(input, Tensor) else xp.asarray(input)
    if p.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {p.dtype}")
    if p.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {tuple(p.shape)}")
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples, got {num_samples}")
    w = p.reshape(-1, p.shape[-1]).astype(xp.float64)  # (rows, n)
    if not xp.isfinite(w).all() or (w < 0).any():
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    if (w.sum(axis=1) <= 0).any():
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    rng, (rows, n) = random.numpy_generator(generator), w.shape
    if not replacement:
        if num_samples > n:
            raise RuntimeError(f"multinomial: cannot sample n_sample ({num_samples}) > prob_dist.size(-1) "
                               f"({n}) samples without replacement")
        with xp.errstate(divide="ignore"):
            keys = rng.exponential(size=w.shape) / w  # exponential races: the order of arrival is a draw;
        # zero weights arrive last (inf), in index order, as PyTorch's
        i = xp.argsort(keys, axis=1, kind="stable")[:, :num_samples]  # without replacement, in order
    else:
        cdf = xp.cumsum(w, axis=1)
        cdf /= cdf[:, -1:]  # (rows, n), ends at exactly 1
        u = rng.random((rows, num_samples))
        i = xp.stack([xp.searchsorted(c, v, side="right") for c, v in zip(cdf, u, strict=True)])
        i = xp.minimum(i, n - 1)  # (rows, num_samples)
    return _wrap(i.reshape(p.shape[:-1] + (num_samples,)).astype(xp.int64))
