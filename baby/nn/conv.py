"""Convolution layers: the book's Conv, and Conv1d/2d/3d, ConvTranspose1d/2d/3d as in PyTorch.

The PyTorch-style layers keep PyTorch's weight layout, parameter names, defaults and initialisation
(kaiming uniform with a=sqrt(5), bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in))), so a PyTorch state dict
loads as-is.
"""

import math

from .. import init, ops
from ..ops.conv.geometry import conv_args, is_int, per_dim, transpose_out_size
from . import functional as F
from .module import Module, Parameter


class Conv(Module):
    """The book's layer: NCHW in and out, weight (k, k, C_in, C_out) for ops.conv, padding (k - 1) // 2."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, bias=True, device=None,
                 dtype="float32"):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = kernel_size[0] if isinstance(kernel_size, tuple) else kernel_size
        self.stride = stride[0] if isinstance(stride, tuple) else stride
        k = self.kernel_size
        self.weight = Parameter(init.kaiming_uniform(in_channels * k * k, out_channels * k * k,
                                                     shape=(k, k, in_channels, out_channels), device=device,
                                                     dtype=dtype))
        self.bias = Parameter(init.zeros(out_channels, device=device, dtype=dtype)) if bias else None
        self.padding = (k - 1) // 2

    def forward(self, x):
        y = ops.conv(ops.permute(x, 0, 2, 3, 1), self.weight, self.stride, self.padding)  # (N, H', W', C_out)
        y = y if self.bias is None else y + self.bias  # (N, H', W', C_out)
        return ops.permute(y, 0, 3, 1, 2)  # (N, C_out, H', W') view

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        return s + (", bias=False" if self.bias is None else "")


class _ConvNd(Module):
    """Shared by Conv1d/2d/3d and ConvTranspose1d/2d/3d: argument checks, parameters, init, repr."""

    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 padding_mode, device, dtype, output_padding=0):
        super().__init__()
        name, nd = type(self).__name__, self.nd
        counts = {"in_channels": in_channels, "out_channels": out_channels, "groups": groups}
        if not all(is_int(v) for v in counts.values()):
            raise TypeError(f"{name}: in_channels, out_channels and groups must be ints, got {counts}")
        if any(v < 1 for v in counts.values()):
            raise ValueError(f"{name}: in_channels, out_channels and groups must be >= 1, got {counts}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must "
                             f"both be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"{name}: padding_mode={padding_mode!r} is not supported; only 'zeros' is")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = per_dim(kernel_size, nd, f"{name}: kernel_size", 1)
        self.stride, pads, self.dilation = conv_args(self.kernel_size, stride, padding, dilation)
        symmetric = all(b == a for b, a in pads)  # then stored one int per dim, as PyTorch
        self.padding = padding if isinstance(padding, str) else tuple(b for b, _ in pads) if symmetric \
            else pads
        self.output_padding = per_dim(output_padding, nd, f"{name}: output_padding", 0)
        self.padding_mode = padding_mode
        channels = (in_channels, out_channels) if self.transposed else (out_channels, in_channels)
        shape = (channels[0], channels[1] // groups, *self.kernel_size)  # PyTorch's weight layout
        fan_in, fan_out = math.prod(shape[1:]), shape[0] * math.prod(shape[2:])  # as torch.nn.init has them
        kwargs = dict(device=device, dtype=dtype or "float32")
        w = init.kaiming_uniform(fan_in, fan_out, shape, "leaky_relu", math.sqrt(5), **kwargs)
        self.weight = Parameter(w)
        bound = 1 / math.sqrt(fan_in)
        self.bias = Parameter(init.uniform(out_channels, -bound, bound, **kwargs)) if bias else None

    def extra_repr(self):
        nd = self.nd
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + (", bias=False" if self.bias is None else "")


class _Conv(_ConvNd):
    """Conv1d/2d/3d: PyTorch's signature, forward through nn.functional.conv{1,2,3}d."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)

    def forward(self, x):
        fn = (F.conv1d, F.conv2d, F.conv3d)[self.nd - 1]
        return fn(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class _ConvTranspose(_ConvNd):
    """ConvTranspose1d/2d/3d: PyTorch's signature, forward through nn.functional.conv_transpose{1,2,3}d."""

    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, output_padding)

    def forward(self, x, output_size=None):
        fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[self.nd - 1]
        output_padding = self.output_padding if output_size is None else self._output_padding(x, output_size)
        return fn(x, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
                  self.dilation)

    def _output_padding(self, x, output_size):
        """The output_padding that makes the output `output_size` (its last nd entries)."""
        nd, size = self.nd, tuple(output_size)[-self.nd:]
        _, pads, _ = conv_args(self.kernel_size, self.stride, self.padding, self.dilation)
        low = transpose_out_size(x.shape[-nd:], self.kernel_size, self.stride, pads, self.dilation, (0,) * nd)
        fits = [lo <= n < lo + s for n, lo, s in zip(size, low, self.stride, strict=False)]
        if len(size) != nd or not all(fits):
            raise ValueError(f"{type(self).__name__}: output_size {tuple(output_size)} is not reachable from "
                             f"input {tuple(x.shape)}: each of the last {self.nd} sizes must lie in [{low}, "
                             f"{low} + stride {self.stride})")
        return tuple(n - lo for n, lo in zip(size, low, strict=True))


class Conv1d(_Conv):
    """1-D convolution layer (PyTorch's signature): (N, C_in, L) -> (N, C_out, L')."""

    nd = 1


class Conv2d(_Conv):
    """2-D convolution layer (PyTorch's signature): (N, C_in, H, W) -> (N, C_out, H', W')."""

    nd = 2


class Conv3d(_Conv):
    """3-D convolution layer (PyTorch's signature): (N, C_in, D, H, W) -> (N, C_out, D', H', W')."""

    nd = 3


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution layer (PyTorch's signature); forward takes an optional output_size."""

    nd = 1


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution layer (PyTorch's signature); forward takes an optional output_size."""

    nd = 2


class ConvTranspose3d(_ConvTranspose):
    """3-D transposed convolution layer (PyTorch's signature); forward takes an optional output_size."""

    nd = 3
