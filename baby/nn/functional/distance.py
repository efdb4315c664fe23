"""Distances between batches of vectors and the losses built on them: cosine_similarity,
pairwise_distance, triplet_margin_loss, margin_ranking_loss, cosine_embedding_loss; and the two-input layers'
functions prelu and bilinear."""

from ... import ops
from ...ops import elementwise as E
from .loss import _reduce, check_reduction, legacy_reduction


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(|x1|, eps) * max(|x2|, eps)) along `dim` (inputs broadcast)."""
    n1 = ops.norm(x1, 2, dim, keepdim=True).clamp(min=eps)
    n2 = ops.norm(x2, 2, dim, keepdim=True).clamp(min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """|x1 - x2 + eps|_p over the last dim."""
    return ops.norm(x1 - x2 + eps, p, -1, keepdim=keepdim)


def _loss_args(size_average, reduce, reduction):
    return check_reduction(legacy_reduction(size_average, reduce, reduction))


def triplet_margin_loss(
    anchor,
    positive,
    negative,
    margin=1.0,
    p=2,
    eps=1e-6,
    swap=False,
    size_average=None,
    reduce=None,
    reduction="mean",
):
    """max(d(a, p) - d(a, n) + margin, 0) with the pairwise p-distance; `swap` uses min(d(a, n), d(p, n))."""
    reduction = _loss_args(size_average, reduce, reduction)
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(
            f"triplet_margin_loss: anchor {tuple(anchor.shape)}, positive {tuple(positive.shape)} "
            f"and negative {tuple(negative.shape)} must have the same number of dims"
        )
    d_ap = pairwise_distance(anchor, positive, p, eps)
    d_an = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_an = E.minimum(d_an, pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_ap - d_an).clamp(min=0), reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """max(-target * (x1 - x2) + margin, 0), target 1 or -1."""
    reduction = _loss_args(size_average, reduce, reduction)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(
            f"margin_ranking_loss: input1 {tuple(input1.shape)}, input2 {tuple(input2.shape)} and "
            f"target {tuple(target.shape)} must have the same number of dims"
        )
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0), reduction)


def cosine_embedding_loss(
    input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"
):
    """1 - cos(x1, x2) where target is 1, max(cos(x1, x2) - margin, 0) where it is -1."""
    reduction = _loss_args(size_average, reduce, reduction)
    if input1.ndim not in (1, 2) or input1.shape != input2.shape:
        raise RuntimeError(
            f"cosine_embedding_loss: expected inputs (N, D) or (D,) of one shape, got "
            f"{tuple(input1.shape)} and {tuple(input2.shape)}"
        )
    d = input1.ndim - 1
    prod = (input1 * input2).sum(d)
    mag = ((input1 * input1).sum(d) + 1e-12) * ((input2 * input2).sum(d) + 1e-12)
    cos = prod / E.sqrt(mag)
    zero = cos * 0
    loss = E.where(target == 1, 1 - cos, zero) + E.where(target == -1, (cos - margin).clamp(min=0), zero)
    return _reduce(loss, reduction)


def prelu(input, weight):
    """x where x > 0, weight * x elsewhere; weight (C,) along dim 1 (or one shared value)."""
    w = weight
    if w.numel() != 1:
        if input.ndim < 2 or input.shape[1] != w.numel():
            raise RuntimeError(
                f"prelu: weight of {w.numel()} values does not match the channels (dim 1) of "
                f"input {tuple(input.shape)}"
            )
        w = w.reshape(-1, *(1,) * (input.ndim - 2))  # (C, 1, ..., 1)
    return E.where(input > 0, input, w * input)


def bilinear(input1, input2, weight, bias=None):
    """y_k = x1^T W_k x2 + b_k; x1 (..., in1), x2 (..., in2), weight (out, in1, in2)."""
    if weight.ndim != 3 or input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(
            f"bilinear: inputs {tuple(input1.shape)}, {tuple(input2.shape)} do not match weight "
            f"{tuple(weight.shape)} (out, in1, in2)"
        )
    lead = input1.shape[:-1]
    x1, x2 = input1.reshape(-1, weight.shape[1]), input2.reshape(-1, weight.shape[2])  # (M, in1), (M, in2)
    y = ops.einsum("mi,kij,mj->mk", x1, weight, x2).reshape(*lead, weight.shape[0])  # (..., out)
    return y if bias is None else y + bias
