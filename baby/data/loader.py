"""DataLoader: batches of Tensors from a dataset, in the main process or in worker processes."""

import math
import numbers
import warnings

from .. import random
from .collate import collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler
from .worker import Fetcher, MultiProcessIter, WorkerPool


class _Endless:
    """The sampler of an iterable dataset: None forever (the stream decides where it ends)."""

    def __iter__(self):
        while True:
            yield None


def _is_count(n, low):
    """True for an int (not a bool) >= low."""
    return not isinstance(n, bool) and isinstance(n, numbers.Integral) and n >= low


def _check_options(dataset, batch_size, shuffle, sampler, batch_sampler, drop_last, num_workers, timeout,
                   prefetch_factor, persistent_workers, seed, generator):
    """Raise as torch does for options that are out of range or mutually exclusive."""
    if isinstance(dataset, IterableDataset):
        for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
            if value not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified {name} option, "
                                 f"but got {name}={value!r}")
    elif not hasattr(dataset, "__getitem__"):
        raise TypeError(f"DataLoader: dataset must define __getitem__ (map-style) or be an IterableDataset, "
                        f"got {type(dataset).__name__}")
    if batch_size is not None and not _is_count(batch_size, 1):
        raise ValueError(f"DataLoader: batch_size must be an integer >= 1 or None, got {batch_size!r}")
    if sampler is not None and shuffle:
        raise ValueError("sampler option is mutually exclusive with shuffle")
    if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
        raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and "
                         "drop_last")
    if batch_size is None and batch_sampler is None and drop_last:
        raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                         "drop_last")
    if not _is_count(num_workers, 0):
        raise ValueError(f"num_workers option should be a non-negative int, got {num_workers!r}; use "
                         f"num_workers=0 to disable multiprocessing")
    if timeout < 0:
        raise ValueError(f"timeout option should be non-negative, got {timeout!r}")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("prefetch_factor option could only be specified in multiprocessing: let "
                         "num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None")
    if prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError(f"prefetch_factor option should be non-negative, got {prefetch_factor!r}")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"DataLoader: seed must be an int or None, got {seed!r}")
    if seed is not None and generator is not None:
        raise ValueError("DataLoader: seed and generator are mutually exclusive (seed=s means "
                         "generator=baby.Generator().manual_seed(s))")


class DataLoader:
    """torch.utils.data.DataLoader: iterate over `dataset` in batches (lists for tuple samples).

    Shuffling draws from `generator` (or, with `seed`, baby's extension, `baby.Generator().manual_seed(seed)`)
    or, when both are None, from the library's generator, so `baby.manual_seed` fixes the order; every epoch
    gets a new order. The default `collate_fn` is `collate`: default_collate with floating batches in the
    default dtype (float32). A dataset's `__getitems__` fetches each batch's samples in one call, as in torch;
    baby's array-backed datasets (TensorDataset, Digits, MNIST, CIFAR10) return a `Batch` from one fancy
    index and one transform of the whole batch, which `collate` stacks without a loop over the samples.

    `num_workers > 0` loads in worker processes (forked where the OS can) that each get a copy of the dataset
    and the seed base_seed + id (baby's, NumPy's and Python's generators); the batches and their order are
    those of `num_workers=0`, random transforms aside. `persistent_workers` keeps them across epochs.
    `pin_memory` has nothing to pin to on the CPU (a warning, as torch gives without an accelerator).
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                 persistent_workers=False, seed=None):
        _check_options(dataset, batch_size, shuffle, sampler, batch_sampler, drop_last, num_workers, timeout,
                       prefetch_factor, persistent_workers, seed, generator)
        self._iterable = isinstance(dataset, IterableDataset)
        if seed is not None:
            generator = random.Generator().manual_seed(int(seed))
        if sampler is None:
            sampler = _Endless() if self._iterable else (
                RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset))
        if batch_sampler is not None:
            batch_size, drop_last = None, False
        elif batch_size is not None:
            batch_sampler = BatchSampler(sampler, int(batch_size), bool(drop_last))
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, bool(drop_last)
        self.sampler, self.batch_sampler, self.generator = sampler, batch_sampler, generator
        if collate_fn is None:
            collate_fn = collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn
        self.num_workers, self.timeout, self.worker_init_fn = int(num_workers), timeout, worker_init_fn
        self.prefetch_factor = 2 if num_workers and prefetch_factor is None else prefetch_factor
        self.pin_memory, self.persistent_workers = pin_memory, persistent_workers
        self.multiprocessing_context = multiprocessing_context
        self._pool = None

    @property
    def _generator(self):
        """The NumPy generator behind `generator` (what a checkpoint stores); None without one."""
        return None if self.generator is None else random.numpy_generator(self.generator)

    @property
    def _index_sampler(self):
        """What one step draws from: the batch sampler, or the sampler when batch_size is None."""
        return self.sampler if self.batch_sampler is None else self.batch_sampler

    def __len__(self):
        if not self._iterable:
            return len(self._index_sampler)
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        if self.pin_memory:
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then device "
                          "pinned memory won't be used.", stacklevel=2)
        base_seed = int(random.numpy_generator(self.generator).integers(1 << 62))  # drawn in both modes, as
        if self.num_workers == 0:                                                  # torch does: same shuffle
            return self._single_process()
        if self._pool is None or not self.persistent_workers:
            pool = WorkerPool(self, base_seed)
            if not self.persistent_workers:
                return MultiProcessIter(self, pool, persistent=False)
            self._pool = pool
        return MultiProcessIter(self, self._pool, persistent=True)

    def _single_process(self):
        fetch = Fetcher(self.dataset, self._iterable, self.batch_sampler is not None, self.collate_fn,
                        self.drop_last)
        for indices in self._index_sampler:
            try:
                yield fetch(indices)
            except StopIteration:
                return
