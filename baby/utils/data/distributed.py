"""torch.utils.data.distributed at PyTorch's path: baby.data's DistributedSampler."""

from ...data.distributed import DistributedSampler  # noqa: F401
