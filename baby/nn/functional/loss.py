"""Losses with PyTorch's signatures, values and gradients: cross_entropy (one fused op), nll_loss, the binary
cross-entropies, mse / l1 / smooth_l1 / huber, soft_margin, kl_div; and one_hot, normalize.

binary_cross_entropy is a primitive because PyTorch's gradient (x - t) / max(x (1 - x), 1e-12) differs from
the composed one at x near 0 and 1; everything else is composed from baby's ops.
"""

import math
import warnings

from ... import ops
from ...backend import xp
from ...ops import elementwise as E
from ...tensor import Function, Tensor, _wrap, as_tensor
from .activation import logsigmoid, softplus


def legacy_reduction(size_average, reduce, reduction):
    """`reduction`, or the one PyTorch's deprecated size_average / reduce arguments stand for."""
    if size_average is None and reduce is None:
        return reduction
    size_average, reduce = size_average is not False, reduce is not False
    new = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{new}' instead.",
                  stacklevel=3)
    return new


def check_reduction(reduction, allowed=("none", "mean", "sum")):
    """`reduction` if it is one of `allowed`, else a ValueError."""
    if reduction not in allowed:
        names = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"reduction must be one of {names}, got {reduction!r}")
    return reduction


def _reduce(loss, reduction):
    return loss if reduction == "none" else loss.mean() if reduction == "mean" else loss.sum()


def _same_shape(name, x, target):
    if x.shape != target.shape:
        raise ValueError(f"{name}: input {tuple(x.shape)} and target {tuple(target.shape)} must have the "
                         "same shape")


def _const(t, dtype):
    """A weight as a constant tensor of `dtype` (PyTorch gives such weights no gradient)."""
    return None if t is None else _wrap(xp.asarray(t._data if isinstance(t, Tensor) else t, dtype=dtype))


def _weighted(name, loss, x, weight, reduction, mean_by_weight=True):
    """loss * weight (input's shape), reduced; as PyTorch, 'mean' divides by the sum of the weights (mse,
    l1) or by the count (huber)."""
    if weight is None:
        return _reduce(loss, reduction)
    weight = as_tensor(weight)
    if weight.shape != x.shape:
        raise ValueError(f"{name}: weight {tuple(weight.shape)} and input {tuple(x.shape)} must have the "
                         "same size")
    loss = loss * weight
    return loss.sum() / weight.sum() if reduction == "mean" and mean_by_weight else _reduce(loss, reduction)


# ---- class targets: cross_entropy and nll_loss ----------------------------------------------------------
class CrossEntropy(Function):
    """Per-sample -sum_c q_c log softmax(x)_c over classes (axis 1), q the (smoothed, weighted) target; with
    `total` (the sum's divisor: 1 for 'sum', the weights' sum for 'mean') their sum / total, one node.

    With t the target class, w the class weights and s the smoothing: q = (1 - s) w_t [c == t] + s w_c / C,
    and 0 for ignored samples. The gradient is softmax(x) * sum_c q_c - q.
    """

    def __init__(self, target, mask, weight, smoothing, total=None):
        n, *d = (xp.arange(len(target)),) if target.ndim == 1 else xp.indices(target.shape, sparse=True)
        self.at = (n, target, *d)  # each sample's target class in (N, C, *d); n, *d: open index grids
        self.mask, self.w, self.s = mask, weight, smoothing  # mask (N, *d) float; weight (C,) or None
        self.wt = mask if weight is None else mask * weight[target]  # (N, *d): w_t, 0 if ignored
        self.q = self.wt * (1 - smoothing) if smoothing else self.wt  # (N, *d): q's one-hot part
        self.total = total  # a 0-d array of the input's dtype, or None: no reduction

    def forward(self, x):
        C = x.shape[1]
        z = x - xp.maximum.reduce(x, axis=1, keepdims=True)  # (ufuncs' reduce: no Python wrapper)
        self.logp = z - xp.log(xp.add.reduce(xp.exp(z), axis=1, keepdims=True))  # (N, C, *d)
        loss = self.logp[self.at] * self.q  # (N, *d): the loss, negated
        if self.s:
            wc = 1 if self.w is None else self.w.reshape(1, C, *(1,) * (x.ndim - 2))  # (1, C, 1...)
            loss += xp.add.reduce(self.logp * wc, axis=1) * (self.mask * (self.s / C))
        loss = loss.astype(x.dtype, copy=False)
        return -loss if self.total is None else xp.add.reduce(loss, axis=None) / -self.total

    def backward(self, gy, node):
        C, nd = self.logp.shape[1], self.logp.ndim
        if self.total is not None:  # (the sum's and the division's gradients, as their own nodes give them)
            gy = gy / self.total  # 0-d: each sample's gradient
        gq = gy * self.q  # (N, *d): gy times q's one-hot part (a 0-d gy broadcast)
        total = gq  # (N, *d): gy times sum_c q_c, its one-hot part and the smoothing's
        if self.s:
            total = total + gy * self.mask * (self.s / C) * (C if self.w is None else self.w.sum())
        gx = xp.exp(self.logp)  # (N, C, *d)
        gx *= total[:, None]
        if self.s:
            wc = 1 if self.w is None else self.w.reshape(1, C, *(1,) * (nd - 2))  # (1, C, 1...)
            gx -= (gy * self.mask)[:, None] * (self.s / C) * wc
        gx[self.at] -= gq  # at the targets (one per sample: no index repeats)
        return (gx.astype(self.logp.dtype, copy=False),)


def _class_target(name, x, t, weight, ignore_index):
    """Validated integer targets (N, *d), the not-ignored mask and the weight array."""
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices, got dtype {t.dtype} "
                        "(make it with dtype=baby.int64)")
    if x.ndim < 2 or t.shape != x.shape[:1] + x.shape[2:]:
        raise ValueError(f"{name}: input {tuple(x.shape)} and target {t.shape} do not match: expected input "
                         "(N, C) with target (N,), or (N, C, d1, ...) with target (N, d1, ...)")
    C = x.shape[1]
    if t.size and not 0 <= ignore_index < C and 0 <= xp.minimum.reduce(t, axis=None) and \
            xp.maximum.reduce(t, axis=None) < C:  # all in range, none ignored
        return t, xp.ones(t.shape, x.dtype), _class_weight(name, x, weight)
    keep = t != ignore_index
    bad = keep & ((t < 0) | (t >= C))
    if bad.any():
        raise ValueError(f"{name}: target value {t[bad][0]} is out of range for {C} classes "
                         f"(expected 0 <= target < {C}, or ignore_index={ignore_index})")
    return xp.where(keep, t, 0), keep.astype(x.dtype), _class_weight(name, x, weight)


def _class_weight(name, x, weight):
    """The class weights as an array of x's dtype (None for none), checked to have one per class."""
    if weight is None:
        return None
    w = (weight._data if isinstance(weight, Tensor) else xp.asarray(weight)).astype(x.dtype, copy=False)
    if w.shape != (x.shape[1],):
        raise ValueError(f"{name}: weight has shape {w.shape}, expected ({x.shape[1]},) for {tuple(x.shape)}")
    return w


def _data(target):
    """The target's array."""
    return target._data if isinstance(target, Tensor) else xp.asarray(target)


def _classes(name, fn, x, target, weight, ignore_index, reduction):
    """fn(x, t, mask, w) -> (per-sample loss, its weights) reduced as PyTorch: 'mean' divides by the sum of
    the not-ignored targets' weights; an unbatched (C,) input with a 0-d target is a batch of one."""
    t = _data(target)
    unbatched = x.ndim == 1
    if unbatched:
        x, t = x.reshape(1, -1), t.reshape(1, *t.shape)
    t, mask, w = _class_target(name, x, t, weight, ignore_index)
    loss, wt = fn(x, t, mask, w)
    if reduction == "none":
        return loss.reshape(()) if unbatched else loss
    if reduction == "sum":
        return loss.sum()
    total = wt.sum()
    if total:
        return loss.sum() / float(total)
    # every target ignored (or weighted 0): PyTorch's NaN loss; its gradient 0 at the ignored targets, NaN
    # at the others (x 0/0), never NaN from the ignored ones
    at = _wrap(xp.where(mask > 0, math.nan, 0).astype(loss.dtype))  # (N, *d)
    return (loss * at).sum() + math.nan


def _fused_cross_entropy(smoothing):
    def fn(x, t, mask, w):
        op = CrossEntropy(t, mask, w, smoothing)
        return op(x), op.wt

    return fn


def _nll(x, t, mask, w):
    wt = mask * (1 if w is None else w[t])  # (N, *d): the target's weight, 0 where ignored
    return -ops.gather(x, 1, t[:, None])[:, 0] * wt, wt  # (N, *d)


def _cross_entropy_probs(x, target, weight, ignore_index, reduction, s):
    """-sum_c w_c q_c log softmax(x)_c with q the class probabilities (smoothed); 'mean' divides by N * d."""
    if ignore_index >= 0:
        raise RuntimeError("ignore_index is not supported for floating point target")
    dim = 0 if x.ndim == 1 else 1
    C = x.shape[dim]
    q = target * (1 - s) + s / C if s else target
    logp = ops.log_softmax(x, dim) * q
    if weight is not None:
        w = E._operand(as_tensor(weight), x.dtype)
        logp = logp * w.reshape(C, *(1,) * (x.ndim - dim - 1))  # (C, 1...)
    loss = -logp.sum(dim)
    return loss.sum() / (x.numel() // C) if reduction == "mean" else _reduce(loss, reduction)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of logits (N, C, *d) against classes (N, *d) or probabilities (N, C, *d)."""
    x = as_tensor(input)
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction))
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    t = target if isinstance(target, Tensor) else xp.asarray(target)
    if t.dtype.kind == "f" and tuple(t.shape) == x.shape:  # class probabilities
        return _cross_entropy_probs(x, as_tensor(t), weight, ignore_index, reduction, float(label_smoothing))
    if reduction != "none" and x.ndim >= 2:  # the loss and its reduction as one node
        t, mask, w = _class_target("cross_entropy", x, _data(target), weight, ignore_index)
        op = CrossEntropy(t, mask, w, float(label_smoothing))
        total = 1.0 if reduction == "sum" else float(op.wt.sum())
        if total:  # (else every target is ignored: the NaN loss below)
            op.total = xp.asarray(total, x.dtype)
            return op(x)
    fn = _fused_cross_entropy(float(label_smoothing))
    return _classes("cross_entropy", fn, x, target, weight, ignore_index, reduction)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """-input[n, target[n]] * weight[target[n]] for log-probabilities (N, C, *d) and classes (N, *d)."""
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction))
    return _classes("nll_loss", _nll, as_tensor(input), target, weight, ignore_index, reduction)


# ---- binary targets ---------------------------------------------------------------------------------------
class BinaryCrossEntropy(Function):
    """-(t log x + (1 - t) log(1 - x)), each log clamped at -100, with PyTorch's gradients."""

    def forward(self, x, t):
        with xp.errstate(divide="ignore"):
            return (t - 1) * xp.maximum(xp.log1p(-x), -100) - t * xp.maximum(xp.log(x), -100)

    def backward(self, gy, node):
        x, t = node.inputs[0]._data, node.inputs[1]._data
        gx = gy * (x - t) / xp.maximum((1 - x) * x, 1e-12) if node.inputs[0].requires_grad else None
        if not node.inputs[1].requires_grad:
            return gx, None
        with xp.errstate(divide="ignore"):
            return gx, gy * (xp.log1p(-x) - xp.log(x))  # -logit(x)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Binary cross-entropy of probabilities `input` against `target` (same shape), weight broadcast."""
    x, target = as_tensor(input), as_tensor(target)
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction))
    _same_shape("binary_cross_entropy", x, target)
    for name, v in (("input", x._data), ("target", target._data)):
        if v.size and not ((v >= 0) & (v <= 1)).all():
            raise RuntimeError(f"binary_cross_entropy: all elements of {name} should be between 0 and 1")
    loss = BinaryCrossEntropy()(*E._binary(x, target))
    return _reduce(loss if weight is None else loss * _const(weight, loss.dtype), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Binary cross-entropy of sigmoid(input) against `target`, computed stably from the logits;
    pos_weight (broadcast over the last dim) weighs the positive term."""
    x, target = as_tensor(input), as_tensor(target)
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction))
    _same_shape("binary_cross_entropy_with_logits", x, target)
    log_p = logsigmoid(x)
    if pos_weight is not None:
        log_p = log_p * ((_const(pos_weight, x.dtype) - 1) * target + 1)
    loss = (1 - target) * x - log_p
    return _reduce(loss if weight is None else loss * _const(weight, loss.dtype), reduction)


# ---- regression -------------------------------------------------------------------------------------------
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Squared error, reduced; with `weight` (input's shape), 'mean' divides by the sum of the weights."""
    x, target = as_tensor(input), as_tensor(target)
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction))
    _same_shape("mse_loss", x, target)
    d = x - target
    return _weighted("mse_loss", d * d, x, weight, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Absolute error, reduced; with `weight` (input's shape), 'mean' divides by the sum of the weights."""
    x, target = as_tensor(input), as_tensor(target)
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction))
    _same_shape("l1_loss", x, target)
    return _weighted("l1_loss", E.abs(x - target), x, weight, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d**2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); beta=0 is l1_loss."""
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
    if beta == 0:
        return l1_loss(input, target, size_average, reduce, reduction)
    x, target = as_tensor(input), as_tensor(target)
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction))
    _same_shape("smooth_l1_loss", x, target)
    d = x - target
    a, q = E.abs(d), ops.clamp(d, -beta, beta)  # q: d where the square is taken (no inf * 0 in backward)
    return _reduce(E.where(a._data < beta, q * q * (0.5 / beta), a - 0.5 * beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d**2 where |d| < delta, else delta (|d| - 0.5 delta) (d = input - target); weight multiplies."""
    if delta <= 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta, got {delta}")
    x, target = as_tensor(input), as_tensor(target)
    reduction = check_reduction(reduction)
    _same_shape("huber_loss", x, target)
    d = x - target
    a, q = E.abs(d), ops.clamp(d, -delta, delta)  # q: d where the square is taken (no inf * 0 in backward)
    loss = E.where(a._data < delta, q * q * 0.5, (a - 0.5 * delta) * delta)
    return _weighted("huber_loss", loss, x, weight, reduction, mean_by_weight=False)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)) for targets of +-1, computed stably."""
    x, target = as_tensor(input), as_tensor(target)
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction))
    _same_shape("soft_margin_loss", x, target)
    return _reduce(softplus(-_const(target, x.dtype) * x), reduction)  # no target gradient, as PyTorch


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """sum target * (log target - input) for log-probabilities `input`; 0 where target == 0.

    reduction='batchmean' divides the sum by the batch size (the KL divergence); 'mean' by every element.
    """
    x, target = as_tensor(input), as_tensor(target)
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support "
                      "size. 'batchmean' divides only by the batch size, and aligns with the KL div math "
                      "definition. 'mean' will be changed to behave the same as 'batchmean' in the next "
                      "major release.",
                      stacklevel=2)
    check_reduction(reduction, ("none", "batchmean", "mean", "sum"))
    _same_shape("kl_div", x, target)
    if log_target:
        loss = E.exp(target) * (target - x)
    else:  # xlogy(t, t): t log t, and 0 where t == 0
        loss = target * E.log(E.where(target._data == 0, 1, target)) - target * x
    if reduction == "batchmean":
        return loss.sum() / x.shape[0] if x.ndim else loss.sum()
    return _reduce(loss, reduction)


# ---- helpers ----------------------------------------------------------------------------------------------
def one_hot(tensor, num_classes=-1):
    """int64 one-hot vectors (*, num_classes) of the int64 class indices `tensor` (no gradient)."""
    t = tensor._data if isinstance(tensor, Tensor) else xp.asarray(tensor)
    if t.dtype != xp.int64:
        raise RuntimeError(f"one_hot is only applicable to index tensor of type LongTensor, got {t.dtype}")
    if num_classes == -1:
        if t.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(t.max()) + 1
    if t.size and t.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if t.size and t.max() >= num_classes:
        raise RuntimeError(f"Class values must be smaller than num_classes ({num_classes}).")
    return _wrap(xp.eye(num_classes, dtype=xp.int64)[t])  # (*, num_classes)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """input / max(||input||_p, eps) along `dim`."""
    x = as_tensor(input)
    if math.isinf(p):
        norm = ops.norm(x, p, dim, keepdim=True).clamp(min=eps)
    else:  # clamp the p-th power: a zero vector then gets PyTorch's gradient 1/eps, not 0/0
        norm = (E.abs(x) ** p).sum(dim, keepdim=True).clamp(min=eps**p) ** (1 / p)
    return x / norm
