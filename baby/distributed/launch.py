"""Data-parallel `baby train` under `mpiexec -n N`: join the world, shard the data, wrap the model.

Every rank builds the same model from the run's seed (DistributedDataParallel broadcasts rank 0's anyway),
then draws its dropout and augmentation from its own stream (seed + rank). Each rank trains on its
DistributedSampler shard (seeded with the run's seed, reshuffled each epoch by `set_epoch`) with
`--batch-size` samples per step, so a step sees N x batch-size samples; each evaluates every N-th test
sample and the sums are all-reduced. Rank 0 alone prints, draws the progress bar and writes the run's files.
"""

import os

import numpy as np

from .. import parallel, random
from ..data import DataLoader, DistributedSampler, Subset
from ..tensor import _wrap
from .collectives import all_reduce
from .group import abort, get_rank, get_world_size, init_process_group, is_initialized, launched_by_mpi, mpi


def join():
    """Join the MPI world when mpiexec started this process among others; returns the world size."""
    if launched_by_mpi() <= 1 or is_initialized():
        return get_world_size() if is_initialized() else 1
    init_process_group("mpi")
    MPI = mpi()
    local = MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED).Get_size()  # ranks on this machine
    parallel.set_num_threads(max(1, (os.cpu_count() or 1) // local))
    return get_world_size()


def rank():
    """This process's rank (0 when alone)."""
    return get_rank() if is_initialized() else 0


def world():
    """How many processes train together (1 when alone)."""
    return get_world_size() if is_initialized() else 1


def loaders(train_set, test_set, batch_size, seed):
    """The train and test loaders: this rank's shards under mpiexec (shuffled from `seed`), else the sets."""
    if world() == 1:
        return DataLoader(train_set, batch_size=batch_size, shuffle=True), DataLoader(test_set, batch_size)
    sampler = DistributedSampler(train_set, seed=seed)
    mine = Subset(test_set, range(rank(), len(test_set), world()))
    return DataLoader(train_set, batch_size=batch_size, sampler=sampler), DataLoader(mine, batch_size)


def wrap(model, seed):
    """`model` in DistributedDataParallel under mpiexec (this rank's random stream from seed + rank)."""
    if world() == 1:
        return model
    from ..nn.parallel import DistributedDataParallel

    if rank():
        random.manual_seed(seed + rank())
    return DistributedDataParallel(model)


def summed(*values):
    """`values` (numbers) summed over the ranks; as they are when alone."""
    if world() == 1:
        return values
    t = _wrap(np.array(values, dtype=np.float64))
    all_reduce(t)
    return tuple(t.tolist())


def ended(code):
    """The exit status `code`; a failure under mpiexec aborts every rank (none is left waiting)."""
    if code and is_initialized():
        abort(code)
    return code
