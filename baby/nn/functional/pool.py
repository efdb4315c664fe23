"""PyTorch-style pooling on NCHW tensors: max/avg pools (1-3d) and adaptive pools (1-2d) over ops.pool.

Every function takes a batch (N, C, *S) or one unbatched sample (C, *S), as PyTorch does, and runs
ops.pool's op with nchw=True: it takes the channels-last view (N, *S, C) inside (a transpose, never a copy).
"""

from ... import ops
from ...backend import xp
from ...ops.conv.geometry import is_int
from ...ops.pool import avg_pool, max_pool
from ...tensor import Tensor, as_tensor

_DIMS = {1: "L", 2: "H, W", 3: "D, H, W"}


def _batch(name, nd, x):
    """x as a batch (N, C, *S), and whether it came unbatched (C, *S)."""
    x = as_tensor(x)
    if x.ndim not in (nd + 1, nd + 2):
        dims = _DIMS[nd]
        raise ValueError(f"{name}: expected input (N, C, {dims}) or (C, {dims}), got shape {tuple(x.shape)}")
    return (x.reshape(1, *x.shape), True) if x.ndim == nd + 1 else (x, False)  # (N, C, *S)


def _pool(fn, name, nd, x, **kwargs):
    """fn (ops.pool's max_pool or avg_pool) on x (N, C, *S) as one op (it takes the channels-last view)."""
    x, unbatched = _batch(name, nd, x)
    out = fn(x, name=name, nchw=True, **kwargs)  # (N, C, *O) [and indices]
    out = [t.reshape(t.shape[1:]) if unbatched else t for t in (out if isinstance(out, tuple) else (out,))]
    return tuple(out) if len(out) > 1 else out[0]


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-D max pooling of input (N, C, L); stride defaults to kernel_size; -inf padding."""
    return _pool(max_pool, "max_pool1d", 1, input, kernel_size=kernel_size, stride=stride, padding=padding,
                 dilation=dilation, ceil_mode=ceil_mode, return_indices=return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-D max pooling of input (N, C, H, W); stride defaults to kernel_size; -inf padding."""
    return _pool(max_pool, "max_pool2d", 2, input, kernel_size=kernel_size, stride=stride, padding=padding,
                 dilation=dilation, ceil_mode=ceil_mode, return_indices=return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """3-D max pooling of input (N, C, D, H, W); stride defaults to kernel_size; -inf padding."""
    return _pool(max_pool, "max_pool3d", 3, input, kernel_size=kernel_size, stride=stride, padding=padding,
                 dilation=dilation, ceil_mode=ceil_mode, return_indices=return_indices)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-D average pooling of input (N, C, L); stride defaults to kernel_size; zero padding."""
    return _pool(avg_pool, "avg_pool1d", 1, input, kernel_size=kernel_size, stride=stride, padding=padding,
                 ceil_mode=ceil_mode, count_include_pad=count_include_pad)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-D average pooling of input (N, C, H, W); stride defaults to kernel_size; zero padding."""
    return _pool(avg_pool, "avg_pool2d", 2, input, kernel_size=kernel_size, stride=stride, padding=padding,
                 ceil_mode=ceil_mode, count_include_pad=count_include_pad, divisor_override=divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """3-D average pooling of input (N, C, D, H, W); stride defaults to kernel_size; zero padding."""
    return _pool(avg_pool, "avg_pool3d", 3, input, kernel_size=kernel_size, stride=stride, padding=padding,
                 ceil_mode=ceil_mode, count_include_pad=count_include_pad, divisor_override=divisor_override)


def _output_size(name, S, output_size):
    """output_size (an int, or one int or None per spatial dim; None keeps that dim) as a tuple of ints."""
    nd = len(S)
    seq = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * nd
    if len(seq) != nd:
        raise ValueError(f"{name}: output_size={output_size!r} needs {nd} values (one per spatial dim)")
    O = tuple(n if o is None else o for n, o in zip(S, seq, strict=True))
    if not all(is_int(o) for o in O):
        raise TypeError(f"{name}: output_size must be an int or a tuple of {nd} ints or None, "
                        f"got {output_size!r}")
    if min(O) < 1:
        raise ValueError(f"{name}: output_size={output_size!r} must be >= 1 in every dim")
    return tuple(int(o) for o in O)


def _bins(L, o):
    """PyTorch's adaptive bins [floor(i L / o), ceil((i + 1) L / o)) as a table (o, k) of input positions,
    k the widest bin; narrower bins repeat their last position (a max ignores the repeats)."""
    i = xp.arange(o)
    start, end = i * L // o, -(-(i + 1) * L // o)  # (o,), (o,)
    return xp.minimum(start[:, None] + xp.arange((end - start).max()), end[:, None] - 1)  # (o, k)


def _adaptive_avg(name, nd, x, output_size):
    """Means over adaptive bins: a plain mean for output 1, avg_pool for even bins, else averaging matmuls."""
    x, unbatched = _batch(name, nd, x)
    S = x.shape[2:]
    O = _output_size(name, S, output_size)
    if O == (1,) * nd:
        y = ops.mean(x, tuple(range(2, nd + 2)), keepdims=True)  # (N, C, 1, ...)
    elif all(n % o == 0 for n, o in zip(S, O, strict=True)):
        y = _pool(avg_pool, name, nd, x, kernel_size=tuple(n // o for n, o in zip(S, O, strict=True)))
    elif not xp.isfinite(x._data).all():  # NaN, inf: kept in their own bins (a matmul's zeros spread them)
        y = x
        for d, (n, o) in enumerate(zip(S, O, strict=True)):
            y = _bin_means(y, 2 + d, _bins(n, o))
    else:
        y = x
        for d, (n, o) in enumerate(zip(S, O, strict=True)):  # dim d: a matmul with the bin-averaging matrix
            bins = _bins(n, o)
            inside = (xp.arange(n) >= bins[:, :1]) & (xp.arange(n) <= bins[:, -1:])  # (o, n)
            A = Tensor((inside / inside.sum(axis=1, keepdims=True)).T, dtype=x.dtype)  # (n, o)
            y = ops.transpose(ops.transpose(y, 2 + d, -1) @ A, 2 + d, -1)  # (N, C, ..., o, ...)
    return y.reshape(y.shape[1:]) if unbatched else y


def _bin_means(x, d, bins):
    """The means of x over the bins (o, k) of dim d, each bin's repeated positions left out: (..., o, ...)."""
    o, k = bins.shape
    own = xp.ones((o, k), bool)
    own[:, 1:] = bins[:, 1:] != bins[:, :-1]  # (o, k): a bin's own positions (not its repeated last one)
    g = x[(slice(None),) * d + (Tensor(bins.reshape(-1), dtype=xp.int64),)]  # (..., o * k, ...)
    g = g.reshape(*x.shape[:d], o, k, *x.shape[d + 1:])  # (..., o, k, ...)
    tail = (1,) * (x.ndim - d - 1)
    g = ops.where(own.reshape(o, k, *tail), g, 0)  # (..., o, k, ...)
    return g.sum(d + 1) / Tensor(own.sum(axis=1).reshape(o, *tail), dtype=x.dtype)  # (..., o, ...)


def _adaptive_max(name, nd, x, output_size, return_indices):
    """Maxima over adaptive bins: one whole-plane max_pool window for output 1, else max_pool over k-wide bins
    (gathered if uneven)."""
    x, unbatched = _batch(name, nd, x)
    N, C, *S = x.shape
    O = _output_size(name, S, output_size)
    if O == (1,) * nd:  # global: a max pool whose window is the whole plane (one reduction)
        out = _pool(max_pool, name, nd, x, kernel_size=tuple(S), return_indices=return_indices)
        y, idx = out if return_indices else (out, None)
        idx = None if idx is None else idx.numpy()
    else:
        tables = [_bins(n, o) for n, o in zip(S, O, strict=True)]
        for d, (n, o, t) in enumerate(zip(S, O, tables, strict=True)):
            if n % o:  # uneven bins: gather each bin's positions, so that every window is k wide
                x = x[(slice(None),) * (2 + d) + (t.reshape(-1),)]  # (N, C, ..., o * k, ...)
        k = tuple(t.shape[1] for t in tables)
        out = _pool(max_pool, name, nd, x, kernel_size=k, return_indices=return_indices)
        y, idx = out if return_indices else (out, None)
        if return_indices:  # positions in the gathered planes -> positions in the input planes
            planes = xp.unravel_index(idx.numpy(), tuple(t.size for t in tables))
            rows = tuple(t.reshape(-1)[p] for t, p in zip(tables, planes, strict=True))
            idx = xp.ravel_multi_index(rows, S)
    y = y.reshape(y.shape[1:]) if unbatched else y
    if not return_indices:
        return y
    return y, Tensor(idx[0] if unbatched else idx, dtype=xp.int64)


def adaptive_avg_pool1d(input, output_size):
    """Average over PyTorch's adaptive bins of input (N, C, L) to length output_size."""
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Average over PyTorch's adaptive bins of input (N, C, H, W) to output_size (None keeps a dim)."""
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max over PyTorch's adaptive bins of input (N, C, L) to length output_size."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over PyTorch's adaptive bins of input (N, C, H, W) to output_size (None keeps a dim)."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)
