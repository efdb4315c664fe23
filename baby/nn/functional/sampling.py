"""Padding and resampling on NCHW tensors: pad (constant, reflect, replicate, circular) and interpolate
(nearest, linear, bilinear, trilinear with align_corners), composed from indexing so gradients follow."""

import math
import numbers

from ...backend import xp
from ...tensor import Tensor

_MODES = ("constant", "reflect", "replicate", "circular")


def _index(mode, n, before, after):
    """Source positions along one dim of size n for `before` + n + `after` padded positions."""
    i = xp.arange(-before, n + after)
    if mode == "replicate":
        return xp.clip(i, 0, n - 1)
    if mode == "circular":
        return i % n
    period = 2 * (n - 1)  # reflect: ... 2 1 | 0 1 2 ... n-1 | n-2 ...
    i = xp.abs(i) % period if period else xp.zeros_like(i)
    return xp.where(i >= n, period - i, i)


def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad) // 2 dims: pad = (left, right, top, bottom, ...) from the last dim backwards."""
    x = input
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: expected an even number of sizes for at most {x.ndim} dims, got {pad}")
    if mode not in _MODES:
        raise ValueError(f"pad: mode must be one of {_MODES}, got {mode!r}")
    pairs = [(int(pad[2 * k]), int(pad[2 * k + 1])) for k in range(len(pad) // 2)][::-1]  # first dim first
    lead = x.ndim - len(pairs)
    if mode == "constant":
        if any(b < 0 or a < 0 for b, a in pairs):
            crop = tuple(slice(max(-b, 0), x.shape[lead + k] - max(-a, 0)) for k, (b, a) in enumerate(pairs))
            x = x[(slice(None),) * lead + crop]
            pairs = [(max(b, 0), max(a, 0)) for b, a in pairs]
        return x.pad(pairs, 0 if value is None else value)
    for k, (b, a) in enumerate(pairs):
        d = lead + k
        if mode == "reflect" and (b >= x.shape[d] or a >= x.shape[d]):
            raise ValueError(f"pad: reflect padding ({b}, {a}) must be smaller than dim {d} of size "
                             f"{x.shape[d]} (input shape {tuple(input.shape)})")
        x = x[(slice(None),) * d + (Tensor(_index(mode, x.shape[d], b, a), dtype=xp.int64),)]
    return x


def _size(x, size, scale_factor, name):
    """The output spatial size and the scale each source position is taken with."""
    n = x.ndim - 2
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{name}: give exactly one of size and scale_factor")
    if size is not None:
        out = (size,) * n if isinstance(size, numbers.Integral) else tuple(size)
        scales = [s / o for s, o in zip(x.shape[2:], out, strict=True)]
    else:
        f = (scale_factor,) * n if isinstance(scale_factor, numbers.Real) else tuple(scale_factor)
        out = tuple(math.floor(s * k) for s, k in zip(x.shape[2:], f, strict=True))
        scales = [1 / k for k in f]
    if len(out) != n:
        raise ValueError(f"{name}: size {out} does not match the {n} spatial dims of input {tuple(x.shape)}")
    return out, scales


def _linear_along(x, d, n_out, scale, align_corners):
    """Linear interpolation of x along dim d to n_out positions."""
    n = x.shape[d]
    o = xp.arange(n_out, dtype=xp.float64)
    if align_corners:
        src = o * ((n - 1) / (n_out - 1)) if n_out > 1 else xp.zeros(n_out)
    else:
        src = xp.maximum((o + 0.5) * scale - 0.5, 0)
    i0 = xp.minimum(xp.floor(src).astype(xp.int64), n - 1)
    i1 = xp.minimum(i0 + 1, n - 1)
    w = Tensor((src - i0).reshape((-1,) + (1,) * (x.ndim - d - 1)), dtype=x.dtype)  # (n_out, 1, ...)
    head = (slice(None),) * d
    lo, hi = x[head + (Tensor(i0, dtype=xp.int64),)], x[head + (Tensor(i1, dtype=xp.int64),)]
    return lo * (1 - w) + hi * w  # (not lo + (hi - lo) w: inf - inf would be NaN where PyTorch keeps inf)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Resize the spatial dims of input (N, C, *d): 'nearest', or 'linear'/'bilinear'/'trilinear'."""
    x = input
    linear = {"linear": 1, "bilinear": 2, "trilinear": 3}
    if mode != "nearest" and linear.get(mode) != x.ndim - 2:
        raise ValueError(f"interpolate: mode {mode!r} does not fit input of shape {tuple(x.shape)} "
                         f"(nearest, or "
                         "linear / bilinear / trilinear for 1 / 2 / 3 spatial dims)")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("interpolate: align_corners only applies to the linear modes")
    out, scales = _size(x, size, scale_factor, "interpolate")
    for k, (n_out, s) in enumerate(zip(out, scales, strict=True)):
        d = 2 + k
        if mode == "nearest":
            src = xp.minimum(xp.floor(xp.arange(n_out) * s).astype(xp.int64), x.shape[d] - 1)
            x = x[(slice(None),) * d + (Tensor(src, dtype=xp.int64),)]
        else:
            x = _linear_along(x, d, n_out, s, bool(align_corners))
    return x


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """interpolate, under its older name."""
    return interpolate(input, size, scale_factor, mode, align_corners)
