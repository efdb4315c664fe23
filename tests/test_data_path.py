"""The DataLoader's batch path: one fancy index and one transform per batch, equal to the per-sample path."""

import numpy as np
import pytest
from fake_data import make_cifar, make_mnist

import baby
from baby.data import CIFAR10, MNIST, Batch, DataLoader, Dataset, Digits, Subset, TensorDataset
from baby.data.collate import collate, default_collate
from baby.data.dataset import random_split
from baby.data.transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # the CIFAR-10 statistics `baby train` uses


def _chunks(order, size):
    """The batches of indices a BatchSampler makes of `order`."""
    return [order[k:k + size] for k in range(0, len(order), size)]


class PerSample(Dataset):
    """`dataset` read sample by sample: only __len__ and __getitem__."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        return self.dataset[i]


def _plain(samples):
    """Samples as nested lists, with the type of each field."""
    return [[(type(v).__name__, np.asarray(v).tolist()) for v in s] for s in samples]


def _as_lists(batch):
    """A collated batch as nested lists, with each Tensor's dtype."""
    return [(str(t.dtype), t.numpy().tolist()) if isinstance(t, baby.Tensor) else t for t in batch]


# ---- Batch: the samples of a batch as one array per field ----

FIELDS = {
    "float64 rows, int labels": (np.arange(12.0).reshape(4, 3), np.arange(4)),
    "float32 images, bools": (np.ones((4, 1, 2, 2), np.float32), np.array([True, False, True, True])),
    "uint8, float64 scalars": (np.arange(4, dtype=np.uint8), np.linspace(0, 1, 4)),
    "strings": (np.arange(4.0), np.array(["a", "b", "c", "d"])),
}


@pytest.mark.parametrize("fields", FIELDS.values(), ids=FIELDS.keys())
@pytest.mark.parametrize("fn", [collate, default_collate], ids=["collate", "default_collate"])
def test_collating_a_batch_equals_collating_its_samples(fields, fn):
    batch = Batch(*fields)
    samples = [tuple(f[k] for f in fields) for k in range(4)]
    assert len(batch) == 4 and _plain(batch) == _plain(samples) == _plain([batch[k] for k in range(4)])
    assert _as_lists(fn(batch)) == _as_lists(fn(samples))


def test_batch_is_a_sequence_of_samples():
    batch = Batch(np.arange(6).reshape(3, 2), np.array([7, 8, 9]))
    assert batch[-1][1] == 9 and len(batch[1:]) == 2 and batch[1:][0][1] == 8
    assert repr(batch) == "Batch(ndarray (3, 2), ndarray (3,))"
    with pytest.raises(IndexError):
        batch[3]
    with pytest.raises(ValueError, match=r"fields of one length, got lengths \[3, 2\]"):
        Batch(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="fields of one length"):
        Batch()


@pytest.mark.parametrize("make", [
    lambda: TensorDataset(np.arange(40.0).reshape(20, 2), np.arange(20)),
    lambda: Digits(train=False),
    lambda: random_split(TensorDataset(np.arange(40.0).reshape(20, 2), np.arange(20)), [0.6, 0.4])[0],
    lambda: Subset(Digits(), list(range(50, 10, -3))),
], ids=["tensors", "digits", "random_split", "subset"])
@pytest.mark.parametrize("workers", [0, 2])
def test_getitems_batches_equal_per_sample_batches(make, workers):
    ds = make()
    assert isinstance(ds.__getitems__([0, 2]), Batch)

    def batches(data):
        loader = DataLoader(data, batch_size=4, shuffle=True, seed=1, num_workers=workers)
        return [_as_lists(b) for b in loader]

    assert batches(ds) == batches(PerSample(ds))


# ---- the image datasets: MNIST and CIFAR-10 as `baby train` reads them ----

def test_mnist_loader_is_the_per_sample_path(tmp_path):
    make_mnist(tmp_path, n=150)
    ds = MNIST(tmp_path, transform=Normalize((0.1307,), (0.3081,)))
    batches = list(DataLoader(ds, batch_size=64, shuffle=True, seed=5))
    g = np.random.default_rng(5)
    g.integers(1 << 62)  # the loader's base seed, drawn first as torch draws it
    order = _chunks(g.permutation(len(ds)), 64)
    assert [len(y) for _, y in batches] == [64, 64, 22]
    for (x, y), idx in zip(batches, order, strict=True):
        assert x.dtype == baby.float32 and y.dtype == baby.int64
        np.testing.assert_array_equal(x.numpy(), np.stack([ds[i][0] for i in idx]))
        np.testing.assert_array_equal(y.numpy(), ds.labels[idx])


def test_cifar_augmented_loader_replays_the_draws_per_sample(tmp_path):
    make_cifar(tmp_path, n=20)
    tf = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), Normalize(MEAN, STD)])
    ds, plain = CIFAR10(tmp_path, transform=tf), CIFAR10(tmp_path)
    baby.manual_seed(3)
    g = np.random.default_rng()
    g.bit_generator.state = baby.random.generator().bit_generator.state
    batches = list(DataLoader(ds, batch_size=32, shuffle=True))
    g.integers(1 << 62)
    mean, std = (np.array(v, np.float32).reshape(3, 1, 1) for v in (MEAN, STD))  # (3, 1, 1)
    for (x, y), idx in zip(batches, _chunks(g.permutation(len(ds)), 32), strict=True):
        n = len(idx)
        top, left, flip = g.integers(0, 9, n), g.integers(0, 9, n), g.random(n) < 0.5  # crop, then flip
        expected = []
        for i, t, l, f in zip(idx, top, left, flip, strict=True):
            image = np.pad(plain.images[i], ((0, 0), (4, 4), (4, 4)))[:, t:t + 32, l:l + 32]  # (3, 32, 32)
            expected.append(((image[..., ::-1] if f else image) - mean) / std)
        np.testing.assert_array_equal(x.numpy(), np.stack(expected))
        np.testing.assert_array_equal(y.numpy(), plain.labels[idx])


def test_transform_runs_once_per_batch(tmp_path):
    make_mnist(tmp_path, n=150)
    shapes = []
    ds = MNIST(tmp_path, transform=lambda x: shapes.append(x.shape) or x)
    assert sum(len(y) for _, y in DataLoader(ds, batch_size=64, shuffle=True)) == 150
    assert shapes == [(64, 1, 28, 28), (64, 1, 28, 28), (22, 1, 28, 28)]
    ds[3]
    assert shapes[-1] == (1, 28, 28)


def test_custom_collate_gets_the_samples_of_the_batch(tmp_path):
    make_mnist(tmp_path, n=10)
    ds = MNIST(tmp_path, transform=Normalize((0.5,), (0.5,)))
    got = next(iter(DataLoader(ds, batch_size=4, collate_fn=lambda samples: [s for s in samples])))
    assert len(got) == 4
    for (x, y), (ex, ey) in zip(got, (ds[i] for i in range(4)), strict=True):
        np.testing.assert_array_equal(x, ex)
        assert y == ey
