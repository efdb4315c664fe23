"""The book's first two convolutions, on NHWC arrays: the seven loops, then kernel-centric (one shifted
slice of the image per kernel weight). Slow; the tests keep them as an independent oracle for ops.conv.

Both take x (N, *S, Cin) and w (*k, Cin/groups, Cout) and the same stride/padding/dilation/groups as
ops.conv; they share only the argument resolution with it (`geometry.conv_args`), not its code.
"""

from itertools import product

from ....backend import xp
from ..geometry import conv_args, out_size


def _prepare(x, w, stride, padding, dilation):
    """x zero-padded, and the resolved stride, dilation and spatial output size."""
    stride, pads, dilation = conv_args(w.shape[:-2], stride, padding, dilation)
    x = xp.pad(x, ((0, 0), *pads, (0, 0)))  # (N, *padded, Cin)
    O = out_size(x.shape[1:-1], w.shape[:-2], stride, ((0, 0),) * len(stride), dilation)
    return x, stride, dilation, O


def simple_conv(x, w, stride=1, padding=0, dilation=1, groups=1):
    """The book's loop convolution (2-D): a multiply-add per (n, cout, row, col, cin, i, j), in float64."""
    dtype = x.dtype
    x, (sh, sw), (dh, dw), (Ho, Wo) = _prepare(x.astype(xp.float64), w, stride, padding, dilation)
    KH, KW, Cg, Cout = w.shape
    w = w.astype(xp.float64)
    out = xp.zeros((x.shape[0], Ho, Wo, Cout), dtype=xp.float64)
    for n in range(x.shape[0]):
        for cout in range(Cout):
            g = cout // (Cout // groups)
            for r in range(Ho):
                for c in range(Wo):
                    for cin in range(Cg):
                        for i in range(KH):
                            for j in range(KW):
                                xv = x[n, r * sh + i * dh, c * sw + j * dw, g * Cg + cin]
                                out[n, r, c, cout] += xv * w[i, j, cin, cout]
    return out.astype(dtype)


def kernel_conv(x, w, stride=1, padding=0, dilation=1, groups=1):
    """The book's kernel-centric convolution (1-3 spatial dims): one matmul per kernel offset."""
    x, stride, dilation, O = _prepare(x, w, stride, padding, dilation)
    *k, Cg, Cout = w.shape
    N, G = x.shape[0], groups
    out = xp.zeros((N, *O, G, 1, Cout // G), dtype=x.dtype)
    for offset in product(*(range(kk) for kk in k)):
        window = tuple(slice(i * d, i * d + s * (m - 1) + 1, s)
                       for i, d, s, m in zip(offset, dilation, stride, O, strict=True))
        xs = x[(slice(None), *window)].reshape(N, *O, G, 1, Cg)  # (N, *O, G, 1, Cin/G)
        ws = w[offset].reshape(Cg, G, Cout // G).transpose(1, 0, 2)  # (G, Cin/G, Cout/G)
        out += xs @ ws  # (N, *O, G, 1, Cout/G)
    return out.reshape(N, *O, Cout)  # (N, *O, Cout)
