"""The seed chapter's listings run on baby as the chapter writes them: its Flip, Dilate and Conv ops (forward
on arrays with as_strided + one matmul, backward on Tensors as convolutions), `transpose(B, axes=(2, 3))`
and its nn.Conv, completed where the chapter leaves "#your solution"; checked against PyTorch."""

import numpy as np
import pytest
import torch

from baby import Tensor, init
from baby.nn import Module, Parameter
from baby.ops import Function, transpose


class Flip(Function):
    def __init__(self, axes=None):
        self.axes = axes

    def forward(self, a):
        return np.flip(a, self.axes)

    def backward(self, out_grad, node):
        return flip(out_grad, self.axes)


def flip(a, axes):
    return Flip(axes)(a)


class Dilate(Function):
    def __init__(self, axes, dilation):
        self.axes = axes
        self.dilation = dilation

    def forward(self, a):
        new_shape = list(a.shape)
        slices = [slice(None)] * a.ndim
        for axis in self.axes:
            new_shape[axis] = a.shape[axis] + (a.shape[axis] - 1) * self.dilation
            slices[axis] = slice(0, new_shape[axis], self.dilation + 1)
        out = np.zeros(tuple(new_shape), dtype=a.dtype)
        out[tuple(slices)] = a
        return out

    def backward(self, out_grad, node):
        slices = [slice(None)] * out_grad.ndim
        for axis in self.axes:
            slices[axis] = slice(0, None, self.dilation + 1)
        return out_grad.data[tuple(slices)]


def dilate(a, axes, dilation=1):
    return Dilate(axes, dilation)(a)


class Conv(Function):
    def __init__(self, stride=1, padding=0):
        self.stride = stride
        self.padding = padding

    def forward(self, A, B):
        p, s = self.padding, self.stride
        if p > 0:
            A = np.pad(A, ((0, 0), (p, p), (p, p), (0, 0)))
        N, H, W, C_in = A.shape
        K, _, _, C_out = B.shape
        Ns, Hs, Ws, Cs = A.strides
        H_out, W_out = (H - K) // s + 1, (W - K) // s + 1
        inner_dim = K * K * C_in
        A = np.lib.stride_tricks.as_strided(A, shape=(N, H_out, W_out, K, K, C_in),
                                            strides=(Ns, Hs * s, Ws * s, Hs, Ws, Cs)).reshape(-1, inner_dim)
        out = A @ B.reshape(-1, C_out)
        return out.reshape(N, H_out, W_out, C_out)

    def backward(self, out_grad, node):
        A, B = node.inputs
        stride = self.stride
        padding = self.padding
        N, H, W, C_in = A.shape
        K, _, _, C_out = B.shape
        if stride > 1:
            out_grad = dilate(out_grad, (1, 2), stride - 1)
        B_flipped = flip(transpose(B, axes=(2, 3)), (0, 1))  # (K, K, C_out, C_in)
        grad_A = conv(out_grad, B_flipped, padding=K - 1 - padding)
        A_t = transpose(A, axes=(0, 3))  # (C_in, H, W, N)
        grad_t = transpose(transpose(out_grad, axes=(0, 1)), axes=(1, 2))  # (H_out, W_out, N, C_out)
        grad_B = conv(A_t, grad_t, padding=padding)  # (C_in, K, K, C_out)
        grad_B = transpose(transpose(grad_B, axes=(0, 1)), axes=(1, 2))  # (K, K, C_in, C_out)
        return grad_A, grad_B


def conv(a, b, stride=1, padding=1):
    return Conv(stride, padding)(a, b)


class BookConv(Module):
    """The chapter's nn.Conv: NCHW in and out."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, bias=True,
                 device=None, dtype="float32"):
        super().__init__()
        if isinstance(kernel_size, tuple):
            kernel_size = kernel_size[0]
        if isinstance(stride, tuple):
            stride = stride[0]
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.weight = Parameter(init.kaiming_uniform(
            fan_in=in_channels * kernel_size * kernel_size,
            fan_out=out_channels * kernel_size * kernel_size,
            shape=(self.kernel_size, self.kernel_size, self.in_channels, self.out_channels),
            device=device,
            dtype=dtype))
        if bias:
            self.bias = Parameter(init.zeros(out_channels))
        else:
            self.bias = None
        self.padding = (self.kernel_size - 1) // 2

    def forward(self, x: Tensor) -> Tensor:
        x = transpose(transpose(x, axes=(1, 2)), axes=(2, 3))  # NCHW -> NHWC
        out = conv(x, self.weight, self.stride, self.padding)
        if self.bias is not None:
            out = out + self.bias.reshape((1, 1, 1, self.out_channels)).broadcast_to(out.shape)
        return transpose(transpose(out, axes=(2, 3)), axes=(1, 2))  # NHWC -> NCHW


RNG = np.random.default_rng(10)


def test_flip_and_dilate_as_the_chapter_shows():
    a = Tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    np.testing.assert_array_equal(flip(a, (0, 1)).numpy(), [[9, 8, 7], [6, 5, 4], [3, 2, 1]])
    d = dilate(a, (0, 1), dilation=1).numpy()
    assert d.shape == (5, 5) and d[::2, ::2].tolist() == a.numpy().tolist() and d[1::2].sum() == 0


@pytest.mark.parametrize("stride, padding, H", [(1, 0, 7), (1, 1, 6), (2, 1, 7), (2, 0, 9)])
def test_the_chapters_conv_op_against_torch(stride, padding, H):
    x = RNG.standard_normal((2, H, H, 3))
    w = RNG.standard_normal((3, 3, 3, 4))
    a, b = Tensor(x, dtype=np.float64, requires_grad=True), Tensor(w, dtype=np.float64, requires_grad=True)
    y = conv(a, b, stride, padding)
    gy = RNG.standard_normal(y.shape)
    y.backward(gy)
    tx = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    tw = torch.tensor(w.transpose(3, 2, 0, 1), requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, stride=stride, padding=padding)
    ty.backward(torch.tensor(gy.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-10)
    np.testing.assert_allclose(a.grad.numpy(), tx.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-10)
    np.testing.assert_allclose(b.grad.numpy(), tw.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-10)


def test_the_chapters_nn_conv_against_torch():
    m = BookConv(3, 5, 3, stride=1)
    x = RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)
    t = torch.nn.Conv2d(3, 5, 3, padding=1)
    with torch.no_grad():
        t.weight.copy_(torch.tensor(m.weight.numpy().transpose(3, 2, 0, 1)))
        t.bias.copy_(torch.tensor(RNG.standard_normal(5).astype(np.float32)))
    m.bias.data = Tensor(t.bias.detach().numpy())
    xs = Tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    y, ty = m(xs), t(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m.weight.grad.numpy(), t.weight.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(m.bias.grad.numpy(), t.bias.grad.numpy(), rtol=1e-4)
