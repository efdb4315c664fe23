"""The UCI handwritten digits (8x8, 1797 images; scikit-learn's copy of the test set, CC BY 4.0)."""

import gzip
from importlib import resources

import numpy as np

from .dataset import TensorDataset

TEST_FRACTION = 0.2
SPLIT_SEED = 0


class Digits(TensorDataset):
    """8x8 digit images as float32 (1, 8, 8) in [0, 1] (pixel / 16) and int64 labels 0..9.

    `train=None` gives all 1797 images in file order. `train=True` / `False` give a fixed split: a
    permutation from `numpy.random.default_rng(SPLIT_SEED)` puts the first 20% (359 images) in the held-out
    set and the other 1438 in the training set; it never depends on `baby.manual_seed`.
    """

    def __init__(self, train=None):
        if train not in (None, True, False):
            raise ValueError(f"Digits: train must be None, True or False, got {train!r}")
        with resources.files(__package__).joinpath("digits.csv.gz").open("rb") as z, gzip.open(z, "rt") as f:
            raw = np.loadtxt(f, delimiter=",", dtype=np.int64)          # (1797, 65): 64 pixels, label
        images = (raw[:, :64] / 16).astype(np.float32).reshape(-1, 1, 8, 8)  # (N, 1, 8, 8)
        labels = raw[:, 64]
        if train is not None:
            order = np.random.default_rng(SPLIT_SEED).permutation(len(raw))
            n_test = int(len(raw) * TEST_FRACTION)
            keep = np.sort(order[n_test:] if train else order[:n_test])
            images, labels = images[keep], labels[keep]
        super().__init__(images, labels)
        self.classes = list(range(10))

    images = property(lambda self: self.arrays[0], doc="All images, float32 (N, 1, 8, 8).")
    labels = property(lambda self: self.arrays[1], doc="All labels, int64 (N,).")
