"""Convolution on NHWC arrays: the op, its argument checks, and the dispatch to the algorithms.

The forward runs what `algorithm.choose` picks (im2col, Winograd, pointwise, depthwise), the gradients what
`algorithm.choose_grads` picks: GEMMs on the gradient itself (col2im, cols^T @ gy), or the book's
formulation, where the gradients are convolutions too (kept under a forced 'im2col').

Shapes: x (N, *S, Cin) with 1-3 spatial dims S, weight w (*k, Cin/G, Cout) for G groups, output
(N, *O, Cout) with O = (S + P_before + P_after - D * (k - 1) - 1) // stride + 1 per spatial dim.
"""

import numbers

from ..backend import xp
from ..grad_mode import is_grad_enabled
from ..tensor import Function, as_tensor
from . import algorithm
from .conv_backward import col2im_input_grad, gemm_weight_grad, pointwise_input_grad, pointwise_weight_grad
from .conv_forward import channels_first, contiguous, im2col_forward, out_size, pad, pointwise_forward
from .depthwise import depthwise_forward, depthwise_input_grad, depthwise_weight_grad
from .shape import Dilate, Flip
from .winograd import tiles_shape, winograd_conv, winograd_input_grad, winograd_weight_grad


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def per_dim(v, n, name, low):
    """`v` (an int or one int per spatial dim) as an n-tuple of ints, each >= `low`."""
    seq = (v,) * n if _is_int(v) else v
    if not isinstance(seq, (tuple, list)) or not all(_is_int(i) for i in seq):
        raise TypeError(f"{name} must be an int or a tuple of {n} ints, got {v!r}")
    if len(seq) != n:
        raise ValueError(f"{name}={v!r} needs {n} values (one per spatial dim), got {len(seq)}")
    if any(i < low for i in seq):
        raise ValueError(f"{name}={v!r} must be >= {low} in every dim")
    return tuple(int(i) for i in seq)


def _pad_pairs(padding, n):
    """`padding` (an int, one int per dim, or (before, after) per dim) as n (before, after) pairs."""
    seq = (padding,) * n if _is_int(padding) else padding
    if not isinstance(seq, (tuple, list)):
        raise TypeError(f"padding must be an int, a tuple of {n} ints or (before, after) pairs, "
                        f"'same' or 'valid', got {padding!r}")
    if len(seq) != n:
        raise ValueError(f"padding={padding!r} needs {n} entries (one per spatial dim), got {len(seq)}; "
                         "for (before, after) pairs nest them: ((before, after), ...)")
    pairs = tuple((p, p) if _is_int(p) else tuple(p) if isinstance(p, (tuple, list)) else None for p in seq)
    if any(p is None or not all(_is_int(i) for i in p) for p in pairs):
        raise TypeError(f"padding entries must be ints or (before, after) pairs of ints, got {padding!r}")
    if any(len(p) != 2 for p in pairs):
        raise ValueError(f"padding={padding!r}: each per-dim pair must be (before, after)")
    if any(i < 0 for p in pairs for i in p):
        raise ValueError(f"padding={padding!r} must be >= 0")
    return tuple((int(b), int(a)) for b, a in pairs)


def conv_args(k, stride=1, padding=0, dilation=1):
    """Resolve stride, padding, dilation for kernel size `k` into per-dim (stride, pads, dilation) tuples.

    pads is one (before, after) pair per spatial dim; 'same' pads d * (k - 1) in total, the odd one after.
    """
    n = len(k)
    stride, dilation = per_dim(stride, n, "stride", 1), per_dim(dilation, n, "dilation", 1)
    if not isinstance(padding, str):
        return stride, _pad_pairs(padding, n), dilation
    if padding not in ("same", "valid"):
        raise ValueError(f"padding={padding!r}: the string forms are 'same' and 'valid'")
    if padding == "same" and stride != (1,) * n:
        raise ValueError(f"padding='same' needs stride 1 in every dim, got stride={stride}")
    total = [d * (kk - 1) if padding == "same" else 0 for kk, d in zip(k, dilation, strict=True)]
    return stride, tuple((t // 2, t - t // 2) for t in total), dilation


def _check_groups(groups, name):
    """Raise unless groups is an int >= 1."""
    if not _is_int(groups):
        raise TypeError(f"{name}: groups must be an int, got {groups!r}")
    if groups < 1:
        raise ValueError(f"{name}: groups must be >= 1, got {groups}")


def check_channels(cin, w_cin, cout, groups, name, x_shape, w_shape):
    """Raise unless `cin` input channels fit a conv weight of `w_cin` per group and `cout` outputs."""
    _check_groups(groups, name)
    if cin % groups or cout % groups:
        raise ValueError(f"{name}: groups={groups} must divide both the input channels ({cin}) and the "
                         f"output channels ({cout}); input shape {x_shape}, weight shape {w_shape}")
    if w_cin * groups != cin:
        raise ValueError(f"{name}: input has {cin} channels but the weight expects {w_cin} per group x "
                         f"groups={groups} = {w_cin * groups}; input shape {x_shape}, weight shape {w_shape}")


def check_transpose_channels(cin, w_cin, groups, name, x_shape, w_shape):
    """Raise unless `cin` input channels equal the transposed-conv weight's `w_cin`, divisible by groups."""
    _check_groups(groups, name)
    if cin != w_cin:
        raise ValueError(f"{name}: input has {cin} channels but the weight expects {w_cin}; "
                         f"input shape {x_shape}, weight shape {w_shape}")
    if cin % groups:
        raise ValueError(f"{name}: groups={groups} must divide the input channels ({cin}); "
                         f"input shape {x_shape}, weight shape {w_shape}")


def transpose_out_size(S, k, stride, pads, dilation, output_padding):
    """The spatial output size of a transposed conv: (S - 1) * stride - P + d * (k - 1) + out_pad + 1."""
    return tuple((n - 1) * s - b - a + d * (kk - 1) + op + 1
                 for n, kk, s, (b, a), d, op in zip(S, k, stride, pads, dilation, output_padding,
                                                    strict=True))


def _check(x, w, name):
    """Raise unless x is (N, *S, C) with 1-3 spatial dims and w has as many dims, in the same float dtype."""
    if not 3 <= x.ndim <= 5 or w.ndim != x.ndim:
        raise ValueError(f"{name}: input must be (N, *spatial, C) with 1-3 spatial dims and the weight "
                         f"(*k, C_in, C_out) with as many dims; got input {x.shape}, weight {w.shape}")
    if x.dtype != w.dtype or x.dtype.kind != "f":
        raise TypeError(f"{name}: input and weight must share a float dtype, got {x.dtype} and {w.dtype}")


def _dilate(a, stride):
    """a (N, *S, C) with stride - 1 zeros inserted between neighbours along each spatial dim."""
    for s in sorted(set(stride) - {1}):
        a = Dilate(tuple(i + 1 for i, t in enumerate(stride) if t == s), s - 1).forward(a)
    return a


def _fit(pads, S, O, k, stride, dilation):
    """`pads` with `after` set so a conv over S gives exactly O: rows no window reaches are cropped."""
    return tuple((b, (o - 1) * s + d * (kk - 1) + 1 - n - b)
                 for (b, _), n, o, kk, s, d in zip(pads, S, O, k, stride, dilation, strict=True))


def conv_forward(x, w, stride, pads, dilation, groups, keep=False):
    """y = conv(x, w) on arrays, by the algorithm `algorithm.choose` picks for this shape; with `keep`, also
    the workspace kept for the weight gradient (`algorithm.kept_buffer`), or None: (y, kept)."""
    algo = algorithm.choose(w.shape[:-2], x.shape[-1], w.shape[-1], groups, stride, dilation)
    kept = None
    if algo == "winograd":
        sym = all(b == a for b, a in pads)
        if keep and sym:
            shape = tiles_shape(x.shape, w.shape[0], [b for b, _ in pads])
            kept = algorithm.kept_buffer(shape, xp.result_type(x, w))
        y = winograd_conv(x, w, [b for b, _ in pads], kept) if sym else winograd_conv(pad(x, pads), w)
    elif algo == "pointwise":
        y = pointwise_forward(x, w, stride, pads)
    elif algo == "depthwise":
        y = depthwise_forward(x, w, stride, pads, dilation)
    else:
        y = im2col_forward(x, w, stride, pads, dilation, groups)
    return (y, kept) if keep else y


def _conv_input_grad(gy, w, S, stride, pads, dilation, groups):
    """The book's gradient for x (N, *S, Cin) given gy (N, *O, Cout): gy dilated by stride - 1, padded by
    d * (k - 1) - P before (and what makes the size S after), convolved with the flipped kernel whose
    in/out channels are swapped within each group."""
    *k, Cg, Cout = w.shape
    nd, G = len(k), groups
    gd = _dilate(gy, stride)  # (N, *((O - 1) * stride + 1), Cout)
    back = tuple((d * (kk - 1) - b, n + b - m)
                 for kk, d, (b, _), n, m in zip(k, dilation, pads, S, gd.shape[1:-1], strict=True))
    wt = w.reshape(*k, Cg, G, Cout // G)  # (*k, Cin/G, G, Cout/G)
    wt = wt.transpose(*range(nd), nd + 2, nd + 1, nd).reshape(*k, Cout // G, G * Cg)  # (*k, Cout/G, Cin)
    wt = Flip(tuple(range(nd))).forward(wt)  # (*k, Cout/G, Cin) reversed along k
    return Conv((1,) * nd, back, dilation, G).forward(gd, wt)  # (N, *S, Cin)


def _conv_weight_grad(x, gy, k, stride, pads, dilation, groups):
    """The book's gradient for w (*k, Cin/G, Cout): a convolution of x with batch and channels swapped
    (groups moved into the channels) by gy as the kernel, dilated by the stride, stepping by the dilation."""
    N, *S, Cin = x.shape
    nd, G, Cg = len(k), groups, Cin // groups
    xt = x.reshape(N, *S, G, Cg)  # (N, *S, G, Cin/G) view
    xt = xt.transpose(nd + 2, *range(1, nd + 1), nd + 1, 0).reshape(Cg, *S, G * N)  # (Cin/G, *S, G*N)
    gk = gy.transpose(*range(1, nd + 1), 0, nd + 1)  # (*O, N, Cout) view: gy as the kernel
    fit = _fit(pads, S, gy.shape[1:-1], k, stride, dilation)
    gw = Conv(dilation, fit, stride, G).forward(xt, gk)  # (Cin/G, *k, Cout)
    return gw.transpose(*range(1, nd + 1), 0, nd + 1)  # (*k, Cin/G, Cout)


def input_grad(gy, w, S, stride, pads, dilation, groups):
    """The gradient for x (N, *S, Cin) given gy (N, *O, Cout), by the algorithm `choose_grads` picks; the
    Winograd form needs symmetric padding (else the book's formulation, which reaches Winograd too)."""
    *k, Cg, Cout = w.shape
    algo = algorithm.choose_grads(k, Cg * groups, Cout, groups, stride, dilation)[0]
    if algo == "winograd" and all(b == a for b, a in pads):
        return winograd_input_grad(gy, w, [b for b, _ in pads])  # the flipped, swapped kernel's conv
    if algo == "pointwise":
        return pointwise_input_grad(gy, w, S, stride, pads)
    if algo == "depthwise":
        return depthwise_input_grad(gy, w, S, stride, pads, dilation, groups)
    if algo == "col2im":
        return col2im_input_grad(gy, w, S, stride, pads, dilation, groups)
    return _conv_input_grad(gy, w, S, stride, pads, dilation, groups)


def weight_grad(x, gy, k, stride, pads, dilation, groups, kept=None):
    """The gradient for w (*k, Cin/G, Cout) given x and gy, by the algorithm `choose_grads` picks; the
    Winograd form needs symmetric padding (else a GEMM) and reads the forward's `kept` tiles if any."""
    algo = algorithm.choose_grads(k, x.shape[-1], gy.shape[-1], groups, stride, dilation)[1]
    if algo == "winograd" and all(b == a for b, a in pads):
        return winograd_weight_grad(x, gy, [b for b, _ in pads], kept)  # (k, k, Cin, Cout), 36 GEMMs
    if algo == "pointwise":
        return pointwise_weight_grad(x, gy, stride, pads)
    if algo == "depthwise":
        return depthwise_weight_grad(x, gy, k, stride, pads, dilation)
    if algo == "conv":
        return _conv_weight_grad(x, gy, k, stride, pads, dilation, groups)
    fit = _fit(pads, x.shape[1:-1], gy.shape[1:-1], k, stride, dilation)  # windows exactly over gy
    return gemm_weight_grad(x, gy, k, stride, fit, dilation, groups)


def _grad_layout(gy, x, w_shape, args):
    """Whether the backward wants gy channels-first in memory: as x is, except that Winograd reads any
    strides and runs fastest channels-last, so there gy stays as it is when contiguous NCHW."""
    stride, _, dilation, groups = args
    if algorithm.choose(w_shape[:-2], x.shape[-1], w_shape[-1], groups, stride, dilation) == "winograd":
        return xp.moveaxis(gy, -1, 1).flags.c_contiguous
    return channels_first(x)


class Conv(Function):
    """Convolution of x (N, *S, Cin) by w (*k, Cin/G, Cout), by the algorithm chosen for its shape."""

    def __init__(self, stride, pads, dilation, groups, keep=False):
        self.stride, self.pads, self.dilation, self.groups = stride, pads, dilation, groups
        self.keep, self.kept = keep, None  # keep: the weight gradient will be wanted

    def forward(self, x, w):
        args = self.stride, self.pads, self.dilation, self.groups
        if not self.keep:
            return conv_forward(x, w, *args)  # (N, *O, Cout)
        y, self.kept = conv_forward(x, w, *args, keep=True)
        return y

    def backward(self, gy, node):
        x, w = node.inputs
        args = self.stride, self.pads, self.dilation, self.groups
        gy = contiguous(gy, _grad_layout(gy, x._data, w.shape, args))  # (N, *O, Cout), not a broadcast
        gx = input_grad(gy, w._data, x.shape[1:-1], *args) if x.requires_grad else None
        gw = weight_grad(x._data, gy, w.shape[:-2], *args, self.kept) if w.requires_grad else None
        return gx, gw


class ConvTranspose(Function):
    """The transpose of Conv (its input gradient as a forward): x (N, *S, Cin) by Conv's weight
    w (*k, Cout/G, Cin) gives (N, *O, Cout), O = (S - 1) * stride - P + d * (k - 1) + output_padding + 1."""

    def __init__(self, stride, pads, dilation, groups, output_padding):
        self.stride, self.pads, self.dilation, self.groups = stride, pads, dilation, groups
        self.output_padding = output_padding

    def forward(self, x, w):
        args = self.stride, self.pads, self.dilation
        O = transpose_out_size(x.shape[1:-1], w.shape[:-2], *args, self.output_padding)
        return input_grad(x, w, O, *args, self.groups)

    def backward(self, gy, node):
        x, w = node.inputs
        k, stride, pads, dilation, G = w.shape[:-2], self.stride, self.pads, self.dilation, self.groups
        gy = contiguous(gy, channels_first(x._data))  # (N, *O, Cout) in x's layout (not a broadcast)
        fit = _fit(pads, gy.shape[1:-1], x.shape[1:-1], k, stride, dilation)
        gx = Conv(stride, fit, dilation, G).forward(gy, w._data) if x.requires_grad else None  # (N, *S, Cin)
        gw = weight_grad(gy, x._data, k, stride, pads, dilation, G) if w.requires_grad else None
        return gx, gw


def conv(a, b, stride=1, padding=1, dilation=1, groups=1):
    """Convolve a (N, *S, Cin), 1-3 spatial dims, with b (*k, Cin/groups, Cout) -> (N, *O, Cout)."""
    a, b = as_tensor(a), as_tensor(b)
    _check(a, b, "conv")
    *k, Cg, Cout = b.shape
    check_channels(a.shape[-1], Cg, Cout, groups, "conv", a.shape, b.shape)
    stride, pads, dilation = conv_args(k, stride, padding, dilation)
    if any(o < 1 for o in out_size(a.shape[1:-1], k, stride, pads, dilation)):
        span = tuple(d * (kk - 1) + 1 for d, kk in zip(dilation, k, strict=True))
        raise ValueError(f"conv: the kernel {tuple(k)} with dilation {dilation} spans {span}, larger than "
                         f"the input's spatial size {a.shape[1:-1]} padded by {pads}; input shape {a.shape}, "
                         f"weight shape {b.shape}")
    return Conv(stride, pads, dilation, groups, keep=is_grad_enabled() and b.requires_grad)(a, b)


def conv_transpose(a, b, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed conv of a (N, *S, Cin) by conv's weight b (*k, Cout/groups, Cin) -> (N, *O, Cout)."""
    a, b = as_tensor(a), as_tensor(b)
    _check(a, b, "conv_transpose")
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
        raise ValueError(f"conv_transpose: the output size {O} is not positive (input shape {a.shape}, "
                         f"weight shape {b.shape}, stride {stride}, padding {pads}, dilation {dilation})")
    return ConvTranspose(stride, pads, dilation, groups, output_padding)(a, b)
