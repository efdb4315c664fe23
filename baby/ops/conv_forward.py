"""The forward algorithms of a convolution on arrays, and the one that picks among them.

x (N, *S, Cin) and w (*k, Cin/G, Cout) -> y (N, *O, Cout). Every algorithm follows x's memory layout: an
NCHW array seen through a transposed view is computed channels-first (one GEMM per image, W @ cols, so the
output is NCHW in memory too); an NHWC array channels-last (cols @ W). Workspaces are built in chunks of
images that fit the budget of `algorithm.workspace_budget()`, their gathers split over the thread pool.
"""

import math

from ..backend import xp
from . import algorithm
from .winograd import winograd_conv3x3


def channels_first(x):
    """Whether x (N, *S, C) keeps its channels outside its spatial dims in memory (an NCHW array's view)."""
    return x.strides[-1] > x.strides[-2]


def alloc(shape, first, dtype, zero=False):
    """A new (N, *S, C) array, laid out NCHW in memory when `first`, else NHWC."""
    new = xp.zeros if zero else xp.empty
    if not first:
        return new(shape, dtype=dtype)  # (N, *S, C)
    return xp.moveaxis(new((shape[0], shape[-1], *shape[1:-1]), dtype=dtype), 1, -1)  # (N, *S, C) view


def pad(x, pads):
    """x (N, *S, C) padded with zeros by (before, after) per spatial dim, in x's memory layout; negative
    amounts crop. A copy when anything is padded, else a view (so no padding means no copy)."""
    S = x.shape[1:-1]
    if all(b <= 0 and a <= 0 for b, a in pads):
        return x[(slice(None), *(slice(-b, n + a) for n, (b, a) in zip(S, pads, strict=True)))]  # (N, *S', C)
    keep = [(max(-b, 0), max(min(n, n + a), -b, 0)) for n, (b, a) in zip(S, pads, strict=True)]  # rows kept
    shape = (x.shape[0], *(n + b + a for n, (b, a) in zip(S, pads, strict=True)), x.shape[-1])
    out = alloc(shape, channels_first(x), x.dtype, zero=True)  # (N, *padded, C)
    dst = tuple(slice(lo + b, hi + b) for (lo, hi), (b, _) in zip(keep, pads, strict=True))
    out[(slice(None), *dst)] = x[(slice(None), *(slice(lo, hi) for lo, hi in keep))]
    return out


def windows(x, k, stride, dilation):
    """Every kernel window of x (N, *S, C), as a strided view (N, *O, *k, C): no copy."""
    N, *S, C = x.shape
    sN, *sS, sC = x.strides
    O = out_size(S, k, stride, ((0, 0),) * len(S), dilation)
    steps = tuple(t * s for t, s in zip(sS, stride, strict=True))  # one output step
    taps = tuple(t * d for t, d in zip(sS, dilation, strict=True))  # one kernel tap
    strides = (sN, *steps, *taps, sC)
    return xp.lib.stride_tricks.as_strided(x, (N, *O, *k, C), strides, writeable=False)  # (N, *O, *k, C)


def out_size(S, k, stride, pads, dilation):
    """The spatial output size of a conv over S: (S + P_before + P_after - d * (k - 1) - 1) // stride + 1."""
    return tuple((n + b + a - d * (kk - 1) - 1) // s + 1
                 for n, kk, s, (b, a), d in zip(S, k, stride, pads, dilation, strict=True))


def _chunks(N, per_image):
    """Image ranges [(n0, n1), ...] whose workspace of `per_image` bytes each stays within the budget."""
    step = max(1, algorithm.workspace_budget() // max(per_image, 1))
    return [(n, min(n + step, N)) for n in range(0, N, step)]


def _gather(dst, src):
    """dst[...] = src, the copy split by leading rows over the thread pool."""
    algorithm.parallel(lambda r: dst.__setitem__(r, src[r]), _halves(len(dst)))


def _halves(n):
    """Slices splitting range(n) into one part per thread."""
    t = min(algorithm.num_threads(), n)
    edges = [n * i // t for i in range(t + 1)]
    return [slice(a, b) for a, b in zip(edges, edges[1:], strict=False)]


def _im2col(x, w, stride, pads, dilation, G):
    """Pad, take every window as a strided view, copy it chunk by chunk into cols, one (grouped) GEMM each."""
    *k, Cg, Cout = w.shape
    xq = pad(x, pads)
    win = windows(xq, k, stride, dilation)  # (N, *O, *k, Cin) view
    N, *O = win.shape[:1 + len(k)]
    P, K, nd = math.prod(O), math.prod(k), len(k)
    first = channels_first(xq)
    y = alloc((N, *O, Cout), first, x.dtype)  # (N, *O, Cout)
    chunks = _chunks(N, P * K * x.shape[-1] * x.itemsize)
    if first:
        cv = xp.moveaxis(win, -1, 1).reshape(N, G, Cg, *O, *k)  # (N, G, Cin/G, *O, *k) view
        cv = cv.transpose(0, 1, 2, *range(3 + nd, 3 + 2 * nd), *range(3, 3 + nd))  # (N, G, Cin/G, *k, *O)
        wm = w.reshape(K, Cg, G, Cout // G).transpose(2, 3, 1, 0)  # (G, Cout/G, Cin/G, K)
        wm = wm.reshape(G, Cout // G, Cg * K)  # (G, Cout/G, Cin/G*K)
        yv = xp.moveaxis(y, -1, 1).reshape(N, G, Cout // G, P)  # (N, G, Cout/G, P) view of y's memory
        for n0, n1 in chunks:
            cols = xp.empty((n1 - n0, G, Cg, *k, *O), x.dtype)  # (n, G, Cin/G, *k, *O)
            _gather(cols, cv[n0:n1])
            yv[n0:n1] = wm @ cols.reshape(n1 - n0, G, Cg * K, P)  # (n, G, Cout/G, P)
        return y
    cv = win.reshape(N, *O, *k, G, Cg)  # (N, *O, *k, G, Cin/G) view
    cv = xp.moveaxis(cv, -2, 0)  # (G, N, *O, *k, Cin/G) view
    wm = xp.moveaxis(w.reshape(*k, Cg, G, Cout // G), -2, 0).reshape(G, K * Cg, Cout // G)  # (G, K, Co/G)
    for n0, n1 in chunks:
        cols = xp.empty((G, n1 - n0, *O, *k, Cg), x.dtype)  # (G, n, *O, *k, Cin/G)
        _gather(xp.moveaxis(cols, 1, 0), xp.moveaxis(cv[:, n0:n1], 1, 0))  # split by image
        out = cols.reshape(G, (n1 - n0) * P, K * Cg) @ wm  # (G, n*P, Cout/G)
        y[n0:n1] = xp.moveaxis(out, 0, 1).reshape(n1 - n0, *O, Cout)  # (n, *O, Cout)
    return y


def _pointwise(x, w, stride, pads):
    """A 1x1 conv as one matmul over the channels: no im2col; a strided 1x1 reads a strided slice."""
    xs = pad(x, pads)[(slice(None), *(slice(None, None, s) for s in stride))]  # (N, *O, Cin) view
    N, *O, C = xs.shape
    wm = w.reshape(C, -1)  # (Cin, Cout)
    if channels_first(xs):
        y = alloc((N, *O, wm.shape[1]), True, x.dtype)  # (N, *O, Cout), NCHW memory
        xp.matmul(wm.T, xp.moveaxis(xs, -1, 1).reshape(N, C, -1),
                  out=xp.moveaxis(y, -1, 1).reshape(N, -1, math.prod(O)))  # (N, Cout, P)
        return y
    return (xs.reshape(-1, C) @ wm).reshape(N, *O, -1)  # (N, *O, Cout)


def _depthwise(x, w, stride, pads, dilation):
    """One input channel per group: y = sum over kernel taps of tap * w[tap], a multiply-add per tap."""
    *k, _, Cout = w.shape
    win = windows(pad(x, pads), k, stride, dilation)  # (N, *O, *k, C) view
    N, *O = win.shape[:1 + len(k)]
    C = x.shape[-1]
    m = Cout // C
    wt = w.reshape(-1, C, m)  # (taps, C, m): output channel c * m + j reads input channel c
    y = alloc((N, *O, C * m), channels_first(x), x.dtype).reshape(N, *O, C, m)  # (N, *O, C, m)
    taps = [win[(slice(None),) * (1 + len(k)) + j] for j in xp.ndindex(*k)]  # each (N, *O, C) view

    def run(r):
        tmp = xp.empty_like(y[r])
        xp.multiply(taps[0][r][..., None], wt[0], out=y[r])
        for t in range(1, len(taps)):
            xp.multiply(taps[t][r][..., None], wt[t], out=tmp)
            y[r] += tmp

    algorithm.parallel(run, _halves(N))
    return y.reshape(N, *O, Cout)  # (N, *O, Cout)


def conv_forward(x, w, stride, pads, dilation, groups):
    """y = conv(x, w) on arrays, by the algorithm `algorithm.choose` picks for this shape."""
    k = w.shape[:-2]
    algo = algorithm.choose(k, x.shape[-1], w.shape[-1], groups, stride, dilation)
    if algo == "winograd":
        sym = all(b == a for b, a in pads)
        return winograd_conv3x3(x, w, [b for b, _ in pads]) if sym else winograd_conv3x3(pad(x, pads), w)
    if algo == "pointwise":
        return _pointwise(x, w, stride, pads)
    if algo == "depthwise":
        return _depthwise(x, w, stride, pads, dilation)
    return _im2col(x, w, stride, pads, dilation, groups)
