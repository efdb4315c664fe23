"""DistributedSampler: each rank's shard of the dataset, the same indices as torch's for the same seed."""

import math

import numpy as np

from .sampler import Sampler

_MT_LIMIT = (1 << 32) // 20  # torch.randperm takes 32-bit draws below this size (64-bit draws above)


def torch_randperm(n, seed):
    """torch.randperm(n, generator=torch.Generator().manual_seed(seed)) as a NumPy int64 array.

    torch seeds an MT19937 with the low 32 bits of the seed (the reference init_genrand, as NumPy's
    legacy RandomState) and shuffles 0..n-1 by swapping item i with i + draw % (n - i).
    """
    if n >= _MT_LIMIT:
        raise ValueError(f"torch_randperm: n={n} is past the {_MT_LIMIT} items whose order baby reproduces")
    key = np.random.RandomState(seed & 0xFFFFFFFF).get_state()[1]
    bits = np.random.MT19937()
    bits.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": 624}}
    draws = bits.random_raw(max(n - 1, 0)) % np.arange(n, 1, -1, dtype=np.uint64)  # (n - 1,) offsets
    perm = list(range(n))
    for i, z in enumerate(draws.tolist()):
        perm[i], perm[i + z] = perm[i + z], perm[i]
    return np.array(perm, dtype=np.int64)


def _dist(what):
    """The default process group's rank or world size, or the RuntimeError torch's sampler raises."""
    from .. import distributed

    if not distributed.is_available() or not distributed.is_initialized():
        raise RuntimeError(f"DistributedSampler: pass {what} or call baby.distributed.init_process_group "
                           f"first (Requires distributed package to be available)")
    return distributed.get_world_size() if what == "num_replicas" else distributed.get_rank()


class DistributedSampler(Sampler):
    """Rank `rank`'s share of `dataset` for `num_replicas` ranks: every num_replicas-th index of one epoch's
    order (a seeded shuffle, seed + epoch, as torch's), padded by repetition to equal shares unless
    `drop_last` drops the tail. Call `set_epoch(e)` before each epoch for a new order."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        num_replicas = _dist("num_replicas") if num_replicas is None else num_replicas
        rank = _dist("rank") if rank is None else rank
        if not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self):
        n = len(self.dataset)
        order = torch_randperm(n, self.seed + self.epoch).tolist() if self.shuffle else list(range(n))
        if self.drop_last:
            order = order[:self.total_size]
        else:
            pad = self.total_size - n
            order += (order * math.ceil(pad / max(n, 1)))[:pad]
        return iter(order[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """The epoch whose order the next pass takes (seed + epoch seeds the shuffle)."""
        self.epoch = epoch
