"""Convolution against PyTorch (forward and every gradient), the book's loops, and finite differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check, finite_difference

import baby
from baby import ops
from baby.nn import functional as F
from baby.ops.conv_forward import windows
from baby.ops.conv_reference import kernel_conv, simple_conv

RNG = np.random.default_rng(7)
TOL = dict(atol=1e-4, rtol=1e-4)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


def torch_conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """torch's conv{1,2,3}d; (before, after) padding pairs are applied with F.pad first."""
    if isinstance(padding, (tuple, list)) and any(isinstance(p, (tuple, list)) for p in padding):
        pairs = [p if isinstance(p, (tuple, list)) else (p, p) for p in padding]
        x, padding = TF.pad(x, [v for pair in reversed(pairs) for v in pair]), 0
    return getattr(TF, f"conv{w.ndim - 2}d")(x, w, b, stride, padding, dilation, groups)


def conv_case(id, N, Cin, Cout, S, k, stride=1, padding=0, dilation=1, groups=1, bias=True):
    """One row: shapes and arguments of an NCHW conv with PyTorch's weight layout."""
    k = (k,) * len(S) if isinstance(k, int) else k
    shapes = [(N, Cin, *S), (Cout, Cin // groups, *k)] + ([(Cout,)] if bias else [])
    return pytest.param(shapes, dict(stride=stride, padding=padding, dilation=dilation, groups=groups), id=id)


CONV_CASES = [
    conv_case("1x1", 2, 3, 4, (5, 5), 1),
    conv_case("3x3", 2, 3, 4, (6, 7), 3, padding=1),
    conv_case("batch1-nobias", 1, 3, 2, (5, 5), 3, bias=False),
    conv_case("2x3", 2, 2, 4, (6, 7), (2, 3)),
    conv_case("5x1", 2, 2, 3, (7, 4), (5, 1), padding=(2, 0)),
    conv_case("groups2", 2, 4, 6, (6, 6), 3, padding=1, groups=2),
    conv_case("depthwise", 2, 4, 4, (6, 6), 3, padding=1, groups=4),
    conv_case("depthwise-x2", 2, 3, 6, (6, 6), 3, padding=1, groups=3),
    conv_case("stride2", 2, 3, 4, (7, 7), 3, stride=2, padding=1),
    conv_case("stride2,1", 2, 3, 4, (8, 7), 3, stride=(2, 1), padding=1),
    conv_case("stride3-remainder", 2, 3, 4, (8, 9), 3, stride=3),
    conv_case("stride4>k-remainder", 1, 2, 3, (10, 7), 2, stride=4),
    conv_case("k1-stride3", 1, 2, 3, (7, 8), 1, stride=3),
    conv_case("pad>k", 1, 2, 3, (4, 4), 1, padding=2),
    conv_case("pad>span-stride3-1x1-input", 1, 2, 3, (1, 1), 1, stride=3, padding=((2, 2), (2, 0)),
              dilation=3),
    conv_case("pad-per-dim", 2, 2, 3, (5, 6), 3, padding=(1, 2)),
    conv_case("pad-pairs", 2, 2, 3, (5, 6), 3, padding=((1, 0), (2, 1))),
    conv_case("pad-pairs-stride", 2, 2, 3, (7, 6), (3, 2), stride=(2, 3), padding=((0, 2), (3, 0))),
    conv_case("same-odd", 2, 2, 3, (5, 6), 3, padding="same"),
    conv_case("same-even", 2, 2, 3, (5, 6), (2, 4), padding="same"),
    conv_case("same-dilated", 2, 2, 3, (7, 6), (2, 3), padding="same", dilation=(3, 2)),
    conv_case("valid", 2, 2, 3, (5, 6), 3, padding="valid"),
    conv_case("dilation2", 2, 2, 3, (8, 8), 3, padding=1, dilation=2),
    conv_case("dilation2,1", 2, 2, 3, (8, 8), 3, padding=1, dilation=(2, 1)),
    conv_case("all-at-once", 2, 4, 6, (11, 9), (3, 2), stride=(2, 3), padding=((2, 0), (1, 3)),
              dilation=(2, 3), groups=2),
    conv_case("1d", 2, 3, 4, (9,), 3, padding=1),
    conv_case("1d-stride-groups", 2, 4, 6, (12,), 4, stride=3, padding=((0, 2),), dilation=2, groups=2),
    conv_case("3d", 2, 2, 3, (4, 5, 6), 3, padding=1),
    conv_case("3d-mixed", 1, 4, 4, (5, 6, 7), (2, 3, 1), stride=(2, 1, 3), padding=(1, 0, 2),
              dilation=(2, 1, 1), groups=2),
]


@pytest.mark.parametrize("shapes, kw", CONV_CASES)
def test_conv_functional(shapes, kw):
    fn = getattr(F, f"conv{len(shapes[0]) - 2}d")
    check(lambda *t: fn(*t, **kw), lambda *t: torch_conv(*t, **kw), shapes, **TOL)


def transpose_case(id, N, Cin, Cout, S, k, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                   bias=True):
    """One row: shapes and arguments of an NCHW transposed conv, weight (C_in, C_out/groups, *k)."""
    k = (k,) * len(S) if isinstance(k, int) else k
    shapes = [(N, Cin, *S), (Cin, Cout // groups, *k)] + ([(Cout,)] if bias else [])
    kw = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    return pytest.param(shapes, kw, id=id)


TRANSPOSE_CASES = [
    transpose_case("3x3", 2, 3, 4, (4, 5), 3),
    transpose_case("1x1-stride2", 1, 3, 2, (4, 3), 1, stride=2, bias=False),
    transpose_case("2x3-stride2-op1", 2, 4, 6, (4, 5), (2, 3), stride=2, padding=1, output_padding=1,
                   groups=2),
    transpose_case("mixed", 2, 4, 6, (3, 4), 3, stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
                   groups=2, dilation=(2, 1)),
    transpose_case("op-below-dilation", 1, 2, 3, (5, 4), 3, output_padding=1, dilation=2),
    transpose_case("1d-depthwise", 2, 4, 4, (5,), 3, stride=3, padding=1, output_padding=2, groups=4,
                   dilation=2),
    transpose_case("1d-pad>k", 1, 2, 3, (6,), 2, padding=1),
    transpose_case("3d", 1, 2, 3, (3, 4, 3), 3, stride=2, padding=1, output_padding=1),
    transpose_case("3d-groups", 1, 4, 2, (2, 3, 4), (2, 1, 3), stride=(1, 2, 2), output_padding=(0, 1, 0),
                   groups=2, dilation=(2, 1, 1)),
]


@pytest.mark.parametrize("shapes, kw", TRANSPOSE_CASES)
def test_conv_transpose_functional(shapes, kw):
    nd = len(shapes[0]) - 2
    ours, theirs = getattr(F, f"conv_transpose{nd}d"), getattr(TF, f"conv_transpose{nd}d")
    check(lambda *t: ours(*t, **kw), lambda *t: theirs(*t, **kw), shapes, **TOL)


def nhwc(t):
    """torch NCHW -> NHWC (a permute)."""
    return t.permute(0, *range(2, t.ndim), 1)


def nchw(t):
    """torch NHWC -> NCHW (a permute)."""
    return t.permute(0, t.ndim - 1, *range(1, t.ndim - 1))


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


# ---- a seeded random sweep: every option at once, against PyTorch ----------------------------------------
def _ints(rng, low, high, nd):
    """An int (sometimes) or one int per dim in [low, high)."""
    v = tuple(int(i) for i in rng.integers(low, high, nd))
    return v[0] if len(set(v)) == 1 and rng.random() < 0.5 else v


def _dims(v, nd):
    return (v,) * nd if isinstance(v, int) else v


def _padding(rng, nd, forms):
    """A random padding of one of `forms` and its (before, after) pairs (None for the string forms)."""
    form = forms[rng.integers(len(forms))]
    if form == "pairs":
        pairs = tuple(tuple(int(i) for i in rng.integers(0, 3, 2)) for _ in range(nd))
        return pairs, pairs
    if form in ("same", "valid"):
        return form, None
    p = _ints(rng, 0, 3, nd)
    return p, tuple((i, i) for i in _dims(p, nd))


def random_conv(rng):
    """Shapes and arguments of a random valid conv (1-3 spatial dims, groups, stride, dilation, padding)."""
    nd, G = int(rng.choice([1, 2, 2, 3])), int(rng.choice([1, 1, 2, 3]))
    Cin, Cout = G * int(rng.integers(1, 4)), G * int(rng.integers(1, 4))
    k, dilation = _ints(rng, 1, 4 if nd < 3 else 3, nd), _ints(rng, 1, 4 if nd < 3 else 3, nd)
    padding, pairs = _padding(rng, nd, ["int", "pairs", "same", "valid"])
    stride = 1 if padding == "same" else _ints(rng, 1, 4, nd)
    span = [d * (kk - 1) + 1 for kk, d in zip(_dims(k, nd), _dims(dilation, nd), strict=True)]
    pad = [0] * nd if pairs is None else [b + a for b, a in pairs]
    extra = rng.integers(0, 6 if nd < 3 else 3, nd)  # input rows beyond the smallest valid size
    S = tuple(max(1, e - p + int(m)) for e, p, m in zip(span, pad, extra, strict=True))
    shapes = [(int(rng.integers(1, 3)), Cin, *S), (Cout, Cin // G, *_dims(k, nd))]
    shapes += [(Cout,)] if rng.random() < 0.5 else []
    return shapes, dict(stride=stride, padding=padding, dilation=dilation, groups=G)


def random_transpose(rng):
    """Shapes and arguments of a random valid transposed conv, with output_padding and padding pairs."""
    while True:
        nd, G = int(rng.choice([1, 2, 2, 3])), int(rng.choice([1, 1, 2, 3]))
        Cin, Cout = G * int(rng.integers(1, 4)), G * int(rng.integers(1, 4))
        k, dilation, stride = (_ints(rng, 1, 4 if nd < 3 else 3, nd) for _ in range(3))
        padding, pairs = _padding(rng, nd, ["int", "pairs"])
        sd = [max(s, d) for s, d in zip(_dims(stride, nd), _dims(dilation, nd), strict=True)]
        output_padding = tuple(int(rng.integers(0, m)) for m in sd)
        S = tuple(int(i) for i in rng.integers(1, 5 if nd < 3 else 3, nd))
        O = [(n - 1) * s - b - a + d * (kk - 1) + op + 1 for n, s, (b, a), d, kk, op in
             zip(S, _dims(stride, nd), pairs, _dims(dilation, nd), _dims(k, nd), output_padding, strict=True)]
        if min(O) >= 1:
            break
    shapes = [(int(rng.integers(1, 3)), Cin, *S), (Cin, Cout // G, *_dims(k, nd))]
    shapes += [(Cout,)] if rng.random() < 0.5 else []
    return shapes, dict(stride=stride, padding=padding, output_padding=output_padding, groups=G,
                        dilation=dilation)


def torch_conv_transpose(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """torch's conv_transpose{1,2,3}d; (before, after) padding pairs by cropping the unpadded output."""
    nd = w.ndim - 2
    fn = getattr(TF, f"conv_transpose{nd}d")
    if not (isinstance(padding, tuple) and isinstance(padding[0], tuple)):
        return fn(x, w, b, stride, padding, output_padding, groups, dilation)
    y = fn(x, w, b, stride, 0, output_padding, groups, dilation)
    crop = (slice(p0, n - p1) for n, (p0, p1) in zip(y.shape[2:], padding, strict=True))
    return y[(slice(None), slice(None), *crop)]


SWEEP = np.random.default_rng(2024)
CONV_SWEEP = [random_conv(SWEEP) for _ in range(250)]
TRANSPOSE_SWEEP = [random_transpose(SWEEP) for _ in range(100)]


@pytest.mark.parametrize("shapes, kw", CONV_SWEEP, ids=[f"conv{i}" for i in range(len(CONV_SWEEP))])
def test_conv_random_sweep(shapes, kw):
    fn = getattr(F, f"conv{len(shapes[0]) - 2}d")
    check(lambda *t: fn(*t, **kw), lambda *t: torch_conv(*t, **kw), shapes, **TOL)


@pytest.mark.parametrize("shapes, kw", TRANSPOSE_SWEEP, ids=[f"T{i}" for i in range(len(TRANSPOSE_SWEEP))])
def test_conv_transpose_random_sweep(shapes, kw):
    fn = getattr(F, f"conv_transpose{len(shapes[0]) - 2}d")
    check(lambda *t: fn(*t, **kw), lambda *t: torch_conv_transpose(*t, **kw), shapes, **TOL)
