"""The convolution ops on NHWC arrays: arguments -> geometry -> the registry's algorithm for it.

Conv runs `registry.choose(g).forward` and, in its backward, that algorithm's `input_grad` and `weight_grad`
(chosen again at backward time, as the settings then are). ConvTranspose is Conv's input gradient as a
forward; its own gradients are a Conv and a weight gradient.
"""

from ...backend import xp
from ...grad_mode import is_grad_enabled
from ...tensor import Function, as_tensor
from . import registry
from .fast.memory import channels_first, contiguous
from .geometry import (
    ConvGeometry,
    check_arrays,
    check_channels,
    check_transpose_channels,
    conv_args,
    per_dim,
    transpose_out_size,
)


class Conv(Function):
    """Convolution of x (N, *S, Cin) by w (*k, Cin/G, Cout), by the algorithm chosen for its geometry; plus
    a bias b (Cout,) when given (added in place: one node, no second output array)."""

    def __init__(self, stride, pads, dilation, groups, keep=False):
        self.stride, self.pads, self.dilation, self.groups = stride, pads, dilation, groups
        self.keep, self.kept = keep, None  # keep: the weight gradient will be wanted

    def geometry(self, x_shape, w_shape):
        """The ConvGeometry of this op on an input of x_shape and a weight of w_shape."""
        return ConvGeometry.of(x_shape[1:-1], w_shape, self.stride, self.pads, self.dilation, self.groups,
                               x_shape[0])

    def forward(self, x, w, b=None):
        g = self.geometry(x.shape, w.shape)
        algo = registry.choose(g)
        self.kept = algo.keep(x, w, g) if self.keep else None
        y = algo.forward(x, w, g, self.kept)  # (N, *O, Cout)
        if b is not None:
            y += b
        return y

    def backward(self, gy, node):
        x, w, *b = node.inputs
        g = self.geometry(x.shape, w.shape)
        algo = registry.choose(g)
        gy = contiguous(gy, algo.grad_layout(gy, x._data))  # (N, *O, Cout), not a broadcast
        gx = algo.input_grad(gy, w._data, g) if x.requires_grad else None
        gw = algo.weight_grad(x._data, gy, g, self.kept) if w.requires_grad else None
        ix = "abcd"[:gy.ndim - 1]  # every axis but the channels'
        return (gx, gw, *(xp.einsum(f"{ix}z->z", gy) if t.requires_grad else None for t in b))


class ConvTranspose(Function):
    """The transpose of Conv (its input gradient as a forward): x (N, *S, Cin) by Conv's weight
    w (*k, Cout/G, Cin) gives (N, *O, Cout), O = (S - 1) * stride - P + d * (k - 1) + output_padding + 1."""

    def __init__(self, stride, pads, dilation, groups, output_padding):
        self.stride, self.pads, self.dilation, self.groups = stride, pads, dilation, groups
        self.output_padding = output_padding

    def geometry(self, x_shape, w_shape):
        """The geometry of the Conv whose input gradient this is: over the output size O, weight w."""
        args = self.stride, self.pads, self.dilation
        O = transpose_out_size(x_shape[1:-1], w_shape[:-2], *args, self.output_padding)
        return ConvGeometry.of(O, w_shape, *args, self.groups, x_shape[0])

    def forward(self, x, w):
        g = self.geometry(x.shape, w.shape)
        return registry.choose(g).input_grad(x, w, g)  # (N, *O, Cout)

    def backward(self, gy, node):
        x, w = node.inputs
        g = self.geometry(x.shape, w.shape)
        gy = contiguous(gy, channels_first(x._data))  # (N, *O, Cout) in x's layout (not a broadcast)
        gx = None
        if x.requires_grad:  # (N, *S, Cin): the Conv over gy, its windows fitted exactly over x
            gc = ConvGeometry.of(g.S, w.shape, g.stride, g.fit(x.shape[1:-1]), g.dilation, g.groups, g.n)
            gx = registry.forward(gy, w._data, gc)
        gw = registry.choose(g).weight_grad(gy, x._data, g) if w.requires_grad else None
        return gx, gw


def conv(a, b, stride=1, padding=1, dilation=1, groups=1, bias=None):
    """Convolve a (N, *S, Cin), 1-3 spatial dims, with b (*k, Cin/groups, Cout) -> (N, *O, Cout); plus
    `bias` (Cout,) of the same dtype when given."""
    a, b = as_tensor(a), as_tensor(b)
    check_arrays(a, b, "conv")
    *k, Cg, Cout = b.shape
    check_channels(a.shape[-1], Cg, Cout, groups, "conv", a.shape, b.shape)
    stride, pads, dilation = conv_args(k, stride, padding, dilation)
    g = ConvGeometry.of(a.shape[1:-1], b.shape, stride, pads, dilation, groups, a.shape[0])
    if any(o < 1 for o in g.O):
        span = tuple(d * (kk - 1) + 1 for d, kk in zip(dilation, k, strict=True))
        raise ValueError(f"conv: the kernel {tuple(k)} with dilation {dilation} spans {span}, larger than "
                         f"the input's spatial size {tuple(a.shape[1:-1])} padded by {pads}; input shape "
                         f"{tuple(a.shape)}, "
                         f"weight shape {tuple(b.shape)}")
    op = Conv(stride, pads, dilation, groups, keep=is_grad_enabled() and b.requires_grad)
    if bias is None:
        return op(a, b)
    bias = as_tensor(bias)
    if bias.shape != (Cout,) or bias.dtype != a.dtype:
        raise ValueError(f"conv: bias must have shape ({Cout},) and dtype {a.dtype}, one per output channel; "
                         f"got shape {tuple(bias.shape)}, dtype {bias.dtype}")
    return op(a, b, bias)


def which_algorithm(x_shape, w_shape, stride=1, padding=1, dilation=1, groups=1):
    """The name of the algorithm `conv` runs now for x (N, *S, Cin) and w (*k, Cin/groups, Cout) shapes."""
    stride, pads, dilation = conv_args(w_shape[:-2], stride, padding, dilation)
    return registry.choose(ConvGeometry.of(x_shape[1:-1], w_shape, stride, pads, dilation, groups,
                                           x_shape[0])).name


def conv_transpose(a, b, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed conv of a (N, *S, Cin) by conv's weight b (*k, Cout/groups, Cin) -> (N, *O, Cout)."""
    a, b = as_tensor(a), as_tensor(b)
    check_arrays(a, b, "conv_transpose")
    *k, _, Cin = b.shape
    check_transpose_channels(a.shape[-1], Cin, groups, "conv_transpose", a.shape, b.shape)
    if padding == "same":
        raise ValueError("conv_transpose: padding='same' is not supported (give the padding explicitly)")
    stride, pads, dilation = conv_args(k, stride, padding, dilation)
    output_padding = per_dim(output_padding, len(k), "output_padding", 0)
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation, strict=True)):
        raise ValueError(f"conv_transpose: output_padding={output_padding} must be smaller than the stride "
                         f"{stride} or the dilation {dilation} in every dim")
    O = transpose_out_size(a.shape[1:-1], k, stride, pads, dilation, output_padding)
    if any(o < 1 for o in O):
        raise ValueError(f"conv_transpose: the output size {O} is not positive (input shape "
                         f"{tuple(a.shape)}, "
                         f"weight shape {tuple(b.shape)}, stride {stride}, padding {pads}, dilation "
                         f"{dilation})")
    return ConvTranspose(stride, pads, dilation, groups, output_padding)(a, b)
