"""torch.nn.parallel: DistributedDataParallel (over MPI, see baby.distributed)."""

from .distributed import DDP, DistributedDataParallel
