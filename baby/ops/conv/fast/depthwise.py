"""Depthwise convolution (one input channel per group) as GEMMs of whole input rows with banded kernel rows.

x (N, *S, C), w (*k, 1, C*m): output channel c*m + j reads input channel c. Call the last spatial dim W and
the others (H; or D and H) the rows. Per channel, the images' rows lie flat one after another in planes
(N, *Lp) rows of W, zero-padded along the rows only, the last row dim padded to a multiple of its stride s.
Every output row is then a row r of the grid (N, *Lp[:-1], Lp[-1] / s), and kernel row i reads plane row
s*r + off_i (off_i its row offset): for all r at once a strided view of the planes, no copy. Along W each
kernel row is a banded matrix T_i (W, Wo), T_i[o*s' + b*d - pad, o] = w[i, b] (taps in the padding left
out), so per channel

    Y (grid rows, Wo) = sum_i A_i @ T_i        one batched GEMM, then a sum over the kernel rows;

the grid rows past O (and the rows between strided outputs of a 3-D conv) are junk, computed and dropped.
The input gradient adds GY @ T_i^T back at the same rows, into the planes split by the row stride's phases
(a kernel row adds to one phase's contiguous rows, shifted; at stride 1 with m = 1 it is the forward with
the flipped kernel); the weight gradient reads A_i^T @ GY along T's bands, GY zero on junk rows. Work runs
on chunks of channels over the thread pool. T's zeros meet every column of a row: where a result is not
finite these functions raise memory.NonFinite and the registry redoes the call by im2col (a NaN stays where
its windows read it).

A small problem (up to DIRECT_OUTPUTS outputs: a batch of one image) runs directly instead, one multiply-add
per kernel tap over a contiguous run of flat planes (`_Flat`): there the banded matrices and chunks cost
more than the products.
"""

import functools
import math
from dataclasses import replace

from ....backend import einsum, moveaxis, xp
from ....parallel import matmul
from ..geometry import out_size
from ..registry import Algorithm, register
from . import memory
from .memory import alloc, channels_first, check_finite, framed, fresh, run_chunks, to_nchw, zero_frame

DIRECT_OUTPUTS = 1 << 15  # outputs (images x pixels x channels) up to which a call runs directly: forward and
# backward of MobileNet's layers at 16-32K outputs 1.0-1.5 ms directly, 2.0-2.5 ms banded; at 128K banded wins


@functools.lru_cache(maxsize=64)
def _flat(g, O):
    """The `_Flat` planes of geometry g with outputs O (made once: ~70 us of Python)."""
    return _Flat(g, O)


def _direct(N, O, Cout):
    """Whether a call with N images of O outputs per channel, Cout channels, runs directly (`_Flat`)."""
    return N * math.prod(O) * Cout <= DIRECT_OUTPUTS


class _Flat:
    """A small depthwise problem on flat phase planes. x is zero-padded and split by the strides' phases
    (padded index u * s + a per dim) into planes of U = ceil(padded / s), each plane one flat run per image
    and channel (strides rho). Output o sits at flat position sum o_d rho_d, and kernel tap t reads phase
    t * d % s from offset sum (t * d // s) rho: one contiguous run of L numbers per tap, so each tap is one
    long multiply-add (over window views, with NumPy's inner loops a row long, it took 1.5-2.3x as long; the
    products by the per-channel weight are einsums, which ran 17% faster than a broadcast multiply).
    The positions past each row's last output are junk, computed and dropped (zero in gy's runs): where
    the weight gradient's junk products meet an inf or NaN of x, the call raises NonFinite and is redone by
    im2col."""

    def __init__(self, g, O):
        self.g, self.O, nd = g, tuple(O), len(g.k)
        Sp = tuple(n + b + a for n, (b, a) in zip(g.S, g.pads, strict=True))  # padded
        self.U = tuple(-(-n // s) for n, s in zip(Sp, g.stride, strict=True))  # a phase plane
        rho = [math.prod(self.U[i + 1:]) for i in range(nd)]
        self.rho, self.L = rho, sum((o - 1) * r for o, r in zip(self.O, rho, strict=True)) + 1  # run length
        self.taps = []  # (phase, offset) per tap, row-major
        for t in xp.ndindex(*g.k):
            q = [divmod(i * d, s) for i, d, s in zip(t, g.dilation, g.stride, strict=True)]  # (shift, phase)
            self.taps.append((int(xp.ravel_multi_index([a for _, a in q], g.stride)),
                              sum(u * r for (u, _), r in zip(q, rho, strict=True))))
        self.phases = []  # per phase a: (its plane's slices, x's slices) where x lies: i + b = u s + a
        for a in xp.ndindex(*g.stride):
            js = [(-(-(b + max(-b, 0) - f) // s), -(-(b + n - max(-e, 0) - f) // s))  # x kept: [-b, n + e)
                  for f, s, n, (b, e) in zip(a, g.stride, g.S, g.pads, strict=True)]
            if all(j1 > j0 for j0, j1 in js):
                self.phases.append((a, tuple(slice(j0, j1) for j0, j1 in js), tuple(
                    slice(j0 * s + f - b, (j1 - 1) * s + f - b + 1, s)
                    for (j0, j1), f, s, (b, _) in zip(js, a, g.stride, g.pads, strict=True))))

    def planes(self, x):
        """x (N, *S, C) padded and split: (N, C, phases, prod(U))."""
        N, C, s = x.shape[0], x.shape[-1], self.g.stride
        P = fresh((N, C, *s, *self.U), x.dtype, zero=True)  # (N, C, *s, *U)
        xv = to_nchw(x)  # (N, C, *S) view
        for a, us, xs in self.phases:
            P[(slice(None), slice(None), *a, *us)] = xv[(slice(None), slice(None), *xs)]
        return P.reshape(N, C, math.prod(s), math.prod(self.U))  # (N, C, phases, prod(U))

    def unplanes(self, Pg, first):
        """The gradient (N, *S, C) (channels-first in memory when `first`) from phase planes Pg
        (N, C, phases, prod(U)): x's share of them."""
        N, C = Pg.shape[:2]
        gx = alloc((N, *self.g.S, C), first, Pg.dtype, zero=any(b < 0 or a < 0 for b, a in self.g.pads))
        Pv = Pg.reshape(N, C, *self.g.stride, *self.U)  # (N, C, *s, *U)
        for a, us, xs in self.phases:
            gx[(slice(None), *xs)] = moveaxis(Pv[(slice(None), slice(None), *a, *us)], 1, -1)  # (N, .., C)
        return gx

    def grid(self, a):
        """The outputs (..., *O) of flat runs a (..., >= L), a strided view."""
        st = a.strides[-1]
        return xp.lib.stride_tricks.as_strided(a, (*a.shape[:-1], *self.O),
                                               (*a.strides[:-1], *(r * st for r in self.rho)))

    def spread(self, gy, C):
        """gy (N, *O, C*m) on flat runs (N, C, m, L), zero at the junk positions."""
        N, Cout = gy.shape[0], gy.shape[-1]
        G = fresh((N, C, Cout // C, self.L), gy.dtype, zero=True)  # (N, C, m, L)
        self.grid(G)[...] = moveaxis(gy.reshape(*gy.shape[:-1], C, Cout // C), (-2, -1), (1, 2))
        return G


class _Rows:
    """The planes of a depthwise conv: padded row sizes Lp, the output grid, each kernel row's offset."""

    def __init__(self, S, k, stride, pads, dilation, O=None):
        self.S, self.k, self.stride, self.pads, self.dilation = S, k, stride, pads, dilation
        self.O = out_size(S, k, stride, pads, dilation) if O is None else tuple(O)  # gy's, in a gradient
        Lp = [(o - 1) * s + (kk - 1) * d + 1 for o, kk, s, d in zip(self.O[:-1], k, stride, dilation,
                                                                    strict=False)]
        if Lp:
            Lp[-1] = -(-Lp[-1] // stride[-2]) * stride[-2]  # a whole number of output rows per image
        self.Lp, self.s = tuple(Lp), stride[-2] if Lp else 1
        self.rho = [math.prod(Lp[j + 1:]) for j in range(len(Lp))]  # plane rows per step of each row dim
        self.G = (*Lp[:-1], Lp[-1] // self.s) if Lp else ()  # one image's output grid (rows)
        self.steps = tuple(d * r for d, r in zip(dilation, self.rho, strict=False))  # rows per kernel row
        self.guard = sum((kk - 1) * t for kk, t in zip(k, self.steps, strict=False))  # rows junk reads past

    def box(self):
        """(rows of the planes, rows of x) per row dim that x fills: (slices, slices)."""
        q, s = [], []
        for (b, _), n, m in zip(self.pads, self.S, self.Lp, strict=False):
            d0, s0 = max(b, 0), max(-b, 0)
            i = max(min(n - s0, m - d0), 0)  # rows of x kept
            q.append(slice(d0, d0 + i))
            s.append(slice(s0, s0 + i))
        return tuple(q), tuple(s)

    def planes(self, x, c0, c1):
        """Channels c0:c1 of x (N, *S, C) as flat zero-padded planes (c, rows, W)."""
        N, W = x.shape[0], self.S[-1]
        q, s = self.box()
        n = N * math.prod(self.Lp)  # the images' rows; `guard` zero rows follow
        P = fresh((c1 - c0, n + self.guard, W), x.dtype)  # (c, rows, W)
        P[:, n:] = 0
        Pv = zero_frame(P[:, :n].reshape(c1 - c0, N, *self.Lp, W), (*q, slice(0, W)))  # (c, N, *Lp, W)
        Pv[(slice(None), slice(None), *q)] = moveaxis(x[(slice(None), *s, slice(None), slice(c0, c1))],
                                                         -1, 0)  # (c, N, *rows, W)
        return P

    def phases(self, c, N, dtype):
        """Zeroed phase planes (s, c, rows, W) of N images: phase f's row j is plane row s * j + f (flat
        rows, as `rows` counts them), with room for the furthest kernel row's shift."""
        return fresh((self.s, c, N * math.prod(self.G) + self.guard // self.s + 1, self.S[-1]), dtype,
                     zero=True)

    def unphase(self, Ph, gx, c0, c1):
        """gx (N, *S, C)'s channels c0:c1 written from phase planes Ph (`phases`) where x lies in them: per
        phase, every s-th row of x (plane row s * j + f holds x row s * j + f - q0 + s0, where the box
        starts at plane row q0 and x row s0)."""
        N, W, s = gx.shape[0], self.S[-1], self.s
        if not self.G:  # 1-D: a plane row per image
            gx[..., c0:c1] = moveaxis(Ph[0, :, :N], 0, -1)  # (N, W, c)
            return
        (*q, qh), (*sx, sh) = self.box()  # slices per row dim: the last one's split by phase
        full = (slice(None), slice(None))
        for f in range(s):
            j0, j1 = -(-(qh.start - f) // s), -(-(qh.stop - f) // s)  # phase rows inside the box
            if j1 <= j0:
                continue
            h0 = j0 * s + f - qh.start + sh.start  # their first x row
            src = Ph[f, :, :N * math.prod(self.G)].reshape(c1 - c0, N, *self.G, W)  # (c, N, *G, W)
            src = src[(*full, *q, slice(j0, j1))]  # (c, N, *rows, j, W)
            gx[(slice(None), *sx, slice(h0, h0 + (j1 - j0 - 1) * s + 1, s), slice(None), slice(c0, c1))] = \
                moveaxis(src, 0, -1)  # (N, *rows, j, W, c)

    def rows(self, P):
        """The strided view (c, 1, *k[:-1], R, W) of planes P (c, rows, W): kernel row i's input row of
        each of the R = N * prod(G) output rows."""
        c, rows, W = P.shape
        R = (rows - self.guard) // self.s
        sc, sr, sw = P.strides
        return xp.lib.stride_tricks.as_strided(P, (c, 1, *self.k[:-1], R, W),
                                               (sc, 0, *(t * sr for t in self.steps), self.s * sr, sw))

    def tiles(self):
        """[(input columns, output columns)] per tile of at most DEPTHWISE_TILE outputs along W: a tile's
        product reads only the columns its band reaches."""
        W, Wo, s, d, kw = self.S[-1], self.O[-1], self.stride[-1], self.dilation[-1], self.k[-1]
        pad = self.pads[-1][0]
        Tw = -(-Wo // max(1, -(-Wo // memory.DEPTHWISE_TILE)))  # tiles of equal width
        out = []
        for o0 in range(0, Wo, Tw):
            o1 = min(o0 + Tw, Wo)
            a = max(o0 * s - pad, 0)  # the tile's first input column, and one past its last
            b = max(min((o1 - 1) * s + (kw - 1) * d - pad + 1, W), a)
            out.append((slice(a, b), slice(o0, o1)))
        return out

    def outputs(self, Y, N):
        """The outputs (..., N, *O[:-1], Wo) of Y (..., R, Wo) on the grid, a view: junk rows dropped."""
        Yg = Y.reshape(*Y.shape[:-2], N, *self.G, Y.shape[-1])  # (..., N, *G, Wo)
        if not self.G:
            return Yg
        keep = tuple(slice(0, o * s, s) for o, s in zip(self.O[:-2], self.stride, strict=False))
        return Yg[(Ellipsis, slice(None), *keep, slice(0, self.O[-2]), slice(None))]


def _bands(W, Wo, s, d, kw, pad):
    """(cols, outs, ok) (kw, Wo): T's band, input column o*s + b*d - pad of output column o for tap b, and
    whether it lies inside x (cols clipped into [0, W))."""
    b, o = xp.arange(kw)[:, None], xp.arange(Wo)[None, :]
    col = o * s + b * d - pad
    ok = (col >= 0) & (col < W)
    return xp.clip(col, 0, W - 1), xp.broadcast_to(o, col.shape), ok


def _toeplitz(w, C, p):
    """T (C, m, *k[:-1], W, Wo) for w (*k, 1, C*m): each kernel row of each channel as a banded matrix."""
    *k, _, Cout = w.shape
    m, W, Wo = Cout // C, p.S[-1], p.O[-1]
    wc = moveaxis(w.reshape(*k, C, m), (-2, -1), (0, 1))  # (C, m, *k)
    col, o, ok = _bands(W, Wo, p.stride[-1], p.dilation[-1], k[-1], p.pads[-1][0])
    T = xp.zeros((C, m, *k[:-1], W, Wo), w.dtype)  # (C, m, *k[:-1], W, Wo)
    for b in range(k[-1]):
        T[..., col[b][ok[b]], o[b][ok[b]]] = wc[..., b, None]
    return T


def _summed(out, K1, into):
    """out (c, m, *k[:-1], R, w) summed over the kernel rows into `into` (c, m, R, w)."""
    flat = out.reshape(*out.shape[:2], K1, *out.shape[-2:])  # (c, m, K1, R, w)
    if K1 == 1:
        into[...] = flat[:, :, 0]
        return
    xp.add(flat[:, :, 0], flat[:, :, 1], out=into)
    for i in range(2, K1):
        into += flat[:, :, i]


def forward(x, w, g, kept=None):
    """y (N, *O, C*m) = x (N, *S, C) convolved with w (*k, 1, C*m), one input channel per group."""
    N, *S, C = x.shape
    *k, _, Cout = w.shape
    m, K1 = Cout // C, math.prod(k[:-1])
    if _direct(N, g.O, Cout):  # each tap's run of the planes times its weight, added up
        f = _flat(g, tuple(g.O))
        P, L = f.planes(x), f.L  # (N, C, phases, prod(U))
        Y, t = fresh((N, C, m, L), x.dtype), fresh((N, C, m, L), x.dtype)  # (N, C, m, L)
        for j, ((ph, off), wt) in enumerate(zip(f.taps, w.reshape(-1, C, m), strict=True)):
            einsum("ncl,cm->ncml", P[:, :, ph, off:off + L], wt, out=t if j else Y)  # (N, C, m, L)
            if j:
                Y += t
        y = alloc((N, *g.O, Cout), channels_first(x), x.dtype)  # (N, *O, Cout)
        to_nchw(y)[...] = f.grid(Y.reshape(N, Cout, L))  # (N, Cout, *O)
        return y
    p = _Rows(tuple(S), tuple(k), g.stride, g.pads, g.dilation)
    y = alloc((N, *p.O, Cout), channels_first(x), x.dtype)  # (N, *O, Cout)
    yv = moveaxis(y.reshape(N, *p.O, C, m), (-2, -1), (0, 1))  # (C, m, N, *O) view

    T = _toeplitz(w, C, p)  # (C, m, *k[:-1], W, Wo)

    def run(c0, c1):
        A = p.rows(p.planes(x, c0, c1))  # (c, 1, *k[:-1], R, W)
        for a, o in p.tiles():
            Y = fresh((c1 - c0, m, A.shape[-2], o.stop - o.start), x.dtype)  # (c, m, R, tile)
            _summed(matmul(A[..., a], T[c0:c1, ..., a, o]), K1, Y)  # summed over the kernel rows
            check_finite(Y)  # T's zeros times a NaN or inf: the registry redoes the conv
            yv[c0:c1, ..., o] = p.outputs(Y, N)  # (c, m, N, *O[:-1], tile)

    R = N * math.prod(p.G)
    run_chunks(run, C, (N * math.prod(p.Lp) * S[-1] + m * K1 * R * p.O[-1]) * x.itemsize,
               memory.DEPTHWISE_CHUNK)
    return y


def _gy_grid(gy, c0, c1, C, p):
    """gy (N, *O, C*m)'s channels of inputs c0:c1 on the output grid, zero on junk rows: (c, m, R, Wo)."""
    N, *O, Cout = gy.shape
    m = Cout // C
    strided = any(s > 1 for s in p.stride[:-2])
    shape = (c1 - c0, m, N, *p.G, O[-1])  # (c, m, N, *G, Wo)
    G = fresh(shape, gy.dtype, zero=True) if strided else framed(shape, gy.dtype, (
        *(slice(0, o) for o in O[:-1]), slice(0, O[-1])))
    G = G.reshape(c1 - c0, m, -1, O[-1])  # (c, m, R, Wo)
    p.outputs(G, N)[...] = moveaxis(gy.reshape(N, *O, C, m)[..., c0:c1, :], (-2, -1), (0, 1))
    return G


def input_grad(gy, w, g):
    """gx (N, *S, C) given gy (N, *O, C*m): with stride 1 and m = 1 the depthwise conv of gy with the flipped
    kernel (small problems too: MobileNet's batch-1 layers 25-40% faster so than tap by tap); otherwise
    small problems tap by tap, else gy @ T_i^T per kernel row, added back at its rows into the phase planes
    (contiguous adds: into whole planes, every s-th row, they ran 3.6x slower; MobileNet's 64-channel
    stride-2 layer at batch 64 went 14.1-14.9 -> 11.2 ms)."""
    S, stride, pads, dilation, C = g.S, g.stride, g.pads, g.dilation, g.groups
    N, *O, Cout = gy.shape
    k = w.shape[:-2]
    m, K1 = Cout // C, math.prod(k[:-1])
    if m == 1 and all(s == 1 for s in stride):
        back = tuple((d * (kk - 1) - b, n + b - o)
                     for kk, d, (b, _), n, o in zip(k, dilation, pads, S, O, strict=True))
        wf = w[(slice(None, None, -1),) * len(k)]  # (*k, 1, C) reversed along k
        return forward(gy, wf, replace(g, S=tuple(O), pads=back))  # (N, *S, C)
    if _direct(N, O, Cout):  # gy times each tap's weight, added into the planes at the tap's run
        f = _flat(g, tuple(O))
        G, L = f.spread(gy, C), f.L  # (N, C, m, L)
        Pg = fresh((N, C, math.prod(stride), math.prod(f.U)), gy.dtype, zero=True)  # (N, C, phases, prod(U))
        t = fresh((N, C, L), gy.dtype)
        for (ph, off), wt in zip(f.taps, w.reshape(-1, C, m), strict=True):
            einsum("ncml,cm->ncl", G, wt, out=t)  # (N, C, L)
            Pg[:, :, ph, off:off + L] += t
        return f.unplanes(Pg, channels_first(gy))  # (N, *S, C)
    p = _Rows(tuple(S), tuple(k), stride, pads, dilation, O)
    q, s = p.box()
    gx = zero_frame(alloc((N, *S, C), channels_first(gy), gy.dtype), (*s, slice(0, S[-1]), slice(0, C)))

    T = _toeplitz(w, C, p)  # (C, m, *k[:-1], W, Wo)

    def run(c0, c1):
        G = _gy_grid(gy, c0, c1, C, p)  # (c, m, R, Wo)
        G = G.reshape(c1 - c0, m, *(1,) * len(k[:-1]), *G.shape[-2:])  # (c, m, *1s, R, Wo)
        Ph = p.phases(c1 - c0, N, gy.dtype)  # (s, c, rows, W)
        R = G.shape[-2]
        for a, o in p.tiles():
            parts = matmul(G[..., o], xp.swapaxes(T[c0:c1, ..., a, o], -1, -2))  # (c, m, *k[:-1], R, cols)
            parts = parts[:, 0] if m == 1 else parts.sum(axis=1)  # (c, *k[:-1], R, cols)
            for i in xp.ndindex(*k[:-1]):  # kernel row i adds into plane rows s * r + off: one phase's rows
                j, f = divmod(sum(n * t for n, t in zip(i, p.steps, strict=True)), p.s)  # (shift, phase)
                Ph[f, :, j:j + R, a] += parts[(slice(None), *i)]
        check_finite(Ph)
        p.unphase(Ph, gx, c0, c1)

    R = N * math.prod(p.G)
    run_chunks(run, C, (m * R * O[-1] + m * K1 * R * S[-1] + N * math.prod(p.Lp) * S[-1]) * gy.itemsize,
               memory.DEPTHWISE_CHUNK)
    return gx


def weight_grad(x, gy, g, kept=None):
    """gw (*k, 1, C*m) given x (N, *S, C) and gy (N, *O, C*m): A_i^T @ GY per kernel row, read along T's
    bands; laid out in memory as PyTorch's (C*m, 1, *k)."""
    k = g.k
    N, *S, C = x.shape
    *O, Cout = gy.shape[1:]
    if _direct(N, O, Cout):  # per tap: its run of the planes times gy, summed over images and outputs
        f = _flat(g, tuple(O))
        P, G, L = f.planes(x), f.spread(gy, C), f.L  # (N, C, phases, prod(U)), (N, C, m, L)
        gw = fresh((C, Cout // C, len(f.taps)), x.dtype)  # (C, m, K): PyTorch's (Cout, 1, *k)
        for j, (ph, off) in enumerate(f.taps):
            gw[:, :, j] = einsum("ncl,ncml->cm", P[:, :, ph, off:off + L], G)
        check_finite(gw)  # (junk zeros of gy times an inf or NaN in x)
        return gw.reshape(Cout, 1, *k).transpose(*range(2, 2 + len(k)), 1, 0)  # (*k, 1, Cout) view
    p = _Rows(tuple(S), tuple(k), g.stride, g.pads, g.dilation, O)
    m, K1 = Cout // C, math.prod(k[:-1])
    col, o, ok = _bands(S[-1], O[-1], g.stride[-1], g.dilation[-1], k[-1], g.pads[-1][0])
    gw = fresh((C, m, *k), x.dtype)  # (C, m, *k): PyTorch's (Cout, 1, *k)

    def run(c0, c1):
        A = p.rows(p.planes(x, c0, c1))  # (c, 1, *k[:-1], R, W)
        G = _gy_grid(gy, c0, c1, C, p)  # (c, m, R, Wo)
        G = G.reshape(c1 - c0, m, *(1,) * len(k[:-1]), *G.shape[-2:])  # (c, m, *1s, R, Wo)
        gw[c0:c1] = 0
        for a, t in p.tiles():
            Pm = matmul(xp.swapaxes(A[..., a], -1, -2), G[..., t])  # (c, m, *k[:-1], cols, tile)
            cols = xp.clip(col[:, t] - a.start, 0, max(a.stop - a.start - 1, 0))  # (kw, tile) in the tile
            gw[c0:c1] += (Pm[..., cols, o[:, t] - t.start] * ok[:, t]).sum(axis=-1)  # read along the bands

    R = N * math.prod(p.G)
    run_chunks(run, C, (N * math.prod(p.Lp) * S[-1] + m * R * O[-1] + m * K1 * S[-1] * O[-1]) * x.itemsize,
               memory.DEPTHWISE_CHUNK)
    check_finite(gw)
    return gw.reshape(Cout, 1, *k).transpose(*range(2, 2 + len(k)), 1, 0)  # (*k, 1, Cout) view


register(Algorithm("depthwise", lambda g: g.cin == g.groups > 1, forward, input_grad, weight_grad,
                   mixes=True))
