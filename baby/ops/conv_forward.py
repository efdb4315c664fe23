"""The forward algorithms of a convolution on arrays (im2col, pointwise) and the helpers they share.

x (N, *S, Cin) and w (*k, Cin/G, Cout) -> y (N, *O, Cout). Every algorithm follows x's memory layout: an
NCHW array seen through a transposed view is computed channels-first (one GEMM per image, W @ cols, so the
output is NCHW in memory too); an NHWC array channels-last (cols @ W). Work is cut into chunks of images
whose workspace stays in cache (CHUNK_BYTES, and within `algorithm.workspace_budget()` over all threads);
each thread of the pool takes its share of the chunks and runs their gathers and GEMMs on its own core.
"""

import math

from ..backend import xp
from ..parallel import matmul, num_threads, parallel, rows, single_threaded_blas
from . import algorithm

CHUNK_BYTES = 4 << 20  # a chunk's workspace: about what a core's cache holds while its GEMM reads it


def channels_first(x):
    """Whether x (N, *S, C) keeps its channels outside its spatial dims in memory (an NCHW array's view)."""
    return x.strides[-1] > x.strides[-2]


def alloc(shape, first, dtype, zero=False):
    """A new (N, *S, C) array, laid out NCHW in memory when `first`, else NHWC."""
    new = xp.zeros if zero else xp.empty
    if not first:
        return new(shape, dtype=dtype)  # (N, *S, C)
    return xp.moveaxis(new((shape[0], shape[-1], *shape[1:-1]), dtype=dtype), 1, -1)  # (N, *S, C) view


def contiguous(a, first):
    """a (N, *S, C) itself when its memory is contiguous in the layout `first` asks for (NCHW when True,
    NHWC when False), else a copy that is (a broadcast gradient, a cropped or strided view)."""
    if (xp.moveaxis(a, -1, 1) if first else a).flags.c_contiguous:
        return a
    out = alloc(a.shape, first, a.dtype)  # (N, *S, C)
    gather(out, a)
    return out


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


def chunks(N, per_image, target=None):
    """Image ranges [(n0, n1), ...] (of N images, or of channels), each with a workspace of `per_image` bytes
    per image within `target` (CHUNK_BYTES) and the budget's share of one thread (one image at least); as
    many as a multiple of the threads where there are enough images."""
    T = num_threads()
    step = max(1, min(target or CHUNK_BYTES, algorithm.workspace_budget() // T) // max(per_image, 1))
    count = -(-N // step)
    count = min(-(-count // T) * T, N)
    return [(N * i // count, N * (i + 1) // count) for i in range(count)]


def run_chunks(fn, N, per_image, target=None, add=False):
    """[fn(n0, n1) for each of `chunks`] (with `add`: the sum of those arrays, or None without chunks). The
    chunks are shared between the threads, each running its own GEMMs on single-threaded BLAS (and summing
    its own results); they run in turn (with BLAS's threads) where there are fewer chunks than threads or
    one workspace per thread would not fit the budget."""
    parts = chunks(N, per_image, target)
    T = num_threads()

    def share(items):
        out = [fn(n0, n1) for n0, n1 in items] if not add else None
        for n0, n1 in items if add else ():
            r = fn(n0, n1)
            out = r if out is None else xp.add(out, r, out=out)
        return out

    if len(parts) < T or T == 1 or T * per_image * (parts[0][1] - parts[0][0]) > algorithm.workspace_budget():
        return share(parts)
    with single_threaded_blas():
        shares = parallel(lambda i: share(parts[i::T]), list(range(T)))
    return sum(shares[1:], shares[0]) if add else [r for s in shares for r in s]


def gather(dst, src):
    """dst[...] = src, the copy split by leading rows over the pool (in turn within a parallel call)."""
    parallel(lambda r: dst.__setitem__(r, src[r]), rows(len(dst)))


def tap_slices(t, S, O, stride, pads, dilation):
    """The slices of x (spatial size S) and of y (size O) that kernel tap `t` connects, per spatial dim
    (x[xs] pairs with y[ys]); None where the tap reaches no element of x."""
    xs, ys = [], []
    for i, n, o, s, (b, _), d in zip(t, S, O, stride, pads, dilation, strict=True):
        off = i * d - b  # x index of output 0
        o0, o1 = max(0, -(off // s)), min(o, (n - 1 - off) // s + 1)  # outputs whose x lies in [0, n)
        if o1 <= o0:
            return None
        xs.append(slice(o0 * s + off, (o1 - 1) * s + off + 1, s))
        ys.append(slice(o0, o1))
    return tuple(xs), tuple(ys)


def im2col(x, n0, n1, k, stride, pads, dilation, G):
    """cols of images n0:n1 of x (N, *S, Cin), their windows padded, in one copy (`gather`):
    (n, G, Cin/G, *k, *O) for channels-first x, else (G, n, *O, *k, Cin/G)."""
    win = windows(pad(x[n0:n1], pads), k, stride, dilation)  # (n, *O, *k, Cin) view
    n, *O = win.shape[:1 + len(k)]
    nd, Cg = len(k), x.shape[-1] // G
    if channels_first(x):
        cv = xp.moveaxis(win, -1, 1).reshape(n, G, Cg, *O, *k)  # (n, G, Cin/G, *O, *k) view
        cv = cv.transpose(0, 1, 2, *range(3 + nd, 3 + 2 * nd), *range(3, 3 + nd))  # (n, G, Cin/G, *k, *O)
        cols = xp.empty(cv.shape, x.dtype)
        gather(cols, cv)
        return cols
    cv = xp.moveaxis(win.reshape(n, *O, *k, G, Cg), -2, 0)  # (G, n, *O, *k, Cin/G) view
    cols = xp.empty(cv.shape, x.dtype)
    gather(xp.moveaxis(cols, 1, 0), xp.moveaxis(cv, 1, 0))  # split by image
    return cols


def im2col_forward(x, w, stride, pads, dilation, G):
    """cols gathered chunk by chunk (`im2col`), one (grouped) GEMM each."""
    *k, Cg, Cout = w.shape
    O = out_size(x.shape[1:-1], k, stride, pads, dilation)
    N, P, K, Co = x.shape[0], math.prod(O), math.prod(k), Cout // G
    first = channels_first(x)
    y = alloc((N, *O, Cout), first, x.dtype)  # (N, *O, Cout)
    if first:
        wm = w.reshape(K, Cg, G, Co).transpose(2, 3, 1, 0).reshape(G, Co, Cg * K)  # (G, Cout/G, Cin/G*K)
        yv = xp.moveaxis(y, -1, 1).reshape(N, G, Co, P)  # (N, G, Cout/G, P) view of y's memory
    else:
        wm = xp.moveaxis(w.reshape(*k, Cg, G, Co), -2, 0).reshape(G, K * Cg, Co)  # (G, K*Cin/G, Cout/G)

    def run(n0, n1):
        n = n1 - n0
        cols = im2col(x, n0, n1, k, stride, pads, dilation, G)
        if first:
            matmul(wm, cols.reshape(n, G, Cg * K, P), out=yv[n0:n1])  # (n, G, Cout/G, P)
            return
        out = matmul(cols.reshape(G, n * P, K * Cg), wm)  # (G, n*P, Cout/G)
        y[n0:n1] = xp.moveaxis(out, 0, 1).reshape(n, *O, Cout)  # (n, *O, Cout)

    run_chunks(run, N, P * K * x.shape[-1] * x.itemsize)
    return y


def pointwise_forward(x, w, stride, pads):
    """A 1x1 conv as one matmul over the channels: no im2col; a strided 1x1 reads a strided slice."""
    xs = pad(x, pads)[(slice(None), *(slice(None, None, s) for s in stride))]  # (N, *O, Cin) view
    N, *O, C = xs.shape
    P, Cout = math.prod(O), w.shape[-1]
    wm = w.reshape(C, Cout)  # (Cin, Cout)
    if channels_first(xs):
        y = alloc((N, *O, Cout), True, x.dtype)  # (N, *O, Cout), NCHW memory
        yv = xp.moveaxis(y, -1, 1).reshape(N, Cout, P)  # (N, Cout, P) view of y's memory
        matmul(wm.T, xp.moveaxis(xs, -1, 1).reshape(N, C, P), out=yv)
        return y
    return matmul(xs.reshape(N * P, C), wm).reshape(N, *O, Cout)  # (N, *O, Cout)
