"""Convolution against PyTorch (forward and every gradient), the book's loops, and finite differences."""

import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import (
    CONV_CASES,
    CONV_SWEEP,
    TRANSPOSE_CASES,
    TRANSPOSE_SWEEP,
    arrays,
    check,
    finite_difference,
    nchw,
    nhwc,
    spy_calls,
    torch_conv,
    torch_conv_transpose,
)

import baby
from baby import ops
from baby.nn import functional as F
from baby.ops.conv.book.loops import kernel_conv, simple_conv
from baby.ops.conv.fast.memory import windows

RNG = np.random.default_rng(7)
TOL = dict(atol=1e-4, rtol=1e-4)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


@pytest.mark.parametrize("shapes, kw", CONV_CASES)
def test_conv_functional(shapes, kw):
    fn = getattr(F, f"conv{len(shapes[0]) - 2}d")
    check(lambda *t: fn(*t, **kw), lambda *t: torch_conv(*t, **kw), shapes, **TOL)


@pytest.mark.parametrize("shapes, kw", TRANSPOSE_CASES)
def test_conv_transpose_functional(shapes, kw):
    nd = len(shapes[0]) - 2
    ours, theirs = getattr(F, f"conv_transpose{nd}d"), getattr(TF, f"conv_transpose{nd}d")
    check(lambda *t: ours(*t, **kw), lambda *t: theirs(*t, **kw), shapes, **TOL)


def torch_weight(w):
    """Our ops.conv weight (*k, C_in/G, C_out) as torch's (C_out, C_in/G, *k)."""
    return w.permute(w.ndim - 1, w.ndim - 2, *range(w.ndim - 2))


@pytest.mark.parametrize("x, w, kw", [
    ((2, 6, 7, 4), (3, 3, 4, 5), {}),  # the book's defaults: stride 1, padding 1
    ((1, 9, 8, 4), (3, 2, 2, 6), dict(stride=(2, 1), padding=((2, 0), (1, 1)), dilation=(1, 2), groups=2)),
    ((2, 7, 3), (2, 1, 6), dict(stride=2, padding=0, groups=3)),
    ((1, 4, 3, 5, 2), (2, 1, 3, 2, 4), dict(padding="same", dilation=(1, 2, 1))),
], ids=["book-defaults", "2d-everything", "1d", "3d-same"])
def test_ops_conv_nhwc(x, w, kw):
    full = dict(dict(stride=1, padding=1, dilation=1, groups=1), **kw)
    check(lambda x, w: ops.conv(x, w, **kw), lambda x, w: nhwc(torch_conv(nchw(x), torch_weight(w), **full)),
          [x, w], **TOL)


def test_nested_convs_share_weights():
    def net(conv, relu, x, w1, w2, b):
        h = relu(conv(x, w1, b, padding=1))
        return conv(relu(conv(h, w2, None, stride=2, groups=2)), w2, None, groups=2)

    check(lambda *t: net(F.conv2d, baby.ops.relu, *t), lambda *t: net(TF.conv2d, torch.relu, *t),
          [(2, 3, 9, 9), (4, 3, 3, 3), (4, 2, 2, 2), (4,)], **TOL)


def test_unbatched_input():
    check(lambda x, w, b: F.conv2d(x, w, b, padding=1), lambda x, w, b: TF.conv2d(x, w, b, padding=1),
          [(3, 5, 6), (4, 3, 3, 3), (4,)], **TOL)
    check(lambda x, w: F.conv_transpose1d(x, w, stride=2), lambda x, w: TF.conv_transpose1d(x, w, stride=2),
          [(3, 5), (3, 2, 3)], **TOL)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    x = baby.Tensor(RNG.standard_normal((1, 5, 5, 2)), dtype=dtype, requires_grad=True)
    w = baby.Tensor(RNG.standard_normal((3, 3, 2, 3)), dtype=dtype, requires_grad=True)
    y = ops.conv(x, w, stride=2, groups=1)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == w.grad.dtype == dtype


def test_windows_are_a_view_of_any_layout():
    x = RNG.standard_normal((2, 3, 6, 7)).astype(np.float32).transpose(0, 2, 3, 1)  # NCHW memory, NHWC view
    cols = windows(x, (3, 2), (2, 1), (1, 2))
    assert cols.shape == (2, 2, 5, 3, 2, 3) and np.shares_memory(cols, x)
    np.testing.assert_array_equal(cols[1, 1, 2, 2, 1], x[1, 2 + 2, 2 + 2])


REFERENCE_CASES = [
    ((2, 5, 6, 3), (3, 3, 3, 4), dict(padding=1)),
    ((1, 7, 6, 4), (2, 3, 2, 6), dict(stride=(2, 1), padding=((1, 0), (2, 1)), dilation=(2, 1), groups=2)),
    ((2, 6, 6, 3), (3, 3, 1, 6), dict(stride=2, padding=0, groups=3)),
    ((1, 5, 5, 2), (2, 2, 2, 3), dict(padding="same", dilation=2)),
]


@pytest.mark.parametrize("x, w, kw", REFERENCE_CASES)
def test_conv_equals_the_books_loops(x, w, kw):
    x, w = RNG.standard_normal(x).astype(np.float32), RNG.standard_normal(w).astype(np.float32)
    y = ops.conv(x, w, **dict(dict(padding=0), **kw)).numpy()
    np.testing.assert_allclose(simple_conv(x, w, **kw), y, **TOL)
    np.testing.assert_allclose(kernel_conv(x, w, **kw), y, **TOL)


@pytest.mark.parametrize("x, w, kw", [
    ((2, 9, 4), (3, 2, 6), dict(stride=2, padding=((1, 0),), dilation=2, groups=2)),
    ((1, 4, 5, 3, 2), (2, 2, 1, 2, 4), dict(stride=(1, 2, 1), padding=(1, 0, 1), dilation=(2, 1, 1))),
])
def test_kernel_centric_reference_1d_3d(x, w, kw):
    x, w = RNG.standard_normal(x).astype(np.float32), RNG.standard_normal(w).astype(np.float32)
    np.testing.assert_allclose(kernel_conv(x, w, **kw), ops.conv(x, w, **kw).numpy(), **TOL)


def test_book_example():
    image = np.array([[1, 4, 7], [2, 5, 8], [3, 6, 9]], dtype=np.float32).reshape(1, 3, 3, 1)
    kernel = np.array([[1, 10], [100, 1000]], dtype=np.float32).reshape(2, 2, 1, 1)
    expected = [[5241, 8574], [6352, 9685]]
    ours = ops.conv(image, kernel, padding=0).numpy()
    for y in (ours, simple_conv(image, kernel), kernel_conv(image, kernel)):
        np.testing.assert_array_equal(y.reshape(2, 2), expected)


@pytest.mark.parametrize("x, w, kw", [
    ((2, 5, 4, 2), (3, 2, 2, 2), dict(stride=1, padding=1)),
    ((1, 7, 6, 4), (2, 3, 2, 4), dict(stride=(2, 3), padding=((2, 0), (0, 1)), dilation=(2, 1), groups=2)),
    ((1, 6, 2), (1, 2, 2), dict(stride=3, padding=2)),
    ((1, 3, 4, 3, 2), (2, 2, 1, 1, 2), dict(stride=(2, 1, 2), padding=((0, 1), 1, 0), groups=2)),
], ids=["3x3", "2d-everything", "1d-k1-pad>k", "3d-groups"])
def test_conv_finite_differences(x, w, kw):
    finite_difference(lambda x, w: ops.conv(x, w, **kw), x, w)


@pytest.mark.parametrize("x, w, kw", [
    ((1, 3, 4, 4), (3, 2, 2, 4), dict(stride=(2, 1), padding=((1, 0), (0, 1)), output_padding=(1, 0),
                                      groups=2, dilation=(1, 2))),
    ((2, 4, 2), (3, 3, 2), dict(stride=2, padding=1, output_padding=1)),
], ids=["2d", "1d"])
def test_conv_transpose_finite_differences(x, w, kw):
    finite_difference(lambda x, w: ops.conv_transpose(x, w, **kw), x, w)


def test_flip_and_dilate_finite_differences():
    finite_difference(lambda a: ops.flip(a, (0, 2)), (2, 3, 2))
    finite_difference(lambda a: ops.dilate(a, (1, 2), 2), (2, 3, 2))


def test_conv_transpose_is_the_input_gradient_of_conv():
    x = baby.Tensor(RNG.standard_normal((2, 9, 8, 4)), requires_grad=True)
    w = baby.Tensor(RNG.standard_normal((3, 2, 2, 6)))
    kw = dict(stride=(2, 3), padding=((1, 2), (0, 1)), dilation=(2, 1), groups=2)
    y = ops.conv(x, w, **kw)
    gy = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(gy)
    S = tuple((o - 1) * s - b - a + d * (k - 1) + 1 for o, s, (b, a), d, k in
              zip(y.shape[1:3], (2, 3), ((1, 2), (0, 1)), (2, 1), (3, 2), strict=True))
    op = tuple(n - m for n, m in zip(x.shape[1:3], S, strict=True))  # the remainder rows
    gx = ops.conv_transpose(gy, w, output_padding=op, **kw)
    np.testing.assert_allclose(gx.numpy(), x.grad.numpy(), **TOL)


@pytest.mark.parametrize("shapes, kw", CONV_SWEEP, ids=[f"conv{i}" for i in range(len(CONV_SWEEP))])
def test_conv_random_sweep(shapes, kw):
    fn = getattr(F, f"conv{len(shapes[0]) - 2}d")
    check(lambda *t: fn(*t, **kw), lambda *t: torch_conv(*t, **kw), shapes, **TOL)


@pytest.mark.parametrize("shapes, kw", TRANSPOSE_SWEEP, ids=[f"T{i}" for i in range(len(TRANSPOSE_SWEEP))])
def test_conv_transpose_random_sweep(shapes, kw):
    fn = getattr(F, f"conv_transpose{len(shapes[0]) - 2}d")
    check(lambda *t: fn(*t, **kw), lambda *t: torch_conv_transpose(*t, **kw), shapes, **TOL)


@pytest.mark.parametrize("N, S", [(1, (4, 4)), (3, (6, 5))], ids=["batch1", "batch3"])
def test_large_weight_gradients_side_by_side_as_pytorch(N, S, monkeypatch):
    """A weight of parallel.SIDE_BY_SIDE numbers or more: the input and weight gradients run side by side on
    the pool's threads (each on one thread), the same results as PyTorch's."""
    conv_op = importlib.import_module("baby.ops.conv.op")
    C = 128
    assert C * C * 9 >= conv_op.SIDE_BY_SIDE
    calls = spy_calls(monkeypatch, conv_op, "side_by_side")
    data = arrays((N, C, *S), (C, C, 3, 3), (C,), rng=np.random.default_rng(N))  # (not the shared stream)
    check(lambda x, w, b: F.conv2d(x, w, b, padding=1), lambda x, w, b: TF.conv2d(x, w, b, padding=1), data,
          atol=1e-3, rtol=1e-4)
    assert calls == [2]
