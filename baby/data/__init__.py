"""Data: datasets, samplers, collation, the DataLoader (with worker processes) and the bundled datasets."""

from . import transforms
from .cifar import CIFAR10
from .collate import Batch, collate, default_collate, default_convert
from .dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from .digits import Digits
from .distributed import DistributedSampler
from .download import DatasetError, MissingData
from .loader import DataLoader
from .mnist import MNIST, FashionMNIST, ImageDataset
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from .worker import WorkerInfo, get_worker_info

__all__ = [
    "Batch", "BatchSampler", "CIFAR10", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset",
    "DatasetError", "Digits", "DistributedSampler",
    "FashionMNIST", "ImageDataset", "IterableDataset", "MNIST", "MissingData",
    "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset",
    "WeightedRandomSampler", "WorkerInfo", "collate", "default_collate", "default_convert", "get_worker_info",
    "random_split", "transforms",
]
