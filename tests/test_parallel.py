"""The thread pool's matrix product: numpy.matmul's results and broadcasting, split between threads."""

import threading

import numpy as np
import pytest

from baby import backend, parallel

SHAPES = [  # (a, b): 2-D, batched, broadcast either side, vectors
    ((300, 200), (200, 100)),
    ((5, 300, 64), (64, 70)),
    ((300, 64), (5, 64, 70)),
    ((5, 30, 64), (5, 64, 70)),
    ((5, 300, 64), (5, 64, 70)),
    ((1, 300, 64), (5, 64, 70)),
    ((3, 1, 80, 50), (3, 50, 160)),
    ((1, 300, 64), (1, 64, 70)),
    ((1, 1, 300, 64), (64, 70)),
    ((64,), (64, 70)),
    ((300, 64), (64,)),
    ((7, 3), (3, 2)),
    ((16, 64), (64, 300)),  # few rows, wide: split by columns
    ((1, 16, 64), (64, 300)),
    ((256, 1), (1, 300)),  # outer products
    ((3, 5, 1), (1, 7)),
    ((5, 1), (2, 1, 7)),
]


@pytest.fixture(autouse=True)
def _threads():
    n = parallel.num_threads()
    yield
    parallel.set_num_threads(n)


@pytest.mark.parametrize("split", [True, False])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("sa, sb", SHAPES)
def test_matmul_is_numpy_matmul(threads, sa, sb, split, monkeypatch):
    if split:  # every product split between the threads (the default threshold keeps these on one)
        monkeypatch.setattr(parallel, "MIN_FLOPS", 1)
    parallel.set_num_threads(threads)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    expected = np.matmul(a, b)
    got = parallel.matmul(a, b)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    out = np.empty_like(expected)
    assert parallel.matmul(a, b, out=out) is out
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_matmul_into_a_strided_view():
    """out may be a view (a conv writes its GEMM straight into the NCHW output's memory)."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((8, 80, 60)).astype(np.float32)
    b = rng.standard_normal((60, 100)).astype(np.float32)
    y = np.zeros((8, 2, 80, 100), np.float32)
    parallel.matmul(a, b, out=y[:, 1])
    np.testing.assert_allclose(y[:, 1], a @ b, rtol=1e-5)
    assert not y[:, 0].any()


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("n", [2, 3, 7])
def test_parallel_keeps_the_items_order(threads, n):
    """Results in item order, whether the items are fewer or more than the threads."""
    parallel.set_num_threads(threads)
    assert parallel.parallel(lambda i: i * i, list(range(n))) == [i * i for i in range(n)]


def test_parallel_raises_what_a_worker_raised_and_stays_usable():
    parallel.set_num_threads(2)

    def fn(i):
        if i == 1:  # the item a worker thread runs
            raise KeyError("item 1")
        return i

    with pytest.raises(KeyError, match="item 1"):
        parallel.parallel(fn, [0, 1])
    assert parallel.parallel(lambda i: -i, [1, 2]) == [-1, -2]


def test_parallel_from_several_threads_at_once():
    """Callers finding the pool in use by another thread run their items themselves: the same results."""

    parallel.set_num_threads(2)
    a = np.arange(4 << 20, dtype=np.float32).reshape(64, -1)
    results, errors = [], []

    def call():
        try:
            for _ in range(20):
                parts = parallel.parallel(lambda r: a[r] * 2, parallel.rows(64))
                results.append(sum(float(p.sum()) for p in parts))
        except Exception as e:  # reported below
            errors.append(e)

    callers = [threading.Thread(target=call) for _ in range(3)]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    assert not errors and len(results) == 60 and len(set(results)) == 1


def test_keep_freed_memory_sets_glibc_malloc():
    """True where glibc's mallopt took both settings (this machine), False without glibc."""
    import platform

    from baby.backend import keep_freed_memory

    assert keep_freed_memory() is (platform.libc_ver()[0] == "glibc")


def test_a_forked_child_gets_a_pool_and_locks_of_its_own():
    """Forked while the pool's locks are held (a DataLoader forking amid another thread's call): the child
    still splits work between threads of its own and runs single-threaded BLAS blocks, no deadlock."""
    import os
    import signal
    import time

    parallel.set_num_threads(2)
    parallel.parallel(lambda i: i, [0, 1])  # the parent's workers exist
    with parallel._busy, parallel._depth_lock:
        pid = os.fork()
        if pid == 0:  # the child: threads and a matmul on the pool, then out without pytest's teardown
            ok = parallel.parallel(lambda i: threading.get_ident(), [0, 1])
            a = np.ones((600, 300))
            with parallel.single_threaded_blas():
                ok = len(set(ok)) == 2 and parallel.matmul(a, a.T)[0, 0] == 300
            os._exit(0 if ok else 1)
    deadline = time.monotonic() + 20
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung on a lock its parent held")
    assert os.waitstatus_to_exitcode(done[1]) == 0


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 4, 5), (2, 3, 4, 5, 6)])
def test_moveaxis_is_numpy_moveaxis(shape):
    """backend.moveaxis (one transpose, for the conv rooms) gives numpy.moveaxis's view for every int pair
    and every tuple pair of axes."""
    import itertools

    a, n = np.empty(shape), len(shape)
    pairs = [(s, d) for s in range(-n, n) for d in range(-n, n)]
    pairs += [(s, d) for k in (2, 3) for s in itertools.permutations(range(-n, 0), k)
              for d in itertools.permutations(range(n), k)]
    for s, d in pairs:
        got, want = backend.moveaxis(a, s, d), np.moveaxis(a, s, d)
        assert (got.shape, got.strides) == (want.shape, want.strides), (s, d)
