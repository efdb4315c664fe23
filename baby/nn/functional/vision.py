"""Rearranging images: pixel_shuffle / pixel_unshuffle (views and one permute) and unfold / fold, the
book's im2col and its inverse col2im in PyTorch's (N, C * kh * kw, L) layout."""

import math
import numbers

from ...backend import xp
from ...ops.conv.fast.memory import pad, windows
from ...ops.conv.geometry import out_size
from ...tensor import Function


def pixel_shuffle(input, upscale_factor):
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r): each channel group of r^2 spread over an r x r block."""
    x, r = input, upscale_factor
    if x.ndim < 3 or x.shape[-3] % (r * r):
        raise RuntimeError(
            f"pixel_shuffle expects input (*, C * r^2, H, W) with r = {r}, got {tuple(x.shape)}"
        )
    *lead, C, H, W = x.shape
    c = C // (r * r)
    y = x.reshape(*lead, c, r, r, H, W)  # (*, c, r, r, H, W)
    n = len(lead)
    y = y.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)  # (*, c, H, r, W, r)
    return y.reshape(*lead, c, H * r, W * r)  # (*, c, H*r, W*r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W): the inverse of pixel_shuffle."""
    x, r = input, downscale_factor
    if x.ndim < 3 or x.shape[-1] % r or x.shape[-2] % r:
        raise RuntimeError(
            f"pixel_unshuffle expects input (*, C, H * r, W * r) with r = {r}, got {tuple(x.shape)}"
        )
    *lead, C, Hr, Wr = x.shape
    H, W, n = Hr // r, Wr // r, len(lead)
    y = x.reshape(*lead, C, H, r, W, r)  # (*, C, H, r, W, r)
    y = y.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)  # (*, C, r, r, H, W)
    return y.reshape(*lead, C * r * r, H, W)  # (*, C*r*r, H, W)


def _pair(v, name):
    v = (v, v) if isinstance(v, numbers.Integral) else tuple(v)
    if len(v) != 2 or any(not isinstance(n, numbers.Integral) for n in v):
        raise TypeError(f"{name} must be an int or a pair of ints, got {v!r}")
    return tuple(int(n) for n in v)


def _im2col(x, k, dilation, padding, stride):
    """x (N, C, H, W) -> cols (N, C * kh * kw, L): every window, one strided view and one copy."""
    N, C = x.shape[:2]
    xn = pad(xp.moveaxis(x, 1, -1), tuple((p, p) for p in padding))  # (N, Hp, Wp, C) padded
    A = windows(xn, k, stride, dilation)  # (N, oh, ow, kh, kw, C) view
    oh, ow = A.shape[1:3]
    return A.transpose(0, 5, 3, 4, 1, 2).reshape(N, C * k[0] * k[1], oh * ow)  # (N, C*kh*kw, oh*ow)


def _col2im(cols, size, k, dilation, padding, stride):
    """cols (N, C * kh * kw, L) -> (N, C, H, W): each window's values added back at its place."""
    N, H, W = cols.shape[0], *size
    C = cols.shape[1] // (k[0] * k[1])
    (ph, pw), (sh, sw), (dh, dw) = padding, stride, dilation
    oh, ow = out_size((H, W), k, stride, ((ph, ph), (pw, pw)), dilation)
    c = cols.reshape(N, C, k[0], k[1], oh, ow)  # (N, C, kh, kw, oh, ow)
    out = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), cols.dtype)  # (N, C, Hp, Wp)
    for i in range(k[0]):
        for j in range(k[1]):
            out[:, :, i * dh : i * dh + sh * (oh - 1) + 1 : sh, j * dw : j * dw + sw * (ow - 1) + 1 : sw] += (
                c[:, :, i, j]
            )
    return out[:, :, ph : ph + H, pw : pw + W]


class Unfold(Function):
    """im2col; its gradient is col2im."""

    def __init__(self, k, dilation, padding, stride):
        self.args = k, dilation, padding, stride

    def forward(self, x):
        self.size = x.shape[2:]
        return _im2col(x, *self.args)

    def backward(self, gy, node):
        return (_col2im(gy, self.size, *self.args),)


class Fold(Function):
    """col2im; its gradient is im2col."""

    def __init__(self, size, k, dilation, padding, stride):
        self.size, self.args = size, (k, dilation, padding, stride)

    def forward(self, cols):
        return _col2im(cols, self.size, *self.args)

    def backward(self, gy, node):
        return (_im2col(gy, *self.args),)


def _unbatched(x, dims, name):
    if x.ndim not in (dims, dims + 1):
        raise RuntimeError(
            f"{name}: expected a {dims}-D (unbatched) or {dims + 1}-D (batched) input, got "
            f"shape {tuple(x.shape)}"
        )
    return x.ndim == dims


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """The book's im2col in PyTorch's layout: (N, C, H, W) -> (N, C * kh * kw, L), one column per kernel
    window (L windows), taken from the same strided window view as baby's im2col convolution."""
    one = _unbatched(input, 3, "unfold")
    x = input.unsqueeze(0) if one else input
    args = [
        _pair(v, n)
        for v, n in (
            (kernel_size, "kernel_size"),
            (dilation, "dilation"),
            (padding, "padding"),
            (stride, "stride"),
        )
    ]
    if any(o <= 0 for o in out_size(x.shape[2:], args[0], args[3], tuple((p, p) for p in args[2]), args[1])):
        raise RuntimeError(
            f"unfold: the kernel {args[0]} (dilation {args[1]}, padding {args[2]}) is larger than "
            f"the input {tuple(x.shape[2:])}"
        )
    y = Unfold(*args)(x)
    return y.squeeze(0) if one else y


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im: (N, C * kh * kw, L) -> (N, C, H, W), the columns summed back where their windows lie."""
    one = _unbatched(input, 2, "fold")
    x = input.unsqueeze(0) if one else input
    size = _pair(output_size, "output_size")
    k, d, p, s = (
        _pair(v, n)
        for v, n in (
            (kernel_size, "kernel_size"),
            (dilation, "dilation"),
            (padding, "padding"),
            (stride, "stride"),
        )
    )
    L = math.prod(out_size(size, k, s, tuple((q, q) for q in p), d))
    if x.shape[1] % (k[0] * k[1]) or x.shape[2] != L:
        raise RuntimeError(
            f"fold: expected input (N, C * {k[0] * k[1]}, {L}) for output_size {size}, kernel "
            f"{k}, got {tuple(input.shape)}"
        )
    y = Fold(size, k, d, p, s)(x)
    return y.squeeze(0) if one else y
