"""Rows: a 2-D conv as one GEMM per kernel row, over columns gathered along the last spatial dim only.

im2col gathers every tap (kh * kw copies of the input); here the windows are gathered along W alone (kw
copies), with the padded rows split into the stride's phases (padded row h = u * sh + phase). Kernel row i
then reads one phase from row u0 = i * dh // sh on: for every channel and W tap, oh * ow contiguous numbers,
so the columns of row i are a view (n, C * kw, P) and y = sum_i W_i @ cols_i, with W_i (Cout, C * kw).
Thin-channel layers (a 1- or 6-channel 5x5) spend im2col's time in the gather; here it is 5x smaller.

x (N, H, W, C), w (kh, kw, C, Cout), gy (N, oh, ow, Cout); groups 1. Each function follows x's memory
layout (channels-first: columns (n, C, kw, sh, U, ow), GEMMs W_i @ cols_i, y NCHW in memory; channels-last:
columns (n, sh, U, ow, kw, C), GEMMs cols_i @ W_i) and runs on chunks of images (`memory.run_chunks`):
- forward: y = sum_i W_i @ cols_i; the columns are kept for the weight gradient when they fit;
- input_grad: gcols_i += W_i^T @ gy into zeroed columns, then each W tap's plane added at its place;
- weight_grad: gw_i = gy @ cols_i^T, summed over the images.
"""

import math

from ....backend import xp
from ....parallel import matmul
from ..registry import Algorithm, register
from .memory import alloc, channels_first, fresh, kept_buffer, pad, run_chunks, to_nchw


def _sizes(g, O=None):
    """(pads, U, (oh, ow)): the pads with H's `after` grown to a whole number U of stride phases."""
    (b, a), (sh, _) = g.pads[0], g.stride
    oh, ow = g.O if O is None else O
    U = -(-(g.S[0] + b + a) // sh)
    return ((b, U * sh - g.S[0] - b), g.pads[1]), U, (oh, ow)


def _rows_view(xp_, g, U, ow):
    """The padded x (n, U * sh, Wp, C) as a strided view (n, U, sh, ow, kw, C) of its W windows."""
    n, _, _, C = xp_.shape
    sN, sH, sW, sC = xp_.strides
    (sh, sw), (_, dw), kw = g.stride, g.dilation, g.k[1]
    shape, strides = (n, U, sh, ow, kw, C), (sN, sH * sh, sH, sW * sw, sW * dw, sC)
    return xp.lib.stride_tricks.as_strided(xp_, shape, strides, writeable=xp_.flags.writeable)


def _cols_shape(n, C, g, U, ow, first):
    """The columns' shape: (n, C, kw, sh, U, ow) channels-first, else (n, sh, U, ow, kw, C)."""
    sh, kw = g.stride[0], g.k[1]
    return (n, C, kw, sh, U, ow) if first else (n, sh, U, ow, kw, C)


def _order(first):
    """The axes of the (n, U, sh, ow, kw, C) view in the columns' order."""
    return (0, 5, 4, 2, 1, 3) if first else (0, 2, 1, 3, 4, 5)


def _gather(cols, x, g, pads, U, ow, first):
    """cols[...] = the W windows of x (n, H, W, C) padded by `pads`, in the columns' order."""
    cols[...] = _rows_view(pad(x, pads), g, U, ow).transpose(_order(first))


def _tap(cols, i, g, oh, first):
    """The columns of kernel row i: (n, C * kw, oh * ow) channels-first, else (n, oh * ow, kw * C); views."""
    u0, ph = divmod(i * g.dilation[0], g.stride[0])
    n = cols.shape[0]
    if first:
        return cols[:, :, :, ph, u0:u0 + oh].reshape(n, -1, oh * cols.shape[-1])  # (n, C*kw, P) view
    return cols[:, ph, u0:u0 + oh].reshape(n, oh * cols.shape[3], -1)  # (n, P, kw*C) view


def _weights(w, first):
    """Per kernel row i: (kh, Cout, C * kw) channels-first, else (kh, kw * C, Cout)."""
    kh, kw, C, Cout = w.shape
    if first:
        return xp.ascontiguousarray(w.transpose(0, 3, 2, 1)).reshape(kh, Cout, C * kw)  # (kh, Cout, C*kw)
    return xp.ascontiguousarray(w).reshape(kh, kw * C, Cout)  # (kh, kw*C, Cout)


def _product(a, b, first, out=None):
    """a @ b channels-first, else b @ a: e.g. kernel row i's share of y, W_i @ cols_i (n, Cout, P) or
    cols_i @ W_i (n, P, Cout)."""
    return matmul(a, b, out=out) if first else matmul(b, a, out=out)


def keep(x, w, g):
    """A buffer for the forward's columns, for the weight gradient (None when it would not fit)."""
    _, U, (_, ow) = _sizes(g)
    return kept_buffer(_cols_shape(x.shape[0], x.shape[-1], g, U, ow, channels_first(x)), x.dtype)


def forward(x, w, g, kept=None):
    """y (N, oh, ow, Cout) = sum over kernel rows i of W_i times the columns of row i."""
    N, _, _, C = x.shape
    Cout, first = w.shape[-1], channels_first(x)
    pads, U, (oh, ow) = _sizes(g)
    P, wm = oh * ow, _weights(w, first)
    y = alloc((N, oh, ow, Cout), first, x.dtype)  # (N, oh, ow, Cout)
    yv = to_nchw(y).reshape(N, Cout, P) if first else y.reshape(N, P, Cout)  # views of y

    def run(n0, n1):
        shape = _cols_shape(n1 - n0, C, g, U, ow, first)
        cols = fresh(shape, x.dtype) if kept is None else kept[n0:n1]
        _gather(cols, x[n0:n1], g, pads, U, ow, first)
        _product(wm[0], _tap(cols, 0, g, oh, first), first, out=yv[n0:n1])
        for i in range(1, g.k[0]):
            yv[n0:n1] += _product(wm[i], _tap(cols, i, g, oh, first), first)

    run_chunks(run, N, math.prod(_cols_shape(1, C, g, U, ow, first)) * x.itemsize)
    return y


def input_grad(gy, w, g):
    """gx (N, H, W, C): W_i^T @ gy added into zeroed columns per kernel row, then the W taps added back."""
    N, oh, ow, Cout = gy.shape
    C, first = w.shape[-2], channels_first(gy)
    pads, U, _ = _sizes(g, (oh, ow))
    P, wm = oh * ow, _weights(w, first)
    gyv = to_nchw(gy).reshape(N, Cout, P) if first else gy.reshape(N, P, Cout)  # views of gy
    Hp, Wp = U * g.stride[0], g.S[1] + sum(pads[1])
    gx = alloc((N, Hp, Wp, C), first, gy.dtype, zero=True)  # (N, Hp, Wp, C): the padded input's gradient

    def run(n0, n1):
        gcols = fresh(_cols_shape(n1 - n0, C, g, U, ow, first), gy.dtype, zero=True)
        for i in range(g.k[0]):
            t = _tap(gcols, i, g, oh, first)
            t += _product(wm[i].T, gyv[n0:n1], first)  # (n, C*kw, P) or (n, P, kw*C)
        win = _rows_view(gx[n0:n1], g, U, ow)  # (n, U, sh, ow, kw, C) writable view of gx
        src = gcols.transpose(xp.argsort(_order(first)))  # (n, U, sh, ow, kw, C) view
        for j in range(g.k[1]):
            win[:, :, :, :, j] += src[:, :, :, :, j]

    run_chunks(run, N, math.prod(_cols_shape(1, C, g, U, ow, first)) * gy.itemsize)
    return pad(gx, tuple((-b, -a) for b, a in pads))  # (N, H, W, C) view: the pads cropped


def weight_grad(x, gy, g, kept=None):
    """gw (kh, kw, C, Cout): per kernel row i, gy times the row's columns transposed, summed over images."""
    N, _, _, C = x.shape
    _, oh, ow, Cout = gy.shape
    kh, kw = g.k
    first = channels_first(x)
    pads, U, _ = _sizes(g, (oh, ow))
    P = oh * ow
    gyv = to_nchw(gy).reshape(N, Cout, P) if first else gy.reshape(N, P, Cout)  # views of gy

    def run(n0, n1):
        if kept is None:
            cols = fresh(_cols_shape(n1 - n0, C, g, U, ow, first), x.dtype)
            _gather(cols, x[n0:n1], g, pads, U, ow, first)
        else:
            cols = kept[n0:n1]
        parts = []
        for i in range(kh):
            t = _tap(cols, i, g, oh, first).transpose(0, 2, 1)  # (n, P, C*kw) or (n, kw*C, P) view
            parts.append(_product(gyv[n0:n1], t, first).sum(axis=0))  # (Cout, C*kw) or (kw*C, Cout)
        return xp.stack(parts)  # (kh, Cout, C*kw) or (kh, kw*C, Cout)

    gw = run_chunks(run, N, math.prod(_cols_shape(1, C, g, U, ow, first)) * x.itemsize, add=True)
    if gw is None:  # no images
        return xp.zeros((kh, kw, C, Cout), x.dtype)
    if first:  # PyTorch's layout (Cout, C, kh, kw) in memory, seen as (kh, kw, C, Cout)
        gw = xp.ascontiguousarray(gw.reshape(kh, Cout, C, kw).transpose(1, 2, 0, 3))  # (Cout, C, kh, kw)
        return gw.transpose(2, 3, 1, 0)  # (kh, kw, C, Cout) view
    return gw.reshape(kh, kw, C, Cout)  # (kh, kw, C, Cout)


register(Algorithm("rows", lambda g: g.nd == 2 and g.groups == 1, forward, input_grad, weight_grad, keep))
