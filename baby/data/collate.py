"""Collation: a list of samples -> one batch, field by field, as torch.utils.data's default_collate does."""

import collections.abc

import numpy as np

from .. import dtypes
from ..creation import tensor
from ..tensor import Tensor, as_tensor

ERROR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


class Batch(collections.abc.Sequence):
    """Samples held as one array per field: what `__getitems__` of baby's array-backed datasets returns.

    It is the sequence of samples torch's `__getitems__` protocol asks for (`batch[k]` is a tuple, the
    sample at the k-th index), so any collate_fn takes it; `collate` and `default_collate` turn each field
    into one Tensor at once, never touching the samples one by one.
    """

    def __init__(self, *fields):
        if not fields or len({len(f) for f in fields}) != 1:
            raise ValueError(f"Batch needs fields of one length, got lengths {[len(f) for f in fields]}")
        self.fields = fields

    def __len__(self):
        return len(self.fields[0])

    def __getitem__(self, k):
        if isinstance(k, slice):
            return Batch(*(f[k] for f in self.fields))
        return tuple(f[k] for f in self.fields)

    def __iter__(self):
        return zip(*self.fields, strict=True)

    def __repr__(self):
        return f"Batch({', '.join(f'{type(f).__name__} {tuple(f.shape)}' for f in self.fields)})"


def _is_text(a):
    """True for NumPy arrays of strings, bytes or objects, which collate refuses and convert leaves as is."""
    return a.dtype.kind in "SaUO"


def _stack(arrays, floats):
    """The arrays stacked on a new first axis as a Tensor; floating batches cast to `floats` when given."""
    return as_batch(np.stack(arrays), floats)  # (N, *shape)


def as_batch(batch, floats):
    """A whole batch array (or Tensor) as a Tensor, a floating one cast to `floats` when given."""
    batch = batch._data if isinstance(batch, Tensor) else np.asarray(batch)
    if floats is not None and batch.dtype.kind == "f":
        batch = batch.astype(floats, copy=False)
    return as_tensor(batch)


def _rebuild(elem, values):
    """A container like `elem` (a mapping or a sequence) holding `values`; else a plain dict or list."""
    try:
        return type(elem)(values)
    except TypeError:
        return dict(values) if isinstance(elem, collections.abc.Mapping) else list(values)


def _field(a, floats):
    """One field of a Batch as one Tensor; strings and objects go sample by sample, as their samples would."""
    return _collate(tuple(a), floats) if isinstance(a, np.ndarray) and _is_text(a) else as_batch(a, floats)


def _collate(batch, floats):
    if isinstance(batch, Batch):
        return [_field(a, floats) for a in batch.fields]  # a list, as tuple samples collate to
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([b._data for b in batch], floats)
    if isinstance(elem, np.ndarray):
        if _is_text(elem):
            raise TypeError(ERROR.format(elem.dtype))
        return _stack(batch, floats)
    if isinstance(elem, (np.bool_, np.number)):
        return _stack(batch, floats)
    if isinstance(elem, float):
        return tensor(batch, dtype=dtypes.float64 if floats is None else floats)
    if isinstance(elem, int):  # bools too: a bool tensor, as torch.tensor gives
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild(elem, {k: _collate([d[k] for d in batch], floats) for k in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple
        return type(elem)(*(_collate(f, floats) for f in zip(*batch, strict=True)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(s) != len(elem) for s in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [_collate(f, floats) for f in zip(*batch, strict=True)]  # f: a tuple, as torch passes on
        return fields if isinstance(elem, tuple) else _rebuild(elem, fields)
    raise TypeError(ERROR.format(type(elem)))


def default_collate(batch):
    """torch's default_collate: stack samples into Tensors field by field (tuples -> lists, dicts -> dicts).

    Tensors and NumPy arrays keep their dtype; Python floats become float64, ints int64 and bools bool;
    strings stay a list; mappings, namedtuples and sequences are collated per field, recursively.
    """
    return _collate(batch, None)


def collate(batch):
    """The DataLoader's default: default_collate with every floating batch in the default dtype (float32)."""
    return _collate(batch, dtypes.get_default_dtype())


def default_convert(data):
    """torch's default_convert (batch_size=None): NumPy arrays and scalars inside `data` become Tensors."""
    if isinstance(data, np.ndarray):
        return data if _is_text(data) else as_tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return _rebuild(data, {k: default_convert(v) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes, Tensor)):
        values = [default_convert(d) for d in data]
        return values if isinstance(data, tuple) else _rebuild(data, values)
    return data
