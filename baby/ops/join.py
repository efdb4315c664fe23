"""Joining and splitting: stack, cat (concat, concatenate), hstack, vstack, split, chunk."""

from .. import dtypes
from ..backend import xp
from ..tensor import Function, as_tensor
from .elementwise import _operand
from .shape import dim_args, getitem, normalize_axes, one_axis


class Stack(Function):
    """Join same-shaped tensors along a new axis."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        return xp.stack(arrays, axis=self.axis)

    def backward(self, gy, node):
        return tuple(xp.moveaxis(gy, self.axis, 0))


class Concatenate(Function):
    """Join tensors along an existing axis."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        return xp.concatenate(arrays, axis=self.axis)

    def backward(self, gy, node):
        ends = xp.cumsum([x.shape[self.axis] for x in node.inputs])[:-1]
        return tuple(xp.split(gy, ends, axis=self.axis))


def _join(op, tensors, axis, ndim_out, verb):
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError(f"{verb} needs at least one tensor")
    axis = normalize_axes(axis, ndim_out, "dim")[0]
    d = dtypes.result_type(*tensors)
    try:
        return op(axis)(*[_operand(t, d) for t in tensors])
    except ValueError:
        shapes = [tuple(t.shape) for t in tensors]
        raise ValueError(f"cannot {verb} shapes {shapes} along dim {axis}") from None


@dim_args
def stack(tensors, dim=0):
    """Join same-shaped tensors along a new dim."""
    tensors = list(tensors)
    return _join(Stack, tensors, dim, (tensors[0].ndim if tensors else 0) + 1, "stack")


@dim_args
def cat(tensors, dim=0):
    """Join tensors along an existing dim (types promote, as PyTorch)."""
    tensors = list(tensors)
    return _join(Concatenate, tensors, dim, tensors[0].ndim if tensors else 1, "cat")


concatenate = concat = cat


def hstack(tensors):
    """Join along dim 1 (dim 0 for 1-d tensors)."""
    tensors = [as_tensor(t) for t in tensors]
    return cat(tensors, 0 if tensors and tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """Join along dim 0, 1-d tensors as rows."""
    return cat([t.reshape(1, -1) if t.ndim == 1 else t for t in map(as_tensor, tensors)], 0)


@dim_args
def split(a, split_size_or_sections, dim=0):
    """Pieces of `split_size` along `dim` (the last may be smaller), or of the listed sizes."""
    d = one_axis(dim, a.shape, "dim")
    n = a.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} add up to {sum(sizes)}, not the {n} of dim {d}")
    else:
        step = int(split_size_or_sections)
        if step <= 0:
            raise ValueError(f"split: split_size must be positive, got {split_size_or_sections}")
        sizes = [min(step, n - i) for i in range(0, n, step)] or [0]
    starts = [0]
    for m in sizes:
        starts.append(starts[-1] + m)
    head = (slice(None),) * d
    return tuple(getitem(a, head + (slice(b, e),)) for b, e in zip(starts, starts[1:], strict=False))


@dim_args
def chunk(a, chunks, dim=0):
    """Up to `chunks` pieces of equal size along `dim` (the last may be smaller)."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = a.shape[one_axis(dim, a.shape, "dim")]
    return split(a, max(-(-n // chunks), 1), dim)
