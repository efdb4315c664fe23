"""PyTorch-style functions: linear, dropout, flatten and layer_norm (one fused op, closed-form backward).

Activations are in activation.py, losses in loss.py.
"""

import math
import numbers

from ... import ops, random
from ...backend import einsum, xp
from ...ops import elementwise as E
from ...ops.inplace import apply_
from ...ops.shape import Reshape, normalize_axes
from ...tensor import Function, Tensor


def linear(x, weight, bias=None):
    """x @ weight.T + bias; x (..., in), weight (out, in), bias (out,)."""
    xs, ws = getattr(x, "_data", x).shape, getattr(weight, "_data", weight).shape  # the arrays' shapes
    if len(ws) != 2 or not xs or xs[-1] != ws[1]:
        raise ValueError(f"linear: input {tuple(xs)} and weight {tuple(ws)} do not match: "
                         "expected input (..., in) and weight (out, in)")
    if len(xs) >= 2 and x.dtype == weight.dtype == (x.dtype if bias is None else bias.dtype) \
            and x.dtype.kind == "f":  # one fused op
        y = ops.linear(x if len(xs) == 2 else x.reshape(-1, xs[-1]), weight, bias)  # (M, out)
        return y if len(xs) == 2 else y.reshape(*xs[:-1], ws[0])  # (..., out)
    if len(xs) <= 2:
        y = x @ weight.T  # (N, in) @ (in, out)
    else:
        y = x.reshape(-1, xs[-1]) @ weight.T  # (M, in) @ (in, out)
        y = y.reshape(*xs[:-1], ws[0])  # (..., out)
    return y if bias is None else y + bias


def dropout(x, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (identity unless training);
    with `inplace` the result is written into x."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"dropout probability must be a number in [0, 1], got {p!r}")
    if not training or p == 0:
        return x
    if p == 1:
        scale = Tensor(xp.zeros(x.shape, x.dtype))
    else:
        keep = random.generator().random(x.shape, dtype=xp.float32) >= p
        scale = Tensor(keep / xp.float32(1 - p), dtype=x.dtype)
    return apply_(x, E.mul, scale, name="dropout_") if inplace else x * scale


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one."""
    s = normalize_axes(start_dim, max(x.ndim, 1), "start_dim")[0]
    e = normalize_axes(end_dim, max(x.ndim, 1), "end_dim")[0]
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape "
                         f"{tuple(x.shape)}")
    shape = x._data.shape
    return Reshape((*shape[:s], math.prod(shape[s:e + 1]), *shape[e + 1:]))(x)  # (..., prod(s..e), ...)


class LayerNorm(Function):
    """(x - mean) / sqrt(var + eps) * w + b, statistics over the trailing `k` axes (computed on x viewed as
    (rows, features): row dot products by einsum, temporaries written in place)."""

    def __init__(self, k, eps):
        self.k, self.eps = k, eps

    def forward(self, x, w, b):
        n = w.size
        x2 = x.reshape(-1, n)  # (M, n)
        xc = x2 - x2.mean(axis=1, keepdims=True)
        var = einsum("mi,mi->m", xc, xc)[:, None] / n  # (M, 1)
        self.invstd = 1 / xp.sqrt(var + self.eps)
        xc *= self.invstd
        self.xhat = xc  # (M, n)
        y = xc * w.reshape(-1)
        y += b.reshape(-1)
        return y.reshape(x.shape)

    def backward(self, gy, node):
        x, w, b = node.inputs
        n, xhat = w._data.size, self.xhat
        gy2 = gy.reshape(-1, n)  # (M, n)
        g = gy2 * w._data.reshape(-1)
        dot = einsum("mi,mi->m", g, xhat)[:, None] / n  # mean(g * xhat) per row
        g -= g.mean(axis=1, keepdims=True)
        g -= xhat * dot
        g *= self.invstd
        gw = einsum("mi,mi->i", gy2, xhat).reshape(w.shape) if w.requires_grad else None
        gb = gy2.sum(axis=0).reshape(b.shape) if b.requires_grad else None
        return g.reshape(x.shape), gw, gb


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the trailing `normalized_shape` dims, then scale by weight and shift by bias."""
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    if len(shape) == 0 or x.shape[-len(shape):] != shape:
        raise ValueError(f"layer_norm: input of shape {tuple(x.shape)} does not end with normalized_shape "
                         f"{shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise ValueError(f"layer_norm: {name} has shape {tuple(t.shape)}, expected normalized_shape "
                             f"{shape}")
    w = weight if weight is not None else Tensor(xp.ones(shape, dtype=x.dtype), dtype=x.dtype)
    b = bias if bias is not None else Tensor(xp.zeros(shape, dtype=x.dtype), dtype=x.dtype)
    return LayerNorm(len(shape), eps)(x, w, b)
