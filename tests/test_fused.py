"""The fused paths of issue 12 against PyTorch: Linear as one op, the conv bias added by the Conv op, ReLU
against a zeros array, max-pool gradients through masks, and the 'rows' conv on thin layers."""

import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import arrays, spy_calls

import baby
from baby import ops
from baby.nn import functional as F
from baby.ops.conv import conv_algorithm, which_algorithm

RNG = np.random.default_rng(12)


def _pair(shape, dtype=np.float32):
    a = RNG.standard_normal(shape).astype(dtype)
    return baby.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 7)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_is_one_node_with_torch_values_and_name(shape, bias):
    (x, tx), (w, tw), (b, tb) = _pair(shape), _pair((4, 7)), _pair((4,))
    y, ty = F.linear(x, w, b if bias else None), TF.linear(tx, tw, tb if bias else None)
    g = RNG.standard_normal(ty.shape).astype(np.float32)
    y.backward(baby.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    for ours, theirs in [(x, tx), (w, tw)] + [(b, tb)] * bias:
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-5)
    if len(shape) == 2:
        assert y.grad_fn.name() == ty.grad_fn.name()  # AddmmBackward0 / MmBackward0


@pytest.mark.parametrize("rows", [1, 40])
def test_linear_with_a_large_weight_runs_its_gradients_side_by_side(rows, monkeypatch):
    """A weight of parallel.SIDE_BY_SIDE numbers or more: the input and weight gradients run side by side on
    the pool's threads, the same results as PyTorch's."""
    matmul_op = importlib.import_module("baby.ops.matmul")
    calls = spy_calls(monkeypatch, matmul_op, "side_by_side")
    *data, g = arrays((rows, 256), (640, 256), (640,), (rows, 640), rng=np.random.default_rng(rows))
    pairs = [(baby.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)) for a in data]
    (x, tx), (w, tw), (b, tb) = pairs
    assert w.numel() >= matmul_op.SIDE_BY_SIDE
    F.linear(x, w, b).backward(baby.tensor(g))
    TF.linear(tx, tw, tb).backward(torch.tensor(g))
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-4, atol=1e-4)
    assert calls == [2]


def test_linear_with_mixed_dtypes_still_promotes():
    x = baby.ones(2, 3, dtype=baby.float64)
    w = baby.ones(4, 3)
    assert F.linear(x, w).dtype == baby.float64


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_conv_bias_added_by_the_conv_op(layout):
    (x, tx), (w, tw), (b, tb) = _pair((2, 3, 9, 9)), _pair((5, 3, 3, 3)), _pair((5,))
    y, ty = F.conv2d(x, w, b, padding=1), TF.conv2d(tx, tw, tb, padding=1)
    assert type(y.grad_fn).__name__ == "Conv"  # one node: no Add, no Permute around it
    assert [type(f).__name__ for f, _ in y.grad_fn.next_functions] == ["AccumulateGrad"] * 3
    g = RNG.standard_normal(ty.shape).astype(np.float32)
    y.backward(baby.tensor(g))
    ty.backward(torch.tensor(g))
    for ours, theirs in [(y, ty), (x.grad, tx.grad), (w.grad, tw.grad), (b.grad, tb.grad)]:
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-4, atol=1e-4)
    if layout == "nhwc":  # the book's NHWC op takes the bias too
        xh = ops.permute(x.detach(), 0, 2, 3, 1)
        wh = ops.permute(w.detach(), 2, 3, 1, 0)
        yh = ops.conv(xh, wh, padding=1, bias=b.detach())
        np.testing.assert_allclose(ops.permute(yh, 0, 3, 1, 2).numpy(), ty.detach().numpy(), rtol=1e-4,
                                   atol=1e-4)


def test_conv_bias_of_the_wrong_shape_or_dtype_is_named():
    x, w = baby.randn(1, 4, 4, 2), baby.randn(3, 3, 2, 5)
    with pytest.raises(ValueError, match=r"bias must have shape \(5,\).*got shape \(4,\)"):
        ops.conv(x, w, bias=baby.zeros(4))
    with pytest.raises(ValueError, match="dtype float32.*dtype float64"):
        ops.conv(x, w, bias=baby.zeros(5, dtype=baby.float64))


@pytest.mark.parametrize("sl", [slice(None), slice(None, None, 2)])
def test_relu_at_signed_zero_and_nan_is_torch(sl):
    v = np.array([np.nan, -0.0, 0.0, -np.inf, np.inf, -1, 2, 0.5], np.float32)
    x, tx = baby.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
    y, ty = F.relu(x[sl]), TF.relu(tx[sl])
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_array_equal(np.signbit(y.numpy()), np.signbit(ty.detach().numpy()))
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_max_pool_gradient_with_infinities_is_torch():
    """gy * mask would turn an inf gradient into nan off the maxima: those gradients stay exact."""
    (x, tx) = _pair((2, 3, 6, 6))
    g = RNG.standard_normal((2, 3, 3, 3)).astype(np.float32)
    g[0, 0, 0, 0], g[1, 2, 1, 1] = np.inf, -np.inf
    F.max_pool2d(x, 2).backward(baby.tensor(g))
    TF.max_pool2d(tx, 2).backward(torch.tensor(g))
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("cin, cout, k, kw", [(1, 6, 5, dict(padding=2)), (6, 16, 5, {}),
                                              (3, 8, 3, dict(stride=2, padding=1)),
                                              (2, 4, 3, dict(dilation=2, padding=(1, 3)))])
def test_thin_convs_take_rows_and_match_torch(cin, cout, k, kw):
    (x, tx), (w, tw) = _pair((3, cin, 14, 13)), _pair((cout, cin, k, k))
    assert which_algorithm((3, 14, 13, cin), (k, k, cin, cout), **kw) == "rows"
    y, ty = F.conv2d(x, w, **kw), TF.conv2d(tx, tw, **kw)
    g = RNG.standard_normal(ty.shape).astype(np.float32)
    y.backward(baby.tensor(g))
    ty.backward(torch.tensor(g))
    for ours, theirs in [(y, ty), (x.grad, tx.grad), (w.grad, tw.grad)]:
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-4, atol=1e-4)


def test_rows_and_im2col_agree_in_float64():
    x = RNG.standard_normal((2, 9, 11, 3))
    w = RNG.standard_normal((4, 3, 3, 5))
    outs = []
    for algo in ("rows", "im2col"):
        xt, wt = baby.tensor(x, requires_grad=True), baby.tensor(w, requires_grad=True)
        with conv_algorithm(algo):
            y = ops.conv(xt, wt, stride=(2, 1), padding=((2, 1), (0, 2)))
            y.backward(baby.tensor(np.cos(np.arange(y.numel())).reshape(y.shape)))
        outs.append((y.numpy(), xt.grad.numpy(), wt.grad.numpy()))
    for a, b in zip(*outs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
