"""Rearranging elements along a dim: narrow, roll, repeat_interleave."""

import operator

from ..backend import xp
from ..tensor import Function, Tensor, _wrap
from .index import index_select
from .shape import getitem, normalize_axes, one_axis


def narrow(a, dim, start, length):
    """The `length` elements of `a` from `start` along `dim` (a view)."""
    d = one_axis(dim, a.shape, "dim")
    n = a.shape[d]
    start = operator.index(start.item() if isinstance(start, Tensor) else start)
    if not -n <= start <= n:
        raise IndexError(f"narrow: start out of range (expected to be in range of [{-n}, {n}], but got "
                         f"{start})")
    start = start + n if start < 0 else start
    if length < 0:
        raise RuntimeError(f"narrow(): length must be non-negative, got {length}")
    if start + length > n:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n}) of dim "
                           f"{d} of shape {tuple(a.shape)}.")
    return getitem(a, (slice(None),) * d + (slice(start, start + length),))


class Roll(Function):
    """Elements shifted cyclically by `shifts` along `dims`."""

    def __init__(self, shifts, dims):
        self.shifts, self.dims = shifts, dims

    def forward(self, a):
        return xp.roll(a, self.shifts, self.dims)

    def backward(self, gy, node):
        return (xp.roll(gy, tuple(-s for s in self.shifts), self.dims),)


def roll(a, shifts, dims=None):
    """`a` rolled by `shifts` along `dims` (flattened and restored when dims is None)."""
    shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: shifts {shifts} need dims (one shift per dim)")
        return Roll(shifts, (0,))(a.reshape(-1)).reshape(*a.shape)  # (numel,) -> a's shape
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims: "
                           f"{len(dims)}")
    dims = tuple(one_axis(d, a.shape, "dims") for d in dims)
    return Roll(tuple(int(s) for s in shifts), dims)(a)


def repeat_interleave(a, repeats=None, dim=None, *, output_size=None):
    """Each element of `a` repeated `repeats` times (an int, or one count per element) along `dim`
    (the flattened input when None); repeat_interleave(counts) alone repeats 0, 1, ... by counts."""
    if repeats is None:
        counts = a
        return _wrap(xp.repeat(xp.arange(len(counts._data)), _counts(counts, len(counts._data), 0)))
    if dim is None:
        a, dim = a.reshape(-1), 0
    d = normalize_axes(dim, a.ndim, "dim", a.shape)[0]
    r = _counts(repeats, a.shape[d], d)
    return index_select(a, d, _wrap(xp.repeat(xp.arange(a.shape[d]), r)))


def _counts(repeats, n, d):
    """`repeats` (an int or a 0-d or 1-d integer tensor) as n non-negative counts."""
    r = repeats._data if isinstance(repeats, Tensor) else xp.asarray(repeats)
    if r.dtype.kind not in "iu" or r.ndim > 1:
        raise RuntimeError(f"repeat_interleave: repeats must be an int or a 0-d or 1-d integer tensor, got "
                           f"{r.dtype} of shape {tuple(r.shape)}")
    if r.ndim == 1 and len(r) != n and len(r) != 1:
        raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along dim, but got "
                           f"repeats.size(0) = {len(r)} and input.size({d}) = {n}")
    if (r < 0).any():
        raise RuntimeError("repeat_interleave: repeats can not be negative")
    return xp.broadcast_to(r.reshape(-1), (n,))
