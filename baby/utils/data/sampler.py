"""torch.utils.data.sampler at PyTorch's path: baby.data's samplers."""

from ...data.sampler import (  # noqa: F401
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
