"""The book's im2col and its backward, as the chapter writes them: the forced algorithm 'book'.

Forward: every window the kernel sees is one `as_strided` view of the padded image, (N, *O, *k, Cin), the
row and column strides used twice (to step from window to window, and inside a window); its reshape to
(N * O, k * k * Cin) is the only copy, and one matmul by the kernel as a (k * k * Cin, Cout) matrix makes
every output. It runs a chunk of images at a time so that the columns stay within the workspace budget.

Backward: both gradients are convolutions again.
- input gradient: gy dilated by stride - 1 (zeros between neighbours), padded by d * (k - 1) - P, convolved
  with the kernel flipped in space and its in/out channels swapped;
- weight gradient: x with batch and channels swapped, convolved by gy as the kernel (its batch summed as
  the channels are in a forward); the forward stride becomes the dilation, the dilation the stride.
Those convolutions run by whatever algorithm is chosen for them (this one again when 'book' is forced).
"""

import math

from ....backend import xp
from ...shape import Dilate, Flip
from ..fast.memory import pad, run_chunks
from ..geometry import ConvGeometry, out_size
from ..registry import Algorithm, register
from ..registry import forward as conv


def conv_im2col(x, w, stride, dilation, groups):
    """y (N, *O, Cout) of a padded x (N, *S, Cin) and w (*k, Cin/G, Cout): one window view, one matmul."""
    N, *S, C = x.shape
    *k, Cg, Cout = w.shape
    G, Co, K = groups, Cout // groups, math.prod(k)
    O = out_size(S, k, stride, ((0, 0),) * len(S), dilation)
    sN, *sS, sC = x.strides
    steps = tuple(t * s for t, s in zip(sS, stride, strict=True))  # window to window
    taps = tuple(t * d for t, d in zip(sS, dilation, strict=True))  # inside a window
    A = xp.lib.stride_tricks.as_strided(x, (N, *O, *k, C), (sN, *steps, *taps, sC))  # (N, *O, *k, Cin) view
    A = xp.moveaxis(A.reshape(N, *O, *k, G, Cg), -2, 0)  # (G, N, *O, *k, Cin/G) view
    A = A.reshape(G, N * math.prod(O), K * Cg)  # (G, N*O, K*Cin/G): the copy
    B = xp.moveaxis(w.reshape(*k, Cg, G, Co), -2, 0).reshape(G, K * Cg, Co)  # (G, K*Cin/G, Cout/G)
    return xp.moveaxis((A @ B).reshape(G, N, *O, Co), 0, -2).reshape(N, *O, Cout)  # (N, *O, Cout)


def forward(x, w, g, kept=None):
    """y (N, *O, Cout): `conv_im2col` of x padded, a chunk of images at a time."""
    O = out_size(x.shape[1:-1], g.k, g.stride, g.pads, g.dilation)
    y = xp.empty((x.shape[0], *O, w.shape[-1]), xp.result_type(x, w))  # (N, *O, Cout)

    def run(n0, n1):
        y[n0:n1] = conv_im2col(pad(x[n0:n1], g.pads), w, g.stride, g.dilation, g.groups)

    run_chunks(run, x.shape[0], math.prod(O) * math.prod(g.k) * x.shape[-1] * x.itemsize)
    return y


def dilate(a, stride):
    """a (N, *S, C) with stride - 1 zeros inserted between neighbours along each spatial dim."""
    for s in sorted(set(stride) - {1}):
        a = Dilate(tuple(i + 1 for i, t in enumerate(stride) if t == s), s - 1).forward(a)
    return a


def input_grad(gy, w, g):
    """gx (N, *S, Cin) given gy (N, *O, Cout): gy dilated by stride - 1, padded by d * (k - 1) - P before
    (and what makes the size S after), convolved with the flipped kernel whose in/out channels are swapped
    within each group."""
    *k, Cg, Cout = w.shape
    nd, G = len(k), g.groups
    gd = dilate(gy, g.stride)  # (N, *((O - 1) * stride + 1), Cout)
    back = tuple((d * (kk - 1) - b, n + b - m)
                 for kk, d, (b, _), n, m in zip(k, g.dilation, g.pads, g.S, gd.shape[1:-1], strict=True))
    wt = w.reshape(*k, Cg, G, Cout // G)  # (*k, Cin/G, G, Cout/G)
    wt = wt.transpose(*range(nd), nd + 2, nd + 1, nd).reshape(*k, Cout // G, G * Cg)  # (*k, Cout/G, Cin)
    wt = Flip(tuple(range(nd))).forward(wt)  # (*k, Cout/G, Cin) reversed along k
    gb = ConvGeometry.of(gd.shape[1:-1], wt.shape, (1,) * nd, back, g.dilation, G)
    return conv(gd, wt, gb)  # (N, *S, Cin)


def weight_grad(x, gy, g, kept=None):
    """gw (*k, Cin/G, Cout): a convolution of x with batch and channels swapped (groups moved into the
    channels) by gy as the kernel, dilated by the stride, stepping by the dilation."""
    N, *S, Cin = x.shape
    nd, G, Cg = g.nd, g.groups, Cin // g.groups
    xt = x.reshape(N, *S, G, Cg)  # (N, *S, G, Cin/G) view
    xt = xt.transpose(nd + 2, *range(1, nd + 1), nd + 1, 0).reshape(Cg, *S, G * N)  # (Cin/G, *S, G*N)
    gk = gy.transpose(*range(1, nd + 1), 0, nd + 1)  # (*O, N, Cout) view: gy as the kernel
    gg = ConvGeometry.of(S, gk.shape, g.dilation, g.fit(gy.shape[1:-1]), g.stride, G)  # stride <-> dilation
    gw = conv(xt, gk, gg)  # (Cin/G, *k, Cout)
    return gw.transpose(*range(1, nd + 1), 0, nd + 1)  # (*k, Cin/G, Cout)


register(Algorithm("book", lambda g: True, forward, input_grad, weight_grad))
