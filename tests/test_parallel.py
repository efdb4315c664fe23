"""The thread pool's matrix product: numpy.matmul's results and broadcasting, split between threads."""

import numpy as np
import pytest

from baby import parallel

SHAPES = [  # (a, b): 2-D, batched, broadcast either side, vectors; all but the small ones are split
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
]


@pytest.fixture(autouse=True)
def _threads():
    n = parallel.num_threads()
    yield
    parallel.set_num_threads(n)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("sa, sb", SHAPES)
def test_matmul_is_numpy_matmul(threads, sa, sb):
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
