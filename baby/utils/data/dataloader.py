"""torch.utils.data.dataloader at PyTorch's path: baby.data's DataLoader and what it is made of."""

from ...data.collate import default_collate, default_convert  # noqa: F401
from ...data.dataset import Dataset, IterableDataset  # noqa: F401
from ...data.loader import DataLoader  # noqa: F401
from ...data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler  # noqa: F401
from ...data.worker import get_worker_info  # noqa: F401
