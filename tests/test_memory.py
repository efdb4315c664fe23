"""Memory: factories and initialisers peak at about their result's size (tracemalloc, which NumPy reports to);
repr of a huge expanded tensor reads only what it prints."""

import math
import tracemalloc

import numpy as np
import pytest
import torch

import baby
from baby import nn

N = 1 << 18  # elements: 1 MiB of float32, so a float64 detour (2x) would show plainly
SLACK = 1 << 17  # bytes: chunk buffers and index arrays


def _peak(make):
    """(result, peak traced bytes while making it)."""
    tracemalloc.start()
    try:
        out = make()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


FACTORIES = [  # name, baby call, torch call (the same values where deterministic)
    ("full", lambda m: m.full((N,), 1.5), True),
    ("full int", lambda m: m.full((N,), 7), True),
    ("full dtype", lambda m: m.full((N,), 2.5, dtype=m.float64), True),
    ("full 2-d", lambda m: m.full((N // 4, 4), 3.0), True),
    ("arange float", lambda m: m.arange(0.0, N / 4, 0.25), True),
    ("arange dtype", lambda m: m.arange(N, dtype=m.float32), True),
    ("arange float64", lambda m: m.arange(-3.5, N * 0.37 - 3.5, 0.37, dtype=m.float64), True),
    ("linspace", lambda m: m.linspace(-2.5, 7.5, N), True),
    ("logspace", lambda m: m.logspace(0, 2, N), True),
    ("eye", lambda m: m.eye(512), True),
    ("eye float64", lambda m: m.eye(256, 512, dtype=m.float64), True),
    ("empty().uniform_()", lambda m: m.empty(N).uniform_(-2, 3), False),
    ("empty().normal_()", lambda m: m.empty(N).normal_(1, 2), False),
    ("normal", lambda m: m.normal(1.0, 2.0, (N,)), False),
]


@pytest.mark.parametrize("name, make, same", FACTORIES, ids=[f[0] for f in FACTORIES])
def test_factories_peak_at_about_their_result(name, make, same):
    out, peak = _peak(lambda: make(baby))
    assert peak <= out._data.nbytes + SLACK, (peak, out._data.nbytes)
    theirs = make(torch)
    assert out.dtype == baby.dtypes.as_dtype(str(theirs.dtype).removeprefix("torch."))
    assert tuple(out.shape) == tuple(theirs.shape)
    if same:
        np.testing.assert_allclose(out.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-6)


INITS = ["uniform_", "normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
         "trunc_normal_", "eye_", "dirac_", "zeros_", "ones_"]


@pytest.mark.parametrize("name", INITS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nn_init_fills_in_place_without_a_float64_copy(name, dtype):
    shape = (64, 64, 4, 4) if name == "dirac_" else (512, 512)
    t = baby.empty(*shape, dtype=getattr(baby, dtype))
    before = t._data
    _, peak = _peak(lambda: getattr(nn.init, name)(t))
    extra = 0.75 * t._data.nbytes if name == "trunc_normal_" else 0  # its masks of redraws: bools
    assert t._data is before and peak <= extra + SLACK, peak
    theirs = getattr(torch.nn.init, name)(torch.empty(*shape, dtype=getattr(torch, dtype)))
    if name in ("eye_", "dirac_", "zeros_", "ones_"):
        np.testing.assert_array_equal(t.numpy(), theirs.numpy())
    else:  # the same distribution: mean and spread within statistical bounds
        a, b = t.numpy().astype(np.float64), theirs.numpy().astype(np.float64)
        assert abs(a.mean() - b.mean()) < 6 * b.std() / math.sqrt(a.size)
        assert abs(a.std() / b.std() - 1) < 0.02


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_random_fills_keep_dtype_views_and_autograd_rules(dtype):
    x = baby.zeros(200, 300, dtype=getattr(baby, dtype))
    x[:, ::2].uniform_(5, 6)  # a strided view: only its elements change
    a = x.numpy().astype(np.float64)
    assert x.dtype == getattr(np, dtype) and (a[:, 1::2] == 0).all()
    assert ((a[:, ::2] >= 5) & (a[:, ::2] <= 6)).all() and a[:, ::2].std() > 0.2
    w = baby.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w.normal_()
    with baby.no_grad():
        w.normal_()
    assert w.requires_grad and (w.numpy() != 0).all()
    with pytest.raises(RuntimeError, match="uniform_: cannot write into this tensor"):
        baby.zeros(1).expand(4).uniform_()


@pytest.mark.parametrize("shape", [(10 ** 6, 10 ** 6), (3, 10 ** 8), (10 ** 9,), (2, 1000, 1000, 1000)])
def test_repr_of_a_huge_expanded_tensor_reads_only_what_it_prints(shape):
    ours, theirs = baby.tensor([1.5]).expand(*shape), torch.tensor([1.5]).expand(*shape)
    text, peak = _peak(lambda: repr(ours))
    assert peak < 1 << 20
    assert text == repr(theirs).replace("torch", "baby")


def test_repr_decides_its_format_from_the_printed_elements_as_pytorch():
    x = np.round(np.random.default_rng(0).standard_normal((50, 40)) * 10).astype(np.float32)
    x[20, 20] = 0.5  # a fraction PyTorch does not print, so the summary prints whole numbers
    assert repr(baby.tensor(x)) == repr(torch.tensor(x)).replace("torch", "baby")
