"""DistributedSampler against torch.utils.data.distributed.DistributedSampler: the same shard per rank."""

import numpy as np
import pytest
import torch
import torch.utils.data.distributed as tdist
from baby.utils.data.distributed import DistributedSampler

import baby
from baby.data.distributed import torch_randperm


@pytest.mark.parametrize("n, replicas, shuffle, drop_last, seed, epoch", [
    (10, 2, True, False, 0, 0), (10, 3, True, False, 0, 0), (10, 3, True, True, 0, 0),
    (11, 4, False, False, 0, 0), (11, 4, False, True, 0, 0), (2, 5, True, False, 3, 1),
    (1797, 2, True, False, 42, 3), (1797, 3, True, True, 7, 0), (100, 1, True, False, 0, 2),
])
def test_shards_as_torch(n, replicas, shuffle, drop_last, seed, epoch):
    shards = []
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle, seed, drop_last)
        theirs = tdist.DistributedSampler(range(n), replicas, rank, shuffle, seed, drop_last)
        ours.set_epoch(epoch)
        theirs.set_epoch(epoch)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
        shards.append(list(ours))
    flat = sum(shards, [])
    if drop_last:  # disjoint, the epoch's first replicas * len(shard) indices
        assert len(set(flat)) == len(flat) == replicas * (n // replicas)
    else:  # cover the epoch; the padding repeats the start of the order
        assert set(flat) == set(range(n)) and len(flat) == replicas * -(-n // replicas)


@pytest.mark.parametrize("n, seed", [(0, 0), (1, 5), (7, 2 ** 40 + 3), (1000, 2 ** 32 - 1), (60000, 17)])
def test_randperm_as_torch(n, seed):
    expected = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    np.testing.assert_array_equal(torch_randperm(n, seed), expected)


def test_epochs_differ_and_repeat():
    s = DistributedSampler(range(50), 2, 0)
    first = list(s)
    s.set_epoch(1)
    assert list(s) != first
    s.set_epoch(0)
    assert list(s) == first


def test_in_a_dataloader():
    ds = baby.utils.data.TensorDataset(baby.arange(10))
    loader = baby.utils.data.DataLoader(ds, batch_size=4, sampler=DistributedSampler(ds, 2, 1, shuffle=False))
    assert [b[0].tolist() for b in loader] == [[1, 3, 5, 7], [9]]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(num_replicas=2, rank=2), ValueError, r"Invalid rank 2, rank should be in the interval \[0, 1\]"),
    (dict(num_replicas=2, rank=-1), ValueError, "Invalid rank -1"),
    (dict(rank=0), RuntimeError, "init_process_group"),
    (dict(num_replicas=2), RuntimeError, "init_process_group"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        DistributedSampler(range(4), **kwargs)


def test_torch_path():
    assert baby.utils.data.DistributedSampler is DistributedSampler is baby.data.DistributedSampler
    assert torch.utils.data.distributed.DistributedSampler.__name__ == DistributedSampler.__name__
