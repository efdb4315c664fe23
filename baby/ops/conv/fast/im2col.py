"""im2col, fast: the windows gathered into columns chunk by chunk, one (grouped) GEMM per chunk; the input
gradient by col2im and the weight gradient by GEMMs on the gradient itself (not the book's convolutions).

x (N, *S, Cin), w (*k, Cin/G, Cout), gy (N, *O, Cout). Each function follows the memory layout of its
arrays (channels-first: per-image GEMMs, W @ cols, the results NCHW in memory; channels-last: cols @ W, one
GEMM a chunk); few rows run channels-first whatever the layout (`few_rows`). Each works on chunks of images
shared between the threads (`memory.run_chunks`):
- forward: cols gathered from the window view of each chunk (`im2col`), times the weight matrix;
- input_grad (col2im): gcols = gy @ W^T, then every kernel tap's plane added at its place in gx (on
  channels-first memory one contiguous run per tap, phase by phase of the stride);
- weight_grad (GEMMs): gw = cols^T @ gy, summed over the chunks.
A channels-first x gives gw in PyTorch's weight layout (Cout, Cin/G, *k) in memory: the weight the op sees is
a transposed view of that, so the gradient of a PyTorch-layout weight is a plain copy.
"""

import itertools
import math
from dataclasses import replace

from ....backend import moveaxis, xp
from ....parallel import matmul
from ..geometry import out_size
from ..registry import Algorithm, register
from .memory import alloc, channels_first, fresh, gather, pad, run_chunks, tap_slices, to_nchw, windows


def im2col(x, n0, n1, g, first):
    """cols of images n0:n1 of x (N, *S, Cin), their windows padded, in one copy (`gather`):
    (n, G, Cin/G, *k, *O) for the GEMMs run `first` (channels-first), else (G, n, *O, *k, Cin/G)."""
    k, G = g.k, g.groups
    win = windows(pad(x[n0:n1], g.pads), k, g.stride, g.dilation)  # (n, *O, *k, Cin) view
    n, *O = win.shape[:1 + len(k)]
    nd, Cg = len(k), x.shape[-1] // G
    if first:
        cv = moveaxis(win, -1, 1).reshape(n, G, Cg, *O, *k)  # (n, G, Cin/G, *O, *k) view
        cv = cv.transpose(0, 1, 2, *range(3 + nd, 3 + 2 * nd), *range(3, 3 + nd))  # (n, G, Cin/G, *k, *O)
        cols = fresh(cv.shape, x.dtype)
        gather(cols, cv)
        return cols
    cv = moveaxis(win.reshape(n, *O, *k, G, Cg), -2, 0)  # (G, n, *O, *k, Cin/G) view
    cols = fresh(cv.shape, x.dtype)
    gather(moveaxis(cols, 1, 0), moveaxis(cv, 1, 0))  # split by image
    return cols


def weight_matrix(w, G):
    """w (*k, Cin/G, Cout) as the GEMMs' (G, K*Cin/G, Cout/G): a view where w's memory allows, else a copy
    made output channel by output channel, the inverse of the view's transpose (PyTorch's layout; a 512x512
    3x3 weight took 1.5 ms so against 9.4 ms as one 4608x512 transposing copy)."""
    *k, Cg, Cout = w.shape
    K, Co = math.prod(k), Cout // G
    v = moveaxis(w.reshape(*k, Cg, G, Co), -2, 0)  # (G, *k, Cin/G, Cout/G) view
    taps = [(n, s) for n, s in zip(v.shape[1:-1], v.strides[1:-1], strict=True) if n != 1]  # (*k, Cin/G)
    if all(s0 == s1 * n1 for (_, s0), (n1, s1) in itertools.pairwise(taps)):  # they merge into one axis
        return v.reshape(G, K * Cg, Co)  # (G, K*Cin/G, Cout/G) view
    wk = fresh((G, Co, *k, Cg), w.dtype)  # (G, Cout/G, *k, Cin/G)
    wk[...] = w.reshape(*k, Cg, G, Co).transpose(len(k) + 1, len(k) + 2, *range(len(k)), len(k))
    return wk.reshape(G, Co, K * Cg).transpose(0, 2, 1)  # (G, K*Cin/G, Cout/G) view


def few_rows(rows, Cout, G):
    """Whether a conv's GEMMs have fewer rows (images times outputs, per group) than output channels: the
    weight is then the bulk of their reads, and they run channels-first whatever x's layout, the weight in
    PyTorch's layout read as it lies (ResNet-9's 512x512 3x3 layer at one 4x4 image: 0.66 ms, against 1.2
    as cols @ W^T and 1.5 ms more to copy W tap-major for the channels-last GEMMs)."""
    return rows * G < Cout


def _first(x, w, rows, G):
    """Whether the GEMMs run channels-first: on channels-first x, or on few rows with w in PyTorch's layout
    (*k, Cin/G, Cout) seen from (Cout, Cin/G, *k) memory."""
    nd = w.ndim - 2
    return channels_first(x) or (few_rows(rows, w.shape[-1], G) and
                                 w.transpose(nd + 1, nd, *range(nd)).flags.c_contiguous)


def forward(x, w, g, kept=None):
    """y (N, *O, Cout): cols gathered chunk by chunk (`im2col`), one (grouped) GEMM each."""
    G = g.groups
    *k, Cg, Cout = w.shape
    O = out_size(x.shape[1:-1], k, g.stride, g.pads, g.dilation)
    N, P, K, Co = x.shape[0], math.prod(O), math.prod(k), Cout // G
    first = _first(x, w, N * P, G)
    y = alloc((N, *O, Cout), first, x.dtype)  # (N, *O, Cout)
    if first:
        wm = w.reshape(K, Cg, G, Co).transpose(2, 3, 1, 0).reshape(G, Co, Cg * K)  # (G, Cout/G, Cin/G*K)
        yv = to_nchw(y).reshape(N, G, Co, P)  # (N, G, Cout/G, P) view of y's memory
    else:
        wm = weight_matrix(w, G)  # (G, K*Cin/G, Cout/G)

    def run(n0, n1):
        n = n1 - n0
        cols = im2col(x, n0, n1, g, first)
        if first:
            matmul(wm, cols.reshape(n, G, Cg * K, P), out=yv[n0:n1])  # (n, G, Cout/G, P)
            return
        out = matmul(cols.reshape(G, n * P, K * Cg), wm)  # (G, n*P, Cout/G)
        y[n0:n1] = moveaxis(out, 0, 1).reshape(n, *O, Cout)  # (n, *O, Cout)

    run_chunks(run, N, P * K * x.shape[-1] * x.itemsize)
    return y


def _add_taps(gx, gc, taps):
    """gx (n, *S, G, Cg) += every tap's plane of gc (n, *O, *k, G, Cg), each at its strided place."""
    for t, (xs, ys) in taps:
        gx[(slice(None), *xs)] += gc[(slice(None), *ys, *t)]


def _col2im_flat(gy, w, g):
    """col2im (`input_grad`) on channels-first memory with every tap's add one contiguous run. The padded
    gx is cut into its stride's phases (padded index u * s + phase, per dim), dense planes of size U; a tap
    adds into one phase shifted by a whole number of rows. gy is zero-extended to U, so gcols (ordered
    tap-major) line up with the flat phase planes shifted by the tap's offset (what spills past a row's end
    is zeros, and each image's planes have room for it); the phases are then interleaved into gx."""
    S, stride, pads, dilation, G = g.S, g.stride, g.pads, g.dilation, g.groups
    *k, Cg, Cout = w.shape
    N, *O, _ = gy.shape
    nd, K, Co, Cin = len(k), math.prod(k), Cout // G, Cg * G
    U = tuple(-(-(n + b + a) // s) for n, (b, a), s in zip(S, pads, stride, strict=True))  # phase planes
    plane, run = math.prod(U), Cg * math.prod(U)  # one channel's plane, one group's planes
    step = [math.prod(U[i + 1:]) for i in range(nd)]  # flat strides of a phase plane
    taps = {}  # phase -> [(tap index, flat offset)]
    for j, t in enumerate(xp.ndindex(*k)):
        taps.setdefault(tuple(i * d % s for i, d, s in zip(t, dilation, stride, strict=True)), []).append(
            (j, sum(i * d // s * st for i, d, s, st in zip(t, dilation, stride, step, strict=True))))
    spill = max(off for p in taps.values() for _, off in p)
    places = {f: tap_slices(f, S, U, stride, pads, (1,) * nd) for f in taps}  # x[xs] <- phase plane[us]
    taps = {f: offs for f, offs in taps.items() if places[f]}  # phases that land in x
    wt = w.reshape(K, Cg, G, Co).transpose(2, 1, 0, 3).reshape(G, Cg * K, Co)  # (G, Cin/G*K, Cout/G)
    gyv = to_nchw(gy)  # (N, Cout, *O) view
    gx = alloc((N, *S, Cin), True, gy.dtype, zero=True)  # (N, *S, Cin), NCHW memory

    def part(n0, n1):
        n = n1 - n0
        ge = fresh((n, Cout, *U), gy.dtype, zero=True)  # (n, Cout, *U): gy, zero-extended
        ge[(slice(None), slice(None), *(slice(0, o) for o in O))] = gyv[n0:n1]
        gc = matmul(wt, ge.reshape(n, G, Co, plane)).reshape(n * G, Cg, K, plane)  # (n*G, Cin/G, K, plane)
        gxm = to_nchw(gx[n0:n1])  # (n, Cin, *S) view
        for phase, offs in taps.items():
            flat = fresh((n * G, run + spill), gy.dtype, zero=True)  # per image and group: planes, spill room
            for j, off in offs:  # (n*G, Cin/G, plane): every image's planes at once
                flat[:, off:off + run].reshape(n * G, Cg, plane)[...] += gc[:, :, j]
            xs, us = places[phase]
            gxm[(slice(None), slice(None), *xs)] = flat[:, :run].reshape(n, Cin, *U)[
                (slice(None), slice(None), *us)]

    run_chunks(part, N, (K + 1) * Cin * plane * gy.itemsize)
    return gx


def input_grad(gy, w, g):
    """gx (N, *S, Cin) by col2im: gcols = gy @ W^T per group and image chunk, then an add per kernel tap:
    contiguous runs (`_col2im_flat`) where gcols outweigh gy, else (and for few rows, where the flat runs'
    zero-extended gy would add rows to a GEMM that reads the whole weight) a strided slice-add per tap."""
    S, stride, pads, dilation, G = g.S, g.stride, g.pads, g.dilation, g.groups
    *k, Cg, Cout = w.shape
    N, *O, _ = gy.shape
    nd, K, P, Co = len(k), math.prod(k), math.prod(O), Cout // G
    first, few = _first(gy, w, N * P, G), few_rows(N * P, Cout, G)
    if first and K * Cg >= Co and not few:  # the taps' adds outweigh extending gy
        return _col2im_flat(gy, w, g)
    gx = alloc((N, *S, G * Cg), first, gy.dtype, zero=True)  # (N, *S, Cin)
    gxv = gx.reshape(N, *S, G, Cg)  # (N, *S, G, Cin/G) view
    taps = [(t, r) for t in xp.ndindex(*k) if (r := tap_slices(t, S, O, stride, pads, dilation))]
    if first:
        wt = w.reshape(K, Cg, G, Co).transpose(2, 1, 0, 3).reshape(G, Cg * K, Co)  # (G, Cin/G*K, Cout/G)
        gyv = to_nchw(gy).reshape(N, G, Co, P)  # (N, G, Cout/G, P) view
        back = (0, *range(3 + nd, 3 + 2 * nd), *range(3, 3 + nd), 1, 2)  # to (n, *O, *k, G, Cg)
    else:
        wt = weight_matrix(w, G)  # (G, K*Cin/G, Cout/G)

    def run(n0, n1):
        n = n1 - n0
        if first:
            gv = gyv[n0:n1]  # (n, G, Cout/G, P)
            if few:  # gc^T = gy^T W, the weight read as it lies
                gc = matmul(gv.transpose(0, 1, 3, 2), wt.transpose(0, 2, 1)).transpose(0, 1, 3, 2)  # view
            else:
                gc = matmul(wt, gv)  # (n, G, Cin/G*K, P)
            gc = gc.reshape(n, G, Cg, *k, *O).transpose(back)  # (n, *O, *k, G, Cg)
        else:
            gyc = moveaxis(gy[n0:n1].reshape(n * P, G, Co), 1, 0)  # (G, n*P, Cout/G) view
            gc = matmul(gyc, wt.transpose(0, 2, 1)).reshape(G, n, *O, *k, Cg)  # (G, n, *O, *k, Cin/G)
            gc = moveaxis(gc, 0, -2)  # (n, *O, *k, G, Cin/G) view
        _add_taps(gxv[n0:n1], gc, taps)

    run_chunks(run, N, P * K * Cg * G * gy.itemsize)
    return gx


def weight_grad(x, gy, g, kept=None):
    """gw (*k, Cin/G, Cout) = cols^T @ gy per group (cols gathered as the forward's, the windows fitted
    exactly over gy), summed over chunks."""
    g = replace(g, pads=g.fit(gy.shape[1:-1]))
    N, *S, Cin = x.shape
    Cout, k, G = gy.shape[-1], g.k, g.groups
    O = gy.shape[1:-1]
    nd, K, P, Cg, Co = len(k), math.prod(k), math.prod(O), Cin // G, Cout // G
    first = channels_first(x) or few_rows(N * P, Cout, G)  # (gw in PyTorch's layout without a reorder)
    if first:
        gyv = to_nchw(gy).reshape(N, G, Co, P)  # (N, G, Cout/G, P) view

    def run(n0, n1):
        n = n1 - n0
        cols = im2col(x, n0, n1, g, first)
        if first:
            part = matmul(gyv[n0:n1], cols.reshape(n, G, Cg * K, P).transpose(0, 1, 3, 2))  # (n, G, Co, Cg*K)
            return part[0] if n == 1 else part.sum(axis=0)  # (G, Cout/G, Cin/G*K)
        gyc = moveaxis(gy[n0:n1].reshape(n * P, G, Co), 1, 0)  # (G, n*P, Cout/G) view
        return matmul(gyc.transpose(0, 2, 1), cols.reshape(G, n * P, K * Cg))  # (G, Cout/G, K*Cin/G)

    gw = run_chunks(run, N, P * K * Cin * x.itemsize, add=True)  # (G, Co, Cg*K) or (G, Co, K*Cg)
    gw = xp.zeros((G, Co, K * Cg), x.dtype) if gw is None else gw
    if not first:  # taps before channels: reordered output channel by output channel (see weight_matrix)
        gk = fresh((G, Co, Cg, K), x.dtype)  # (G, Cout/G, Cin/G, K)
        gk[...] = gw.reshape(G, Co, K, Cg).transpose(0, 1, 3, 2)
        gw = gk
    gw = gw.reshape(Cout, Cg, *k)  # PyTorch's layout
    return gw.transpose(*range(2, 2 + nd), 1, 0)  # (*k, Cin/G, Cout) view



def grad_layout(gy, x):
    """gy channels-first for channels-first x; for few rows (see `few_rows`) as it is."""
    return channels_first(x) or (few_rows(math.prod(gy.shape[:-1]), gy.shape[-1], 1) and channels_first(gy))


register(Algorithm("im2col", lambda g: True, forward, input_grad, weight_grad, grad_layout=grad_layout))
