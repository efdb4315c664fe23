"""torch.nn.parallel: DataParallel (on baby's one CPU device, the wrapped module itself) and
DistributedDataParallel (over MPI, see baby.distributed)."""

from .data_parallel import DataParallel
from .distributed import DDP, DistributedDataParallel
