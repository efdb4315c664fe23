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


# ---- convolutions: every algorithm, NaN and inf only where the kernel read them ---------------------------
BAD = {"nan": NAN, "inf": INF, "-inf": -INF}

# name: (conv function, x shape, w shape, kwargs, the algorithm 'auto' runs, or None for a forced one)
CONVS = {
    "winograd3": ("conv2d", (2, 16, 12, 12), (16, 16, 3, 3), {"padding": 1}, "winograd"),
    "winograd5": ("conv2d", (1, 16, 12, 12), (16, 16, 5, 5), {"padding": 2}, "winograd"),
    "winograd3-partial-tiles": ("conv2d", (2, 16, 13, 11), (16, 16, 3, 3), {}, "winograd"),
    "depthwise": ("conv2d", (2, 8, 12, 12), (8, 1, 3, 3), {"padding": 1, "groups": 8}, "depthwise"),
    "depthwise-x2-stride2": ("conv2d", (1, 8, 12, 12), (16, 1, 3, 3),
                             {"padding": 1, "stride": 2, "groups": 8}, "depthwise"),
    "depthwise-1d": ("conv1d", (2, 8, 20), (8, 1, 5), {"padding": 2, "groups": 8}, "depthwise"),
    "rows": ("conv2d", (2, 3, 12, 12), (8, 3, 5, 5), {"padding": 2}, "rows"),
    "im2col": ("conv2d", (2, 32, 12, 12), (32, 32, 3, 3), {"padding": 1, "stride": 2}, "im2col"),
    "im2col-groups": ("conv2d", (1, 16, 12, 12), (16, 8, 3, 3), {"padding": 1, "groups": 2}, "im2col"),
    "im2col-3d": ("conv3d", (1, 4, 6, 6, 6), (4, 4, 3, 3, 3), {"padding": 1}, "im2col"),
    "pointwise": ("conv2d", (2, 16, 12, 12), (32, 16, 1, 1), {}, "pointwise"),
    "transpose": ("conv_transpose2d", (1, 16, 12, 12), (16, 16, 3, 3), {"padding": 1}, None),
}


def conv_case(case):
    """The case's conv as fn(lib, x, w), with its arrays: x holds one bad pixel per image slot below."""
    fname, xs, ws, kwargs, _ = CONVS[case]
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ws).astype(np.float32)
    return (lambda lib, x, w: getattr(lib.nn.functional, fname)(x, w, **kwargs)), x, w


def conv_run(lib, fn, x, w, gy_bad=None):
    """Output, input and weight gradients of fn with a random upstream gradient (one bad value inside the
    output if given)."""
    xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
    y = fn(lib, xt, wt)
    gy = np.random.default_rng(4).standard_normal(tuple(y.shape)).astype(np.float32)
    if gy_bad is not None:  # inside: a window over the padding would meet 0 * inf, which PyTorch skips
        gy[(0, 0) + tuple(n // 2 for n in gy.shape[2:])] = gy_bad
    y.backward(lib.tensor(gy))
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


def test_conv_cases_run_the_algorithm_they_name():
    from baby.ops.conv.op import which_algorithm

    for fname, xs, ws, kwargs, algo in CONVS.values():
        if algo is not None:
            nhwc, k = (xs[0], *xs[2:], xs[1]), (*ws[2:], ws[1], ws[0])  # baby.ops.conv's layouts
            args = kwargs.get("stride", 1), kwargs.get("padding", 0), 1, kwargs.get("groups", 1)
            assert which_algorithm(nhwc, k, *args) == algo, (fname, xs, ws)


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("case", CONVS)
def test_conv_bad_pixel_stays_in_its_windows(case, bad):
    fn, x, w = conv_case(case)
    x[(0, 0) + tuple(n // 2 for n in x.shape[2:])] = BAD[bad]  # one interior pixel
    x[(-1, -1) + (0,) * (x.ndim - 2)] = BAD[bad]  # one corner pixel, in another image
    for got, want in zip(conv_run(baby, fn, x, w), conv_run(torch, fn, x, w), strict=True):
        same_nonfinite(got, want)


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("case", ["depthwise", "depthwise-x2-stride2"])
def test_depthwise_banded_path_keeps_bad_values_in_their_windows(case, bad, monkeypatch):
    """The banded GEMMs (larger problems than these) mix a row's values: their calls are redone by im2col."""
    from baby.ops.conv.fast import depthwise

    monkeypatch.setattr(depthwise, "DIRECT_OUTPUTS", -1)
    fn, x, w = conv_case(case)
    x[(0, 0) + tuple(n // 2 for n in x.shape[2:])] = BAD[bad]
    got, want = conv_run(baby, fn, x, w, BAD[bad]), conv_run(torch, fn, x, w, BAD[bad])
    for g, t in zip(got, want, strict=True):
        same_nonfinite(g, t)


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("case", ["winograd3", "winograd5", "depthwise", "transpose", "im2col"])
def test_conv_bad_gradient_stays_in_its_windows(case, bad):
    fn, x, w = conv_case(case)
    got, want = conv_run(baby, fn, x, w, BAD[bad]), conv_run(torch, fn, x, w, BAD[bad])
    for g, t in zip(got, want, strict=True):
        same_nonfinite(g, t)


@pytest.mark.parametrize("algo", ["winograd", "depthwise", "rows", "im2col", "pointwise", "book"])
@pytest.mark.parametrize("case", ["winograd3", "depthwise", "rows", "pointwise"])
def test_forced_algorithms_keep_nan_in_its_windows(algo, case):
    fn, x, w = conv_case(case)
    x[0, 0, 5, 6] = NAN
    with baby.ops.conv_algorithm(algo):
        got = conv_run(baby, fn, x, w)
    for g, want in zip(got, conv_run(torch, fn, x, w), strict=True):
        same_nonfinite(g, want)


def test_finite_inputs_keep_the_fast_algorithm(monkeypatch):
    """The guard only redoes calls whose results are not finite: a finite conv never reaches im2col."""
    from baby.ops.conv import registry

    def refuse(*args):
        raise AssertionError("im2col ran for a finite input")

    im2col = registry.ALGORITHMS["im2col"]
    monkeypatch.setitem(registry.ALGORITHMS, "im2col", type(im2col)(
        "im2col", im2col.fits, refuse, refuse, refuse))
    for case in ("winograd3", "winograd5", "depthwise"):
        fn, x, w = conv_case(case)
        for got, want in zip(conv_run(baby, fn, x, w), conv_run(torch, fn, x, w), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("values, finite", [
    (np.full(64, 300, np.float16), True),  # squares overflow float16: checked element by element
    (np.array([1, NAN], np.float16), False),
    (np.linspace(-1e3, 1e3, 4096, dtype=np.float32), True),
    (np.array([0, -INF, 1], np.float32), False),
    (np.array([INF, 1.0]), False),
    (np.zeros((3, 0), np.float32), True),
], ids=["f16-large", "f16-nan", "f32", "f32-inf", "f64-inf", "empty"])
def test_check_finite(values, finite):
    from baby.ops.conv.fast.memory import NonFinite, check_finite

    if finite:
        check_finite(values)
    else:
        with pytest.raises(NonFinite):
            check_finite(values)


# ---- pools and interpolation ------------------------------------------------------------------------------
POOLS = {
    "max_pool2d": lambda lib, x: lib.nn.functional.max_pool2d(x, 2),
    "max_pool2d-overlap": lambda lib, x: lib.nn.functional.max_pool2d(x, 3, 2, 1),
    "max_pool2d-stride1": lambda lib, x: lib.nn.functional.max_pool2d(x, 3, 1),
    "max_pool1d": lambda lib, x: lib.nn.functional.max_pool1d(x.flatten(2), 3),
    "max_pool2d-indices": lambda lib, x: lib.nn.functional.max_pool2d(x, 3, 2, 1, return_indices=True)[1]
                                                                      .to(x.dtype) + x[:, :, ::2, ::2] * 0,
    "avg_pool2d": lambda lib, x: lib.nn.functional.avg_pool2d(x, 3, 2, 1),
    "adaptive_avg_pool2d-uneven": lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, (3, 5)),
    "adaptive_avg_pool2d-1": lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, 1),
    "adaptive_max_pool2d-uneven": lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x, (3, 3)),
    "adaptive_max_pool2d-1": lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x, 1),
    "bilinear": lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=2, mode="bilinear"),
    "bilinear-align": lambda lib, x: lib.nn.functional.interpolate(x, size=(11, 13), mode="bilinear",
                                                                   align_corners=True),
    "bilinear-down": lambda lib, x: lib.nn.functional.interpolate(x, size=(5, 5), mode="bilinear"),
    "linear": lambda lib, x: lib.nn.functional.interpolate(x.flatten(2), scale_factor=1.5, mode="linear"),
    "nearest": lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=2),
}


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("case", POOLS)
def test_pool_bad_pixel_as_pytorch(case, bad):
    x = np.random.default_rng(5).standard_normal((2, 3, 8, 8)).astype(np.float32)
    x[0, 1, 3, 4] = x[1, 2, 0, 0] = BAD[bad]
    x[1, 0, 2, 2] = x[1, 0, 3, 3] = BAD[bad]  # two in one window (max pools: the last NaN takes the gradient)

    def fn(lib, t):
        y = POOLS[case](lib, t)
        return y * lib.tensor(np.random.default_rng(6).standard_normal(tuple(y.shape)).astype(np.float32))

    assert_as_torch(fn, x)
