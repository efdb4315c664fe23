"""DataLoader: batches of Tensors from a dataset, optionally shuffled from a seeded generator."""

import math
import numbers

import numpy as np

from .. import random
from ..tensor import Tensor


def _to_tensor(batch):
    """A batch array as a Tensor: floats become float32, integers int64, anything else keeps its dtype."""
    batch = batch._data if isinstance(batch, Tensor) else np.asarray(batch)
    kind = batch.dtype.kind
    return Tensor(batch, dtype=np.float32 if kind == "f" else np.int64 if kind in "iu" else batch.dtype)


def collate(samples):
    """Stack a list of samples (tuples of arrays/numbers, or single arrays) into Tensors, field by field."""
    if isinstance(samples[0], (tuple, list)):
        return tuple(collate([s[k] for s in samples]) for k in range(len(samples[0])))
    return _to_tensor(np.stack([s._data if isinstance(s, Tensor) else np.asarray(s) for s in samples]))


class DataLoader:
    """Iterate over `dataset` in batches of Tensors (tuples for tuple samples); reshuffles every epoch.

    With `shuffle`, the order comes from a generator seeded with `seed` (created once, so each epoch gets a
    new order) or, when `seed` is None, from `baby.random.generator()` (so `baby.manual_seed` fixes it).
    Datasets with `__getitems__` (TensorDataset, Digits) are indexed once per batch.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            name = type(dataset).__name__
            raise TypeError(f"DataLoader: dataset must define __len__ and __getitem__, got {name}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be an integer >= 1, got {batch_size!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"DataLoader: seed must be an int or None, got {seed!r}")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self._generator = None if seed is None else np.random.default_rng(seed)

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = (self._generator or random.generator()).permutation(n)
        else:
            order = np.arange(n)
        fetch = getattr(self.dataset, "__getitems__", None)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[start:start + self.batch_size]
            if fetch is not None:
                yield tuple(_to_tensor(a) for a in fetch(idx))
            else:
                yield collate([self.dataset[int(i)] for i in idx])
