"""NaN and inf as PyTorch propagates them: through convolutions (every algorithm 'auto' may choose), pools and
interpolation, position by position; and the losses' edges (every target ignored, errors of +-inf)."""

import math

import numpy as np
import pytest
import torch

import baby

INF, NAN = math.inf, math.nan
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # NumPy's inf-inf


def same_nonfinite(got, want):
    """Element by element: NaN where PyTorch has NaN, +-inf where it has +-inf, finite values close."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-4, atol=1e-4)


def run(lib, fn, *arrays):
    """fn(lib, *leaves) summed and backpropagated: (output, each leaf's gradient) as arrays."""
    leaves = [lib.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    y = fn(lib, *leaves)
    y.sum().backward()
    return [y.detach().numpy()] + [t.grad.numpy() for t in leaves if t.requires_grad]


def assert_as_torch(fn, *arrays):
    for got, want in zip(run(baby, fn, *arrays), run(torch, fn, *arrays), strict=True):
        same_nonfinite(got, want)


# ---- losses at the edges ----------------------------------------------------------------------------------
RNG = np.random.default_rng(0)
LOGITS = RNG.standard_normal((3, 4)).astype(np.float32)
LOGITS_2D = RNG.standard_normal((2, 4, 3)).astype(np.float32)
IGNORED = np.full(3, -100)
WEIGHT = np.array([0.0, 1.0, 2.0, 3.0], np.float32)

CLASS_LOSSES = {
    "ce-all-ignored": (lambda lib, x: lib.nn.functional.cross_entropy(x, lib.tensor(IGNORED)), LOGITS),
    "nll-all-ignored": (lambda lib, x: lib.nn.functional.nll_loss(x, lib.tensor(IGNORED)), LOGITS),
    "ce-all-ignored-sum": (lambda lib, x: lib.nn.functional.cross_entropy(x, lib.tensor(IGNORED),
                                                                          reduction="sum"), LOGITS),
    "ce-ignored-other-index": (lambda lib, x: lib.nn.functional.cross_entropy(
        x, lib.tensor([2, 2, 2]), ignore_index=2), LOGITS),
    "ce-all-ignored-weighted": (lambda lib, x: lib.nn.functional.cross_entropy(
        x, lib.tensor(IGNORED), weight=lib.tensor(WEIGHT)), LOGITS),
    "ce-all-ignored-smoothing": (lambda lib, x: lib.nn.functional.cross_entropy(
        x, lib.tensor(IGNORED), label_smoothing=0.2), LOGITS),
    "ce-all-ignored-2d": (lambda lib, x: lib.nn.functional.cross_entropy(
        x, lib.tensor(np.full((2, 3), -100))), LOGITS_2D),
    "nll-zero-weight-and-ignored": (lambda lib, x: lib.nn.functional.nll_loss(
        x, lib.tensor([0, 0, -100]), weight=lib.tensor(WEIGHT)), LOGITS),
    "ce-zero-weight-and-ignored": (lambda lib, x: lib.nn.functional.cross_entropy(
        x, lib.tensor([0, 0, -100]), weight=lib.tensor(WEIGHT)), LOGITS),
    "ce-empty-batch": (lambda lib, x: lib.nn.functional.cross_entropy(x, lib.tensor(np.zeros(0, np.int64))),
                       np.zeros((0, 4), np.float32)),
    "ce-module-all-ignored": (lambda lib, x: lib.nn.CrossEntropyLoss()(x, lib.tensor(IGNORED)), LOGITS),
}


@pytest.mark.parametrize("case", CLASS_LOSSES)
def test_class_losses_with_ignored_targets_as_pytorch(case):
    fn, x = CLASS_LOSSES[case]
    assert_as_torch(fn, x)


def test_all_ignored_batch_leaves_the_weights_finite():
    """One batch whose targets are all ignored: the loss is NaN (as PyTorch's) and SGD keeps the weights."""
    model = baby.nn.Linear(4, 3)
    before = [p.detach().numpy().copy() for p in model.parameters()]
    opt = baby.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss = baby.nn.functional.cross_entropy(model(baby.tensor(LOGITS)), baby.tensor(IGNORED))
    loss.backward()
    opt.step()
    assert math.isnan(loss.item())
    for p, b in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.detach().numpy(), b)


ERRORS = np.array([INF, -INF, 1.0, NAN, 0.0, 0.3, -2.0, INF], np.float32)
TARGETS = np.array([0.0, 0.0, INF, 0.0, -INF, 0.0, 0.0, INF], np.float32)


def regression(name, reduction, p):
    """smooth_l1_loss (beta=p) or huber_loss (delta=p) as a case."""
    key = "beta" if name == "smooth_l1_loss" else "delta"
    return lambda lib, x, t: getattr(lib.nn.functional, name)(x, t, reduction=reduction, **{key: p})


REGRESSION = {f"{name}-{reduction}-{p}": regression(name, reduction, p)
              for name in ("smooth_l1_loss", "huber_loss") for reduction in ("none", "sum", "mean")
              for p in (0.5, 1.0, 2.0)}
REGRESSION["smooth_l1-beta0"] = lambda lib, x, t: lib.nn.functional.smooth_l1_loss(x, t, beta=0.0,
                                                                                     reduction="none")
REGRESSION["huber-weighted"] = lambda lib, x, t: lib.nn.functional.huber_loss(
    x, t, reduction="none", weight=lib.full((8,), 0.5))
REGRESSION["SmoothL1Loss"] = lambda lib, x, t: lib.nn.SmoothL1Loss(reduction="none")(x, t)
REGRESSION["HuberLoss"] = lambda lib, x, t: lib.nn.HuberLoss(reduction="none", delta=0.5)(x, t)


@pytest.mark.parametrize("case", REGRESSION)
def test_smooth_l1_and_huber_at_infinity_as_pytorch(case):
    assert_as_torch(REGRESSION[case], ERRORS, TARGETS)
