"""The book's backward of a convolution on Tensors, for gradients that are differentiated again
(create_graph=True): the same two convolutions as im2col.py's, built from the ops dilate, flip, permute and
Conv, so each gradient is a graph of convolutions and its own gradients are convolutions once more.

- input gradient: gy dilated by stride - 1, convolved (stride 1, padded by d * (k - 1) - P) with the kernel
  flipped in space, in/out channels swapped within each group;
- weight gradient: x with batch and channels swapped, convolved by gy as the kernel; the forward's stride
  becomes the dilation and its dilation the stride.
"""

from ...shape import dilate, flip
from ..op import Conv


def input_grad(gy, w, g):
    """gx (N, *S, Cin) for gy (N, *O, Cout) and w (*k, Cin/G, Cout) of geometry g, as Tensors."""
    *k, Cg, Cout = w.shape
    nd, G = len(k), g.groups
    gd = gy
    for s in sorted(set(g.stride) - {1}):
        gd = dilate(gd, tuple(i + 1 for i, t in enumerate(g.stride) if t == s), s - 1)  # (N, *dilated, Cout)
    back = tuple((d * (kk - 1) - b, n + b - m)
                 for kk, d, (b, _), n, m in zip(k, g.dilation, g.pads, g.S, gd.shape[1:-1], strict=True))
    wt = w.reshape(*k, Cg, G, Cout // G)  # (*k, Cin/G, G, Cout/G)
    wt = wt.permute(*range(nd), nd + 2, nd + 1, nd).reshape(*k, Cout // G, G * Cg)  # (*k, Cout/G, Cin)
    wt = flip(wt, tuple(range(nd)))  # reversed along k
    return Conv((1,) * nd, back, g.dilation, G)(gd, wt)  # (N, *S, Cin)


def weight_grad(x, gy, g):
    """gw (*k, Cin/G, Cout) for x (N, *S, Cin) and gy (N, *O, Cout) of geometry g, as Tensors."""
    N, *S, Cin = x.shape
    nd, G, Cg = g.nd, g.groups, Cin // g.groups
    xt = x.reshape(N, *S, G, Cg)  # (N, *S, G, Cin/G)
    xt = xt.permute(nd + 2, *range(1, nd + 1), nd + 1, 0).reshape(Cg, *S, G * N)  # (Cin/G, *S, G*N)
    gk = gy.permute(*range(1, nd + 1), 0, nd + 1)  # (*O, N, Cout): gy as the kernel
    gw = Conv(g.dilation, g.fit(gy.shape[1:-1]), g.stride, G)(xt, gk)  # (Cin/G, *k, Cout)
    return gw.permute(*range(1, nd + 1), 0, nd + 1)  # (*k, Cin/G, Cout)
