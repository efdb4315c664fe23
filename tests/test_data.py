"""Datasets and DataLoader: lengths, batching, dtypes, shuffling, and the bundled digits set."""

import numpy as np
import pytest

import baby
from baby.data import DataLoader, Dataset, Digits, TensorDataset


class Squares(Dataset):
    """A per-item dataset (no __getitems__): sample i is (float64 vector, Python int label)."""

    def __len__(self):
        return 10

    def __getitem__(self, i):
        return np.full(3, i * i, dtype=np.float64), i % 3


def _tensor_dataset(n=10):
    return TensorDataset(np.arange(n * 2, dtype=np.float64).reshape(n, 2), np.arange(n))


@pytest.mark.parametrize("make", [_tensor_dataset, Squares], ids=["array-backed", "per-item"])
@pytest.mark.parametrize("batch_size, drop_last, expected", [
    (1, False, 10), (3, False, 4), (3, True, 3), (5, True, 2), (10, False, 1), (11, False, 1), (11, True, 0),
])
def test_len_agrees_with_iteration(make, batch_size, drop_last, expected):
    loader = DataLoader(make(), batch_size=batch_size, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(batches) == expected
    sizes = [len(b[0]) for b in batches]
    assert all(s == batch_size for s in sizes[:-1])
    assert sum(sizes) == (10 - 10 % batch_size if drop_last else 10)


@pytest.mark.parametrize("make", [_tensor_dataset, Squares], ids=["array-backed", "per-item"])
def test_batches_are_tensors_with_float32_and_int64(make):
    x, y = next(iter(DataLoader(make(), batch_size=4)))
    assert isinstance(x, baby.Tensor) and isinstance(y, baby.Tensor)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.shape[0] == y.shape[0] == 4


def test_fast_path_matches_per_item():
    ds = _tensor_dataset()
    order = [[tuple(t.numpy().tolist()) for t in b] for b in DataLoader(ds, batch_size=4)]
    ds.__getitems__ = None
    slow = [[tuple(t.numpy().tolist()) for t in b] for b in DataLoader(ds, batch_size=4)]
    assert order == slow


def _labels(loader):
    return np.concatenate([y.numpy() for _, y in loader])


def test_shuffle_with_seed_is_reproducible_and_reshuffles():
    a = DataLoader(_tensor_dataset(50), batch_size=7, shuffle=True, seed=3)
    b = DataLoader(_tensor_dataset(50), batch_size=7, shuffle=True, seed=3)
    first, second = _labels(a), _labels(a)
    np.testing.assert_array_equal(first, _labels(b))
    np.testing.assert_array_equal(second, _labels(b))
    assert not np.array_equal(first, second), "each epoch must get a new order"
    assert sorted(first) == list(range(50))


def test_shuffle_without_seed_follows_manual_seed():
    loader = DataLoader(_tensor_dataset(50), batch_size=8, shuffle=True)
    baby.manual_seed(7)
    first = _labels(loader)
    baby.manual_seed(7)
    np.testing.assert_array_equal(first, _labels(loader))
    assert not np.array_equal(first, np.arange(50))


def test_no_shuffle_keeps_order():
    np.testing.assert_array_equal(_labels(DataLoader(_tensor_dataset(), batch_size=3)), np.arange(10))


def test_tensor_dataset():
    ds = TensorDataset(baby.Tensor([[1.0, 2.0], [3.0, 4.0]]), np.array([0, 1]))
    assert len(ds) == 2
    x, y = ds[1]
    np.testing.assert_array_equal(x, [3.0, 4.0])
    assert y == 1


@pytest.mark.parametrize("arrays, match", [
    ((np.zeros((3, 2)), np.zeros(4)), "first dimension"),
    ((np.zeros(()),), "first dimension"),
    ((), "at least one"),
])
def test_tensor_dataset_errors(arrays, match):
    with pytest.raises(ValueError, match=match):
        TensorDataset(*arrays)


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=2.5), ValueError, "batch_size"),
    (dict(seed="x"), TypeError, "seed"),
])
def test_loader_errors(kwargs, err, match):
    with pytest.raises(err, match=match):
        DataLoader(_tensor_dataset(), **kwargs)
    with pytest.raises(TypeError, match="dataset"):
        DataLoader(object())


@pytest.mark.parametrize("train, n", [(None, 1797), (True, 1438), (False, 359)])
def test_digits(train, n):
    ds = Digits(train)
    assert len(ds) == n
    assert ds.images.shape == (n, 1, 8, 8) and ds.images.dtype == np.float32
    assert ds.labels.shape == (n,) and ds.labels.dtype == np.int64
    assert ds.images.min() == 0.0 and ds.images.max() == 1.0
    assert set(ds.labels.tolist()) == set(range(10))
    x, y = ds[0]
    assert x.shape == (1, 8, 8) and 0 <= y <= 9


def test_digits_split_is_fixed_and_disjoint():
    every = {tuple(x.ravel()) + (int(y),) for x, y in zip(Digits().images, Digits().labels, strict=True)}
    train, test = Digits(train=True), Digits(train=False)
    a = {tuple(x.ravel()) + (int(y),) for x, y in zip(train.images, train.labels, strict=True)}
    b = {tuple(x.ravel()) + (int(y),) for x, y in zip(test.images, test.labels, strict=True)}
    assert a | b <= every and not a & b
    baby.manual_seed(123)
    np.testing.assert_array_equal(Digits(train=False).labels, test.labels)


def test_digits_bad_split():
    with pytest.raises(ValueError, match="train"):
        Digits(train="yes")
