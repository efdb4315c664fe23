"""Depthwise convolution (one input channel per group) as per-channel GEMMs with a banded kernel matrix.

x (N, *S, C), w (*k, 1, C*m): output channel c*m + j reads input channel c. The last spatial dim is cut into
tiles of at most `memory.DEPTHWISE_TILE` outputs. Per input channel, cols (M, K) holds every (image, output
row, tile)'s input rows under the kernel (K = prod(k[:-1]) rows of a tile's Tin input columns), and T (m, K,
Tw) is the kernel as a banded (Toeplitz) matrix, T[a, t*s + b*d, t] = w[a, b]: y = cols @ T is a batch of
GEMMs, a few times the multiply-adds of the direct sum, at BLAS speed. The input gradient is gy @ T^T added
back row by row; the weight gradient is cols^T @ gy read along T's bands (at stride 1 the padded planes, laid
flat, stand in for cols: each kernel row reads them shifted by whole rows, a strided view, so nothing is
gathered). Work runs on a few big chunks of channels, channel-major: the GEMMs are small, so each chunk's
fixed costs outweigh keeping its workspace in cache (fewer, bigger chunks measured faster than cache-sized
ones). The banded matrices' zeros meet every input of a tile: where a result is not finite these functions
raise memory.NonFinite, and the registry redoes the call by im2col (a NaN stays where its windows read it).
"""

import math
from dataclasses import replace

from ....backend import xp
from ....parallel import matmul
from ..geometry import out_size
from ..registry import Algorithm, register
from . import memory
from .memory import alloc, channels_first, check_finite, framed, fresh, run_chunks, zero_frame


def _plan(O, k, stride, dilation):
    """(nt tiles of Tw outputs, Tin input columns per tile, Sp: the padded input size the windows read)."""
    nt = -(-O[-1] // memory.DEPTHWISE_TILE)
    Tw = -(-O[-1] // nt)
    Tin = (Tw - 1) * stride[-1] + (k[-1] - 1) * dilation[-1] + 1
    Sp = [(o - 1) * s + (kk - 1) * d + 1 for o, kk, s, d in zip(O, k, stride, dilation, strict=True)]
    Sp[-1] = (nt * Tw - 1) * stride[-1] + (k[-1] - 1) * dilation[-1] + 1
    return nt, Tw, Tin, tuple(Sp)


def _inside(pads, S, Sp):
    """Per spatial dim: the slice of a padded (size Sp) array that lies over x, and the slice of x (size S)
    it holds (a negative padding crops x)."""
    q, s = [], []
    for (b, _), n, m in zip(pads, S, Sp, strict=True):
        d0, s0 = max(b, 0), max(-b, 0)
        i = max(min(n - s0, m - d0), 0)  # rows of x kept
        q.append(slice(d0, d0 + i))
        s.append(slice(s0, s0 + i))
    return tuple(q), tuple(s)


def _padded(x, c0, c1, pads, Sp):
    """Channels c0:c1 of x (N, *S, C), zero-padded to Sp and channel-major: (c, N, *Sp)."""
    q, s = _inside(pads, x.shape[1:-1], Sp)
    xq = framed((c1 - c0, x.shape[0], *Sp), x.dtype, q)  # (c, N, *Sp)
    xq[(slice(None), slice(None), *q)] = xp.moveaxis(x[(slice(None), *s, slice(c0, c1))], -1, 0)
    return xq


def _workspace(shape, dtype):
    """The gathered rows' workspace: NumPy's own memory, not an arena block (the strided gather into it
    measured faster: a 64-channel 32x32 forward at batch 64, 18.3 -> 16.2 ms)."""
    return xp.empty(shape, dtype)


def _rows(xq, O, k, stride, dilation, nt, Tw, Tin):
    """The strided view (c, N, *O[:-1], nt, *k[:-1], Tin) of xq (c, N, *Sp): each output row and tile's
    input rows under the kernel (writeable: the input gradient adds into it)."""
    sc, sn, *ss = xq.strides
    shape = (*xq.shape[:2], *O[:-1], nt, *k[:-1], Tin)
    strides = (sc, sn, *(t * s for t, s in zip(ss[:-1], stride[:-1], strict=True)), ss[-1] * Tw * stride[-1],
               *(t * d for t, d in zip(ss[:-1], dilation[:-1], strict=True)), ss[-1])
    return xp.lib.stride_tricks.as_strided(xq, shape, strides)  # (c, N, *O[:-1], nt, *k[:-1], Tin)


def _bands(k, stride, dilation, Tw):
    """Index arrays (kw, Tw) of T's band: input column t*s + b*d of output column t for kernel column b."""
    b, t = xp.arange(k[-1])[:, None], xp.arange(Tw)[None, :]
    return t * stride[-1] + b * dilation[-1], xp.broadcast_to(t, (k[-1], Tw))


def _toeplitz(w, c0, c1, C, stride, dilation, Tw, Tin):
    """T (c, m, K, Tw) of input channels c0:c1 for w (*k, 1, C*m): the kernel rows as banded matrices."""
    *k, _, Cout = w.shape
    K1, m = math.prod(k[:-1]), Cout // C
    wc = w.reshape(K1, k[-1], C, m)[:, :, c0:c1]  # (K1, kw, c, m)
    T = xp.zeros((c1 - c0, m, K1, Tin, Tw), w.dtype)  # (c, m, K1, Tin, Tw)
    band = (slice(None),) * 3 + _bands(k, stride, dilation, Tw)  # T[band] is (c, m, K1, kw, Tw)
    T[band] = wc.transpose(2, 3, 0, 1)[..., None]
    return T.reshape(c1 - c0, m, K1 * Tin, Tw)


def _gy_tiles(gy, c0, c1, C, nt, Tw):
    """gy (N, *O, C*m)'s channels of inputs c0:c1, channel-major, the last dim zero-filled to nt * Tw:
    (c, m, N * prod(O[:-1]) * nt, Tw)."""
    N, *O, Cout = gy.shape
    m = Cout // C
    g = framed((c1 - c0, m, N, *O[:-1], nt * Tw), gy.dtype, (slice(0, O[-1]),))  # (c, m, N, *O[:-1], nt*Tw)
    g[..., :O[-1]] = xp.moveaxis(gy.reshape(N, *O, C, m)[..., c0:c1, :], (-2, -1), (0, 1))
    return g.reshape(c1 - c0, m, -1, Tw)


def forward(x, w, g, kept=None):
    """y (N, *O, C*m) = x (N, *S, C) convolved with w (*k, 1, C*m), one input channel per group."""
    stride, pads, dilation = g.stride, g.pads, g.dilation
    N, *S, C = x.shape
    *k, _, Cout = w.shape
    O = out_size(S, k, stride, pads, dilation)
    nt, Tw, Tin, Sp = _plan(O, k, stride, dilation)
    M, K, m = N * math.prod(O[:-1]) * nt, math.prod(k[:-1]) * Tin, Cout // C
    y = alloc((N, *O, Cout), channels_first(x), x.dtype)  # (N, *O, Cout)
    yv = xp.moveaxis(y.reshape(N, *O, C, m), (-2, -1), (0, 1))  # (C, m, N, *O) view

    def run(c0, c1):
        cols = _workspace((c1 - c0, N, *O[:-1], nt, *k[:-1], Tin),
                          x.dtype)  # (c, N, *O[:-1], nt, *k[:-1], Tin)
        cols[...] = _rows(_padded(x, c0, c1, pads, Sp), O, k, stride, dilation, nt, Tw, Tin)
        T = _toeplitz(w, c0, c1, C, stride, dilation, Tw, Tin)  # (c, m, K, Tw)
        out = matmul(cols.reshape(c1 - c0, 1, M, K), T)  # (c, m, M, Tw)
        check_finite(out)  # T's zeros times a NaN or inf: the registry redoes the conv
        yv[c0:c1] = out.reshape(c1 - c0, m, N, *O[:-1], nt * Tw)[..., :O[-1]]

    run_chunks(run, C, (M * K + m * M * Tw) * x.itemsize, memory.DEPTHWISE_CHUNK)
    return y


def input_grad(gy, w, g):
    """gx (N, *S, C) given gy (N, *O, C*m): with stride 1 and m = 1 the depthwise conv of gy with the
    flipped kernel; else gy @ T^T per channel, each kernel row's part added back at its place."""
    S, stride, pads, dilation, C = g.S, g.stride, g.pads, g.dilation, g.groups
    N, *O, Cout = gy.shape
    k = w.shape[:-2]
    K1, m = math.prod(k[:-1]), Cout // C
    if m == 1 and all(s == 1 for s in stride):
        back = tuple((d * (kk - 1) - b, n + b - o)
                     for kk, d, (b, _), n, o in zip(k, dilation, pads, S, O, strict=True))
        wf = w[(slice(None, None, -1),) * len(k)]  # (*k, 1, C) reversed along k
        return forward(gy, wf, replace(g, pads=back))  # (N, *S, C)
    nt, Tw, Tin, Sp = _plan(O, k, stride, dilation)
    ng = -(-Tin // (Tw * stride[-1]))  # tiles g, g + ng, ... never overlap in x
    q, s = _inside(pads, S, Sp)
    gx = zero_frame(alloc((N, *S, C), channels_first(gy), gy.dtype), (*s, slice(0, C)))  # (N, *S, C)

    def run(c0, c1):
        T = _toeplitz(w, c0, c1, C, stride, dilation, Tw, Tin).reshape(c1 - c0, m, K1, Tin, Tw)
        gt = _gy_tiles(gy, c0, c1, C, nt, Tw)[:, :, None]  # (c, m, 1, M, Tw)
        gc = matmul(gt, T.transpose(0, 1, 2, 4, 3))  # (c, m, K1, M, Tin): each kernel row's part
        gc = gc[:, 0] if m == 1 else gc.sum(axis=1)  # (c, K1, M, Tin)
        gc = gc.reshape(c1 - c0, K1, N, *O[:-1], nt, Tin)  # (c, K1, N, *O[:-1], nt, Tin)
        gq = fresh((c1 - c0, N, *Sp), gy.dtype, zero=True)  # (c, N, *Sp)
        rows = _rows(gq, O, k, stride, dilation, nt, Tw, Tin)  # (c, N, *O[:-1], nt, *k[:-1], Tin) view
        lead = (slice(None),) * (1 + len(O))
        for g in range(min(ng, nt)):
            for i, a in enumerate(xp.ndindex(*k[:-1])):
                rows[(*lead, slice(g, None, ng), *a)] += gc[(slice(None), i, *lead[1:], slice(g, None, ng))]
        check_finite(gq)
        gx[(slice(None), *s, slice(c0, c1))] = xp.moveaxis(gq[(slice(None), slice(None), *q)], 0, -1)

    M = N * math.prod(O[:-1]) * nt
    run_chunks(run, C, (m * M * (Tw + K1 * Tin) + N * math.prod(Sp)) * gy.itemsize, memory.DEPTHWISE_CHUNK)
    return gx


def _shifted_weight_grad(x, gy, k, pads, dilation):
    """gw (C, m, K1, kw) at stride 1 without gathering cols: per channel, the padded planes lie flat as R
    rows of width Sp[-1] (junk rows between planes meet zero rows of gy), so each kernel row reads the same
    rows shifted by its offset, a strided view: P = rows^T @ gy per tile of Tw outputs, read along bands."""
    N, *S, C = x.shape
    *O, Cout = gy.shape[1:]
    stride = (1,) * len(k)
    nt, Tw, Tin, Sp = _plan(O, k, stride, dilation)
    R, m, K1, e = N * math.prod(Sp[:-1]), Cout // C, math.prod(k[:-1]), len(k) - 1
    step = [d * math.prod(Sp[i + 1:-1]) for i, d in enumerate(dilation[:-1])]  # rows a kernel row steps
    Rv = max(R - sum((kk - 1) * t for kk, t in zip(k[:-1], step, strict=True)), 0)  # rows every shift keeps
    gw = fresh((C, m, K1, k[-1]), x.dtype)  # (C, m, K1, kw): PyTorch's (Cout, 1, *k)
    band = (slice(None),) * 4 + _bands(k, stride, dilation, Tw)

    def run(c0, c1):
        xq = _padded(x, c0, c1, pads, Sp)  # (c, N, *Sp)
        it, row = xq.itemsize, Sp[-1] * xq.itemsize
        shape = (c1 - c0, 1, *k[:-1], nt, Tin, Rv)
        strides = (xq.strides[0], 0, *(t * row for t in step), Tw * it, it, row)
        xr = xp.lib.stride_tricks.as_strided(xq, shape, strides)  # (c, 1, *k[:-1], nt, Tin, Rv): rows shifted
        g = framed((c1 - c0, m, N, *Sp[:-1], nt * Tw), gy.dtype,
                   tuple(slice(0, o) for o in O))  # (c, m, N, *Sp[:-1], nt*Tw)
        g[(slice(None),) * 3 + tuple(slice(0, o) for o in O)] = xp.moveaxis(
            gy.reshape(N, *O, C, m)[..., c0:c1, :], (-2, -1), (0, 1))
        g = g.reshape(c1 - c0, m, *(1,) * e, R, nt, Tw)[..., :Rv, :, :]  # (c, m, *1s, Rv, nt, Tw)
        P = matmul(xr, xp.moveaxis(g, -2, -3))  # (c, m, *k[:-1], nt, Tin, Tw)
        gw[c0:c1] = P.reshape(c1 - c0, m, K1, nt, Tin, Tw)[band].sum(axis=(-3, -1))  # (c, m, K1, kw)

    run_chunks(run, C, (K1 * m * nt * Tin * Tw + N * math.prod(Sp) + m * R * nt * Tw) * x.itemsize,
               memory.DEPTHWISE_CHUNK)
    return gw


def weight_grad(x, gy, g, kept=None):
    """gw (*k, 1, C*m) given x (N, *S, C) and gy (N, *O, C*m): at stride 1 from shifted rows, else
    cols^T @ gy per channel read along the bands; laid out in memory as PyTorch's (C*m, 1, *k)."""
    k, stride, pads, dilation = g.k, g.stride, g.pads, g.dilation
    N, *S, C = x.shape
    *O, Cout = gy.shape[1:]
    if all(s == 1 for s in stride):
        gw = _shifted_weight_grad(x, gy, k, pads, dilation)
        check_finite(gw)
        return gw.reshape(Cout, 1, *k).transpose(*range(2, 2 + len(k)), 1, 0)  # (*k, 1, Cout) view
    nt, Tw, Tin, Sp = _plan(O, k, stride, dilation)
    M, K1, m = N * math.prod(O[:-1]) * nt, math.prod(k[:-1]), Cout // C
    gw = fresh((C, m, K1, k[-1]), x.dtype)  # (C, m, K1, kw): PyTorch's (Cout, 1, *k)
    band = (slice(None),) * 3 + _bands(k, stride, dilation, Tw)

    def run(c0, c1):
        cols = _workspace((c1 - c0, N, *O[:-1], nt, *k[:-1], Tin),
                          x.dtype)  # (c, N, *O[:-1], nt, *k[:-1], Tin)
        cols[...] = _rows(_padded(x, c0, c1, pads, Sp), O, k, stride, dilation, nt, Tw, Tin)
        gt = _gy_tiles(gy, c0, c1, C, nt, Tw)  # (c, m, M, Tw)
        gT = matmul(cols.reshape(c1 - c0, 1, M, K1 * Tin).transpose(0, 1, 3, 2), gt)  # (c, m, K1*Tin, Tw)
        gw[c0:c1] = gT.reshape(c1 - c0, m, K1, Tin, Tw)[band].sum(axis=-1)  # (c, m, K1, kw)

    run_chunks(run, C, (M * K1 * Tin + m * M * Tw) * x.itemsize, memory.DEPTHWISE_CHUNK)
    check_finite(gw)
    return gw.reshape(Cout, 1, *k).transpose(*range(2, 2 + len(k)), 1, 0)  # (*k, 1, Cout) view



register(Algorithm("depthwise", lambda g: g.cin == g.groups > 1, forward, input_grad, weight_grad,
                   mixes=True))

