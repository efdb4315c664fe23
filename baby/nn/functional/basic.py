"""PyTorch-style functions: linear, activations, softmax, dropout, flatten, layer_norm and the losses.

layer_norm and cross_entropy are each one fused op with a closed-form backward.
"""

import math
import numbers

from ... import ops, random
from ...backend import xp
from ...ops.shape import normalize_axes
from ...tensor import Function, Tensor, as_tensor


def linear(x, weight, bias=None):
    """x @ weight.T + bias; x (..., in), weight (out, in), bias (out,)."""
    if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input {tuple(x.shape)} and weight {tuple(weight.shape)} do not match: "
                         "expected input (..., in) and weight (out, in)")
    if x.ndim <= 2:
        y = x @ weight.T  # (N, in) @ (in, out)
    else:
        y = x.reshape(-1, x.shape[-1]) @ weight.T  # (M, in) @ (in, out)
        y = y.reshape(*x.shape[:-1], weight.shape[0])  # (..., out)
    return y if bias is None else y + bias


def relu(x):
    """max(x, 0)."""
    return ops.relu(x)


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return ops.sigmoid(x)


def tanh(x):
    """Hyperbolic tangent."""
    return ops.tanh(x)


def gelu(x, approximate="none"):
    """Gaussian error linear unit: approximate='none' (erf) or 'tanh'."""
    return ops.gelu(x, approximate)


def softmax(x, dim=-1):
    """Softmax along `dim`."""
    return ops.softmax(x, dim)


def log_softmax(x, dim=-1):
    """Log-softmax along `dim`."""
    return ops.log_softmax(x, dim)


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (identity unless training)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"dropout probability must be a number in [0, 1], got {p!r}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    keep = random.generator().random(x.shape, dtype=xp.float32) >= p
    return x * Tensor(keep / xp.float32(1 - p), dtype=x.dtype)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one."""
    s = normalize_axes(start_dim, max(x.ndim, 1), "start_dim")[0]
    e = normalize_axes(end_dim, max(x.ndim, 1), "end_dim")[0]
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape "
                         f"{tuple(x.shape)}")
    return x.reshape(*x.shape[:s], -1, *x.shape[e + 1:])  # (..., prod(shape[s:e+1]), ...)


class LayerNorm(Function):
    """(x - mean) / sqrt(var + eps) * w + b, statistics over the trailing `k` axes."""

    def __init__(self, k, eps):
        self.k, self.eps = k, eps

    def forward(self, x, w, b):
        axes = tuple(range(x.ndim - self.k, x.ndim))
        xc = x - x.mean(axis=axes, keepdims=True)
        self.invstd = 1 / xp.sqrt((xc * xc).mean(axis=axes, keepdims=True) + self.eps)  # (..., 1, ..., 1)
        self.xhat = xc * self.invstd
        return self.xhat * w + b

    def backward(self, gy, node):
        x, w, b = node.inputs
        axes, lead = tuple(range(x.ndim - self.k, x.ndim)), tuple(range(x.ndim - self.k))
        g = gy * w._data
        gx = self.invstd * (g - g.mean(axis=axes, keepdims=True)
                            - self.xhat * (g * self.xhat).mean(axis=axes, keepdims=True))
        gw = (gy * self.xhat).sum(axis=lead) if w.requires_grad else None
        gb = gy.sum(axis=lead) if b.requires_grad else None
        return gx, gw, gb


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


class CrossEntropy(Function):
    """Per-sample -sum_c q_c log softmax(x)_c over classes (axis 1), q the (smoothed, weighted) target.

    With t the target class, w the class weights and s the smoothing: q = (1 - s) w_t [c == t] + s w_c / C,
    and 0 for ignored samples. The gradient is softmax(x) * sum_c q_c - q.
    """

    def __init__(self, target, mask, weight, smoothing):
        self.t = target[:, None]  # (N, 1, *d): class indices, ignored samples set to 0
        self.mask, self.w, self.s = mask, weight, smoothing  # mask (N, *d) float; weight (C,) or None

    def forward(self, x):
        C = x.shape[1]
        z = x - x.max(axis=1, keepdims=True)
        self.logp = z - xp.log(xp.exp(z).sum(axis=1, keepdims=True))  # (N, C, *d)
        self.wt = self.mask * (1 if self.w is None else self.w[self.t[:, 0]])  # (N, *d): w_t, 0 if ignored
        loss = -xp.take_along_axis(self.logp, self.t, axis=1)[:, 0] * (self.wt * (1 - self.s))  # (N, *d)
        if self.s:
            wc = 1 if self.w is None else self.w.reshape(1, C, *(1,) * (x.ndim - 2))  # (1, C, 1...)
            loss -= (self.logp * wc).sum(axis=1) * (self.mask * (self.s / C))
        return loss.astype(x.dtype, copy=False)

    def backward(self, gy, node):
        C, nd = self.logp.shape[1], self.logp.ndim
        g = gy[:, None]  # (N, 1, *d)
        total = self.wt * (1 - self.s)  # (N, *d): sum_c q_c, the one-hot part ...
        if self.s:
            total = total + self.mask * (self.s / C) * (C if self.w is None else self.w.sum())  # + smoothing
        gx = xp.exp(self.logp) * (g * total[:, None])  # (N, C, *d)
        if self.s:
            wc = 1 if self.w is None else self.w.reshape(1, C, *(1,) * (nd - 2))  # (1, C, 1...)
            gx -= g * self.mask[:, None] * (self.s / C) * wc
        at_t = xp.take_along_axis(gx, self.t, axis=1) - g * (self.wt * (1 - self.s))[:, None]  # (N, 1, *d)
        xp.put_along_axis(gx, self.t, at_t, axis=1)
        return (gx.astype(self.logp.dtype, copy=False),)


def _class_target(x, target, weight, ignore_index):
    """Validated integer targets (N, *d), the not-ignored mask and the weight array."""
    t = target._data if isinstance(target, Tensor) else xp.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class indices, got dtype {t.dtype} "
                        "(make it with dtype=baby.int64)")
    if x.ndim < 2 or t.shape != x.shape[:1] + x.shape[2:]:
        raise ValueError(f"cross_entropy: input {tuple(x.shape)} and target {tuple(t.shape)} do not match: "
                         f"expected input "
                         "(N, C) with target (N,), or (N, C, d1, ...) with target (N, d1, ...)")
    C, keep = x.shape[1], t != ignore_index
    bad = keep & ((t < 0) | (t >= C))
    if bad.any():
        raise ValueError(f"cross_entropy: target value {t[bad][0]} is out of range for {C} classes "
                         f"(expected 0 <= target < {C}, or ignore_index={ignore_index})")
    w = None
    if weight is not None:
        w = (weight._data if isinstance(weight, Tensor) else xp.asarray(weight)).astype(x.dtype, copy=False)
        if w.shape != (C,):
            raise ValueError(f"cross_entropy: weight has shape {tuple(w.shape)}, expected ({C},) for "
                             f"{tuple(x.shape)}")
    return xp.where(keep, t, 0), keep.astype(x.dtype), w


def cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of logits x (N, C, *d) against integer classes target (N, *d), as PyTorch."""
    x = as_tensor(x)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    t, mask, w = _class_target(x, target, weight, ignore_index)
    op = CrossEntropy(t, mask, w, float(label_smoothing))
    loss = op(x)  # (N, *d)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    total = op.wt.sum()  # the sum of the not-ignored targets' weights
    return loss.sum() / (float(total) if total else math.nan)


def mse_loss(x, target, reduction="mean"):
    """Mean (or summed, or per-element) squared error; shapes must match."""
    x, target = as_tensor(x), as_tensor(target)
    if x.shape != target.shape:
        raise ValueError(f"mse_loss: input {tuple(x.shape)} and target {tuple(target.shape)} must have the "
                         f"same shape")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    d = x - target
    loss = d * d
    return loss if reduction == "none" else loss.mean() if reduction == "mean" else loss.sum()
