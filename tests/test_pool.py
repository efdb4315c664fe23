"""Pooling against PyTorch (forward, input gradient, indices), finite differences, modules and errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check, finite_difference

import baby
from baby import nn, ops
from baby.nn import functional as F

RNG = np.random.default_rng(11)


def pool_case(name, shape, id=None, **kw):
    """One row: a pool function's name (as in torch.nn.functional), an input shape and its arguments."""
    return pytest.param(name, shape, kw, id=id or f"{name}-{shape}-{kw}")


def fns(name):
    """Our function and PyTorch's."""
    return getattr(F, name), getattr(TF, name)


def run_check(name, shape, kw, x=None):
    """check() our pool against PyTorch's on `shape` (or the array x), forward and input gradient."""
    ours, theirs = fns(name)
    return check(lambda t: ours(t, **kw), lambda t: theirs(t, **kw), [shape if x is None else x])


MAX_CASES = [
    pool_case("max_pool1d", (2, 3, 8), kernel_size=2),
    pool_case("max_pool1d", (2, 3, 9), kernel_size=3, stride=1, padding=1),
    pool_case("max_pool1d", (2, 3, 9), kernel_size=2, ceil_mode=True),
    pool_case("max_pool1d", (2, 3, 10), kernel_size=3, stride=2, dilation=2, padding=1),
    pool_case("max_pool1d", (3, 9), kernel_size=3, stride=2, id="max-1d-unbatched"),
    pool_case("max_pool2d", (2, 3, 6, 6), kernel_size=2),
    pool_case("max_pool2d", (2, 3, 7, 5), kernel_size=2, id="max-2d-floor-drops-remainder"),
    pool_case("max_pool2d", (2, 3, 7, 7), kernel_size=3, stride=2, padding=1),
    pool_case("max_pool2d", (2, 3, 6, 6), kernel_size=3, stride=1, padding=1, id="max-2d-overlap"),
    pool_case("max_pool2d", (2, 3, 7, 6), kernel_size=(3, 2), stride=(2, 1)),
    pool_case("max_pool2d", (2, 3, 7, 6), kernel_size=(2, 3), stride=(1, 2), padding=(1, 1)),
    pool_case("max_pool2d", (2, 2, 9, 9), kernel_size=3, padding=1, dilation=2),
    pool_case("max_pool2d", (2, 2, 9, 8), kernel_size=(2, 3), dilation=(3, 1), stride=(1, 2)),
    pool_case("max_pool2d", (2, 3, 7, 7), kernel_size=2, stride=2, ceil_mode=True, id="max-2d-ceil-partial"),
    pool_case("max_pool2d", (2, 3, 6, 6), kernel_size=3, stride=2, padding=1, ceil_mode=True,
              id="max-2d-ceil-drop"),
    pool_case("max_pool2d", (2, 3, 8, 7), kernel_size=3, stride=2, padding=1, ceil_mode=True),
    pool_case("max_pool2d", (2, 2, 2, 5), kernel_size=3, stride=2, ceil_mode=True, padding=(1, 0),
              id="max-2d-ceil-window-past-padding"),
    pool_case("max_pool2d", (2, 3, 9, 9), kernel_size=2, stride=3, id="max-2d-stride>kernel"),
    pool_case("max_pool2d", (3, 6, 7), kernel_size=2, id="max-2d-unbatched"),
    pool_case("max_pool3d", (2, 2, 4, 4, 4), kernel_size=2),
    pool_case("max_pool3d", (2, 2, 5, 6, 4), kernel_size=(2, 3, 1), stride=(1, 2, 1), padding=(1, 1, 0)),
    pool_case("max_pool3d", (1, 2, 5, 5, 5), kernel_size=3, stride=2, padding=1, ceil_mode=True),
    pool_case("max_pool3d", (1, 2, 7, 6, 5), kernel_size=2, stride=1, dilation=(2, 1, 2)),
]

AVG_CASES = [
    pool_case("avg_pool1d", (2, 3, 8), kernel_size=2),
    pool_case("avg_pool1d", (2, 3, 9), kernel_size=3, stride=1, padding=1),
    pool_case("avg_pool1d", (2, 3, 9), kernel_size=3, stride=1, padding=1, count_include_pad=False),
    pool_case("avg_pool1d", (2, 3, 8), kernel_size=3, stride=2, padding=1, ceil_mode=True),
    pool_case("avg_pool1d", (2, 3, 8), kernel_size=3, stride=2, padding=1, ceil_mode=True,
              count_include_pad=False),
    pool_case("avg_pool1d", (3, 9), kernel_size=2, id="avg-1d-unbatched"),
    pool_case("avg_pool2d", (2, 3, 6, 6), kernel_size=2),
    pool_case("avg_pool2d", (2, 3, 7, 7), kernel_size=3, stride=2, padding=1),
    pool_case("avg_pool2d", (2, 3, 7, 7), kernel_size=3, stride=2, padding=1, count_include_pad=False),
    pool_case("avg_pool2d", (2, 3, 6, 6), kernel_size=3, stride=1, padding=1, id="avg-2d-overlap"),
    pool_case("avg_pool2d", (2, 3, 7, 6), kernel_size=(3, 2), stride=(2, 1)),
    pool_case("avg_pool2d", (2, 3, 7, 7), kernel_size=2, ceil_mode=True, id="avg-2d-ceil-partial"),
    pool_case("avg_pool2d", (2, 3, 8, 7), kernel_size=3, stride=2, padding=1, ceil_mode=True,
              id="avg-2d-ceil-pad"),
    pool_case("avg_pool2d", (2, 3, 8, 7), kernel_size=3, stride=2, padding=1, ceil_mode=True,
              count_include_pad=False),
    pool_case("avg_pool2d", (2, 2, 2, 5), kernel_size=3, stride=2, ceil_mode=True, padding=(1, 0),
              id="avg-2d-ceil-window-past-padding"),
    pool_case("avg_pool2d", (2, 3, 6, 6), kernel_size=2, divisor_override=3),
    pool_case("avg_pool2d", (2, 3, 7, 7), kernel_size=3, stride=2, padding=1, ceil_mode=True,
              divisor_override=-2),
    pool_case("avg_pool2d", (3, 6, 7), kernel_size=(2, 3), stride=1, id="avg-2d-unbatched"),
    pool_case("avg_pool3d", (2, 2, 4, 4, 4), kernel_size=2),
    pool_case("avg_pool3d", (2, 2, 5, 6, 4), kernel_size=(2, 3, 1), stride=(1, 2, 1), padding=(1, 1, 0)),
    pool_case("avg_pool3d", (1, 2, 5, 5, 5), kernel_size=3, stride=2, padding=1, ceil_mode=True,
              count_include_pad=False),
    pool_case("avg_pool3d", (1, 2, 5, 6, 4), kernel_size=2, ceil_mode=True, divisor_override=5),
]

ADAPTIVE_CASES = [
    pool_case(f"adaptive_{kind}_pool{nd}d", shape, output_size=o)
    for kind in ("avg", "max")
    for nd, shape, o in [
        (1, (2, 3, 8), 1), (1, (2, 3, 8), 4), (1, (2, 3, 7), 3), (1, (2, 3, 5), 8), (1, (3, 7), 2),
        (2, (2, 3, 6, 6), 1), (2, (2, 3, 6, 6), 3), (2, (2, 3, 7, 5), 3), (2, (2, 3, 7, 5), (2, 4)),
        (2, (2, 3, 7, 5), (None, 3)), (2, (2, 3, 7, 5), (1, None)), (2, (2, 3, 3, 4), (5, 7)),
        (2, (3, 7, 5), (4, 1)),
    ]
]


@pytest.mark.parametrize("name, shape, kw", MAX_CASES + AVG_CASES + ADAPTIVE_CASES)
def test_against_torch(name, shape, kw):
    assert run_check(name, shape, kw).dtype == np.float32


@pytest.mark.parametrize("name, shape, kw", [
    pool_case("max_pool2d", (2, 2, 7, 6), kernel_size=3, stride=2, padding=1, ceil_mode=True),
    pool_case("avg_pool2d", (2, 2, 7, 6), kernel_size=3, stride=2, padding=1, ceil_mode=True,
              count_include_pad=False),
    pool_case("adaptive_avg_pool2d", (2, 2, 7, 5), output_size=3),
    pool_case("adaptive_max_pool2d", (2, 2, 7, 5), output_size=3),
])
def test_float64_preserved(name, shape, kw):
    y = run_check(name, shape, kw, x=RNG.uniform(-2, 2, shape))
    assert y.dtype == np.float64


TIE_INPUTS = {
    "all-equal": lambda shape: np.full(shape, 0.5, np.float32),
    "zeros-and-ones": lambda shape: RNG.integers(0, 2, shape).astype(np.float32),
    "relu-like": lambda shape: np.maximum(RNG.integers(-3, 2, shape), 0).astype(np.float32),
}


@pytest.mark.parametrize("ties", TIE_INPUTS)
@pytest.mark.parametrize("name, shape, kw", [
    pool_case("max_pool1d", (2, 2, 9), kernel_size=3, stride=1, padding=1),
    pool_case("max_pool2d", (2, 2, 6, 6), kernel_size=2),
    pool_case("max_pool2d", (2, 2, 7, 7), kernel_size=3, stride=1, padding=1, id="max-2d-overlapping"),
    pool_case("max_pool2d", (2, 2, 7, 7), kernel_size=3, stride=2, padding=1, ceil_mode=True),
    pool_case("max_pool2d", (2, 2, 8, 7), kernel_size=(3, 2), stride=(2, 1), dilation=(1, 2)),
    pool_case("max_pool3d", (1, 2, 5, 4, 5), kernel_size=(2, 3, 2), stride=1, padding=(1, 1, 0)),
    pool_case("adaptive_max_pool1d", (2, 2, 7), output_size=3),
    pool_case("adaptive_max_pool2d", (2, 2, 6, 6), output_size=1),
    pool_case("adaptive_max_pool2d", (2, 2, 6, 6), output_size=2),
    pool_case("adaptive_max_pool2d", (2, 2, 7, 5), output_size=(3, 2)),
    pool_case("adaptive_max_pool2d", (2, 2, 3, 4), output_size=(5, 6)),
])
def test_max_ties_pick_the_same_element_as_torch(name, shape, kw, ties):
    x = TIE_INPUTS[ties](shape)
    run_check(name, shape, kw, x=x)
    ours, theirs = fns(name)
    _, idx = ours(baby.Tensor(x), **kw, return_indices=True)
    _, tidx = theirs(torch.tensor(x), **kw, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


@pytest.mark.parametrize("name, shape, kw", [
    c for c in MAX_CASES + ADAPTIVE_CASES if "max" in c.values[0]
])
def test_return_indices(name, shape, kw):
    ours, theirs = fns(name)
    x = RNG.uniform(-2, 2, shape).astype(np.float32)
    y, idx = ours(baby.Tensor(x), **kw, return_indices=True)
    ty, tidx = theirs(torch.tensor(x), **kw, return_indices=True)
    assert idx.dtype == np.int64 and idx.shape == tuple(tidx.shape)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    np.testing.assert_array_equal(y.numpy(), ty.numpy())


RECORDED_CASES = [
    pool_case("max_pool2d", (2, 3, 8, 8), kernel_size=2, id="disjoint-covering"),
    pool_case("max_pool2d", (2, 3, 9, 7), kernel_size=2, id="disjoint-remainder"),
    pool_case("max_pool2d", (2, 3, 6, 9), kernel_size=3, id="tiles-3x3"),
    pool_case("max_pool2d", (2, 3, 6, 8), kernel_size=(3, 2), id="tiles-3x2"),
    pool_case("max_pool1d", (2, 3, 8), kernel_size=2, id="tiles-1d"),
    pool_case("max_pool3d", (2, 2, 4, 6, 4), kernel_size=2, id="tiles-3d"),
    pool_case("max_pool2d", (2, 3, 9, 9), kernel_size=2, stride=3, dilation=2, id="disjoint-dilated-gaps"),
    pool_case("max_pool2d", (2, 3, 8, 8), kernel_size=3, stride=1, padding=1, id="overlap-padded"),
    pool_case("max_pool2d", (2, 3, 9, 8), kernel_size=3, stride=2, padding=1, ceil_mode=True,
              id="overlap-ceil"),
    pool_case("max_pool1d", (2, 3, 9), kernel_size=3, stride=2, padding=1, id="1d-padded"),
    pool_case("max_pool3d", (1, 2, 4, 6, 5), kernel_size=2, stride=(2, 2, 1), padding=(0, 1, 1),
              id="3d-padded"),
    pool_case("max_pool2d", (2, 2, 6, 6), kernel_size=4, stride=2, padding=2, id="16-taps"),
    pool_case("max_pool2d", (2, 3, 4, 5), kernel_size=(4, 5), id="whole-plane"),
    pool_case("adaptive_max_pool2d", (2, 3, 4, 4), output_size=1, id="global-2d"),
    pool_case("adaptive_max_pool1d", (2, 3, 7), output_size=1, id="global-1d"),
]


def bad_values(kind, shape):
    """Inputs for the recorded tap: random, ReLU-like ties, or with NaN/inf pixels (two in one window), or
    a corner of -inf only (so a padded corner window's max is -inf: PyTorch picks its first tap inside x)."""
    rng = np.random.default_rng(3)
    x = np.maximum(rng.integers(-3, 3, shape), 0).astype(np.float32) if kind == "ties" else \
        rng.standard_normal(shape).astype(np.float32)
    at = (0,) * (len(shape) - 2)
    near = (1,) * (len(shape) - 2)
    if kind in ("nan", "inf"):
        x[(0, 1, *at)] = x[(-1, 0, *near)] = x[(-1, 0, *at)] = np.nan if kind == "nan" else np.inf
    if kind == "-inf":
        x[(slice(None), slice(None), *(slice(0, 2),) * (len(shape) - 2))] = -np.inf
    return x


@pytest.mark.parametrize("kind", ["random", "ties", "nan", "inf", "-inf"])
@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "nhwc-memory"])
@pytest.mark.parametrize("name, shape, kw", RECORDED_CASES)
def test_recorded_tap_as_torch(name, shape, kw, channels_last, kind):
    x = bad_values(kind, shape)
    ours, theirs = fns(name)
    gy = np.random.default_rng(4).standard_normal(theirs(torch.tensor(x), **kw).shape).astype(np.float32)
    gy.flat[::7] = np.inf if kind != "random" else gy.flat[::7]  # inf * a zero mask must stay 0, not NaN
    nd = len(shape) - 2
    if channels_last:  # an NCHW view of NHWC memory, as a channels-last conv's output
        leaf = baby.Tensor(np.ascontiguousarray(np.moveaxis(x, 1, -1)), requires_grad=True)
        bx = leaf.permute(0, nd + 1, *range(1, nd + 1))
    else:
        leaf = bx = baby.Tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    (y, idx), (ty, tidx) = ours(bx, **kw, return_indices=True), theirs(tx, **kw, return_indices=True)
    y.backward(baby.Tensor(gy))
    ty.backward(torch.tensor(gy))
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    gx = leaf.grad.numpy()
    gx = np.moveaxis(gx, -1, 1) if channels_last else gx
    np.testing.assert_array_equal(gx == 0, tx.grad.numpy() == 0)  # the same elements took gradient
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-6)  # overlapping windows add in another order


@pytest.mark.parametrize("name, shape, kw", RECORDED_CASES)
def test_max_pool_without_grad_as_torch(name, shape, kw):
    x = bad_values("ties", shape)
    ours, theirs = fns(name)
    with baby.no_grad():
        y = ours(baby.Tensor(x, requires_grad=True), **kw)
    assert not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), theirs(torch.tensor(x), **kw).numpy())


def random_config(rng):
    """A random valid (kind, shape, kwargs) for a fixed-window pool, partial windows and padding included."""
    kind, nd = str(rng.choice(["max", "avg"])), int(rng.integers(1, 4))
    square = rng.random() < 0.3
    k = (int(rng.integers(1, 4)),) * nd if square else tuple(int(v) for v in rng.integers(1, 4, nd))
    d = tuple(int(v) for v in rng.integers(1, 3, nd)) if kind == "max" else (1,) * nd
    p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
    S = (dd * (kk - 1) + 1 - 2 * pp + int(rng.integers(0, 5)) for kk, dd, pp in zip(k, d, p, strict=True))
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *(max(n, 1) for n in S))
    kw = dict(kernel_size=k[0] if square else k, padding=p, ceil_mode=bool(rng.random() < 0.5),
              stride=None if rng.random() < 0.2 else tuple(int(v) for v in rng.integers(1, 4, nd)))
    if kind == "max":
        kw["dilation"] = d
    else:
        kw["count_include_pad"] = bool(rng.random() < 0.5)
        if nd > 1 and rng.random() < 0.2:
            kw["divisor_override"] = int(rng.integers(1, 7))
    return f"{kind}_pool{nd}d", shape, kw


SWEEP = [random_config(np.random.default_rng(seed)) for seed in range(120)]


@pytest.mark.parametrize("name, shape, kw", [
    pytest.param(*c, id=f"seed{i}") for i, c in enumerate(SWEEP)
])
def test_random_sweep(name, shape, kw):
    ours, theirs = fns(name)
    try:
        probe = theirs(torch.tensor(RNG.uniform(-2, 2, shape)), **kw)
    except RuntimeError as e:
        if "smaller than kernel size" in str(e):  # avg_pool3d alone wants the unpadded input >= kernel
            ours(baby.zeros(*shape), **kw)
            return
        with pytest.raises(ValueError):
            ours(baby.zeros(*shape), **kw)
        return
    if torch.isinf(probe).any():  # a dilated window that reads only padding: torch's index is garbage
        y = ours(baby.zeros(*shape), **kw).numpy()
        np.testing.assert_array_equal(np.isinf(y), torch.isinf(probe).numpy())
        return
    assert run_check(name, shape, kw).shape == tuple(probe.shape)


@pytest.mark.parametrize("fn, shape", [
    (lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True), (1, 2, 6, 5)),
    (lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), (1, 2, 6, 5)),
    (lambda x: F.avg_pool1d(x, 2, 1), (2, 2, 5)),
    (lambda x: F.avg_pool3d(x, 2, 1, 1, divisor_override=3), (1, 1, 3, 3, 2)),
    (lambda x: F.max_pool2d(x, 3, 1, 1), (1, 2, 5, 5)),
    (lambda x: F.max_pool2d(x, 2, 2, ceil_mode=True, dilation=(1, 2)), (1, 2, 5, 6)),
    (lambda x: F.max_pool3d(x, 2, 1), (1, 1, 3, 3, 3)),
    (lambda x: F.adaptive_avg_pool2d(x, (3, 2)), (1, 2, 7, 5)),
    (lambda x: F.adaptive_max_pool2d(x, (3, 2)), (1, 2, 7, 5)),
    (lambda x: F.adaptive_max_pool1d(x, 1), (2, 2, 5)),
])
def test_finite_differences(fn, shape):
    x = RNG.permutation(np.prod(shape)).reshape(shape) / 7.0  # distinct values: no ties for max
    finite_difference(fn, x)


@pytest.mark.parametrize("fn, ref", [
    (lambda x: ops.max_pool(x, 3, 2, 1, ceil_mode=True), lambda x: TF.max_pool2d(x, 3, 2, 1, ceil_mode=True)),
    (lambda x: ops.avg_pool(x, (2, 3), 1, (1, 1), count_include_pad=False),
     lambda x: TF.avg_pool2d(x, (2, 3), 1, (1, 1), count_include_pad=False)),
    (lambda x: ops.max_pool(x, 2, dilation=2), lambda x: TF.max_pool2d(x, 2, dilation=2)),
])
def test_ops_take_channels_last(fn, ref):
    x = RNG.uniform(-2, 2, (2, 7, 6, 3)).astype(np.float32)  # (N, H, W, C)
    check(fn, lambda t: ref(t.permute(0, 3, 1, 2)).permute(0, 2, 3, 1), [x])


@pytest.mark.parametrize("fn", [F.max_pool2d, F.avg_pool2d])
def test_nchw_input_is_one_op_without_permutes(fn):
    x = baby.Tensor(RNG.uniform(-2, 2, (2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    y = fn(x, 2)
    assert y.grad_fn.nchw and y.inputs[0] is x  # the op takes the channels-last view of x inside itself
    assert [type(f).__name__ for f, _ in y.grad_fn.next_functions] == ["AccumulateGrad"]


def test_nchw_max_pool_that_recorded_nothing_finds_its_maxima_when_asked():
    """An op that kept no `won` (run under no_grad) records it on demand, on its channels-last view."""
    from baby.ops.conv.fast.memory import to_nchw, to_nhwc
    from baby.ops.pool import MaxPool

    x = RNG.uniform(-2, 2, (2, 3, 6, 6)).astype(np.float32)
    op = MaxPool((2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1), (3, 3), record=False, nchw=True)
    y = op.forward(x)  # (2, 3, 3, 3)
    _, want = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(to_nchw(op.indices(to_nhwc(x), to_nhwc(y))), want.numpy())


MODULES = [
    (nn.MaxPool1d(3, 2, 1), torch.nn.MaxPool1d(3, 2, 1), (2, 3, 9)),
    (nn.MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True), (2, 3, 7, 7)),
    (nn.MaxPool2d((2, 3), dilation=(2, 1)), torch.nn.MaxPool2d((2, 3), dilation=(2, 1)), (2, 3, 7, 7)),
    (nn.MaxPool3d(2), torch.nn.MaxPool3d(2), (1, 2, 4, 4, 4)),
    (nn.AvgPool1d(2), torch.nn.AvgPool1d(2), (2, 3, 9)),
    (nn.AvgPool1d(3, 2, 1, True, False), torch.nn.AvgPool1d(3, 2, 1, True, False), (2, 3, 9)),
    (nn.AvgPool2d(3, 2, 1, count_include_pad=False), torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False),
     (2, 3, 7, 7)),
    (nn.AvgPool2d(2, divisor_override=3), torch.nn.AvgPool2d(2, divisor_override=3), (2, 3, 6, 6)),
    (nn.AvgPool3d((1, 2, 2), ceil_mode=True), torch.nn.AvgPool3d((1, 2, 2), ceil_mode=True), (1, 2, 3, 5, 5)),
    (nn.AdaptiveAvgPool1d(3), torch.nn.AdaptiveAvgPool1d(3), (2, 3, 7)),
    (nn.AdaptiveAvgPool2d((3, None)), torch.nn.AdaptiveAvgPool2d((3, None)), (2, 3, 7, 5)),
    (nn.AdaptiveAvgPool2d(1), torch.nn.AdaptiveAvgPool2d(1), (2, 3, 7, 5)),
    (nn.AdaptiveMaxPool1d(4), torch.nn.AdaptiveMaxPool1d(4), (2, 3, 7)),
    (nn.AdaptiveMaxPool2d((2, 3)), torch.nn.AdaptiveMaxPool2d((2, 3)), (2, 3, 7, 5)),
]


@pytest.mark.parametrize("ours, theirs, shape", MODULES, ids=[repr(m[1]) for m in MODULES])
def test_modules(ours, theirs, shape):
    assert isinstance(ours, nn.Module) and not list(ours.parameters())
    assert repr(ours) == repr(theirs)
    check(ours, theirs, [shape])


@pytest.mark.parametrize("ours, theirs", [
    (nn.MaxPool2d(2, return_indices=True), torch.nn.MaxPool2d(2, return_indices=True)),
    (nn.AdaptiveMaxPool2d(3, return_indices=True), torch.nn.AdaptiveMaxPool2d(3, return_indices=True)),
])
def test_modules_return_indices(ours, theirs):
    x = RNG.uniform(-2, 2, (2, 3, 7, 6)).astype(np.float32)
    (y, idx), (ty, tidx) = ours(baby.Tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


def test_pooling_inside_a_network_trains():
    model = nn.Sequential(nn.MaxPool2d(2), nn.AvgPool2d(2, 1), nn.AdaptiveAvgPool2d(1))
    x = baby.Tensor(RNG.uniform(-2, 2, (2, 3, 8, 8)).astype(np.float32), requires_grad=True)
    model(x).sum().backward()
    assert x.grad.shape == x.shape and x.grad.dtype == np.float32


X2 = baby.zeros(1, 2, 5, 5)

ERRORS = [
    (lambda: F.max_pool2d(X2, 2, padding=2), ValueError, "half of kernel_size"),
    (lambda: F.max_pool2d(X2, 3, padding=2, dilation=2), ValueError, "half of kernel_size"),
    (lambda: F.avg_pool2d(X2, 3, padding=2), ValueError, "half of kernel_size"),
    (lambda: F.max_pool1d(baby.zeros(1, 2, 5), 2, padding=-1), ValueError, "padding"),
    (lambda: F.max_pool2d(X2, 2, stride=0), ValueError, "stride"),
    (lambda: F.avg_pool2d(X2, 2, stride=(1, 0)), ValueError, "stride"),
    (lambda: F.max_pool2d(X2, 0), ValueError, "kernel_size"),
    (lambda: F.max_pool2d(X2, 2, dilation=0), ValueError, "dilation"),
    (lambda: F.max_pool2d(X2, (2, 2, 2)), ValueError, "kernel_size"),
    (lambda: F.avg_pool3d(baby.zeros(1, 1, 4, 4, 4), (2, 2)), ValueError, "kernel_size"),
    (lambda: F.max_pool2d(X2, 6), ValueError, r"output would have shape \(0, 0\)"),
    (lambda: F.max_pool2d(X2, 3, dilation=3), ValueError, "smaller than"),
    (lambda: F.max_pool2d(baby.zeros(5, 5), 2), ValueError, r"\(N, C, H, W\) or \(C, H, W\)"),
    (lambda: F.max_pool1d(X2, 2), ValueError, r"\(N, C, L\)"),
    (lambda: F.avg_pool3d(baby.zeros(2, 5, 5), 2), ValueError, "D, H, W"),
    (lambda: F.max_pool2d(X2, 2.0), TypeError, "kernel_size"),
    (lambda: F.max_pool2d(X2, "2"), TypeError, "kernel_size"),
    (lambda: F.avg_pool2d(X2, 2, padding=(1.5, 0)), TypeError, "padding"),
    (lambda: F.max_pool2d(X2, True), TypeError, "kernel_size"),
    (lambda: F.max_pool2d(baby.zeros(1, 2, 5, 5, dtype=np.int64), 2), TypeError, "float"),
    (lambda: F.avg_pool2d(X2, 2, divisor_override=0), ValueError, "divisor_override"),
    (lambda: F.avg_pool2d(X2, 2, divisor_override=2.5), TypeError, "divisor_override"),
    (lambda: F.adaptive_avg_pool2d(X2, 0), ValueError, "output_size"),
    (lambda: F.adaptive_max_pool2d(X2, (2, 2, 2)), ValueError, "output_size"),
    (lambda: F.adaptive_max_pool1d(baby.zeros(1, 2, 5), 2.5), TypeError, "output_size"),
    (lambda: F.adaptive_avg_pool1d(X2, 2), ValueError, r"\(N, C, L\)"),
    (lambda: nn.MaxPool2d(2)(baby.zeros(2, 5)), ValueError, "max_pool2d"),
    (lambda: ops.max_pool(baby.zeros(2, 5), 2), ValueError, r"\(N, \*spatial, C\)"),
]


@pytest.mark.parametrize("fn, error, match", ERRORS)
def test_errors(fn, error, match):
    with pytest.raises(error, match=match):
        fn()


@pytest.mark.parametrize("name, shape, kw", [
    pool_case("max_pool2d", (1, 2, 5, 5), kernel_size=2, padding=2),
    pool_case("max_pool2d", (1, 2, 5, 5), kernel_size=2, stride=0),
    pool_case("max_pool2d", (1, 2, 5, 5), kernel_size=6),
    pool_case("avg_pool2d", (1, 2, 5, 5), kernel_size=3, padding=2),
    pool_case("max_pool2d", (1, 2, 5, 5), kernel_size=3, dilation=3),
])
def test_torch_rejects_the_same_arguments(name, shape, kw):
    ours, theirs = fns(name)
    with pytest.raises(RuntimeError):
        theirs(torch.zeros(shape), **kw)
    with pytest.raises(ValueError):
        ours(baby.zeros(*shape), **kw)


@pytest.mark.parametrize("plain, lookalike", [((1, 1), (1, True)), ((2, 2), (2, 2.0)), (2, np.float64(2))])
def test_remembered_geometry_is_not_reused_for_lookalike_arguments(plain, lookalike):
    F.max_pool2d(X2, plain)  # sized once and remembered
    with pytest.raises(TypeError, match="kernel_size"):
        F.max_pool2d(X2, lookalike)  # equal and hashing alike, but not an int
