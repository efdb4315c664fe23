"""baby.utils.data against torch.utils.data: collation, samplers, splits, loader options, worker processes."""

import collections
import os
import signal
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import baby
import baby.utils.data as bud

Point = collections.namedtuple("Point", "x y")


def _same(ours, theirs):
    """Assert a (nested) baby batch equals a torch batch: structure, dtypes and values."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, baby.Tensor), type(ours)
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch."), (ours.dtype, theirs.dtype)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and ours.keys() == theirs.keys()
        for k in theirs:
            _same(ours[k], theirs[k])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), (type(ours), type(theirs))
        for a, b in zip(ours, theirs, strict=True):
            _same(a, b)
    else:
        assert ours == theirs


class Rows(bud.Dataset):
    """A per-item map-style dataset: sample i is (float32 vector, int label), each read doing some work."""

    def __init__(self, n=23, bad=None):
        self.n, self.bad, self.tag = n, bad, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.bad:
            raise ValueError(f"cannot read {i}")
        return np.full(3, i, dtype=np.float32), i + self.tag


class TorchRows(tud.Dataset):
    def __init__(self, n=23):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(3, i, dtype=np.float32), i


class Stream(bud.IterableDataset):
    """range(start, stop), split among workers as torch's IterableDataset example does (uneven on purpose)."""

    def __iter__(self):
        info = bud.get_worker_info()
        if info is None:
            return iter(range(10))
        return iter(range(info.id * 5, info.id * 8 + 5))


def _tensors(n=10):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    return bud.TensorDataset(x, np.arange(n)), tud.TensorDataset(torch.from_numpy(x), torch.arange(n))


def _labels(loader):
    return [b[1].tolist() for b in loader]


# ---- the same path, the same objects ----

def test_utils_data_is_baby_data_at_torchs_path():
    from baby.utils.data import DataLoader, TensorDataset
    assert DataLoader is baby.data.DataLoader and TensorDataset is baby.data.TensorDataset
    assert baby.utils.data.random_split is baby.data.random_split and bud.get_worker_info() is None


# ---- default_collate: types and dtypes as torch's ----

COLLATE_CASES = {
    "python floats": [1.5, 2.0],
    "python ints": [1, 2],
    "bools": [True, False],
    "strings": ["a", "b"],
    "float32 arrays": [np.ones(2, np.float32), np.zeros(2, np.float32)],
    "float64 arrays": [np.ones((2, 2)), np.zeros((2, 2))],
    "int32 arrays": [np.arange(3, dtype=np.int32)] * 2,
    "uint8 arrays": [np.arange(3, dtype=np.uint8)] * 2,
    "numpy scalars": [np.float64(1.0), np.float64(2.0)],
    "numpy float32 scalars": [np.float32(1.0), np.float32(2.0)],
    "tuples": [(1.0, 2, "x"), (3.0, 4, "y")],
    "lists": [[1, 2], [3, 4]],
    "dicts": [{"a": 1.0, "b": np.ones(2, np.float32)}, {"a": 2.0, "b": np.zeros(2, np.float32)}],
    "nested": [{"x": (np.ones(2), [1, 2]), "s": "p"}, {"x": (np.zeros(2), [3, 4]), "s": "q"}],
    "namedtuples": [Point(1, 2.0), Point(3, 4.0)],
}


@pytest.mark.parametrize("name", COLLATE_CASES)
def test_default_collate_matches_torch(name):
    batch = COLLATE_CASES[name]
    _same(bud.default_collate(batch), tud.default_collate(batch))


def test_default_collate_tensors_and_errors():
    a, b = np.ones((2, 3), np.float64), np.zeros((2, 3), np.float64)
    _same(bud.default_collate([baby.tensor(a), baby.tensor(b)]),
          tud.default_collate([torch.tensor(a), torch.tensor(b)]))
    with pytest.raises(RuntimeError, match="equal size"):
        bud.default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate"):
        bud.default_collate([object(), object()])
    _same(bud.default_convert((np.ones(2), 3)), tud.default_convert((np.ones(2), 3)))


# ---- the loader with torch's defined orders ----

@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (3, False), (3, True), (10, False), (11, True),
                                                   (11, False)])
def test_sequential_batches_match_torch(batch_size, drop_last):
    ours, theirs = _tensors()
    a = bud.DataLoader(ours, batch_size=batch_size, drop_last=drop_last)
    b = tud.DataLoader(theirs, batch_size=batch_size, drop_last=drop_last)
    assert len(a) == len(b)
    _same(list(a), list(b))


def test_per_item_dataset_matches_torch():
    _same(list(bud.DataLoader(Rows(), batch_size=4)), list(tud.DataLoader(TorchRows(), batch_size=4)))


def test_batch_sampler_and_collate_fn_match_torch():
    def total(samples):
        return sum(int(s[1]) for s in samples)

    ours = bud.BatchSampler(bud.SequentialSampler(range(23)), 5, drop_last=False)
    theirs = tud.BatchSampler(tud.SequentialSampler(range(23)), 5, drop_last=False)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)
    _same(list(bud.DataLoader(Rows(), batch_sampler=ours)),
          list(tud.DataLoader(TorchRows(), batch_sampler=theirs)))
    assert list(bud.DataLoader(Rows(), batch_size=4, collate_fn=total)) == \
        list(tud.DataLoader(TorchRows(), batch_size=4, collate_fn=total))
    _same(list(bud.DataLoader(Rows(5), batch_size=None)), list(tud.DataLoader(TorchRows(5), batch_size=None)))


def test_dict_samples_match_torch():
    samples = [{"image": np.full((2, 2), i, np.float32), "label": i, "name": f"n{i}"} for i in range(7)]
    _same(list(bud.DataLoader(samples, batch_size=3)), list(tud.DataLoader(samples, batch_size=3)))


def test_iterable_dataset_matches_torch():
    class TorchStream(tud.IterableDataset):
        def __iter__(self):
            return iter(range(10))

    for kw in ({"batch_size": 3}, {"batch_size": 3, "drop_last": True}, {"batch_size": None}):
        _same(list(bud.DataLoader(Stream(), **kw)), list(tud.DataLoader(TorchStream(), **kw)))


@pytest.mark.parametrize("kwargs", [
    dict(shuffle=True, sampler=[0, 1]),
    dict(batch_sampler=[[0]], batch_size=2),
    dict(batch_sampler=[[0]], drop_last=True),
    dict(batch_size=None, drop_last=True),
    dict(num_workers=-1),
    dict(timeout=-1),
    dict(prefetch_factor=2),
    dict(persistent_workers=True),
])
def test_option_errors_as_torch(kwargs):
    with pytest.raises(ValueError):
        tud.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(ValueError):
        bud.DataLoader(list(range(4)), **kwargs)


def test_iterable_dataset_refuses_shuffle_and_samplers():
    for kw in (dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])):
        with pytest.raises(ValueError, match="IterableDataset"):
            bud.DataLoader(Stream(), **kw)


# ---- datasets and splits ----

def test_subset_and_concat_index_as_torch():
    ours, theirs = _tensors()
    for a, b in zip(bud.Subset(ours, [7, 2, 5])[1], tud.Subset(theirs, [7, 2, 5])[1], strict=True):
        np.testing.assert_array_equal(a, b.numpy())
    cat_ours, cat_theirs = bud.ConcatDataset([ours, Rows(4)]), tud.ConcatDataset([theirs, TorchRows(4)])
    assert len(cat_ours) == len(cat_theirs) == 14 and cat_ours.cumulative_sizes == cat_theirs.cumulative_sizes
    for i in (0, 9, 10, 13, -1, -14):
        assert int(cat_ours[i][1]) == int(cat_theirs[i][1])
    assert len(ours + Rows(4)) == 14
    _same(list(bud.DataLoader(bud.Subset(ours, [7, 2, 5]), batch_size=2)),
          list(tud.DataLoader(tud.Subset(theirs, [7, 2, 5]), batch_size=2)))


class Fetched:
    """torch 2.x's batched fetch: __getitems__ returns the list of samples; it records each call."""

    def __init__(self, n=10, off=False):
        self.n, self.calls = n, []
        if off:
            self.__getitems__ = None  # None turns the batched fetch off, in torch as here

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(2, i, dtype=np.float32), i

    def __getitems__(self, indices):
        self.calls.append(list(indices))
        return [self[i] for i in indices]


@pytest.mark.parametrize("collate_fn", [None, lambda batch: [y for _, y in batch]], ids=["default", "own"])
@pytest.mark.parametrize("off", [False, True])
def test_getitems_fetches_the_samples_collate_gets_as_torch(collate_fn, off):
    ours, theirs = Fetched(off=off), Fetched(off=off)
    _same(list(bud.DataLoader(ours, batch_size=4, collate_fn=collate_fn)),
          list(tud.DataLoader(theirs, batch_size=4, collate_fn=collate_fn)))
    assert ours.calls == theirs.calls == ([] if off else [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])


@pytest.mark.filterwarnings("ignore:Length of split at index")
@pytest.mark.parametrize("n, lengths", [(10, [3, 7]), (30, [0.3, 0.3, 0.4]), (11, [0.5, 0.5]), (10, [0.33] * 3
                                         + [0.01]), (7, [0.25, 0.25, 0.5])])
def test_random_split_sizes_match_torch(n, lengths):
    ours = bud.random_split(range(n), lengths, generator=baby.Generator().manual_seed(0))
    theirs = tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert sorted(i for s in ours for i in s) == list(range(n))
    again = bud.random_split(range(n), lengths, generator=baby.Generator().manual_seed(0))
    assert [list(s) for s in ours] == [list(s) for s in again]


def test_random_split_errors():
    with pytest.raises(ValueError, match="sum"):
        bud.random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="(?i)sum"):
        tud.random_split(range(10), [3, 3])


# ---- samplers ----

@pytest.mark.parametrize("kwargs", [{}, dict(num_samples=25), dict(num_samples=7), dict(replacement=True),
                                    dict(replacement=True, num_samples=40)])
def test_random_sampler_length_and_elements(kwargs):
    ours, theirs = bud.RandomSampler(range(10), **kwargs), tud.RandomSampler(range(10), **kwargs)
    drawn = list(ours)
    assert len(ours) == len(theirs) == len(drawn) == len(list(theirs))
    assert set(drawn) <= set(range(10))
    if not kwargs.get("replacement"):
        counts = np.bincount(drawn, minlength=10)
        assert counts.max() - counts.min() <= 1, "without replacement: whole permutations"


def test_subset_and_batch_samplers():
    s = bud.SubsetRandomSampler([3, 8, 1, 6])
    assert sorted(s) == [1, 3, 6, 8] and len(s) == 4
    for drop_last in (False, True):
        ours = bud.BatchSampler(bud.RandomSampler(range(10)), 3, drop_last)
        theirs = tud.BatchSampler(tud.RandomSampler(range(10)), 3, drop_last)
        assert len(ours) == len(theirs) and [len(b) for b in ours] == [len(b) for b in theirs]


def test_weighted_sampler_follows_the_weights():
    w = [0.1, 0.9, 0.4, 0.7, 3.0, 0.0]
    draws = list(bud.WeightedRandomSampler(w, 20000, generator=baby.Generator().manual_seed(1)))
    freq = np.bincount(draws, minlength=6) / 20000
    np.testing.assert_allclose(freq, np.array(w) / sum(w), atol=0.015)
    once = list(bud.WeightedRandomSampler(w, 5, replacement=False))
    assert len(set(once)) == 5 and 5 not in once
    assert len(bud.WeightedRandomSampler(w, 7)) == 7
    assert bud.WeightedRandomSampler(w, 7).weights.dtype == baby.double


@pytest.mark.parametrize("make", [
    lambda: bud.RandomSampler(range(3), replacement=1),
    lambda: bud.RandomSampler(range(3), num_samples=0),
    lambda: bud.WeightedRandomSampler([1, 2], 0),
    lambda: bud.WeightedRandomSampler([[1, 2]], 2),
    lambda: bud.WeightedRandomSampler([1, -2], 2),
    lambda: bud.WeightedRandomSampler([1, 0], 2, replacement=False),
    lambda: bud.BatchSampler(range(3), 0, False),
    lambda: bud.BatchSampler(range(3), 2, 1),
])
def test_sampler_errors(make):
    with pytest.raises((ValueError, TypeError)):
        make()


def test_generator_fixes_the_shuffle():
    ds, _ = _tensors(30)
    a = bud.DataLoader(ds, batch_size=4, shuffle=True, generator=baby.Generator().manual_seed(5))
    b = bud.DataLoader(ds, batch_size=4, shuffle=True, generator=baby.Generator().manual_seed(5))
    first = _labels(a)
    assert first == _labels(b) and _labels(a) != first and sorted(sum(first, [])) == list(range(30))
    g = baby.Generator()
    assert g.initial_seed() == torch.Generator().initial_seed()
    state = g.get_state()
    x = list(bud.RandomSampler(range(10), generator=g))
    g.set_state(state)
    assert list(bud.RandomSampler(range(10), generator=g)) == x


# ---- workers ----

@pytest.mark.parametrize("make", [lambda: _tensors(37)[0], lambda: Rows(37)], ids=["getitems", "per-item"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_workers_give_the_batches_of_no_workers(make, shuffle):
    ds = make()

    def batches(workers):
        loader = bud.DataLoader(ds, batch_size=4, shuffle=shuffle, num_workers=workers,
                                generator=baby.Generator().manual_seed(3))
        return [[t.numpy().tolist() for t in b] for b in loader]

    assert batches(2) == batches(0) == batches(1)


def test_workers_follow_manual_seed_and_persist():
    ds = Rows(29)
    baby.manual_seed(11)
    plain = bud.DataLoader(ds, batch_size=5, shuffle=True)
    expected = [_labels(plain), _labels(plain)]
    baby.manual_seed(11)
    loader = bud.DataLoader(ds, batch_size=5, shuffle=True, num_workers=2, persistent_workers=True)
    assert [_labels(loader), _labels(loader)] == expected
    pool = loader._pool
    next(iter(loader))  # an epoch dropped early: the next one is whole, on the same workers
    assert sum(_labels(loader), []) != [] and loader._pool is pool
    assert sorted(sum(_labels(loader), [])) == list(range(29))


def test_iterable_dataset_in_workers_interleaves_as_torch():
    got = [b.tolist() for b in bud.DataLoader(Stream(), batch_size=2, num_workers=2)]
    assert got == [[0, 1], [5, 6], [2, 3], [7, 8], [4], [9, 10], [11, 12]]  # torch's order for these streams


def _tag_worker(worker_id):
    info = bud.get_worker_info()
    assert info.id == worker_id and info.num_workers == 2
    info.dataset.tag = 1000 * (worker_id + 1)


def test_worker_init_fn_runs_in_each_worker():
    loader = bud.DataLoader(Rows(8), batch_size=2, num_workers=2, worker_init_fn=_tag_worker)
    labels = sum(_labels(loader), [])
    assert labels == [1000, 1001, 2002, 2003, 1004, 1005, 2006, 2007]


def test_worker_exception_names_the_sample():
    with pytest.raises(ValueError, match=r"worker process \d while loading sample 13(.|\n)*cannot read 13"):
        list(bud.DataLoader(Rows(23, bad=13), batch_size=4, num_workers=2))
    with pytest.raises(ValueError, match="cannot read 13"):  # no workers: the dataset's own exception
        list(bud.DataLoader(Rows(23, bad=13), batch_size=4))


def test_unpicklable_batch_is_an_error_not_a_hang():
    loader = bud.DataLoader(Rows(6), batch_size=2, num_workers=1, collate_fn=lambda b: (lambda: b))
    with pytest.raises(Exception, match="sending the batch to the main process"):
        list(loader)


class _Dies(bud.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            os._exit(3)
        if i == 2:
            time.sleep(1)
        return i


def test_dead_worker_and_timeout_raise_runtime_error():
    t = time.perf_counter()
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(bud.DataLoader(_Dies(), batch_size=2, num_workers=2))
    with pytest.raises(RuntimeError, match="timed out after 0.2 seconds"):
        list(bud.DataLoader(_Dies(), batch_size=2, num_workers=1, timeout=0.2))
    assert time.perf_counter() - t < 5


class _KillsItself(bud.Dataset):
    """Its worker dies by SIGKILL (as the OOM killer does) when it loads sample 5."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            os.kill(os.getpid(), signal.SIGKILL)
        return i


@pytest.mark.parametrize("how", ["while loading", "between batches"])
def test_a_worker_killed_by_a_signal_is_pytorchs_runtime_error(how):
    killed = r"DataLoader worker \(pid \d+\) is killed by signal: Killed\.$"
    if how == "while loading":
        with pytest.raises(RuntimeError, match=killed):
            list(bud.DataLoader(_KillsItself(), batch_size=2, num_workers=2, timeout=30))
        return
    it = iter(bud.DataLoader(list(range(40)), batch_size=2, num_workers=2, prefetch_factor=1, timeout=30))
    next(it)
    for p in it.pool.procs:
        os.kill(p.pid, signal.SIGKILL)
        p.join(timeout=10)
    with pytest.raises(RuntimeError, match=killed):  # the next task's send meets a broken pipe
        list(it)
