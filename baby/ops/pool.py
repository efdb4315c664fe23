"""Pooling over the spatial dims of x (N, *S, C): max and average, with PyTorch's window rules.

A window view (N, *O, *k, C) of the padded input is read one kernel tap at a time: each tap is a strided
(N, *O, C) view, so the forward is prod(k) elementwise max/add passes and the backward adds the gradient
back through the same taps (overlapping windows accumulate). That is fast for any memory layout, the NCHW
memory of a transposed view included. Window o, tap j reads padded x at o * stride + j * dilation.

A max pool that will be differentiated records, in its running max, which tap won each window (one byte
per output), so its backward compares nothing (against recomputing the masks: ResNet-9's (32, 128, 32, 32)
channels-last 2x2 pool, forward + backward 12.5 -> 6.3 ms). A window as large as the input (a global max)
is one reduction instead. Max pooling's passes are split by images over the threads where their taps
span 1 MiB or more (the output's bytes times the taps: LeNet-5's first 2x2 pool at batch 64, whose output
is 0.3 MiB, took its training step 8.0 -> 7.4 ms so).
"""

import functools
import itertools

from .. import grad_mode
from ..arena import fresh_like
from ..backend import xp
from ..parallel import split
from ..tensor import Function, Tensor, as_tensor
from .conv.fast.memory import alloc, channels_first, pad, to_nchw, to_nhwc, windows
from .conv.geometry import is_int, per_dim, plain


def _taps(w, k):
    """Each kernel tap of the window view w (N, *O, *k, C) in row-major order: (j, view (N, *O, C))."""
    lead = (slice(None),) * (1 + len(k))
    for j in itertools.product(*map(range, k)):
        yield j, w[lead + j]  # (N, *O, C)


def _crop(g, pads):
    """The gradient for x out of the gradient g for its padded copy: g cropped by the pads (a view)."""
    return pad(g, tuple((-b, -a) for b, a in pads))  # (N, *S, C)


def _padded_zeros(x, pads, dtype, zero=True):
    """Zeros (or, without `zero`, uninitialised) shaped like x (N, *S, C) after padding, in x's layout."""
    S = tuple(n + b + a for n, (b, a) in zip(x.shape[1:-1], pads, strict=True))
    return alloc((x.shape[0], *S, x.shape[-1]), channels_first(x), dtype, zero=zero)  # (N, *padded, C)


def _finite(a):
    """Whether a holds no NaN or inf, in one summing pass: a finite sum rules both out (a sum that overflows
    says False too, which costs the caller its slower exact path, never a wrong answer)."""
    with xp.errstate(over="ignore", invalid="ignore"):
        return bool(xp.isfinite(a.sum()))


def _first_max(taps, y, won):
    """y = the elementwise max of the taps (N, *O, C); won = which tap holds each window's first max
    (ignoring NaN): the last tap that beat every earlier one (ties keep the earlier)."""
    if len(taps) == 1:
        xp.copyto(y, taps[0])
        won.fill(0)
        return
    xp.greater(taps[1], taps[0], out=won, casting="unsafe")  # 1 where tap 1 beats tap 0, else 0
    xp.maximum(taps[0], taps[1], out=y)
    beat, step = fresh_like(y, bool), fresh_like(won)
    for i, t in enumerate(taps[2:], 2):
        xp.greater(t, y, out=beat)
        xp.maximum(y, t, out=y)
        xp.multiply(beat, won.dtype.type(i), out=step)  # i where tap i beats all before, else 0
        xp.maximum(won, step, out=won)  # taps come in increasing i: the last to beat them all


def _scatter(gw, gy, won, k, disjoint, finite):
    """gy (N, *O, C) into the windows gw (N, *O, *k, C) of the input's gradient, each window's at its tap
    `won`: written where windows are disjoint, else added; gy * mask where gy is `finite`, else a select."""
    buf = None if disjoint and finite else fresh_like(gy)
    for i, j in enumerate(itertools.product(*map(range, k))):
        t, m = gw[(slice(None),) * (1 + len(j)) + j], won == i  # (N, *O, C) tap j of gx and its windows
        if finite:
            xp.multiply(gy, m, out=t if disjoint else buf)
        else:
            buf.fill(0)
            xp.copyto(buf, gy, where=m)
            if disjoint:
                xp.copyto(t, buf)
        if not disjoint:  # windows overlap: add
            t += buf


class MaxPool(Function):
    """Max over each window of x (N, *S, C) padded with -inf; the gradient goes to each window's first max.

    With `record` the forward also keeps `won` (shaped like y, one byte per window for up to 256 taps): the
    tap each window's gradient goes to, as PyTorch's kernel picks it (the first max in row-major order; in a
    window holding NaN its last NaN; in an all -inf window its first tap inside x). The backward is then one
    masked write (or add, where windows overlap) per tap, nothing recomputed.
    """

    def __init__(self, k, stride, pads, dilation, O, record=True, nchw=False):
        self.k, self.stride, self.pads, self.dilation, self.O = k, stride, pads, dilation, O
        self.record, self.won, self.nchw = record, None, nchw  # nchw: x and y are (N, C, *S) views

    def _view(self, x):
        return windows(x, self.k, self.stride, self.dilation, self.O, True)  # (N, *O, *k, C) view

    def _whole(self, x):
        """Whether the one window is all of x (N, *S, C) per image and channel: a global max."""
        return self.k == x.shape[1:-1] and self.dilation == (1,) * len(self.k) and not any(sum(self.pads, ()))

    def forward(self, x):
        y = self._max(to_nhwc(x) if self.nchw else x)  # (N, *O, C)
        return to_nchw(y) if self.nchw else y

    def _max(self, x):
        """The forward on x (N, *S, C): y (N, *O, C), recording `won` when asked."""
        return self._global(x) if self._whole(x) else self._windows(x)

    def _windows(self, x):
        """The max of each window of x (N, *S, C), tap by tap (recording `won`)."""
        taps = [t for _, t in _taps(self._view(pad(x, self.pads, -xp.inf)), self.k)]  # (N, *O, C) views
        y = alloc(taps[0].shape, channels_first(x), x.dtype)  # (N, *O, C) in x's layout
        if self.record:
            self.won = won = fresh_like(y, xp.min_scalar_type(len(taps) - 1))  # (N, *O, C) in y's layout
            split(lambda r: _first_max([t[r] for t in taps], y[r], won[r]), y, y.nbytes * len(taps))  # images
            if not _finite(y):
                self._nonfinite(taps, y, x.shape[1:-1])
        elif len(taps) == 1:
            xp.copyto(y, taps[0])
        else:
            xp.maximum(taps[0], taps[1], out=y)
            for t in taps[2:]:
                xp.maximum(y, t, out=y)
        return y

    def _global(self, x):
        """The max over all positions by reductions, and `won`, the first max's flat position in its plane.

        Channels-last memory reduces over the positions with the channels inner (the first max: the
        largest of the matches weighted L, L - 1, ..., 1); channels-first memory takes NumPy's argmax along
        its contiguous rows (a max along rows of a few elements is slower: ResNet-9's (32, 512, 4, 4), 2.3 ms
        against 0.9 ms)."""
        N, C = x.shape[0], x.shape[-1]
        xr = x.reshape(N, -1, C)  # (N, L, C): a view in either layout
        L = xr.shape[1]
        if channels_first(x):
            won = xr.argmax(axis=1)  # (N, C): the first max (or first NaN)
            y = xp.take_along_axis(xr, won[:, None], 1)[:, 0]  # (N, C)
        else:
            y = xr.max(axis=1)  # (N, C)
            if self.record:
                w = xp.arange(L, 0, -1, dtype=xp.min_scalar_type(L))[:, None]  # (L, 1): L, ..., 1
                won = L - xp.multiply(xr == y[:, None], w).max(axis=1)  # (N, C): the first max
        if self.record:
            if not _finite(y):  # a plane holding NaN: its last NaN, as PyTorch's kernel
                nan = xp.isnan(xr)  # (N, L, C)
                won = xp.where(xp.isnan(y), L - 1 - nan[:, ::-1].argmax(axis=1), won)  # (N, C)
            self.won = won.reshape(N, *self.O, C)
        return y.reshape(N, *self.O, C)

    def _nonfinite(self, taps, y, S):
        """Correct `won` where PyTorch's kernel picks another element than the first max: the last NaN of a
        window holding NaN (the kernel takes a NaN as the new max), the first tap inside x of a window of
        -inf only (the kernel starts from it; the taps in the padding come first here)."""
        nan = xp.isnan(y)  # (N, *O, C)
        for i, t in enumerate(taps) if nan.any() else ():
            xp.copyto(self.won, i, where=nan & xp.isnan(t))
        low = y == -xp.inf  # (N, *O, C)
        if not any(b or a for b, a in self.pads) or not low.any():
            return
        inside = list(self._inside(S))
        for i in reversed(range(len(taps))):
            xp.copyto(self.won, i, where=low & inside[i])

    def _inside(self, S):
        """Per tap in row-major order, whether it reads x (spatial shape S), not padding: (1, *O, 1)."""
        for j in itertools.product(*map(range, self.k)):
            m = xp.ones((1,) * (len(S) + 2), bool)
            geometry = zip(S, self.O, self.stride, self.pads, j, self.dilation, strict=True)
            for d, (n, o, s, (b, _), dj, dd) in enumerate(geometry):
                pos = xp.arange(o) * s - b + dj * dd  # (o,): the input row tap j reads in each window
                m = m & ((pos >= 0) & (pos < n)).reshape((1,) * (1 + d) + (o,) + (1,) * (len(S) - d))
            yield m

    def first_max(self, x, y):
        """(j, mask (N, *O, C)) per tap j: the windows whose gradient goes to tap j (see `won`)."""
        won = self._won(x)
        for i, j in enumerate(itertools.product(*map(range, self.k))):
            yield j, won == i

    def _won(self, x):
        """`won` for x (N, *S, C), recorded by the forward (run again here if it recorded nothing)."""
        if self.won is None:
            self.record = True
            self._max(x)
        return self.won

    def indices(self, x, y):
        """PyTorch's indices of the maxima: flat positions in each (n, c) plane of x, shaped like y."""
        if self._whole(x):
            return self._won(x).astype(xp.int64)  # (N, *1, C): the flat positions themselves
        S = x.shape[1:-1]
        idx = xp.zeros_like(y, dtype=xp.int64)  # (N, *O, C) in y's layout
        for j, m in self.first_max(x, y):
            flat = 0
            geometry = zip(S, self.O, self.stride, self.pads, j, self.dilation, strict=True)
            for d, (n, o, s, (b, _), dj, dd) in enumerate(geometry):
                pos = xp.arange(o) * s - b + dj * dd  # (o,): the input row tap j reads in each window
                flat = flat * n + pos.reshape((o,) + (1,) * (len(S) - 1 - d))  # (*O) after the last dim
            xp.copyto(idx, flat[..., None], where=m)  # flat (*O, 1) broadcast over N and C
        return idx

    def backward(self, gy, node):
        x = node.inputs[0]._data
        if self.nchw:
            x, gy = to_nhwc(x), to_nhwc(gy)  # (N, *S, C), (N, *O, C)
        gx = self._grad(gy, x)
        return (to_nchw(gx) if self.nchw else gx,)

    def _grad(self, gy, x):
        """gx (N, *S, C): each window's gradient at its first max."""
        if self._whole(x):  # one element per plane takes the gradient
            gx = alloc(x.shape, channels_first(x), gy.dtype, zero=True)  # (N, *S, C) in x's layout
            N, C = x.shape[0], x.shape[-1]
            won = self._won(x).reshape(N, 1, C)
            xp.put_along_axis(gx.reshape(N, -1, C), won, gy.reshape(N, 1, C), axis=1)  # gx as (N, L, C) view
            return gx
        spans = tuple(zip(self.stride, self.dilation, self.k, self.O, self.pads, x.shape[1:-1], strict=True))
        disjoint = all(s >= d * (k - 1) + 1 for s, d, k, *_ in spans)
        cover = all(s == k and d == 1 and o * s == n + b + a for s, d, k, o, (b, a), n in spans)
        gx = _padded_zeros(x, self.pads, gy.dtype, zero=not cover)  # every element written when `cover`
        gw = self._view(gx)  # (N, *O, *k, C) writable windows of gx
        finite, won = _finite(gy), self._won(x)  # finite: gy * mask is exact (inf * 0 would be nan)
        split(lambda r: _scatter(gw[r], gy[r], won[r], self.k, disjoint, finite), gy, gw.nbytes)  # images
        return _crop(gx, self.pads)


class AvgPool(Function):
    """Window sums of x (N, *S, C) padded with zeros, divided by `divisor` (broadcasting to (*O, 1))."""

    def __init__(self, k, stride, pads, O, divisor, nchw=False):
        self.k, self.stride, self.pads, self.O, self.divisor = k, stride, pads, O, divisor
        self.nchw = nchw  # x and y are (N, C, *S) views

    def _view(self, x):
        return windows(x, self.k, self.stride, (1,) * len(self.k), self.O, True)  # (N, *O, *k, C) view

    def forward(self, x):
        x = to_nhwc(x) if self.nchw else x  # (N, *S, C)
        taps = _taps(self._view(pad(x, self.pads)), self.k)
        y = next(taps)[1].copy(order="K")  # (N, *O, C)
        for _, t in taps:
            y += t
        y /= self.divisor
        return to_nchw(y) if self.nchw else y

    def backward(self, gy, node):
        x = node.inputs[0]._data
        if self.nchw:
            x, gy = to_nhwc(x), to_nhwc(gy)  # (N, *S, C), (N, *O, C)
        g = gy / self.divisor  # (N, *O, C)
        gx = _padded_zeros(x, self.pads, gy.dtype)
        for _, t in _taps(self._view(gx), self.k):
            t += g
        gx = _crop(gx, self.pads)  # (N, *S, C)
        return (to_nchw(gx) if self.nchw else gx,)


def _check(x, name):
    """x as a float Tensor (N, *S, C) with 1-3 spatial dims."""
    x = as_tensor(x)
    if not 3 <= x.ndim <= 5:
        raise ValueError(f"{name}: input must be (N, *spatial, C) with 1-3 spatial dims, got shape "
                         f"{tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: input must be a float tensor, got dtype {x.dtype}")
    return x


def _geometry(S, kernel_size, stride, padding, dilation, ceil_mode, name):
    """(k, stride, pads, dilation, O) for pooling spatial shape S, checked and sized as PyTorch does (the
    same arguments again, when plain ints: remembered, ~25 us a call)."""
    args = (S, kernel_size, stride, padding, dilation, ceil_mode, name)
    return (_sized if all(map(plain, args[1:5])) else _sized.__wrapped__)(*args)  # (a bool: checked anew)


@functools.lru_cache(maxsize=256)
def _sized(S, kernel_size, stride, padding, dilation, ceil_mode, name):
    """_geometry's work: (k, stride, pads, dilation, O).

    O = floor or ceil((S + 2P - D(k - 1) - 1) / stride) + 1, less one in ceil mode when the last window would
    start in the right padding; pads are (P, after) with `after` grown so the last window fits.
    """
    n = len(S)
    k = per_dim(kernel_size, n, "kernel_size", 1)
    stride = k if stride is None else per_dim(stride, n, "stride", 1)
    P, dilation = per_dim(padding, n, "padding", 0), per_dim(dilation, n, "dilation", 1)
    if any(2 * p > kk for p, kk in zip(P, k, strict=True)):
        raise ValueError(f"{name}: padding={P} should be at most half of kernel_size={k}")
    span = tuple(d * (kk - 1) + 1 for kk, d in zip(k, dilation, strict=True))  # the dilated kernel's extent
    O = []
    for L, s, p, e in zip(S, stride, P, span, strict=True):
        o = (L + 2 * p - e + (s - 1 if ceil_mode else 0)) // s + 1
        O.append(o - 1 if ceil_mode and (o - 1) * s >= L + p else o)
    if min(O) < 1:
        raise ValueError(f"{name}: input of spatial shape {tuple(S)} with padding={P} is smaller than the "
                         f"effective kernel size {span}: the output would have shape {tuple(O)}")
    pads = tuple((p, max(p, (o - 1) * s + e - L - p))  # `after` reaches the end of the last window
                 for L, s, p, e, o in zip(S, stride, P, span, O, strict=True))
    return k, stride, pads, dilation, tuple(O)


def max_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False,
             name="max_pool", nchw=False):
    """Max pooling of x (N, *S, C) over its 1-3 spatial dims (PyTorch semantics: -inf padding, ceil_mode);
    with `nchw`, of x (N, C, *S), as one op.

    With return_indices, also the int64 flat position of each max in its (n, c) plane of x, as PyTorch.
    `name` is the function errors are reported for.
    """
    x = _check(x, name)
    S = x.shape[2:] if nchw else x.shape[1:-1]
    k, stride, pads, dilation, O = _geometry(S, kernel_size, stride, padding, dilation, ceil_mode, name)
    op = MaxPool(k, stride, pads, dilation, O, return_indices or grad_mode.state.enabled and x.requires_grad,
                 nchw)
    y = op(x)
    if not return_indices:
        return y
    if not nchw:
        return y, Tensor(op.indices(x._data, y._data), dtype=xp.int64)
    return y, Tensor(to_nchw(op.indices(to_nhwc(x._data), to_nhwc(y._data))), dtype=xp.int64)


def avg_pool(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
             divisor_override=None, name="avg_pool", nchw=False):
    """Average pooling of x (N, *S, C) over its 1-3 spatial dims (PyTorch semantics for the divisor); with
    `nchw`, of x (N, C, *S), as one op.

    A window's divisor is its size clipped to the padded input (count_include_pad) or to the input itself,
    or `divisor_override` when given. `name` is the function errors are reported for.
    """
    x = _check(x, name)
    S = x.shape[2:] if nchw else x.shape[1:-1]
    k, stride, pads, _, O = _geometry(S, kernel_size, stride, padding, 1, ceil_mode, name)
    if divisor_override is not None:
        if not is_int(divisor_override):
            raise TypeError(f"{name}: divisor_override must be an int, got {divisor_override!r}")
        if divisor_override == 0:
            raise ValueError(f"{name}: divisor_override must not be zero")
        return AvgPool(k, stride, pads, O, int(divisor_override), nchw)(x)
    count = xp.ones(())
    for L, kk, s, (p, _), o in zip(S, k, stride, pads, O, strict=True):
        start = xp.arange(o) * s - p  # (o,) where each window starts, in input coordinates
        end = xp.minimum(start + kk, L + p)
        if not count_include_pad:
            start, end = xp.maximum(start, 0), xp.minimum(end, L)
        count = count[..., None] * (end - start)  # (*O so far)
    return AvgPool(k, stride, pads, O, count[..., None].astype(x.dtype), nchw)(x)  # divisor (*O, 1)
