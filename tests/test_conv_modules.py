"""Conv layers: PyTorch state dicts load and match (outputs, gradients); init, repr, the book's Conv."""

import math

import numpy as np
import pytest
import torch

import baby
from baby import nn

RNG = np.random.default_rng(3)
TOL = dict(atol=1e-4, rtol=1e-4)

MODULES = [
    ("Conv1d", (3, 4, 3), dict(stride=2, padding=1), (2, 3, 9)),
    ("Conv2d", (3, 6, (3, 2)), dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=3), (2, 3, 9, 8)),
    ("Conv2d", (4, 4, 3), dict(padding="same", groups=4, bias=False), (1, 4, 6, 5)),
    ("Conv2d", (2, 3, 4), dict(padding="same", dilation=2), (2, 2, 7, 6)),
    ("Conv2d", (2, 3, 1), dict(padding="valid"), (1, 2, 4, 4)),
    ("Conv3d", (2, 4, 3), dict(stride=(1, 2, 2), padding=(1, 0, 1), groups=2), (1, 2, 4, 6, 5)),
    ("ConvTranspose1d", (4, 2, 3), dict(stride=3, padding=1, output_padding=2, groups=2), (2, 4, 5)),
    ("ConvTranspose2d", (3, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=3, bias=False),
     (2, 3, 4, 5)),
    ("ConvTranspose2d", (2, 3, (2, 3)), dict(stride=(1, 2), dilation=(2, 1), output_padding=(1, 0)),
     (1, 2, 3, 4)),
    ("ConvTranspose3d", (2, 2, 2), dict(stride=2, padding=(0, 1, 0)), (1, 2, 2, 3, 3)),
]
IDS = [f"{name}-{i}" for i, (name, *_) in enumerate(MODULES)]


def pair(name, args, kw):
    """Our layer and torch's, built with the same arguments."""
    return getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)


@pytest.mark.parametrize("name, args, kw, x_shape", MODULES, ids=IDS)
def test_torch_state_dict_loads_and_matches(name, args, kw, x_shape):
    ours, theirs = pair(name, args, kw)
    ours.load_state_dict(theirs.state_dict())
    x = RNG.uniform(-2, 2, x_shape).astype(np.float32)
    bx, tx = baby.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(bx), theirs(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL)
    gy = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(gy)
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(bx.grad.numpy(), tx.grad.numpy(), **TOL)
    grads = {k: p.grad.numpy() for k, p in theirs.named_parameters()}
    assert [k for k, _ in ours.named_parameters()] == list(grads)
    for k, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[k], **TOL, err_msg=k)


@pytest.mark.parametrize("name, args, kw, x_shape", MODULES, ids=IDS)
def test_attributes_and_repr_match_torch(name, args, kw, x_shape):
    ours, theirs = pair(name, args, kw)
    assert repr(ours) == repr(theirs)
    for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
                 "output_padding", "padding_mode"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: tuple(v.shape) for k, v in
                                                                   theirs.state_dict().items()}


@pytest.mark.parametrize("name, args, kw", [
    ("Conv2d", (16, 32, 3), {}),
    ("Conv1d", (12, 24, 5), dict(groups=4)),
    ("ConvTranspose2d", (16, 32, 3), dict(groups=2)),
    ("ConvTranspose3d", (8, 16, 3), {}),
])
def test_default_init_matches_torch_bounds(name, args, kw):
    baby.manual_seed(0)
    ours, theirs = pair(name, args, kw)
    fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(theirs.weight)
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)) and the bias bound agree
    for p, t in ((ours.weight, theirs.weight), (ours.bias, theirs.bias)):
        w, tw = p.numpy(), t.detach().numpy()
        assert w.dtype == np.float32 and w.shape == tw.shape
        assert np.abs(w).max() <= bound and np.abs(tw).max() <= bound
        if w.size > 1000:
            assert np.abs(w).max() > 0.99 * bound
            assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound


def test_init_is_seeded_and_dtype_follows():
    baby.manual_seed(5)
    a = nn.Conv2d(3, 4, 3).weight.numpy().copy()
    baby.manual_seed(5)
    b = nn.Conv2d(3, 4, 3).weight.numpy()
    np.testing.assert_array_equal(a, b)
    m = nn.ConvTranspose1d(2, 3, 3, dtype="float64")
    assert m.weight.dtype == m.bias.dtype == np.float64
    assert m(baby.Tensor(np.ones((1, 2, 4)), dtype=np.float64)).dtype == np.float64


def test_conv_transpose_output_size():
    ours, theirs = pair("ConvTranspose2d", (2, 3, 3), dict(stride=(2, 3), padding=1))
    ours.load_state_dict(theirs.state_dict())
    x = RNG.standard_normal((1, 2, 4, 5)).astype(np.float32)
    for size in [(7, 13), (8, 15), (1, 3, 8, 14)]:
        y, ty = ours(baby.Tensor(x), output_size=size), theirs(torch.tensor(x), output_size=size)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL)


def test_book_conv_layer():
    baby.manual_seed(0)
    m = nn.Conv(3, 8, 3, stride=1)
    assert m.weight.shape == (3, 3, 3, 8) and m.bias.shape == (8,) and not m.bias.numpy().any()
    bound = math.sqrt(6 / (3 * 3 * 3))  # kaiming uniform, gain sqrt(2), fan_in = C_in * k * k
    assert bound * 0.8 < np.abs(m.weight.numpy()).max() <= bound
    m.bias.numpy()[...] = RNG.standard_normal(8)
    x = RNG.standard_normal((2, 3, 7, 6)).astype(np.float32)
    bx, tx = baby.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    tw = torch.tensor(m.weight.numpy().transpose(3, 2, 0, 1), requires_grad=True)
    tb = torch.tensor(m.bias.numpy(), requires_grad=True)
    y, ty = m(bx), torch.nn.functional.conv2d(tx, tw, tb, padding=1)
    assert y.shape == (2, 8, 7, 6)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL)
    gy = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(gy)
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(bx.grad.numpy(), tx.grad.numpy(), **TOL)
    np.testing.assert_allclose(m.weight.grad.numpy(), tw.grad.numpy().transpose(2, 3, 1, 0), **TOL)
    np.testing.assert_allclose(m.bias.grad.numpy(), tb.grad.numpy(), **TOL)
    assert nn.Conv(3, 8, 5, stride=2)(bx).shape == (2, 8, 4, 3)
    assert repr(nn.Conv(3, 8, 3, bias=False)) == "Conv(3, 8, kernel_size=3, stride=1, bias=False)"
