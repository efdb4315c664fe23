"""Shared test helpers: baby against PyTorch (outputs and gradients), finite differences, the conv cases and
PyTorch's twins of our models, and writers of dataset files in their real formats."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from torch import nn as tnn

import baby

RNG = np.random.default_rng(0)
DATA_RNG = np.random.default_rng(0)  # the dataset writers' own stream
SPLITS = {True: "train", False: "t10k"}


def arrays(*shapes, dtype=np.float32, low=-2.0, high=2.0, rng=RNG):
    """Random arrays of the given shapes."""
    return [rng.uniform(low, high, s).astype(dtype) for s in shapes]


def spy_calls(monkeypatch, module, name):
    """A list that records, for each call of module.name from now on, how many arguments it got."""
    calls, fn = [], getattr(module, name)

    def spy(*args):
        calls.append(len(args))
        return fn(*args)

    monkeypatch.setattr(module, name, spy)
    return calls


def _array(x, dtype=np.float32):
    """A shape (tuple of ints) becomes a random array; anything else is taken as data."""
    if isinstance(x, tuple) and all(isinstance(n, int) for n in x):
        return arrays(x, dtype=dtype)[0]
    return np.asarray(x)


def check(baby_fn, torch_fn, inputs, atol=1e-5, rtol=1e-4, grad=True, grad_atol=None, grad_rtol=None):
    """Compare baby_fn(*tensors) with torch_fn(*tensors): the output and the gradient of every float input.

    `inputs` are shapes (tuples of ints, filled with uniform(-2, 2) float32) or arrays. The backward pass
    uses a random output gradient, so every element of the gradient is exercised.
    """
    arrs = [_array(x) for x in inputs]
    needs = [grad and a.dtype.kind == "f" for a in arrs]
    ours = [baby.Tensor(a, dtype=a.dtype, requires_grad=r) for a, r in zip(arrs, needs, strict=True)]
    theirs = [torch.tensor(a, requires_grad=r) for a, r in zip(arrs, needs, strict=True)]
    y, ty = baby_fn(*ours), torch_fn(*theirs)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=atol, rtol=rtol, err_msg="forward")
    assert y.shape == tuple(ty.shape), f"shape {y.shape} != torch {tuple(ty.shape)}"
    assert y.dtype == np.dtype(str(ty.dtype).replace("torch.", "")), f"dtype {y.dtype} != torch {ty.dtype}"
    if not any(needs) or not ty.requires_grad:  # integer or bool outputs have no gradient
        return y
    gy = RNG.standard_normal(y.shape).astype(y.dtype)
    y.backward(gy)
    ty.backward(torch.tensor(gy))
    for i, (o, t) in enumerate(zip(ours, theirs, strict=True)):
        if t.requires_grad:
            assert o.grad is not None, f"input {i} got no gradient"
            assert o.grad.dtype == o.dtype, f"input {i}: gradient dtype {o.grad.dtype} != {o.dtype}"
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), atol=grad_atol or atol,
                                       rtol=grad_rtol or rtol, err_msg=f"gradient of input {i}")
    return y


def finite_difference(fn, *arrays, eps=1e-6, atol=1e-6, rtol=1e-5):
    """Check the gradients of sum(fn(*tensors) * R) against float64 central differences (shapes or arrays)."""
    arrays = [_array(a, np.float64).astype(np.float64) for a in arrays]
    ts = [baby.Tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    y = fn(*ts)
    r = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(r)

    def loss():
        with baby.no_grad():
            return float((fn(*[baby.Tensor(a, dtype=np.float64) for a in arrays]).numpy() * r).sum())

    for a, t in zip(arrays, ts, strict=True):
        num = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + eps
            up = loss()
            a[idx] = old - eps
            down = loss()
            a[idx] = old
            num[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(t.grad.numpy(), num, atol=atol, rtol=rtol)


# ---- convolution cases (NCHW, PyTorch's layouts) ----

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


def nhwc(t):
    """torch NCHW -> NHWC (a permute)."""
    return t.permute(0, *range(2, t.ndim), 1)


def nchw(t):
    """torch NHWC -> NCHW (a permute)."""
    return t.permute(0, t.ndim - 1, *range(1, t.ndim - 1))


# ---- a seeded random sweep: every option at once ----
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


# ---- PyTorch twins of baby.models ----

def t_conv_bn(c_in, c_out):
    return tnn.Sequential(OrderedDict(conv=tnn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                                      bn=tnn.BatchNorm2d(c_out), relu=tnn.ReLU()))


class TResidual(tnn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return x + self.fn(x)


def t_resnet9(num_classes=10):
    def residual(c):
        return TResidual(tnn.Sequential(t_conv_bn(c, c), t_conv_bn(c, c)))

    return tnn.Sequential(OrderedDict(
        prep=t_conv_bn(3, 64),
        layer1=tnn.Sequential(t_conv_bn(64, 128), tnn.MaxPool2d(2), residual(128)),
        layer2=tnn.Sequential(t_conv_bn(128, 256), tnn.MaxPool2d(2)),
        layer3=tnn.Sequential(t_conv_bn(256, 512), tnn.MaxPool2d(2), residual(512)),
        pool=tnn.AdaptiveMaxPool2d(1), flatten=tnn.Flatten(), fc=tnn.Linear(512, num_classes)))


def t_lenet5(in_channels=1, num_classes=10, flat=16 * 5 * 5):
    return tnn.Sequential(OrderedDict(
        conv1=tnn.Conv2d(in_channels, 6, 5, padding=2), relu1=tnn.ReLU(), pool1=tnn.MaxPool2d(2),
        conv2=tnn.Conv2d(6, 16, 5), relu2=tnn.ReLU(), pool2=tnn.MaxPool2d(2), flatten=tnn.Flatten(),
        fc1=tnn.Linear(flat, 120), relu3=tnn.ReLU(), fc2=tnn.Linear(120, 84), relu4=tnn.ReLU(),
        fc3=tnn.Linear(84, num_classes)))


def t_small_cnn(in_channels=1, num_classes=10, flat=64 * 4 * 4):
    return tnn.Sequential(OrderedDict(
        conv1=t_conv_bn(in_channels, 32), conv2=t_conv_bn(32, 64), pool=tnn.MaxPool2d(2),
        flatten=tnn.Flatten(), fc=tnn.Linear(flat, num_classes)))


def t_separable(c_in, c_out, stride):
    return tnn.Sequential(OrderedDict(
        dw=tnn.Conv2d(c_in, c_in, 3, stride=stride, padding=1, groups=c_in, bias=False),
        bn1=tnn.BatchNorm2d(c_in), relu1=tnn.ReLU(), pw=tnn.Conv2d(c_in, c_out, 1, bias=False),
        bn2=tnn.BatchNorm2d(c_out), relu2=tnn.ReLU()))


def t_mobilenet(num_classes=10):
    widths, strides = (32, 64, 128, 128, 256, 256), (1, 2, 1, 2, 1)
    pairs = zip(widths, widths[1:], strides, strict=False)  # (c_in, c_out, stride) per block
    blocks = {f"block{i + 1}": t_separable(a, b, s) for i, (a, b, s) in enumerate(pairs)}
    return tnn.Sequential(OrderedDict(stem=t_conv_bn(3, 32), **blocks, pool=tnn.AdaptiveAvgPool2d(1),
                                      flatten=tnn.Flatten(), fc=tnn.Linear(256, num_classes)))
