"""Shape ops: reshape, permute, broadcast_to, getitem, pad, flip, dilate, undilate, unsqueeze, squeeze,
flatten, expand, repeat, t, clone."""

import functools
import math
import operator

from ..backend import xp
from ..dims import DimensionError, normalize_axes, one_axis  # noqa: F401  (the ops import them from here)
from ..tensor import Function, Tensor
from .elementwise import sum_to


def dim_args(fn):
    """Let `fn` take axis= / axes= for dim= and keepdims= for keepdim= (NumPy's and the book's spellings)."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        for alias in ("axis", "axes"):
            if alias in kwargs:
                if "dim" in kwargs:
                    raise TypeError(f"{fn.__name__}() got both dim and {alias}")
                kwargs["dim"] = kwargs.pop(alias)
        if "keepdims" in kwargs:
            kwargs["keepdim"] = kwargs.pop("keepdims")
        return fn(*args, **kwargs)

    return wrapped


class Reshape(Function):
    """The same elements in a new shape."""

    view = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        return a.reshape(self.shape)

    def backward(self, gy, node):
        return (gy.reshape(node.inputs[0].shape),)


class Permute(Function):
    """Axes reordered (a view)."""

    view = True

    def __init__(self, axes):
        self.axes = axes

    def forward(self, a):
        return a.transpose(self.axes)

    def backward(self, gy, node):
        return (gy.transpose(sorted(range(len(self.axes)), key=self.axes.__getitem__)),)  # the inverse order


class BroadcastTo(Function):
    """Broadcast to a larger shape (a view)."""

    view = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        return xp.broadcast_to(a, self.shape)

    def backward(self, gy, node):
        return (sum_to(gy, node.inputs[0].shape),)


class GetItem(Function):
    """a[index]: ints, slices with steps, None, Ellipsis, integer/bool arrays (repeats accumulate)."""

    view = True

    def __init__(self, index):
        self.index = index

    def forward(self, a):
        y = a[self.index]
        if not isinstance(y, xp.ndarray):  # every dim indexed by an int: a 0-d view, not a NumPy scalar
            y = a[(self.index if isinstance(self.index, tuple) else (self.index,)) + (Ellipsis,)]
        return y

    def backward(self, gy, node):
        x = node.inputs[0]
        gx = xp.zeros(x.shape, dtype=gy.dtype)
        parts = self.index if isinstance(self.index, tuple) else (self.index,)
        if any(isinstance(i, xp.ndarray) for i in parts):
            xp.add.at(gx, self.index, gy)
        else:
            gx[self.index] = gy
        return (gx,)


class Pad(Function):
    """Constant padding: `pad` is one (before, after) pair per axis."""

    def __init__(self, pad, value=0):
        self.pad, self.value = pad, value

    def forward(self, a):
        return xp.pad(a, self.pad, constant_values=self.value)

    def backward(self, gy, node):
        return (gy[tuple(slice(b, gy.shape[i] - e) for i, (b, e) in enumerate(self.pad))],)


class Flip(Function):
    """Reverse the order of elements along `axes` (a view)."""

    view = True

    def __init__(self, axes):
        self.axes = axes

    def forward(self, a):
        return xp.flip(a, self.axes)

    def backward(self, gy, node):
        return (xp.flip(gy, self.axes),)


def _every(ndim, axes, step):
    """An index taking every `step`-th element along `axes`."""
    return tuple(slice(None, None, step) if i in axes else slice(None) for i in range(ndim))


class Dilate(Function):
    """Insert `dilation` zeros between neighbouring elements along `axes`: n -> n + (n - 1) * dilation."""

    def __init__(self, axes, dilation):
        self.axes, self.dilation = axes, dilation

    def forward(self, a):
        d = self.dilation
        shape = [n + (n - 1) * d if i in self.axes and n else n for i, n in enumerate(a.shape)]  # dilated
        out = xp.zeros(shape, a.dtype)
        out[_every(a.ndim, self.axes, d + 1)] = a
        return out

    def backward(self, gy, node):
        return (gy[_every(gy.ndim, self.axes, self.dilation + 1)],)


class Undilate(Function):
    """Keep every (dilation + 1)-th element along `axes`: the inverse of dilate."""

    view = True

    def __init__(self, axes, dilation):
        self.axes, self.dilation = axes, dilation

    def forward(self, a):
        return a[_every(a.ndim, self.axes, self.dilation + 1)]

    def backward(self, gy, node):
        gx = xp.zeros(node.inputs[0].shape, dtype=gy.dtype)
        gx[_every(gy.ndim, self.axes, self.dilation + 1)] = gy
        return (gx,)


def reshape(a, *shape):
    """The same elements in `shape` (one entry may be -1)."""
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    if -1 in shape:
        known = math.prod(n for n in shape if n != -1)
        if shape.count(-1) == 1 and known and a.numel() % known == 0:
            shape = tuple(a.numel() // known if n == -1 else n for n in shape)
    if min(shape, default=0) < 0 or math.prod(shape) != a.numel():
        raise ValueError(f"cannot reshape a tensor of shape {tuple(a.shape)} ({a.numel()} elements) into "
                         f"{shape}")
    return Reshape(shape)(a)


def permute(a, *axes):
    """Reorder the axes (a view)."""
    axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
    if set(map(type, axes)) <= {int} and sorted(axes) == list(range(a.ndim)):  # the common case
        return Permute(axes)(a)
    if len(axes) != a.ndim:
        raise ValueError(f"permute axes {axes} are not a permutation of the {a.ndim} dims of shape "
                         f"{tuple(a.shape)}")
    normalize_axes(axes, a.ndim, "permute axes", a.shape)  # ints, in range, no repeats
    return Permute(tuple(operator.index(i) % a.ndim for i in axes))(a)


def transpose(a, dim0=-2, dim1=-1, axes=None):
    """Swap two axes (a view); the book's transpose(a, axes=(i, j)) swaps i and j, and a longer `axes`
    is a permutation."""
    if isinstance(dim0, (tuple, list)):
        axes = dim0
    if axes is not None:
        return transpose(a, *axes) if len(axes) == 2 else permute(a, *axes)
    axes = list(range(a.ndim))
    d0, d1 = one_axis(dim0, a.shape, "dim0"), one_axis(dim1, a.shape, "dim1")
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return Permute(tuple(axes))(a)


def broadcast_to(a, shape):
    """Broadcast to `shape` (a view)."""
    shape = tuple(shape)
    try:
        if xp.broadcast_shapes(a.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"cannot broadcast a tensor of shape {tuple(a.shape)} to {shape}") from None
    return BroadcastTo(shape)(a)


def _index(i, top=True):
    """An index with Tensors, lists and nested tuples (sequences of indices) turned into arrays."""
    if isinstance(i, tuple) and top:
        return tuple(_index(j, top=False) for j in i)
    if isinstance(i, Tensor):
        return i._data if i.dtype == bool else i._data.astype(xp.int64, copy=False)
    if isinstance(i, (list, tuple)):
        return xp.asarray(i)
    return i


def getitem(a, index):
    """a[index] (basic and integer-array indexing)."""
    index = _index(index)
    try:
        return GetItem(index)(a)
    except IndexError as e:
        raise IndexError(f"index {index!r} is invalid for a tensor of shape {tuple(a.shape)}: {e}") from None


def pad(a, pad, value=0):
    """Pad with `value`: `pad` is one (before, after) pair per axis, or per trailing axes."""
    pad = tuple((int(b), int(e)) for b, e in pad)
    if len(pad) > a.ndim or any(b < 0 or e < 0 for b, e in pad):
        raise ValueError(f"pad {pad} needs at most {a.ndim} non-negative (before, after) pairs "
                         f"for a tensor of shape {tuple(a.shape)}")
    return Pad(((0, 0),) * (a.ndim - len(pad)) + pad, value)(a)


def flip(a, dims=None, axes=None):
    """Reverse the element order along `dims` (the book's `axes`; all when None)."""
    dims = axes if dims is None else dims
    return Flip(normalize_axes(dims, a.ndim, "dims", a.shape))(a)


def dilate(a, axes, dilation=1):
    """Insert `dilation` zeros between elements along `axes`."""
    if int(dilation) != dilation or dilation < 0:
        raise ValueError(f"dilation must be an int >= 0, got {dilation!r}")
    return Dilate(normalize_axes(axes, a.ndim, "axes", a.shape), int(dilation))(a)


def undilate(a, axes, dilation=1):
    """Keep every (dilation + 1)-th element along `axes` (the inverse of dilate)."""
    if int(dilation) != dilation or dilation < 0:
        raise ValueError(f"dilation must be an int >= 0, got {dilation!r}")
    return Undilate(normalize_axes(axes, a.ndim, "axes", a.shape), int(dilation))(a)


def unsqueeze(a, dim):
    """A new dim of size 1 at `dim` (a view)."""
    d = one_axis(dim, a.shape + (1,), "dim")
    return Reshape(a.shape[:d] + (1,) + a.shape[d:])(a)


def squeeze(a, dim=None):
    """Drop dims of size 1 (all, or those of `dim` that have size 1)."""
    dims = normalize_axes(dim, a.ndim, "dim", a.shape)
    return Reshape(tuple(n for i, n in enumerate(a.shape) if not (i in dims and n == 1)))(a)


def flatten(a, start_dim=0, end_dim=-1):
    """Dims start_dim..end_dim merged into one."""
    shape = a._data.shape
    if not shape:
        return Reshape((1,))(a)
    s, e = one_axis(start_dim, shape, "start_dim"), one_axis(end_dim, shape, "end_dim")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {shape}")
    return Reshape((*shape[:s], math.prod(shape[s:e + 1]), *shape[e + 1:]))(a)  # (..., prod(s..e), ...)


def unflatten(a, dim, sizes):
    """Dim `dim` split into `sizes` (one may be -1)."""
    d = one_axis(dim, a.shape, "dim")
    return reshape(a, *a.shape[:d], *sizes, *a.shape[d + 1:])


def _sizes(sizes):
    return tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else tuple(sizes)


def expand(a, *sizes):
    """Broadcast to `sizes` (a view; -1 keeps a dim's size)."""
    sizes = _sizes(sizes)
    lead = len(sizes) - a.ndim
    if lead < 0:
        raise ValueError(f"expand: {len(sizes)} sizes {sizes} for a tensor of shape {tuple(a.shape)}")
    return broadcast_to(a, tuple(a.shape[i - lead] if n == -1 and i >= lead else n
                                 for i, n in enumerate(sizes)))


def repeat(a, *sizes):
    """The tensor tiled `sizes` times along each dim (leading sizes add dims)."""
    sizes = _sizes(sizes)
    lead = len(sizes) - a.ndim
    if lead < 0:
        raise ValueError(f"repeat: {len(sizes)} repeats {sizes} for a tensor of shape {tuple(a.shape)}; give "
                         "at least one per dim")
    shape = (1,) * lead + tuple(a.shape)
    x = a.reshape(*[m for n in shape for m in (1, n)])  # (1, n0, 1, n1, ...)
    x = broadcast_to(x, tuple(m for r, n in zip(sizes, shape, strict=True) for m in (r, n)))  # (r0, n0, ...)
    return x.reshape(*[r * n for r, n in zip(sizes, shape, strict=True)])


def t(a):
    """The transpose of a matrix (vectors and scalars unchanged)."""
    if a.ndim > 2:
        raise ValueError(f"t() expects a tensor with <= 2 dims, got shape {tuple(a.shape)}; use transpose")
    return a if a.ndim < 2 else transpose(a, 0, 1)


def clone(a):
    """A copy with its own memory; gradients flow back to `a`."""
    return Clone()(a)


def contiguous(a):
    """`a` itself when its memory is C-ordered, else a C-ordered copy."""
    return a if a._data.flags.c_contiguous else clone(a)


class Clone(Function):
    """A copy of the array (identity gradient)."""

    def forward(self, a):
        return a.copy()

    def backward(self, gy, node):
        return (gy,)
