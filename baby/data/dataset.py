"""Datasets: the Dataset protocol and TensorDataset, a dataset over arrays that share their first axis."""

import numpy as np

from ..tensor import Tensor


class Dataset:
    """Base class for map-style datasets: subclasses define `__len__()` and `__getitem__(i)` (one sample).

    A dataset may also define `__getitems__(indices)` returning whole batches (one array per field);
    DataLoader then fetches each batch in one call instead of stacking samples one by one.
    """


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

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, i):
        return tuple(a[i] for a in self.arrays)

    def __getitems__(self, indices):
        """The samples at `indices` as one batch array per field."""
        return tuple(a[indices] for a in self.arrays)
