"""torch.utils.data.dataset at PyTorch's path: baby.data's datasets."""

from ...data.dataset import (  # noqa: F401
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
