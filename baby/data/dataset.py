"""Datasets: the map-style and iterable protocols, TensorDataset, Subset, ConcatDataset and random_split."""

import bisect
import itertools
import math
import numbers
import warnings

import numpy as np

from .. import random
from ..tensor import Tensor, as_tensor
from .collate import Batch


class Dataset:
    """Base class for map-style datasets: subclasses define `__len__()` and `__getitem__(i)` (one sample).

    A dataset may also define `__getitems__(indices)` returning the samples at `indices` in one call, as in
    torch; DataLoader then fetches each batch with it. Baby's array-backed datasets return a `Batch` (one
    array per field), which the default collate turns into Tensors without a loop over the samples.
    """

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Base class for stream datasets: subclasses define `__iter__()`; each DataLoader worker reads a copy."""

    def __iter__(self):
        raise TypeError(f"{type(self).__name__} must define __iter__")

    def __add__(self, other):
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the i-th rows of the given arrays (or Tensors), which must all have the same length."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = tuple(a._data if isinstance(a, Tensor) else np.asarray(a) for a in arrays)
        lengths = [len(a) if a.ndim else None for a in self.arrays]
        if None in lengths or len(set(lengths)) != 1:
            shapes = [a.shape for a in self.arrays]
            raise ValueError(f"TensorDataset arrays must share their first dimension, got shapes {shapes}")

    tensors = property(lambda self: tuple(as_tensor(a) for a in self.arrays), doc="The arrays as Tensors.")

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, i):
        return tuple(a[i] for a in self.arrays)

    def __getitems__(self, indices):
        """The samples at `indices` as a Batch: one fancy index into each array."""
        return Batch(*(a[indices] for a in self.arrays))


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, indices

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        if isinstance(i, list):
            return self.dataset[[self.indices[j] for j in i]]
        return self.dataset[self.indices[i]]

    @property
    def __getitems__(self):
        """The wrapped dataset's batched fetch at the mapped indices, where it has one."""
        fetch = getattr(self.dataset, "__getitems__", None)
        if not callable(fetch):
            raise AttributeError(f"{type(self.dataset).__name__} has no __getitems__")
        return lambda indices: fetch([self.indices[i] for i in indices])


class ConcatDataset(Dataset):
    """The samples of each dataset in `datasets`, one dataset after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets must not be empty")
        if any(isinstance(d, IterableDataset) for d in self.datasets):
            raise TypeError("ConcatDataset does not support IterableDataset (use ChainDataset)")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, i):
        if i < 0:
            if -i > len(self):
                raise ValueError(f"ConcatDataset: absolute value of index {i} exceeds the length {len(self)}")
            i += len(self)
        k = bisect.bisect_right(self.cumulative_sizes, i)
        if k == len(self.datasets):
            raise IndexError(f"ConcatDataset index {i} out of range for length {len(self)}")
        return self.datasets[k][i - (self.cumulative_sizes[k - 1] if k else 0)]


class ChainDataset(IterableDataset):
    """The streams of the iterable `datasets`, one after another."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only chains IterableDatasets, got {type(d).__name__}")
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


def _split_lengths(n, lengths):
    """Lengths from fractions as torch does: floor(n * f) each, then the remainder one by one, round-robin."""
    if not math.isclose(sum(lengths), 1) or sum(lengths) > 1:
        return [int(k) for k in lengths]
    out = []
    for i, f in enumerate(lengths):
        if not 0 <= f <= 1:
            raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, got {f}")
        out.append(math.floor(n * f))
    for i in range(n - sum(out)):
        out[i % len(out)] += 1
    for i, k in enumerate(out):
        if k == 0:
            warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.",
                          stacklevel=3)
    return out


def random_split(dataset, lengths, generator=None):
    """Split `dataset` into disjoint random Subsets of the given lengths (or fractions, summing to 1)."""
    if any(isinstance(k, bool) or not isinstance(k, numbers.Real) for k in lengths):
        raise TypeError(f"random_split: lengths must be ints or fractions, got {list(lengths)!r}")
    lengths = _split_lengths(len(dataset), list(lengths))
    if sum(lengths) != len(dataset) or min(lengths, default=0) < 0:
        raise ValueError(f"random_split: lengths {lengths} must be non-negative and sum to the length of the "
                         f"dataset ({len(dataset)})")
    order = random.numpy_generator(generator).permutation(len(dataset)).tolist()
    ends = itertools.accumulate(lengths)
    return [Subset(dataset, order[end - k:end]) for end, k in zip(ends, lengths, strict=True)]
