"""Scaled dot-product attention: one head is

    s = (q * scale) @ k.T        (L, S)   how well each of the L queries matches each of the S keys
    p = softmax(s + mask)        (L, S)   each query's weights over the keys (a row sums to 1)
    y = dropout(p) @ v           (L, Ev)  each query's weighted mean of the values

with any leading batch and head dims. The softmax and the mask are one op (MaskedSoftmax).
"""

import math

from ...backend import einsum, xp
from ...ops.elementwise import sum_to
from ...ops.rearrange import repeat_interleave
from ...tensor import Function, Tensor
from .basic import dropout


class MaskedSoftmax(Function):
    """softmax(s + mask) over the last dim; where the bool `keep` is false a score takes no part. A row in
    which no score takes part is all zeros (PyTorch's safe softmax), so it passes no NaN forward or back."""

    def __init__(self, keep=None):
        self.keep = keep  # a bool array that broadcasts to s, or None

    def forward(self, s, mask=None):
        z = s + mask if mask is not None else s  # (..., L, S)
        if self.keep is not None:
            z = xp.where(self.keep, z, -xp.inf)
        m = z.max(axis=-1, keepdims=True)  # (..., L, 1)
        m[xp.isneginf(m)] = 0  # rows with nothing to attend to: exp(-inf - 0) = 0 everywhere
        z = xp.subtract(z, m, out=z if z is not s else None)  # a new array once, then in place
        xp.exp(z, out=z)
        t = z.sum(axis=-1, keepdims=True)  # (..., L, 1)
        t[t == 0] = 1
        z /= t
        return z

    def backward(self, gy, node):
        p = node._data
        gs = gy - einsum("...i,...i->...", gy, p)[..., None]  # gy - sum(gy * p), one row at a time
        gs *= p
        mask = node.inputs[1] if len(node.inputs) > 1 else None
        return (gs,) if mask is None else (gs, sum_to(gs, mask.shape) if mask.requires_grad else None)

    def name(self):
        return "SoftmaxBackward0"


def attention_mask(attn_mask, is_causal, L, S, dtype):
    """The keep array (bool) and the additive mask (a Tensor) of attn_mask / is_causal; either may be None."""
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError(
                "scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True"
            )
        return xp.tril(xp.ones((L, S), bool)), None  # query i sees keys 0..i
    if attn_mask is None:
        return None, None
    if attn_mask.dtype == bool:
        return attn_mask._data, None
    return None, attn_mask.to(dtype)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    """softmax(query @ key.T * scale + mask) @ value over the last two dims: query (..., L, E),
    key (..., S, E), value (..., S, Ev) -> (..., L, Ev). A bool attn_mask marks with True the scores that
    take part, a float one is added; is_causal lets query i see keys 0..i; dropout_p drops weights."""
    _check(query, key, value, attn_mask, enable_gqa)
    L, S, E = query.shape[-2], key.shape[-2], query.shape[-1]
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        groups = query.shape[-3] // key.shape[-3]
        key = repeat_interleave(key, groups, -3)  # (..., Hq, S, E): each key head serves `groups` queries
        value = repeat_interleave(value, groups, -3)
    keep, mask = attention_mask(attn_mask, is_causal, L, S, query.dtype)
    scale = 1 / math.sqrt(E) if scale is None else scale
    s = (query * scale) @ key.transpose(-2, -1)  # (..., L, S)
    p = MaskedSoftmax(keep)(s) if mask is None else MaskedSoftmax(keep)(s, mask)  # (..., L, S)
    return dropout(p, dropout_p) @ value  # (..., L, Ev)


def _check(q, k, v, attn_mask, enable_gqa):
    """PyTorch's errors for inputs that do not fit, naming the arguments and their shapes."""
    shapes = f"query {tuple(q.shape)}, key {tuple(k.shape)}, value {tuple(v.shape)}"
    if not q.dtype == k.dtype == v.dtype:
        raise RuntimeError(
            f"Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{q.dtype} key.dtype: {k.dtype} and value.dtype: {v.dtype} instead."
        )
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise RuntimeError(
            f"scaled_dot_product_attention: query, key and value need at least 2 dims, got {shapes}"
        )
    if k.shape[-1] != q.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise RuntimeError(
            f"scaled_dot_product_attention: key must be (..., S, E) for query (..., L, E) and "
            f"value (..., S, Ev), got {shapes}"
        )
    if enable_gqa and q.ndim >= 3 and (k.shape[-3] != v.shape[-3] or q.shape[-3] % k.shape[-3]):
        raise RuntimeError(
            f"Number of heads in key and value must divide the number of heads in query, got {shapes}"
        )
    lead = [x.shape[:-2] if not enable_gqa or x.ndim < 3 else x.shape[:-3] for x in (q, k, v)]
    try:
        xp.broadcast_shapes(*lead)
        if not enable_gqa:
            xp.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        if attn_mask is not None:
            if not isinstance(attn_mask, Tensor) or (attn_mask.dtype != bool and attn_mask.dtype.kind != "f"):
                raise TypeError
            batch = q.shape[:-2] if enable_gqa else xp.broadcast_shapes(q.shape[:-2], k.shape[:-2])
            scores = batch + (q.shape[-2], k.shape[-2])  # (..., L, S)
            if xp.broadcast_shapes(attn_mask.shape, scores) != scores:
                raise ValueError
    except TypeError:
        raise RuntimeError(
            f"Expected attn_mask dtype to be bool or float or to match query dtype, but got "
            f"attn_mask.dtype: {attn_mask.dtype} and query.dtype: {q.dtype} instead."
        ) from None
    except ValueError:
        mask = "" if attn_mask is None else f", attn_mask {tuple(attn_mask.shape)}"
        raise RuntimeError(
            f"scaled_dot_product_attention: the batch dims do not broadcast: {shapes}{mask}, "
            f"expected a mask that broadcasts to {q.shape[:-1] + (k.shape[-2],)}"
        ) from None
