"""torch.nn.parallel: DataParallel (on baby's one CPU device, the wrapped module itself)."""

from .data_parallel import DataParallel
