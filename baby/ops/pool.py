"""Pooling over the spatial dims of x (N, *S, C): max and average, with PyTorch's window rules.

A window view (N, *O, *k, C) of the padded input is read one kernel tap at a time: each tap is a strided
(N, *O, C) view, so the forward is prod(k) elementwise max/add passes and the backward adds the gradient
back through the same taps (overlapping windows accumulate). That is fast for any memory layout, the NCHW
memory of a transposed view included. Window o, tap j reads padded x at o * stride + j * dilation.
"""

import itertools

from ..backend import xp
from ..tensor import Function, Tensor, as_tensor
from .conv.fast.memory import alloc, channels_first, pad, windows
from .conv.geometry import is_int, per_dim


def _taps(w, k):
    """Each kernel tap of the window view w (N, *O, *k, C) in row-major order: (j, view (N, *O, C))."""
    lead = (slice(None),) * (1 + len(k))
    for j in itertools.product(*map(range, k)):
        yield j, w[lead + j]  # (N, *O, C)


def _crop(g, pads):
    """The gradient for x out of the gradient g for its padded copy: g cropped by the pads (a view)."""
    return pad(g, tuple((-b, -a) for b, a in pads))  # (N, *S, C)


def _padded_zeros(x, pads, dtype):
    """Zeros shaped like x (N, *S, C) after padding, in x's memory layout."""
    S = tuple(n + b + a for n, (b, a) in zip(x.shape[1:-1], pads, strict=True))
    return alloc((x.shape[0], *S, x.shape[-1]), channels_first(x), dtype, zero=True)  # (N, *padded, C)


class MaxPool(Function):
    """Max over each window of x (N, *S, C) padded with -inf; the gradient goes to each window's first max."""

    def __init__(self, k, stride, pads, dilation, O):
        self.k, self.stride, self.pads, self.dilation, self.O = k, stride, pads, dilation, O

    def _view(self, x):
        return windows(x, self.k, self.stride, self.dilation, self.O, True)  # (N, *O, *k, C) view

    def forward(self, x):
        taps = [t for _, t in _taps(self._view(pad(x, self.pads, -xp.inf)), self.k)]  # (N, *O, C) views
        if len(taps) == 1:
            return taps[0].copy(order="K")
        y = alloc(taps[0].shape, channels_first(x), x.dtype)  # (N, *O, C) in x's layout
        xp.maximum(taps[0], taps[1], out=y)
        for t in taps[2:]:
            xp.maximum(y, t, out=y)
        return y

    def first_max(self, x, y):
        """(j, mask (N, *O, C)) per tap j: the windows whose first max in row-major order sits at tap j; in a
        window whose max is NaN, its last NaN (PyTorch's kernel takes a NaN as the new max)."""
        found = None  # (N, *O, C) in y's layout: the windows an earlier tap holds the max of
        taps = list(_taps(self._view(pad(x, self.pads, -xp.inf)), self.k))
        last_nan = self._last_nan(taps) if xp.isnan(y).any() else {}
        for i, (j, t) in enumerate(taps):
            m = t == y
            if j in last_nan:
                m |= last_nan[j]
            if found is None:
                found = m.copy(order="K")
            else:
                xp.greater(m, found, out=m)  # m and not found
                if i + 1 < len(taps):
                    found |= m
            yield j, m

    @staticmethod
    def _last_nan(taps):
        """{j: mask (N, *O, C)}: the windows whose last NaN sits at tap j."""
        seen, last = None, {}
        for j, t in reversed(taps):
            m = xp.isnan(t)  # (N, *O, C)
            if seen is None:
                seen = m.copy()
            else:
                m &= ~seen
                seen |= m
            last[j] = m
        return last

    def indices(self, x, y):
        """PyTorch's indices of the maxima: flat positions in each (n, c) plane of x, shaped like y."""
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
        gx = _padded_zeros(x, self.pads, gy.dtype)
        gw = self._view(gx)  # (N, *O, *k, C) writable windows of gx
        spans = zip(self.stride, self.dilation, self.k, strict=True)
        disjoint = all(s >= d * (k - 1) + 1 for s, d, k in spans)
        finite = bool(xp.isfinite(gy).all())  # then gy * mask is exact (inf * 0 would be nan)
        for j, m in self.first_max(x, node._data):
            t = gw[(slice(None),) * (1 + len(j)) + j]  # (N, *O, C) tap j of gx
            if disjoint and finite:  # every element of gx lies in one window at most: write in place
                xp.multiply(gy, m, out=t)
            elif disjoint:
                t[...] = xp.where(m, gy, 0)
            else:  # windows overlap: add
                t += gy * m if finite else xp.where(m, gy, 0)
        return (_crop(gx, self.pads),)


class AvgPool(Function):
    """Window sums of x (N, *S, C) padded with zeros, divided by `divisor` (broadcasting to (*O, 1))."""

    def __init__(self, k, stride, pads, O, divisor):
        self.k, self.stride, self.pads, self.O, self.divisor = k, stride, pads, O, divisor

    def _view(self, x):
        return windows(x, self.k, self.stride, (1,) * len(self.k), self.O, True)  # (N, *O, *k, C) view

    def forward(self, x):
        taps = _taps(self._view(pad(x, self.pads)), self.k)
        y = next(taps)[1].copy(order="K")  # (N, *O, C)
        for _, t in taps:
            y += t
        y /= self.divisor
        return y

    def backward(self, gy, node):
        g = gy / self.divisor  # (N, *O, C)
        gx = _padded_zeros(node.inputs[0]._data, self.pads, gy.dtype)
        for _, t in _taps(self._view(gx), self.k):
            t += g
        return (_crop(gx, self.pads),)


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
    """(k, stride, pads, dilation, O) for pooling spatial shape S, checked and sized as PyTorch does.

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
             name="max_pool"):
    """Max pooling of x (N, *S, C) over its 1-3 spatial dims (PyTorch semantics: -inf padding, ceil_mode).

    With return_indices, also the int64 flat position of each max in its (n, c) plane of x, as PyTorch.
    `name` is the function errors are reported for.
    """
    x = _check(x, name)
    k, stride, pads, dilation, O = _geometry(x.shape[1:-1], kernel_size, stride, padding, dilation,
                                                 ceil_mode, name)
    op = MaxPool(k, stride, pads, dilation, O)
    y = op(x)
    return (y, Tensor(op.indices(x._data, y._data), dtype=xp.int64)) if return_indices else y


def avg_pool(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
             divisor_override=None, name="avg_pool"):
    """Average pooling of x (N, *S, C) over its 1-3 spatial dims (PyTorch semantics for the divisor).

    A window's divisor is its size clipped to the padded input (count_include_pad) or to the input itself,
    or `divisor_override` when given. `name` is the function errors are reported for.
    """
    x = _check(x, name)
    k, stride, pads, _, O = _geometry(x.shape[1:-1], kernel_size, stride, padding, 1, ceil_mode, name)
    if divisor_override is not None:
        if not is_int(divisor_override):
            raise TypeError(f"{name}: divisor_override must be an int, got {divisor_override!r}")
        if divisor_override == 0:
            raise ValueError(f"{name}: divisor_override must not be zero")
        return AvgPool(k, stride, pads, O, int(divisor_override))(x)
    count = xp.ones(())
    for L, kk, s, (p, _), o in zip(x.shape[1:-1], k, stride, pads, O, strict=True):
        start = xp.arange(o) * s - p  # (o,) where each window starts, in input coordinates
        end = xp.minimum(start + kk, L + p)
        if not count_include_pad:
            start, end = xp.maximum(start, 0), xp.minimum(end, L)
        count = count[..., None] * (end - start)  # (*O so far)
    return AvgPool(k, stride, pads, O, count[..., None].astype(x.dtype))(x)  # divisor (*O, 1)
