"""Dims as PyTorch takes them: an int or a sequence, negatives counted from the end, checked against a
tensor's number of dims (an IndexError naming the shape when out of range). The room below Tensor and the
ops, which both use it."""

import operator


class DimensionError(IndexError, ValueError):
    """A dim out of range: an IndexError, as PyTorch raises (and a ValueError, as baby raised before)."""


def normalize_axes(axis, ndim, name="axes", shape=None):
    """`axis` (None, int or sequence, negatives allowed) as a sorted tuple of distinct axes in range.

    Errors name `shape` (the tensor's shape) when it is given.
    """
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int and -ndim <= axis < ndim:  # the common case, in range
        return (axis + ndim if axis < 0 else axis,)
    seq = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    try:
        seq = tuple(operator.index(i) for i in seq)
    except TypeError:
        raise TypeError(f"{name} must be ints, got {axis!r}") from None
    out = tuple(sorted({i + ndim if i < 0 else i for i in seq}))
    where = f"of shape {tuple(shape)}" if shape is not None else f"with {ndim} dims"
    if any(not 0 <= i < ndim for i in out):
        raise DimensionError(f"{name}={axis!r} is out of range for a tensor {where} (expected a dim in "
                             f"[{-ndim}, {ndim - 1}])")
    if len(out) != len(seq):
        raise ValueError(f"{name}={axis!r} repeats a dim of a tensor {where}")
    return out


def one_axis(axis, shape, name="axis"):
    """A single axis (an int, negatives allowed) of a tensor of `shape`, as a non-negative int."""
    if isinstance(axis, bool) or not hasattr(axis, "__index__"):
        raise TypeError(f"{name} must be one int, got {axis!r}")
    return normalize_axes(axis, len(shape), name, shape)[0]
