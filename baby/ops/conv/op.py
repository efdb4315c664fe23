"""The convolution ops on NHWC arrays: arguments -> geometry -> the registry's algorithm for it.

Conv runs `registry.choose(g).forward` and, in its backward, that algorithm's `input_grad` and `weight_grad`
(chosen again at backward time, as the settings then are). ConvTranspose is Conv's input gradient as a
forward; its own gradients are a Conv and a weight gradient.
"""

import functools

from ...backend import einsum
from ...grad_mode import is_grad_enabled
from ...parallel import SIDE_BY_SIDE, side_by_side
from ...tensor import Function, as_tensor
from . import registry
from .fast.memory import channels_first, contiguous, to_nchw, to_nhwc
from .geometry import (
    ConvGeometry,
    check_arrays,
    check_channels,
    check_transpose_channels,
    conv_args,
    per_dim,
    plain,
    transpose_out_size,
)


def _kio(w):
    """PyTorch's weight layout (C', C/G, *k) -> (*k, C/G, C'), a view."""
    return w.transpose(*range(2, w.ndim), 1, 0)  # (*k, C/G, C')


def _oik(w):
    """(*k, C/G, C') -> PyTorch's weight layout (C', C/G, *k), a view."""
    return w.transpose(w.ndim - 1, w.ndim - 2, *range(w.ndim - 2))  # (C', C/G, *k)


class Conv(Function):
    """Convolution of x (N, *S, Cin) by w (*k, Cin/G, Cout), by the algorithm chosen for its geometry; plus
    a bias b (Cout,) when given (added in place: one node, no second output array). With `nchw`, x is
    (N, Cin, *S), w PyTorch's (Cout, Cin/G, *k) and y (N, Cout, *O): the channels-last views are taken
    inside the op (no Permute nodes around it)."""

    def __init__(self, stride, pads, dilation, groups, keep=False, nchw=False, g=None):
        self.stride, self.pads, self.dilation, self.groups = stride, pads, dilation, groups
        self.keep, self.kept, self.nchw = keep, None, nchw  # keep: the weight gradient will be wanted
        self.g = g  # the ConvGeometry, when the caller has it; else made by the forward

    def geometry(self, x_shape, w_shape):
        """The ConvGeometry of this op on an input of x_shape and a weight of w_shape (channels-last)."""
        return ConvGeometry.of(x_shape[1:-1], w_shape, self.stride, self.pads, self.dilation, self.groups,
                               x_shape[0])

    def forward(self, x, w, b=None):
        if self.nchw:
            x, w = to_nhwc(x), _kio(w)  # (N, *S, Cin), (*k, Cin/G, Cout) views
        if self.g is None:
            self.g = self.geometry(x.shape, w.shape)
        g = self.g
        algo = registry.choose(g)
        self.kept = algo.keep(x, w, g) if self.keep else None
        y = algo.forward(x, w, g, self.kept)  # (N, *O, Cout)
        if b is not None:
            y += b
        return to_nchw(y) if self.nchw else y

    def backward(self, gy, node):
        xt, wt, *b = node.inputs
        x, w = (to_nhwc(xt._data), _kio(wt._data)) if self.nchw else (xt._data, wt._data)
        gy = to_nhwc(gy) if self.nchw else gy  # (N, *O, Cout)
        g = self.g
        algo = registry.choose(g)
        gy = contiguous(gy, algo.grad_layout(gy, x))  # (N, *O, Cout), not a broadcast
        if xt.requires_grad and wt.requires_grad and w.size >= SIDE_BY_SIDE:  # one thread each
            gx, gw = side_by_side(lambda: algo.input_grad(gy, w, g),
                                  lambda: algo.weight_grad(x, gy, g, self.kept))
        else:
            gx = algo.input_grad(gy, w, g) if xt.requires_grad else None
            gw = algo.weight_grad(x, gy, g, self.kept) if wt.requires_grad else None
        if self.nchw:
            gx, gw = gx if gx is None else to_nchw(gx), gw if gw is None else _oik(gw)
        ix = "abcd"[:gy.ndim - 1]  # every axis but the channels'
        return (gx, gw, *(einsum(f"{ix}z->z", gy) if t.requires_grad else None for t in b))


class ConvTranspose(Function):
    """The transpose of Conv (its input gradient as a forward): x (N, *S, Cin) by Conv's weight
    w (*k, Cout/G, Cin) gives (N, *O, Cout), O = (S - 1) * stride - P + d * (k - 1) + output_padding + 1.
    With `nchw`, x is (N, Cin, *S), w PyTorch's (Cin, Cout/G, *k) and y (N, Cout, *O)."""

    def __init__(self, stride, pads, dilation, groups, output_padding, nchw=False):
        self.stride, self.pads, self.dilation, self.groups = stride, pads, dilation, groups
        self.output_padding, self.nchw = output_padding, nchw

    def geometry(self, x_shape, w_shape):
        """The geometry of the Conv whose input gradient this is: over the output size O, weight w
        (channels-last shapes)."""
        args = self.stride, self.pads, self.dilation
        O = transpose_out_size(x_shape[1:-1], w_shape[:-2], *args, self.output_padding)
        return ConvGeometry.of(O, w_shape, *args, self.groups, x_shape[0])

    def forward(self, x, w):
        if self.nchw:
            x, w = to_nhwc(x), _kio(w)  # (N, *S, Cin), (*k, Cout/G, Cin) views
        g = self.geometry(x.shape, w.shape)
        y = registry.choose(g).input_grad(x, w, g)  # (N, *O, Cout)
        return to_nchw(y) if self.nchw else y

    def backward(self, gy, node):
        xt, wt = node.inputs
        x, w = (to_nhwc(xt._data), _kio(wt._data)) if self.nchw else (xt._data, wt._data)
        gy = to_nhwc(gy) if self.nchw else gy  # (N, *O, Cout)
        g = self.geometry(x.shape, w.shape)
        gy = contiguous(gy, channels_first(x))  # (N, *O, Cout) in x's layout (not a broadcast)
        gx = None
        if xt.requires_grad:  # (N, *S, Cin): the Conv over gy, its windows fitted exactly over x
            gc = ConvGeometry.of(g.S, w.shape, g.stride, g.fit(x.shape[1:-1]), g.dilation, g.groups, g.n)
            gx = registry.forward(gy, w, gc)
        gw = registry.choose(g).weight_grad(gy, x, g) if wt.requires_grad else None
        if self.nchw:
            gx, gw = gx if gx is None else to_nchw(gx), gw if gw is None else _oik(gw)
        return gx, gw


def _shapes(a, b, nchw):
    """The channels-last shapes for shapes a and b: (N, *S, C) and (*k, C/G, C')."""
    if not nchw:
        return tuple(a), tuple(b)
    return (a[0], *a[2:], a[1]), (*b[2:], b[1], b[0])


def conv(a, b, stride=1, padding=1, dilation=1, groups=1, bias=None, *, nchw=False):
    """Convolve a (N, *S, Cin), 1-3 spatial dims, with b (*k, Cin/groups, Cout) -> (N, *O, Cout); plus
    `bias` (Cout,) of the same dtype when given. With `nchw`: a (N, Cin, *S) and PyTorch's weight
    b (Cout, Cin/groups, *k) -> (N, Cout, *O), as one op."""
    a, b = as_tensor(a), as_tensor(b)
    check_arrays(a, b, "conv")
    args = (a.shape, b.shape, nchw, stride, padding, dilation, groups)
    g = (_geometry if all(map(plain, args[3:])) else _geometry.__wrapped__)(*args)
    keep = is_grad_enabled() and b.requires_grad
    op = Conv(g.stride, g.pads, g.dilation, groups, keep=keep, nchw=nchw, g=g)
    if bias is None:
        return op(a, b)
    bias = as_tensor(bias)
    if bias.shape != (g.cout,) or bias.dtype != a.dtype:
        raise ValueError(f"conv: bias must have shape ({g.cout},) and dtype {a.dtype}, one per output "
                         f"channel; got shape {tuple(bias.shape)}, dtype {bias.dtype}")
    return op(a, b, bias)


@functools.lru_cache(maxsize=256)
def _geometry(x_shape, w_shape, nchw, stride, padding, dilation, groups):
    """The checked ConvGeometry of `conv`'s arguments (remembered for plain ones: ~30 us a call)."""
    xs, ws = _shapes(x_shape, w_shape, nchw)  # channels-last
    *k, Cg, Cout = ws
    check_channels(xs[-1], Cg, Cout, groups, "conv", x_shape, w_shape)
    stride, pads, dilation = conv_args(k, stride, padding, dilation)
    g = ConvGeometry.of(xs[1:-1], ws, stride, pads, dilation, groups, xs[0])
    if any(o < 1 for o in g.O):
        span = tuple(d * (kk - 1) + 1 for d, kk in zip(dilation, k, strict=True))
        raise ValueError(f"conv: the kernel {tuple(k)} with dilation {dilation} spans {span}, larger than "
                         f"the input's spatial size {xs[1:-1]} padded by {pads}; input shape "
                         f"{tuple(x_shape)}, weight shape {tuple(w_shape)}")
    return g


def which_algorithm(x_shape, w_shape, stride=1, padding=1, dilation=1, groups=1):
    """The name of the algorithm `conv` runs now for x (N, *S, Cin) and w (*k, Cin/groups, Cout) shapes."""
    stride, pads, dilation = conv_args(w_shape[:-2], stride, padding, dilation)
    return registry.choose(ConvGeometry.of(x_shape[1:-1], w_shape, stride, pads, dilation, groups,
                                           x_shape[0])).name


def conv_transpose(a, b, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *, nchw=False):
    """Transposed conv of a (N, *S, Cin) by conv's weight b (*k, Cout/groups, Cin) -> (N, *O, Cout). With
    `nchw`: a (N, Cin, *S) and PyTorch's weight b (Cin, Cout/groups, *k) -> (N, Cout, *O), as one op."""
    a, b = as_tensor(a), as_tensor(b)
    check_arrays(a, b, "conv_transpose")
    xs, ws = _shapes(a.shape, b.shape, nchw)  # channels-last
    *k, _, Cin = ws
    check_transpose_channels(xs[-1], Cin, groups, "conv_transpose", a.shape, b.shape)
    if padding == "same":
        raise ValueError("conv_transpose: padding='same' is not supported (give the padding explicitly)")
    stride, pads, dilation = conv_args(k, stride, padding, dilation)
    output_padding = per_dim(output_padding, len(k), "output_padding", 0)
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation, strict=True)):
        raise ValueError(f"conv_transpose: output_padding={output_padding} must be smaller than the stride "
                         f"{stride} or the dilation {dilation} in every dim")
    O = transpose_out_size(xs[1:-1], k, stride, pads, dilation, output_padding)
    if any(o < 1 for o in O):
        raise ValueError(f"conv_transpose: the output size {O} is not positive (input shape "
                         f"{tuple(a.shape)}, "
                         f"weight shape {tuple(b.shape)}, stride {stride}, padding {pads}, dilation "
                         f"{dilation})")
    return ConvTranspose(stride, pads, dilation, groups, output_padding, nchw)(a, b)
