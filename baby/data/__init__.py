"""Data: datasets, the DataLoader and the bundled digits set."""

from . import transforms
from .cifar import CIFAR10
from .dataset import Dataset, TensorDataset
from .digits import Digits
from .download import DatasetError, MissingData
from .loader import DataLoader, collate
from .mnist import MNIST, FashionMNIST, ImageDataset

__all__ = [
    "CIFAR10", "DataLoader", "Dataset", "DatasetError", "Digits", "FashionMNIST", "ImageDataset", "MNIST",
    "MissingData", "TensorDataset", "collate", "transforms",
]
