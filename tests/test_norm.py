"""LayerNorm and BatchNorm1d/2d/3d against PyTorch: outputs, gradients and running statistics."""

import numpy as np
import pytest
import torch
from helpers import check, finite_difference
from test_nn import check_module

import baby
from baby import nn
from baby.nn import functional as F

RNG = np.random.default_rng(1)


def randomize(module):
    """Non-trivial affine parameters (and running statistics), so their gradients and use are exercised."""
    for p in module.parameters():
        p.numpy()[...] = RNG.uniform(0.5, 1.5, p.shape)
    for name, b in module.named_buffers():
        if name.startswith("running"):
            b.numpy()[...] = RNG.uniform(0.5, 1.5, b.shape)
    return module


@pytest.mark.parametrize("shape, normalized, kwargs", [
    ((4, 10), 10, {}),
    ((2, 3, 4, 5), (4, 5), {}),
    ((3, 6), 6, {"elementwise_affine": False}),
    ((3, 6), [6], {"bias": False, "eps": 1e-3}),
])
def test_layer_norm(shape, normalized, kwargs):
    module = randomize(nn.LayerNorm(normalized, **kwargs))
    check_module(module, torch.nn.LayerNorm(normalized, **kwargs), [shape])


def test_layer_norm_functional_and_errors():
    check(lambda x, w, b: F.layer_norm(x, (3,), w, b),
          lambda x, w, b: torch.nn.functional.layer_norm(x, (3,), w, b), [(2, 5, 3), (3,), (3,)])
    with pytest.raises(ValueError, match=r"shape \(2, 4\) does not end with normalized_shape \(3,\)"):
        nn.LayerNorm(3)(baby.zeros(2, 4))


BN = [  # module, its PyTorch twin, input shapes
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, [(8, 3)] * 3),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, [(4, 3, 5), (2, 3, 7)]),
    (nn.BatchNorm2d, torch.nn.BatchNorm2d, [(4, 3, 5, 6), (2, 3, 4, 4), (3, 3, 2, 5)]),
    (nn.BatchNorm3d, torch.nn.BatchNorm3d, [(2, 3, 2, 3, 4), (3, 3, 2, 2, 2)]),
]
BN_KWARGS = [{}, {"momentum": None}, {"momentum": 0.3, "eps": 1e-3}, {"affine": False}, {"bias": False},
             {"track_running_stats": False}]


@pytest.mark.parametrize("kwargs", BN_KWARGS)
@pytest.mark.parametrize("cls, tcls, shapes", BN)
def test_batch_norm_train_then_eval(cls, tcls, shapes, kwargs):
    m, tm = randomize(cls(3, **kwargs)), tcls(3, **kwargs)
    check_module(m, tm, shapes, atol=1e-4)  # training: batch statistics, running statistics updated
    check_module(m.eval(), tm.eval(), shapes[:1], atol=1e-4)  # eval: running statistics (if tracked)
    if kwargs.get("track_running_stats", True):
        assert m.num_batches_tracked.item() == len(shapes) and m.num_batches_tracked.dtype == np.int64
    else:
        assert m.running_mean is None and "running_mean" not in m.state_dict()


@pytest.mark.parametrize("shape, nhwc, training", [
    ((16, 32, 16, 16), False, True),  # 512 KiB: several pieces shared between the threads
    ((16, 32, 16, 16), False, False),
    ((16, 32, 16, 16), True, True),   # NCHW seen over NHWC memory: the passes run in memory order
    ((16, 32, 16, 16), True, False),
    ((3, 8, 50), False, True),        # one piece: x - mean kept from the statistics to the output
    ((3, 8, 50), False, False),
    ((3, 8, 50), True, True),
    ((8, 4, 5, 5), False, True),      # one piece of images enough to lay the per-channel values out
    ((0, 3, 4, 4), False, False),     # an empty batch (running statistics)
])
def test_batch_norm_in_pieces_and_layouts_as_pytorch(shape, nhwc, training):
    """Values and all gradients against PyTorch, whichever the pieces and the memory layout."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 2 + 3).astype(np.float32)
    gy = rng.standard_normal(shape).astype(np.float32)
    C = shape[1]
    w, b = rng.standard_normal(C).astype(np.float32), rng.standard_normal(C).astype(np.float32)
    stats = (rng.standard_normal(C).astype(np.float32), rng.random(C).astype(np.float32) + 0.5)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.batch_norm(tx, *map(torch.tensor, stats), tw, tb, training=training)
    ty.backward(torch.tensor(gy))
    bx = baby.tensor(np.ascontiguousarray(np.moveaxis(x, 1, -1))).permute(0, -1, *range(1, len(shape) - 1)) \
        if nhwc else baby.tensor(x)
    bx = bx.detach().requires_grad_()
    bw, bb = baby.tensor(w, requires_grad=True), baby.tensor(b, requires_grad=True)
    by = F.batch_norm(bx, *map(baby.tensor, stats), bw, bb, training=training)
    by.backward(baby.tensor(gy))
    for got, want in ((by, ty), (bx.grad, tx.grad), (bw.grad, tw.grad), (bb.grad, tb.grad)):
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-4, atol=1e-4)


def test_batch_norm_keeps_float32_and_state_names():
    m = nn.BatchNorm2d(4)
    y = m(baby.randn(2, 4, 3, 3))
    assert y.dtype == np.float32 and m.running_var.dtype == np.float32
    assert list(m.state_dict()) == list(torch.nn.BatchNorm2d(4).state_dict())
    assert repr(m) == repr(torch.nn.BatchNorm2d(4))
    assert repr(nn.LayerNorm((2, 3), bias=False)) == repr(torch.nn.LayerNorm((2, 3), bias=False))


def test_batch_norm_functional():
    rm, rv = baby.zeros(3), baby.ones(3)
    trm, trv = torch.zeros(3), torch.ones(3)
    check(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.2),
          lambda x, w, b: torch.nn.functional.batch_norm(x, trm, trv, w, b, training=True, momentum=0.2),
          [(5, 3, 4), (3,), (3,)], atol=1e-4)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), atol=1e-6)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), atol=1e-6)
    check(lambda x: F.batch_norm(x, rm, rv), lambda x: torch.nn.functional.batch_norm(x, trm, trv),
          [(5, 3, 4)])


def test_torch_batch_norm_state_loads_as_is():
    tm = torch.nn.BatchNorm2d(3, momentum=0.5)
    for _ in range(3):
        tm(torch.randn(4, 3, 2, 2) * 2 + 1)
    m = nn.BatchNorm2d(3).eval()
    m.load_state_dict(tm.state_dict())
    x = np.random.default_rng(2).standard_normal((2, 3, 2, 2)).astype(np.float32)
    np.testing.assert_allclose(m(baby.Tensor(x)).numpy(), tm.eval()(torch.from_numpy(x)).detach().numpy(),
                               atol=1e-5)
    assert m.num_batches_tracked.item() == 3 and m.num_batches_tracked.dtype == np.int64


@pytest.mark.parametrize("fn", [
    lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
    lambda x, w, b: F.batch_norm(x, baby.zeros(3, dtype=np.float64), baby.ones(3, dtype=np.float64), w, b),
    lambda x, w, b: F.layer_norm(x.permute(0, 2, 1), (3,), w, b),
])
def test_norm_finite_differences(fn):
    finite_difference(fn, (4, 3, 2), (3,), (3,))


@pytest.mark.parametrize("module, shape, match", [
    (nn.BatchNorm2d(3), (2, 3, 4), r"BatchNorm2d expected a 4-D input \(N, C, H, W\), got \(2, 3, 4\)"),
    (nn.BatchNorm1d(3), (2, 3, 4, 5), r"2-D or 3-D input .* got \(2, 3, 4, 5\)"),
    (nn.BatchNorm3d(3), (2, 4, 1, 2, 2),
     r"BatchNorm3d\(3\) got input of shape \(2, 4, 1, 2, 2\): expected 3 channels"),
    (nn.BatchNorm1d(3), (1, 3), r"more than 1 value per channel, got input \(1, 3\)"),
])
def test_batch_norm_errors(module, shape, match):
    with pytest.raises(ValueError, match=match):
        module(baby.zeros(*shape))


def test_batch_norm_backward_twice_and_a_zero_weight_as_pytorch():
    """One piece: the backward reuses its own x - mean; a second backward (retain_graph) and a channel whose
    weight is 0 give PyTorch's gradients."""
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((4, 3, 6)) * 3 + 1).astype(np.float32)
    w, gy = np.array([1.5, 0.0, -2.0], np.float32), rng.standard_normal((4, 3, 6)).astype(np.float32)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bx, bw = baby.tensor(x, requires_grad=True), baby.tensor(w, requires_grad=True)
    ty = torch.nn.functional.batch_norm(tx, None, None, tw, training=True)
    by = F.batch_norm(bx, None, None, bw, training=True)
    for _ in range(2):
        ty.backward(torch.tensor(gy), retain_graph=True)
        by.backward(baby.tensor(gy), retain_graph=True)
        for got, want in ((bx.grad, tx.grad), (bw.grad, tw.grad)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4)
