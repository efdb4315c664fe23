"""Losses (nn.functional and nn modules) against PyTorch: values and the gradient of every float input
(targets too where PyTorch gives one) in float32 and float64, reductions, weights, ignore_index,
(N, C, d1, d2) shapes, edge inputs (probabilities 0 and 1, logits +-100, the kinks of smooth_l1 and huber),
and the errors."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check

import baby
from baby import nn
from baby.nn import functional as F

pytestmark = pytest.mark.usefixtures("helpers_rng_untouched")  # the suite's random streams stay as they were
RNG = np.random.default_rng(11)
TOL = {np.float32: dict(atol=1e-5, rtol=1e-4), np.float64: dict(atol=1e-10, rtol=1e-7)}
DTYPES = [np.float32, np.float64]
REDUCTIONS = ["none", "mean", "sum"]


def weights(n, dtype=np.float32):
    return RNG.uniform(0.5, 2, n).astype(dtype)


def classes(shape, C, ignore=None):
    t = RNG.integers(0, C, shape)
    if ignore is not None:
        t[RNG.random(shape) < 0.3] = ignore
    return t


def probabilities(shape, dtype, dim=1):
    p = RNG.uniform(0, 1, shape)
    return (p / p.sum(axis=dim, keepdims=True)).astype(dtype)


def torch_kw(kw):
    return {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}


def as_dtype(kw, dtype):
    return {k: v.astype(dtype) if isinstance(v, np.ndarray) else v for k, v in kw.items()}


# ---- class targets ----------------------------------------------------------------------------------------
CLASS_CASES = [  # input shape, target, kwargs
    ((6, 5), classes(6, 5), {}),
    ((6, 5), classes(6, 5), {"weight": weights(5)}),
    ((8, 5), classes(8, 5, ignore=-100), {}),
    ((8, 5), classes(8, 5, ignore=-100), {"weight": weights(5)}),
    ((8, 5), classes(8, 5, ignore=3), {"ignore_index": 3, "weight": weights(5)}),
    ((2, 4, 3, 5), classes((2, 3, 5), 4), {}),
    ((2, 4, 3, 5), classes((2, 3, 5), 4, ignore=-100), {"weight": weights(4)}),
    ((2, 4, 7), classes((2, 7), 4, ignore=1), {"ignore_index": 1}),
    ((5,), np.array(3), {}),
    ((5,), np.array(3), {"weight": weights(5)}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape, target, kw", CLASS_CASES)
def test_nll_loss(shape, target, kw, reduction, dtype):
    x, kw = RNG.uniform(-3, 0, shape).astype(dtype), as_dtype(kw, dtype)
    check(lambda a, t: F.nll_loss(a, t, reduction=reduction, **kw),
          lambda a, t: TF.nll_loss(a, t, reduction=reduction, **torch_kw(kw)), [x, target], **TOL[dtype])
    check(lambda a, t: nn.NLLLoss(reduction=reduction, **kw)(a, t),
          lambda a, t: torch.nn.NLLLoss(reduction=reduction, **torch_kw(kw))(a, t), [x, target], **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("s", [0.0, 0.2])
@pytest.mark.parametrize("shape, target, kw", CLASS_CASES)
def test_cross_entropy_class_targets(shape, target, kw, s, reduction, dtype):
    x, kw = RNG.uniform(-3, 3, shape).astype(dtype), as_dtype(kw, dtype)
    check(lambda a, t: F.cross_entropy(a, t, reduction=reduction, label_smoothing=s, **kw),
          lambda a, t: TF.cross_entropy(a, t, reduction=reduction, label_smoothing=s, **torch_kw(kw)),
          [x, target], **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("s", [0.0, 0.2])
@pytest.mark.parametrize("shape, target, kw", CLASS_CASES[:8])
def test_cross_entropy_in_one_node_is_the_weighted_sum_exactly(shape, target, kw, s, reduction, dtype):
    x0, kw = RNG.uniform(-3, 3, shape).astype(dtype), as_dtype(kw, dtype)
    keep = target != kw.get("ignore_index", -100)
    w = kw.get("weight", np.ones(shape[1], dtype))[np.where(keep, target, 0)]
    total = 1.0 if reduction == "sum" else float((w * keep).sum())
    out, names = [], []
    for fn in (lambda a: F.cross_entropy(a, target, reduction=reduction, label_smoothing=s, **kw),
               lambda a: F.cross_entropy(a, target, reduction="none", label_smoothing=s, **kw).sum() / total):
        x = baby.tensor(x0, requires_grad=True)
        y = fn(x)
        names.append(baby.viz.node_name(y.grad_fn))
        y.backward()
        out.append((y.numpy(), x.grad.numpy()))
    fused, composed = out
    assert names == ["NllLossBackward0", "DivBackward0"]  # (one node, as PyTorch's)
    for a, b in zip(fused, composed, strict=True):
        assert a.dtype == b.dtype == dtype and np.array_equal(a, b)


PROB_CASES = [  # input shape, kwargs
    ((6, 5), {}), ((6, 5), {"weight": weights(5)}), ((6, 5), {"label_smoothing": 0.1}),
    ((6, 5), {"label_smoothing": 0.3, "weight": weights(5)}),
    ((2, 4, 3, 5), {}), ((2, 4, 3, 5), {"weight": weights(4), "label_smoothing": 0.2}), ((5,), {}),
    ((5,), {"weight": weights(5)}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape, kw", PROB_CASES)
def test_cross_entropy_probability_targets(shape, kw, reduction, dtype):
    """Gradients of the logits and of the target probabilities."""
    x, kw = RNG.uniform(-3, 3, shape).astype(dtype), as_dtype(kw, dtype)
    q = probabilities(shape, dtype, 0 if len(shape) == 1 else 1)
    check(lambda a, t: nn.CrossEntropyLoss(reduction=reduction, **kw)(a, t),
          lambda a, t: torch.nn.CrossEntropyLoss(reduction=reduction, **torch_kw(kw))(a, t), [x, q],
          **TOL[dtype])


def test_cross_entropy_probability_weight_gets_torchs_gradient():
    x, q, w = RNG.standard_normal((4, 3)), probabilities((4, 3), np.float64), weights(3, np.float64)
    check(lambda a, t, v: F.cross_entropy(a, t, weight=v), lambda a, t, v: TF.cross_entropy(a, t, weight=v),
          [x, q, w], **TOL[np.float64])


def test_all_ignored_mean_is_nan_as_torch():
    t = np.full(3, -100)
    assert np.isnan(F.nll_loss(baby.zeros(3, 4), t).item()) and np.isnan(TF.nll_loss(torch.zeros(3, 4),
                                                                                      torch.tensor(t)).item())
    assert np.isnan(F.cross_entropy(baby.zeros(3, 4), t).item())


def test_softmax_loss_is_the_books_cross_entropy():
    x, y = RNG.standard_normal((4, 3)).astype(np.float32), np.array([0, 2, 1, 2])
    ref = TF.cross_entropy(torch.tensor(x), torch.tensor(y)).item()
    loss = nn.SoftmaxLoss()
    assert isinstance(loss, nn.CrossEntropyLoss)
    for target in (y, baby.tensor(y)):
        assert abs(loss(baby.tensor(x), target).item() - ref) < 1e-6


# ---- binary targets ---------------------------------------------------------------------------------------
BCE_EDGES = (np.array([0.0, 0.0, 1e-13, 0.3, 0.5, 0.5, 1 - 1e-7, 1.0, 1.0]),  # input: exact 0 and 1 too
             np.array([0.0, 0.5, 0.5, 1.0, 0.3, 0.0, 1.0, 1.0, 0.0]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("x, t", [BCE_EDGES, (RNG.uniform(0.01, 0.99, (4, 3)), RNG.uniform(0, 1, (4, 3)))],
                         ids=["edges", "random"])
def test_binary_cross_entropy(x, t, weighted, reduction, dtype):
    """Logs clamp at -100, the input gradient divides by max(x (1 - x), 1e-12), the target gets -logit(x)."""
    kw = {"weight": weights(x.shape[-1:], dtype)} if weighted else {}
    x, t = x.astype(dtype), t.astype(dtype)
    check(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction, **kw),
          lambda a, b: TF.binary_cross_entropy(a, b, reduction=reduction, **torch_kw(kw)), [x, t],
          **TOL[dtype])
    check(lambda a, b: nn.BCELoss(reduction=reduction, **kw)(a, b),
          lambda a, b: torch.nn.BCELoss(reduction=reduction, **torch_kw(kw))(a, b), [x, t], **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kw", [{}, {"weight": weights(4)}, {"pos_weight": weights(4)},
                                {"weight": weights(4), "pos_weight": weights(4)}])
def test_binary_cross_entropy_with_logits(kw, reduction, dtype):
    x = np.array([[-100, -50, -20, 0], [0, 20, 50, 100], [-1, 2, -3, 4]], dtype)  # large logits stay finite
    t = np.array([[0, 1, 0.5, 1], [0, 1, 0, 0.3], [1, 0, 0.2, 1]], dtype)
    kw = as_dtype(kw, dtype)
    check(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction, **kw),
          lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction=reduction, **torch_kw(kw)),
          [x, t], **TOL[dtype])
    m = nn.BCEWithLogitsLoss(reduction=reduction, **kw)
    tm = torch.nn.BCEWithLogitsLoss(reduction=reduction, **torch_kw(kw))
    assert list(m.state_dict()) == list(tm.state_dict()) and not list(m.parameters())
    check(m, tm, [x, t], **TOL[dtype])


# ---- regression -------------------------------------------------------------------------------------------
KINKS = np.array([-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0])  # |d| = beta, delta against a zero target
REGRESSION = [  # id, baby loss, torch loss, kwargs
    ("mse", F.mse_loss, TF.mse_loss, {}), ("l1", F.l1_loss, TF.l1_loss, {}),
    ("smooth_l1", F.smooth_l1_loss, TF.smooth_l1_loss, {}),
    ("smooth_l1-beta0.5", F.smooth_l1_loss, TF.smooth_l1_loss, {"beta": 0.5}),
    ("smooth_l1-beta0", F.smooth_l1_loss, TF.smooth_l1_loss, {"beta": 0.0}),
    ("huber", F.huber_loss, TF.huber_loss, {}), ("huber-delta2", F.huber_loss, TF.huber_loss, {"delta": 2.0}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, fn, tfn, kw", REGRESSION, ids=[c[0] for c in REGRESSION])
def test_regression_losses(name, fn, tfn, kw, reduction, dtype):
    """Gradients of input and target; exact kinks (d = 0, +-beta, +-delta) against a zero target."""
    for x, t in ((KINKS, np.zeros(9)), (RNG.uniform(-3, 3, (4, 5)), RNG.uniform(-3, 3, (4, 5)))):
        check(lambda a, b: fn(a, b, reduction=reduction, **kw),
              lambda a, b: tfn(a, b, reduction=reduction, **kw), [x.astype(dtype), t.astype(dtype)],
              **TOL[dtype])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn, tfn", [(F.mse_loss, TF.mse_loss), (F.l1_loss, TF.l1_loss),
                                     (F.huber_loss, TF.huber_loss)])
def test_weighted_regression_losses(fn, tfn, reduction):
    """weight= (input's shape): 'mean' divides by the sum of the weights (mse, l1) or the count (huber)."""
    check(lambda a, b, w: fn(a, b, reduction=reduction, weight=w),
          lambda a, b, w: tfn(a, b, reduction=reduction, weight=w), [(4, 3), (4, 3), weights((4, 3))])


REGRESSION_MODULES = [
    (nn.MSELoss(), torch.nn.MSELoss()), (nn.MSELoss(reduction="sum"), torch.nn.MSELoss(reduction="sum")),
    (nn.L1Loss(), torch.nn.L1Loss()), (nn.L1Loss(reduction="none"), torch.nn.L1Loss(reduction="none")),
    (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5)),
    (nn.SmoothL1Loss(reduction="sum"), torch.nn.SmoothL1Loss(reduction="sum")),
    (nn.HuberLoss(delta=2.0), torch.nn.HuberLoss(delta=2.0)),
    (nn.HuberLoss("sum"), torch.nn.HuberLoss("sum")),
]


@pytest.mark.parametrize("m, tm", REGRESSION_MODULES)
def test_regression_modules(m, tm):
    assert repr(m) == repr(tm)
    check(m, tm, [RNG.uniform(-3, 3, (4, 5)), RNG.uniform(-3, 3, (4, 5))], **TOL[np.float64])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss(reduction, dtype):
    """Targets of +-1 (no gradient in PyTorch); margins up to 20 (beyond, float32 PyTorch overflows to inf
    where baby stays finite)."""
    x = np.array([[-20, -10, -1, 0, 1, 10, 20], [0.5, -0.5, 2, -2, 3, -3, 0]], dtype)
    y = np.sign(RNG.standard_normal(x.shape)).astype(dtype)
    check(lambda a: F.soft_margin_loss(a, baby.tensor(y), reduction=reduction),
          lambda a: TF.soft_margin_loss(a, torch.tensor(y), reduction=reduction), [x], **TOL[dtype])
    assert repr(nn.SoftMarginLoss()) == repr(torch.nn.SoftMarginLoss())
    check(lambda a: nn.SoftMarginLoss(reduction=reduction)(a, baby.tensor(y)),
          lambda a: torch.nn.SoftMarginLoss(reduction=reduction)(a, torch.tensor(y)), [x], **TOL[dtype])
    assert np.isfinite(F.soft_margin_loss(baby.tensor([-100.0]), baby.tensor([1.0])).item())


# ---- kl_div -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(log_target, reduction, dtype):
    x = np.log(probabilities((4, 5), dtype))
    q = probabilities((4, 5), dtype)
    q = np.log(q) if log_target else q
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reduction='mean' warns in both, as it should
        check(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
              lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target), [x, q], **TOL[dtype])
        check(lambda a, b: nn.KLDivLoss(reduction=reduction, log_target=log_target)(a, b),
              lambda a, b: torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)(a, b), [x, q],
              **TOL[dtype])


@pytest.mark.parametrize("reduction", ["none", "sum", "batchmean"])
def test_kl_div_zero_targets_contribute_nothing(reduction):
    """target == 0 adds 0 (xlogy); the input gradient there is 0 (the target is a constant here: PyTorch's
    target gradient at 0 is nan)."""
    x = np.log(probabilities((3, 4), np.float64))
    q = np.array([[0, 0.5, 0.5, 0], [1, 0, 0, 0], [0.25, 0.25, 0.25, 0.25]])
    check(lambda a: F.kl_div(a, baby.tensor(q), reduction=reduction),
          lambda a: TF.kl_div(a, torch.tensor(q), reduction=reduction), [x], **TOL[np.float64])


def test_kl_div_mean_warns_as_torch():
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(baby.zeros(2, 3), baby.ones(2, 3) / 3)


# ---- one_hot and normalize --------------------------------------------------------------------------------
@pytest.mark.parametrize("t, n", [(np.array([0, 2, 1]), -1), (np.array([[0, 3], [1, 1]]), 5),
                                  (np.array(2), 3)])
def test_one_hot(t, n):
    y, ty = F.one_hot(baby.tensor(t), n), TF.one_hot(torch.tensor(t), n)
    assert y.dtype == np.int64 and not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), ty.numpy())


@pytest.mark.parametrize("t, n, match", [
    (np.array([0, -1]), 3, "non-negative"), (np.array([0, 3]), 3, "smaller than num_classes"),
    (np.array([], np.int64), -1, "empty tensor"), (np.array([0, 1], np.int32), 3, "LongTensor"),
])
def test_one_hot_errors(t, n, match):
    with pytest.raises(RuntimeError, match=match):
        F.one_hot(baby.tensor(t), n)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p, dim", [(2.0, 1), (2.0, -1), (1.0, 0), (3.0, 1), (float("inf"), 1)])
def test_normalize(p, dim, dtype):
    x = RNG.uniform(-2, 2, (3, 4, 2)).astype(dtype)
    x[1, :, 0] = 0  # a zero vector along dim 1: gradient 1/eps, as PyTorch
    check(lambda a: F.normalize(a, p, dim), lambda a: TF.normalize(a, p, dim), [x], **TOL[dtype])


# ---- errors and arguments ---------------------------------------------------------------------------------
LOSSES = [F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss, F.soft_margin_loss, F.binary_cross_entropy,
          F.binary_cross_entropy_with_logits, F.kl_div]


@pytest.mark.parametrize("fn", LOSSES)
def test_shape_mismatch_names_both_shapes(fn):
    with pytest.raises(ValueError, match=r"input \(3, 4\) and target \(4,\)"):
        fn(baby.full((3, 4), 0.5), baby.full((4,), 0.5), reduction="sum")


@pytest.mark.parametrize("fn", LOSSES)
def test_bad_reduction(fn):
    with pytest.raises(ValueError, match="reduction must be one of .* got 'avg'"):
        fn(baby.full((3,), 0.5), baby.full((3,), 0.5), reduction="avg")


def test_argument_errors():
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(baby.tensor([1.5]), baby.tensor([0.5]))
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        F.binary_cross_entropy(baby.tensor([0.5]), baby.tensor([1.5]))
    with pytest.raises(RuntimeError, match="ignore_index is not supported for floating point target"):
        F.cross_entropy(baby.zeros(3, 4), baby.ones(3, 4) / 4, ignore_index=1)
    with pytest.raises(RuntimeError, match="negative values for beta"):
        F.smooth_l1_loss(baby.zeros(3), baby.zeros(3), beta=-1)
    with pytest.raises(RuntimeError, match="non-positive values for delta"):
        F.huber_loss(baby.zeros(3), baby.zeros(3), delta=0)
    with pytest.raises(ValueError, match=r"weight \(3,\) and input \(2, 3\) must have the same size"):
        F.mse_loss(baby.zeros(2, 3), baby.zeros(2, 3), weight=baby.ones(3))
    with pytest.raises(ValueError, match=r"nll_loss: input \(3, 4\) and target \(2,\)"):
        F.nll_loss(baby.zeros(3, 4), np.array([0, 1]))
    with pytest.raises(ValueError, match="nll_loss: target value 4 is out of range for 4 classes"):
        F.nll_loss(baby.zeros(3, 4), np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="reduction"):
        nn.KLDivLoss(reduction="avg")


def test_legacy_size_average_and_reduce_as_torch():
    x, t = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    for size_average, reduce in ((False, None), (None, False), (True, True)):
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
            m = nn.MSELoss(size_average, reduce)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tm = torch.nn.MSELoss(size_average, reduce)
        assert m.reduction == tm.reduction
        check(m, tm, [x, t])
