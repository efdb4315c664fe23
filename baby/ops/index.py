"""Indexing with index tensors: gather, scatter, scatter_add, index_add, index_select, masked_fill, sort,
topk, x[i] = v."""

import collections

from ..backend import xp
from ..tensor import Function, Tensor, _wrap
from .elementwise import _binary, _operand, sum_to, where
from .shape import dim_args, getitem, one_axis

sort_result = collections.namedtuple("sort", ["values", "indices"])
topk_result = collections.namedtuple("topk", ["values", "indices"])


def _along(index, dim):
    """A full NumPy index that picks index[i0, .., in] along `dim` at position (i0, .., in) elsewhere."""
    grid = list(xp.indices(index.shape, sparse=True))  # open grids, one per dim
    grid[dim] = index
    return tuple(grid)


class Gather(Function):
    """out[i][j][k] = a[i][index[i][j][k]][k] (along `dim`); the gradient adds back to the gathered places."""

    def __init__(self, dim, index):
        self.dim, self.index = dim, _along(index, dim)

    def forward(self, a):
        return a[self.index]

    def backward(self, gy, node):
        gx = xp.zeros(node.inputs[0].shape, dtype=gy.dtype)
        xp.add.at(gx, self.index, gy)
        return (gx,)


class ScatterAdd(Function):
    """a with src[i][j][k] added at a[i][index[i][j][k]][k] (along `dim`)."""

    def __init__(self, dim, index):
        self.dim, self.index = dim, _along(index, dim)

    def forward(self, a, src):
        out = a.copy()
        xp.add.at(out, self.index, src[tuple(slice(n) for n in self.index_shape(src))])
        return out

    def index_shape(self, src):
        return xp.broadcast_shapes(*(i.shape for i in self.index))

    def backward(self, gy, node):
        src = node.inputs[1]._data
        gsrc = xp.zeros(src.shape, dtype=gy.dtype)
        gsrc[tuple(slice(n) for n in self.index_shape(src))] = gy[self.index]
        return gy, gsrc


class SetItem(Function):
    """a with a[index] = v: the gradient of `a` is zero where it was overwritten."""

    def __init__(self, index):
        self.index = index

    def forward(self, a, v):
        out = a.copy()
        out[self.index] = v
        return out

    def backward(self, gy, node):
        ga = gy.copy()
        ga[self.index] = 0
        v = node.inputs[1]
        gv = sum_to(gy[self.index], v.shape) if v.requires_grad else None
        return ga, gv


def _indices(index, a, dim, name):
    """`index` as an int64 array of the same number of dims as `a`, checked against `a`'s size at `dim`."""
    i = index._data if isinstance(index, Tensor) else xp.asarray(index)
    if i.dtype.kind not in "iu":
        raise TypeError(f"{name}: index must be an integer tensor, got dtype {i.dtype}")
    if i.ndim != a.ndim:
        raise ValueError(f"{name}: index has {i.ndim} dims, expected {a.ndim} (input {tuple(a.shape)})")
    n = a.shape[dim]
    if i.size and (i.min() < -n or i.max() >= n):
        raise IndexError(f"{name}: index out of range for dim {dim} of size {n}")
    return i.astype(xp.int64, copy=False)


def gather(a, dim, index):
    """Values of `a` along `dim` at `index` (same number of dims as `a`)."""
    d = one_axis(dim, a.shape, "dim")
    return Gather(d, _indices(index, a, d, "gather"))(a)


def scatter_add(a, dim, index, src):
    """`a` with `src` added at `index` along `dim` (repeated indices add up)."""
    a, src = _binary(a, src) if not isinstance(src, Tensor) or src.dtype != a.dtype else (a, src)
    d, i = _scatter_index(a, dim, index, src, "scatter_add")
    return ScatterAdd(d, i)(a, src)


def index_select(a, dim, index):
    """The entries of `a` at the 1-d `index` along `dim`."""
    d = one_axis(dim, a.shape, "dim")
    i = index._data if isinstance(index, Tensor) else xp.asarray(index)
    if i.ndim > 1 or i.dtype.kind not in "iu":
        raise TypeError(f"index_select: index must be a 1-d integer tensor, got {i.dtype} of shape "
                        f"{tuple(i.shape)}")
    return getitem(a, (slice(None),) * d + (_wrap(i),))


def masked_fill(a, mask, value):
    """`a` with `value` wherever the bool `mask` is true (mask and `a` broadcast together)."""
    m = mask._data if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype != bool:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}")
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, but got tensor with "
                           f"{value.ndim} dimension(s).")
    try:
        xp.broadcast_shapes(m.shape, a.shape)
    except ValueError:
        raise RuntimeError(f"masked_fill: mask of shape {tuple(m.shape)} does not broadcast with the input's "
                           f"shape {tuple(a.shape)}") from None
    v = _operand(value, a.dtype) if isinstance(value, Tensor) else xp.asarray(value, a.dtype)
    return where(m, v, a)


@dim_args
def sort(a, dim=-1, descending=False, stable=False):
    """(values, indices) sorted along `dim` (ties keep their order)."""
    d = one_axis(dim, a.shape, "dim")
    i = argsort(a, d, descending)
    return sort_result(gather(a, d, i), i)


@dim_args
def argsort(a, dim=-1, descending=False, stable=False):
    """The indices that sort `a` along `dim` (int64; ties keep their order)."""
    d = one_axis(dim, a.shape, "dim")
    x = a._data
    if descending:
        n = x.shape[d]
        i = n - 1 - xp.flip(xp.argsort(xp.flip(x, d), axis=d, kind="stable"), d)  # ties in their order
        return _wrap(i.astype(xp.int64))
    return _wrap(xp.argsort(x, axis=d, kind="stable").astype(xp.int64))


@dim_args
def topk(a, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the k largest (or smallest) entries along `dim`, in order."""
    d = one_axis(dim, a.shape, "dim")
    if not 0 <= k <= a.shape[d]:
        raise RuntimeError(f"topk: k={k} is out of range for dim {d} of size {a.shape[d]}")
    i = argsort(a, d, descending=largest)._data
    i = _wrap(xp.take(i, range(k), axis=d))
    return topk_result(gather(a, d, i), i)


def nonzero(a, as_tuple=False):
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or one index tensor per dim."""
    idx = xp.nonzero(a._data)
    if as_tuple:
        return tuple(_wrap(i.astype(xp.int64)) for i in idx)
    return _wrap(xp.stack(idx, axis=1).astype(xp.int64))


class Scatter(Function):
    """a with a[..index along dim..] = src (the part of src of index's shape); the rest of a kept."""

    def __init__(self, dim, index):
        self.index, self.part = _along(index, dim), tuple(slice(n) for n in index.shape)

    def forward(self, a, src):
        out = a.copy()
        out[self.index] = src[self.part]
        return out

    def backward(self, gy, node):
        a, src = node.inputs
        ga = gy.copy()
        ga[self.index] = 0  # overwritten places get nothing back
        gsrc = None
        if src.requires_grad:
            gsrc = xp.zeros(src.shape, gy.dtype)
            gsrc[self.part] = gy[self.index]
        return ga, gsrc


def _scatter_index(a, dim, index, src, name):
    """The checked dim and index of scatter / scatter_add: index no larger than src, nor a off `dim`."""
    d = one_axis(dim, a.shape, "dim")
    i = _indices(index, a, d, name)
    bigger = [k for k in range(a.ndim) if i.shape[k] > src.shape[k] or (k != d and i.shape[k] > a.shape[k])]
    if bigger:
        raise RuntimeError(f"{name}: expected index {tuple(i.shape)} to be smaller than self "
                           f"{tuple(a.shape)} apart from dimension {d} and to be smaller size than src "
                           f"{tuple(src.shape)}")
    return d, i


def scatter(a, dim, index, src=None, value=None):
    """`a` with src (or the number `value`) written at `index` along `dim`."""
    src = value if src is None else src
    if not isinstance(src, Tensor):
        i = index._data if isinstance(index, Tensor) else xp.asarray(index)
        src = _wrap(xp.full(i.shape, src, dtype=a.dtype))
    a, src = _binary(a, src) if src.dtype != a.dtype else (a, src)
    d, i = _scatter_index(a, dim, index, src, "scatter")
    return Scatter(d, i)(a, src)


class IndexAdd(Function):
    """a with alpha * src[..., j, ...] added at a[..., index[j], ...] along `dim` (repeats add up)."""

    def __init__(self, dim, index, alpha):
        self.dim, self.index, self.alpha = dim, index, alpha

    def forward(self, a, src):
        out = a.copy()
        at = (slice(None),) * self.dim + (self.index,)
        xp.add.at(out, at, src * self.alpha if self.alpha != 1 else src)
        return out

    def backward(self, gy, node):
        gsrc = xp.take(gy, self.index, axis=self.dim)  # (..., len(index), ...)
        return gy, gsrc * self.alpha if self.alpha != 1 else gsrc


def index_add(a, dim, index, source, *, alpha=1):
    """`a` with alpha * source added at the 1-d `index` along `dim` (repeated indices add up)."""
    d = one_axis(dim, a.shape, "dim")
    i = index._data if isinstance(index, Tensor) else xp.asarray(index)
    if i.ndim > 1 or i.dtype.kind not in "iu":
        raise TypeError(f"index_add: index must be a 1-d integer tensor, got {i.dtype} of shape "
                        f"{tuple(i.shape)}")
    i = i.reshape(-1).astype(xp.int64)  # (k,)
    want = a.shape[:d] + (len(i),) + a.shape[d + 1:]
    if source.shape != want:
        raise RuntimeError(f"index_add: source of shape {tuple(source.shape)} does not match: expected "
                           f"{want} for {len(i)} indices along dim {d} of input {tuple(a.shape)}")
    n = a.shape[d]
    if i.size and (i.min() < -n or i.max() >= n):
        raise IndexError(f"index_add: index {int(i.max() if i.max() >= n else i.min())} is out of bounds for "
                         f"dimension {d} with size {n}")
    return IndexAdd(d, i % max(n, 1), alpha)(a, _operand(source, a.dtype))
