"""nn.MultiheadAttention, with PyTorch's arguments, parameter names and masks, so its state dicts load as-is.

Each of the H heads attends with its own D = E / H columns of the projected queries, keys and values
(the equations are in nn/functional/attention.py); the heads' outputs are concatenated and projected.
Inside, the heads are one more batch dim: (N, H, L, D), so every head is computed by the same products.
"""

import math

from .. import init, ops
from ..backend import xp
from ..tensor import Tensor, _wrap
from . import functional as F
from .layers import Linear
from .module import Module, Parameter


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under the name PyTorch gives MultiheadAttention's output projection."""


class MultiheadAttention(Module):
    """Attention of `num_heads` heads over embed_dim features: out_proj(concat(head_1 .. head_H)).

    Inputs are (L, N, E) (or (N, L, E) with batch_first, or unbatched (L, E)); key and value (S, N, kdim)
    and (S, N, vdim). Masks as PyTorch: a bool attn_mask (L, S) or (N * H, L, S) and a bool
    key_padding_mask (N, S) are True where attention is *not* allowed; float masks are added to the scores.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                f"num_heads={num_heads} instead"
            )
        if embed_dim % num_heads:
            raise AssertionError(
                f"embed_dim must be divisible by num_heads, got embed_dim={embed_dim} and "
                f"num_heads={num_heads}"
            )
        E, kw = embed_dim, dict(device=device, dtype=dtype)
        self.embed_dim, self.kdim, self.vdim = E, kdim or E, vdim or E
        self._qkv_same_embed_dim = self.kdim == E and self.vdim == E
        self.num_heads, self.head_dim, self.dropout = num_heads, E // num_heads, dropout
        self.batch_first, self.add_zero_attn = batch_first, add_zero_attn
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(init.zeros(3 * E, E, **kw))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = Parameter(init.zeros(E, E, **kw))
            self.k_proj_weight = Parameter(init.zeros(E, self.kdim, **kw))
            self.v_proj_weight = Parameter(init.zeros(E, self.vdim, **kw))
        self.in_proj_bias = Parameter(init.zeros(3 * E, **kw)) if bias else None
        if not bias:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(E, E, bias=bias, **kw)
        self.bias_k = Parameter(init.zeros(1, 1, E, **kw)) if add_bias_kv else None
        self.bias_v = Parameter(init.zeros(1, 1, E, **kw)) if add_bias_kv else None
        self._reset_parameters()

    def _reset_parameters(self):
        """PyTorch's initialization: Xavier-uniform projections, zero biases, Xavier-normal bias_k/v."""
        for w in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
            if w is not None:
                init.xavier_uniform_(w)
        for b in (self.in_proj_bias, self.out_proj.bias):
            if b is not None:
                init.constant_(b, 0.0)
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                init.xavier_normal_(b)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """(attention output like query, the weights (N, L, S) averaged over heads, or (N, H, L, S), or
        None without need_weights)."""
        batched = self._check(query, key, value, key_padding_mask, attn_mask)
        if is_causal and attn_mask is None:
            raise RuntimeError(
                "Need attn_mask if specifying the is_causal hint. You may use the Transformer "
                "module method `generate_square_subsequent_mask` to create this mask."
            )
        t = 1 if self.batch_first else 0  # the sequence dim; the batch dim is 1 - t
        if not batched:
            query, key, value = (x.unsqueeze(1 - t) for x in (query, key, value))
            key_padding_mask = None if key_padding_mask is None else key_padding_mask.unsqueeze(0)
        N, L = query.shape[1 - t], query.shape[t]
        q, k, v = self._in_projection(query, key, value)  # (L | S, N, E) or (N, L | S, E)
        mask = self._merged_mask(attn_mask, key_padding_mask, N, L, q.dtype)  # None or (N | 1, H | 1, L, S)
        if self.bias_k is not None:  # one more key and value, learned, that every query can attend to
            k = ops.cat([k, self.bias_k.expand(*k.shape[:t], 1, *k.shape[t + 1:])], t)
            v = ops.cat([v, self.bias_v.expand(*v.shape[:t], 1, *v.shape[t + 1:])], t)
            mask = _pad_last(mask)
        q, k, v = (self._split_heads(x, t) for x in (q, k, v))  # (N, H, L | S, D)
        if self.add_zero_attn:  # one more key and value of zeros
            zeros = _wrap(xp.zeros((N, self.num_heads, 1, self.head_dim), q.dtype))
            k, v = ops.cat([k, zeros], 2), ops.cat([v, zeros], 2)
            mask = _pad_last(mask)
        p = self.dropout if self.training else 0.0
        if need_weights:  # the weights are wanted: softmax as PyTorch (a fully masked row is NaN)
            s = (q * (1 / math.sqrt(self.head_dim))) @ k.transpose(-2, -1)  # (N, H, L, S)
            w = F.dropout(ops.softmax(s if mask is None else s + mask, -1), p)  # (N, H, L, S)
            y = w @ v  # (N, H, L, D)
            w = w.mean(1) if average_attn_weights else w  # (N, L, S) or (N, H, L, S)
            w = w if batched else w.squeeze(0)
        else:
            y, w = F.scaled_dot_product_attention(q, k, v, mask, p), None  # (N, H, L, D)
        y = self.out_proj(self._merge_heads(y, t))  # like query
        return (y if batched else y.squeeze(1 - t)), w

    def _in_projection(self, query, key, value):
        """query @ W_q.T + b_q, key @ W_k.T + b_k, value @ W_v.T + b_v, W_q, W_k, W_v the thirds of
        in_proj_weight (three products: their gradients need no split of a (.., 3E) gradient)."""
        b = (None,) * 3 if self.in_proj_bias is None else self.in_proj_bias.chunk(3)
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight.chunk(3)
        else:
            w = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        return tuple(F.linear(x, wi, bi) for x, wi, bi in zip((query, key, value), w, b, strict=True))

    def _split_heads(self, x, t):
        """(L, N, E) or (N, L, E) -> (N, H, L, D): the heads become a batch dim."""
        x = x.reshape(*x.shape[:2], self.num_heads, self.head_dim)  # (L, N, H, D) or (N, L, H, D)
        x = x.permute(1, 2, 0, 3) if t == 0 else x.permute(0, 2, 1, 3)  # (N, H, L, D)
        return x.contiguous()  # one copy here makes the products on the heads 2-3x faster than on views

    def _merge_heads(self, y, t):
        """(N, H, L, D) -> (L, N, E) or (N, L, E): the heads' outputs side by side."""
        y = y.permute(2, 0, 1, 3) if t == 0 else y.permute(0, 2, 1, 3)  # (L, N, H, D) or (N, L, H, D)
        return y.reshape(*y.shape[:2], self.embed_dim)

    def _merged_mask(self, attn_mask, key_padding_mask, N, L, dtype):
        """attn_mask and key_padding_mask as one float mask added to the scores (-inf: not allowed)."""
        masks = []
        if attn_mask is not None:
            m = _as_float(attn_mask, dtype)
            masks.append(m if m.ndim == 2 else m.reshape(N, self.num_heads, L, m.shape[-1]))  # (N, H, L, S)
        if key_padding_mask is not None:
            m = _as_float(key_padding_mask, dtype)
            masks.append(m.reshape(N, 1, 1, m.shape[-1]))  # (N, 1, 1, S): the same keys hidden from all
        if not masks:
            return None
        return masks[0] if len(masks) == 1 else masks[0] + masks[1]

    def _check(self, query, key, value, key_padding_mask, attn_mask):
        """PyTorch's errors for inputs that do not fit, naming the argument and shapes; True if batched."""
        if query.ndim not in (2, 3):
            raise AssertionError(
                f"query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D "
                f"query tensor of shape {tuple(query.shape)}"
            )
        batched, kind = query.ndim == 3, "batched (3-D)" if query.ndim == 3 else "unbatched (2-D)"
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise AssertionError(
                f"For {kind} `query`, expected `key` and `value` to be {query.ndim}-D but found "
                f"{key.ndim}-D and {value.ndim}-D tensors respectively"
            )
        for name, x, n in (("query", query, self.embed_dim), ("key", key, self.kdim),
                           ("value", value, self.vdim)):
            if x.shape[-1] != n:
                raise AssertionError(
                    f"{name}: was expecting embedding dimension of {n}, but got {x.shape[-1]} "
                    f"(shape {tuple(x.shape)})"
                )
        t = 1 if self.batch_first and batched else 0
        if key.shape[:-1] != value.shape[:-1]:
            raise AssertionError(
                f"key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)}"
            )
        if batched and key.shape[1 - t] != query.shape[1 - t]:
            raise RuntimeError(
                f"query {tuple(query.shape)} and key {tuple(key.shape)} have different batch sizes"
            )
        N, L, S = (query.shape[1 - t] if batched else 1), query.shape[t], key.shape[t]
        if key_padding_mask is not None:
            _mask_dtype(key_padding_mask, "key_padding_mask")
            want = (N, S) if batched else (S,)
            if tuple(key_padding_mask.shape) != want:
                raise AssertionError(
                    f"expecting key_padding_mask shape of {want}, but got {tuple(key_padding_mask.shape)}"
                )
        if attn_mask is not None:
            _mask_dtype(attn_mask, "attn_mask")
            want = {2: (L, S), 3: (N * self.num_heads, L, S)}.get(attn_mask.ndim)
            if want is None:
                raise RuntimeError(
                    f"attn_mask's dimension {attn_mask.ndim} is not supported (shape "
                    f"{tuple(attn_mask.shape)}; expected (L, S) or (N * num_heads, L, S))"
                )
            if tuple(attn_mask.shape) != want:
                raise RuntimeError(
                    f"The shape of the {attn_mask.ndim}D attn_mask is {tuple(attn_mask.shape)}, "
                    f"but should be {want}."
                )
        return batched

    def extra_repr(self):
        return ""


def _mask_dtype(mask, name):
    if not isinstance(mask, Tensor) or (mask.dtype != bool and mask.dtype.kind != "f"):
        raise AssertionError(
            f"only bool and floating types of {name} are supported, got "
            f"{getattr(mask, 'dtype', type(mask).__name__)}"
        )


def _as_float(mask, dtype):
    """A bool mask (True: not allowed) as 0 / -inf in `dtype`; a float mask in `dtype`."""
    if mask.dtype == bool:
        return _wrap(xp.where(mask._data, -xp.inf, 0).astype(dtype))
    return mask.to(dtype)


def _pad_last(mask):
    """The mask with one more key, allowed to every query (a zero column)."""
    return None if mask is None else ops.pad(mask, ((0, 1),))
