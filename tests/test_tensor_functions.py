"""The tensor functions sequence models use (tril/triu, narrow, diagonals, multinomial, masked_fill, baddbmm,
scatter/index_add, repeat_interleave, roll, cumprod, one_hot, Embedding) against PyTorch; the new
primitives against float64 finite differences; bad input against PyTorch's error types."""

import numpy as np
import pytest
import torch
from helpers import check, finite_difference

import baby
from baby import nn
from baby.nn import functional as F

RNG = np.random.default_rng(19)
IDX = np.array([[0, 2], [1, 0], [2, 1]])  # a permutation in each row: scatter without collisions


def case(id, fn, *inputs, theirs=None):
    """One row: fn(m, *tensors) for m = baby and m = torch (or `theirs` for torch)."""
    return pytest.param(fn, theirs or fn, inputs, id=id)


CASES = [
    case("tril", lambda m, x: m.tril(x), (4, 5)),
    case("tril-k1-batch", lambda m, x: x.tril(1), (2, 3, 4)),
    case("triu-k-1", lambda m, x: m.triu(x, diagonal=-1), (4, 3)),
    case("tril_-on-nonleaf", lambda m, x: (x * 2).tril_(), (3, 3)),
    case("triu_", lambda m, x: (x + 0).triu_(2), (2, 4, 4)),
    case("narrow", lambda m, x: x.narrow(1, 1, 2), (3, 4)),
    case("narrow-neg-start", lambda m, x: m.narrow(x, -1, -3, 3), (2, 5)),
    case("narrow-tensor-start", lambda m, x: x.narrow(0, m.tensor(1), 2), (3, 4)),
    case("diag-vector", lambda m, x: m.diag(x), (4,)),
    case("diag-vector-k", lambda m, x: m.diag(x, -2), (3,)),
    case("diag-matrix", lambda m, x: x.diag(1), (3, 4)),
    case("diagonal", lambda m, x: x.diagonal(), (3, 4)),
    case("diagonal-dims", lambda m, x: m.diagonal(x, offset=-1, dim1=2, dim2=0), (4, 2, 3)),
    case("diagonal-offset-past", lambda m, x: x.diagonal(5), (3, 4)),
    case("diag_embed", lambda m, x: m.diag_embed(x), (2, 3)),
    case("diag_embed-dims", lambda m, x: x.diag_embed(1, 0, 2), (2, 3)),
    case("diag_embed-neg", lambda m, x: m.diag_embed(x, -2, -1, 0), (2, 3)),
    case("masked_fill-row-mask", lambda m, x: x.masked_fill(m.tensor([[True], [False], [True]]), -1.0),
         (3, 4)),
    case("masked_fill-mask-larger", lambda m, x: x.masked_fill(m.tensor([[True, False, True, False]] * 2),
                                                               float("-inf")).exp(), (4,)),
    case("masked_fill-value-tensor", lambda m, x, v: x.masked_fill(x > 0, v.sum()), (3, 4), (2,)),
    case("masked_fill_-causal", lambda m, x: (x + 0).masked_fill_(m.ones(4, 4).triu(1).bool(), 0.0),
         (2, 4, 4)),
    case("baddbmm", lambda m, i, a, b: m.baddbmm(i, a, b), (2, 3, 5), (2, 3, 4), (2, 4, 5)),
    case("baddbmm-bcast-scaled", lambda m, i, a, b: i.baddbmm(a, b, beta=0.5, alpha=-2), (5,), (2, 3, 4),
         (2, 4, 5)),
    case("baddbmm-beta0-nan",
         lambda m, a, b: m.baddbmm(m.full((2, 3, 5), float("nan"), dtype=a.dtype), a, b, beta=0), (2, 3, 4),
         (2, 4, 5)),
    case("addmm", lambda m, i, a, b: m.addmm(i, a, b), (3, 5), (3, 4), (4, 5)),
    case("addmm-bias-alpha", lambda m, i, a, b: i.addmm(a, b, alpha=3, beta=2), (5,), (3, 4), (4, 5)),
    case("scatter", lambda m, x, s: x.scatter(1, m.tensor(IDX), s), (3, 4), (3, 2)),
    case("scatter-index-smaller", lambda m, x, s: m.scatter(x, 0, m.tensor([[2, 0]]), s), (3, 4), (1, 2)),
    case("scatter-value", lambda m, x: x.scatter(1, m.tensor(IDX), 7.5), (3, 4)),
    case("scatter_", lambda m, x, s: (x * 1).scatter_(1, m.tensor(IDX), s), (3, 4), (3, 2)),
    case("scatter_add-repeats", lambda m, x, s: x.scatter_add(1, m.tensor([[0, 0], [1, 1], [3, 3]]), s),
         (3, 4), (3, 2)),
    case("index_add", lambda m, x, s: x.index_add(0, m.tensor([2, 0, 2]), s), (3, 4), (3, 4)),
    case("index_add-dim1-alpha", lambda m, x, s: m.index_add(x, 1, m.tensor([3, 1]), s, alpha=-0.5),
         (3, 4), (3, 2)),
    case("index_add_", lambda m, x, s: (x * 1).index_add_(-1, m.tensor([0, 0, 1]), s), (2, 3), (2, 3)),
    case("repeat_interleave-int", lambda m, x: x.repeat_interleave(2), (2, 3)),
    case("repeat_interleave-dim", lambda m, x: m.repeat_interleave(x, 3, dim=1), (2, 3)),
    case("repeat_interleave-counts", lambda m, x: x.repeat_interleave(m.tensor([1, 0, 2]), dim=0), (3, 2)),
    case("repeat_interleave-counts-only", lambda m: m.repeat_interleave(m.tensor([2, 0, 1]))),
    case("roll", lambda m, x: x.roll(1, 0), (3, 4)),
    case("roll-flat", lambda m, x: m.roll(x, -5), (3, 4)),
    case("roll-two-dims", lambda m, x: x.roll((2, -1), (1, 0)), (2, 3, 4)),
    case("cumprod", lambda m, x: x.cumprod(1), (3, 4)),
    case("cumprod-zeros", lambda m, x: m.cumprod(x, dim=0),
         np.array([[1.5, 0.0, 2.0], [0.0, 3.0, -1.0], [2.0, 0.0, 0.5], [-1.0, 2.0, 0.0]])),
    case("cumprod-int", lambda m: m.cumprod(m.tensor([1, 2, 3]), 0)),
    case("tril_indices", lambda m: m.tril_indices(3, 4, 1)),
    case("triu_indices", lambda m: m.triu_indices(4, 3, -1)),
    case("one_hot-empty", lambda m: m.nn.functional.one_hot(m.zeros(0, 2, dtype=m.int64), 3)),
    case("one_hot-infer", lambda m: m.nn.functional.one_hot(m.tensor([[3, 0], [1, 1]]))),
]


def _inputs(specs, dtype):
    return [RNG.uniform(-2, 2, s).astype(dtype) if isinstance(s, tuple) else s.astype(dtype) for s in specs]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("ours, theirs, inputs", CASES)
def test_against_torch(ours, theirs, inputs, dtype):
    arrays = _inputs(inputs, dtype)
    if not arrays:
        y, ty = ours(baby), theirs(torch)
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
        assert y.dtype == np.dtype(str(ty.dtype).replace("torch.", ""))
        return
    tol = dict(atol=1e-12, rtol=1e-12) if dtype == np.float64 else {}
    check(lambda *xs: ours(baby, *xs), lambda *xs: theirs(torch, *xs), arrays, **tol)


@pytest.mark.parametrize("fn, shapes", [
    pytest.param(lambda x: x.tril(-1) * x, [(3, 4)], id="tril"),
    pytest.param(lambda x: baby.triu(x, 1), [(2, 3, 3)], id="triu"),
    pytest.param(lambda x: x.diagonal(1, 0, 1) ** 2, [(3, 4)], id="diagonal"),
    pytest.param(lambda x: baby.diag_embed(x, -1).exp(), [(2, 3)], id="diag_embed"),
    pytest.param(lambda x, s: x.scatter(0, baby.tensor([[1, 0, 2]]), s * s), [(3, 3), (2, 3)], id="scatter"),
    pytest.param(lambda x, s: x.scatter_add(1, baby.tensor([[1, 1], [0, 2]]), s), [(2, 3), (2, 3)],
                 id="scatter_add-src-bigger"),
    pytest.param(lambda x, s: x.index_add(1, baby.tensor([1, 1]), s, alpha=2) ** 2, [(2, 3), (2, 2)],
                 id="index_add"),
    pytest.param(lambda x: x.roll((1, 2), (0, 1)) * x, [(3, 4)], id="roll"),
    pytest.param(lambda x: x.cumprod(1), [(2, 4)], id="cumprod"),
    pytest.param(lambda x: (x * baby.tensor([1.0, 0.0, 1.0, 0.0])).cumprod(-1), [(2, 4)], id="cumprod-zeros"),
])
def test_finite_differences(fn, shapes):
    finite_difference(fn, *shapes)


def test_diagonal_is_a_view_and_writable():
    x = baby.zeros(3, 3)
    x.diagonal().fill_(1.0)
    np.testing.assert_array_equal(x.numpy(), np.eye(3))


# ---- multinomial ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("replacement", [False, True])
def test_multinomial_follows_the_seed_and_the_distribution(replacement):
    p = baby.tensor([[0.1, 0.0, 0.6, 0.3], [1.0, 1.0, 0.0, 2.0]])
    baby.manual_seed(3)
    a = baby.multinomial(p, 2, replacement)
    baby.manual_seed(3)
    b = p.multinomial(2, replacement=replacement)
    assert a.dtype == np.int64 and a.shape == (2, 2) and baby.equal(a, b)
    assert (a.numpy()[:, 0] != 1).all() and (a.numpy()[1] != 2).all()  # zero weights are never drawn first
    if not replacement:
        assert (a.numpy()[:, 0] != a.numpy()[:, 1]).all()
    draws = baby.multinomial(baby.tensor([1.0, 2.0, 7.0]), 20000, True).numpy()
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / 20000, [0.1, 0.2, 0.7], atol=0.015)
    firsts = [int(baby.multinomial(baby.tensor([1.0, 3.0]), 2)[0]) for _ in range(2000)]
    assert abs(np.mean(firsts) - 0.75) < 0.04  # first draw without replacement follows the weights


def test_multinomial_generator_and_exhausted_weights():
    g1, g2 = baby.Generator().manual_seed(5), baby.Generator().manual_seed(5)
    p = baby.rand(3, 10)
    assert baby.equal(baby.multinomial(p, 4, generator=g1), baby.multinomial(p, 4, generator=g2))
    y, ty = baby.multinomial(baby.tensor([1.0, 0.0, 1.0]), 3), torch.multinomial(torch.tensor([1.0, 0, 1]), 3)
    assert y.shape == ty.shape and y.numpy()[2] == ty.numpy()[2] == 1  # zero weights come last, as torch


# ---- Embedding -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [{"padding_idx": 1}, {"padding_idx": -1}, {"max_norm": 0.5},
                                {"max_norm": 1.0, "norm_type": 1.0, "padding_idx": 0}])
def test_embedding_options(kw):
    theirs = torch.nn.Embedding(5, 3, **kw).double()
    ours = nn.Embedding(5, 3, dtype=baby.float64, **kw)
    ours.weight.data = baby.tensor(theirs.weight.detach().numpy().copy())
    assert ours.padding_idx == theirs.padding_idx
    idx = np.array([[1, 4, 4], [0, 1, 3]])
    y, ty = ours(baby.tensor(idx)), theirs(torch.tensor(idx))
    g = RNG.standard_normal(ty.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("freeze, padding_idx", [(True, None), (False, 2), (False, None)])
def test_embedding_from_pretrained(freeze, padding_idx):
    w = RNG.standard_normal((4, 3)).astype(np.float32)
    ours = nn.Embedding.from_pretrained(baby.tensor(w), freeze=freeze, padding_idx=padding_idx)
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(w), freeze=freeze, padding_idx=padding_idx)
    assert ours.weight.requires_grad == theirs.weight.requires_grad
    assert ours.padding_idx == theirs.padding_idx
    idx = np.array([2, 0, 2])
    y, ty = ours(baby.tensor(idx)), theirs(torch.tensor(idx))
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    if not freeze:
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_array_equal(ours.weight.grad.numpy(), theirs.weight.grad.numpy())


# ---- bad input -----------------------------------------------------------------------------------------
ERRORS = [
    (lambda m: m.zeros(3, 4).narrow(1, 3, 2), RuntimeError, r"start \(3\) \+ length \(2\) exceeds"),
    (lambda m: m.zeros(3, 4).narrow(1, 5, 0), IndexError, "start out of range"),
    (lambda m: m.zeros(3, 4).narrow(2, 0, 1), IndexError, "out of range"),
    (lambda m: m.zeros(3, 4).narrow(1, 0, -1), RuntimeError, "length must be non-negative"),
    (lambda m: m.tril(m.zeros(3)), RuntimeError, "at least 2 dimensions"),
    (lambda m: m.diag(m.zeros(2, 2, 2)), RuntimeError, "1D or 2D"),
    (lambda m: m.diagonal(m.zeros(2, 3), 0, 1, -1), RuntimeError, "cannot be identical"),
    (lambda m: m.zeros(3).masked_fill(m.ones(2, dtype=m.bool), 1.0), RuntimeError, r"\(2\)|\(3,\)"),
    (lambda m: m.zeros(3).masked_fill(m.ones(3, dtype=m.bool), m.ones(1)), RuntimeError, "0-dimensional"),
    (lambda m: m.zeros(3).masked_fill_(m.ones(2, 3, dtype=m.bool), 1.0), RuntimeError, r"\(2, 3\)|\[2, 3\]"),
    (lambda m: m.baddbmm(m.zeros(2, 3, 5), m.zeros(2, 3, 4), m.zeros(2, 5, 5)), RuntimeError, r"\[2, 5\]"),
    (lambda m: m.baddbmm(m.zeros(2, 3), m.zeros(2, 3, 4), m.zeros(2, 4, 5)), RuntimeError, r"2, 3"),
    (lambda m: m.addmm(m.zeros(3, 5), m.zeros(3, 4), m.zeros(5, 5)), RuntimeError, r"3x4 and 5x5"),
    (lambda m: m.multinomial(m.tensor([1.0, -1.0]), 1), RuntimeError, "element < 0"),
    (lambda m: m.multinomial(m.tensor([0.0, 0.0]), 1), RuntimeError, "sum of probabilities"),
    (lambda m: m.multinomial(m.tensor([1.0, 1.0]), 3), RuntimeError, "without replacement"),
    (lambda m: m.multinomial(m.zeros(2, 2, 2), 1), RuntimeError, "1 or 2 dim"),
    (lambda m: m.multinomial(m.tensor([1, 1]), 1), RuntimeError, "floating-point"),
    (lambda m: m.multinomial(m.tensor([1.0]), 0), RuntimeError, "n_sample <= 0"),
    (lambda m: m.zeros(3, 4).index_add(1, m.tensor([0, 1]), m.ones(3, 3)), RuntimeError, r"\(3, 3\)|3"),
    (lambda m: m.repeat_interleave(m.tensor([1, 2]), m.tensor([1, 2, 3])), RuntimeError, "same size"),
    (lambda m: m.repeat_interleave(m.tensor([1, 2]), m.tensor([-1, 2])), RuntimeError, "negative"),
    (lambda m: m.roll(m.zeros(3, 4), (1, 2), (0,)), RuntimeError, "must align"),
    (lambda m: m.roll(m.zeros(3, 4), 1, 2), IndexError, "out of range"),
    (lambda m: m.cumprod(m.zeros(3), 1), IndexError, "out of range"),
    (lambda m: m.nn.functional.one_hot(m.tensor([1]), 0), RuntimeError, "smaller than num_classes"),
    (lambda m: m.nn.functional.one_hot(m.zeros(0, dtype=m.int64)), RuntimeError, "empty tensor"),
]


@pytest.mark.parametrize("fn, error, match", ERRORS)
def test_errors_as_torch(fn, error, match):
    with pytest.raises(error, match=match):
        fn(torch)
    with pytest.raises(error, match=match):
        fn(baby)


def test_errors_of_baby():
    with pytest.raises(RuntimeError, match=r"batch1 must be a 3D tensor, got shape \(3, 4\)"):
        baby.baddbmm(baby.zeros(3), baby.zeros(3, 4), baby.zeros(4, 3))
    with pytest.raises(IndexError, match="out of bounds for dimension 1 with size 4"):
        baby.zeros(3, 4).index_add(1, baby.tensor([0, 4]), baby.ones(3, 2))
    with pytest.raises(ValueError, match=r"2-dimensional.*\(3,\)"):
        nn.Embedding.from_pretrained(baby.zeros(3))
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(baby.tensor([0, 3]), 3)
