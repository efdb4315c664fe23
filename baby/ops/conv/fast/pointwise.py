"""Pointwise (1x1, no groups) convolution: one matmul over the channels, no im2col; a strided 1x1 reads a
strided slice. x (N, *S, Cin), w (1.., Cin, Cout), gy (N, *O, Cout)."""

import math

from ....backend import xp
from ....parallel import matmul
from ..registry import Algorithm, register
from .memory import alloc, channels_first, pad, tap_slices, to_nchw


def forward(x, w, g, kept=None):
    """y (N, *O, Cout): a 1x1 conv as one matmul over the channels, a strided 1x1 reading a strided slice."""
    xs = pad(x, g.pads)[(slice(None), *(slice(None, None, s) for s in g.stride))]  # (N, *O, Cin) view
    N, *O, C = xs.shape
    P, Cout = math.prod(O), w.shape[-1]
    wm = w.reshape(C, Cout)  # (Cin, Cout)
    if channels_first(xs):
        y = alloc((N, *O, Cout), True, x.dtype)  # (N, *O, Cout), NCHW memory
        yv = to_nchw(y).reshape(N, Cout, P)  # (N, Cout, P) view of y's memory
        matmul(wm.T, to_nchw(xs).reshape(N, C, P), out=yv)
        return y
    return matmul(xs.reshape(N * P, C), wm).reshape(N, *O, Cout)  # (N, *O, Cout)


def input_grad(gy, w, g):
    """gx (N, *S, Cin) of a 1x1 conv: gy @ W^T placed at the strided positions (zeros elsewhere)."""
    S, stride, pads = g.S, g.stride, g.pads
    N, *O, Cout = gy.shape
    Cin, nd, P = w.shape[-2], len(S), math.prod(O)
    wm = w.reshape(Cin, Cout)  # (Cin, Cout)
    first = channels_first(gy)
    if first:
        gs = alloc((N, *O, Cin), True, gy.dtype)  # (N, *O, Cin), NCHW memory
        matmul(wm, to_nchw(gy).reshape(N, Cout, P),
               out=to_nchw(gs).reshape(N, Cin, P))  # (N, Cin, P)
    else:
        gs = matmul(gy.reshape(N * P, Cout), wm.T).reshape(N, *O, Cin)  # (N, *O, Cin)
    r = tap_slices((0,) * nd, S, O, stride, pads, (1,) * nd)
    if r and tuple(O) == tuple(S) and all(s.start == 0 and s.step == 1 for s in r[0]):
        return gs
    gx = alloc((N, *S, Cin), first, gy.dtype, zero=True)  # (N, *S, Cin)
    if r:
        gx[(slice(None), *r[0])] = gs[(slice(None), *r[1])]
    return gx


def weight_grad(x, gy, g, kept=None):
    """gw (1.., Cin, Cout) of a 1x1 conv: x at the strided positions, transposed, times gy."""
    stride, pads = g.stride, g.pads
    N, *S, Cin = x.shape
    Cout, nd = gy.shape[-1], len(S)
    r = tap_slices((0,) * nd, S, gy.shape[1:-1], stride, pads, (1,) * nd)
    if r is None:
        return xp.zeros((*(1,) * nd, Cin, Cout), x.dtype)
    xs, gs = x[(slice(None), *r[0])], gy[(slice(None), *r[1])]  # (N, *O', Cin), (N, *O', Cout)
    P = math.prod(xs.shape[1:-1])
    if channels_first(x):
        xm = to_nchw(xs).reshape(N, Cin, P)  # (N, Cin, P') (a copy when strided)
        gm = to_nchw(gs).reshape(N, Cout, P)  # (N, Cout, P')
        gw = matmul(gm, xm.transpose(0, 2, 1)).sum(axis=0)  # (Cout, Cin): PyTorch's layout
        return gw.T.reshape(*(1,) * nd, Cin, Cout)  # (1.., Cin, Cout) view
    return matmul(xs.reshape(N * P, Cin).T, gs.reshape(N * P, Cout)).reshape(*(1,) * nd, Cin, Cout)


register(Algorithm("pointwise", lambda g: g.k == (1,) * g.nd and g.groups == 1, forward, input_grad,
                   weight_grad))
