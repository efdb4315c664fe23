"""embedding: rows of a weight matrix picked by integer indices (no gradient into the padding row)."""

from ...backend import xp
from ...grad_mode import no_grad
from ...tensor import Tensor


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """weight[input]: input integer indices (*), weight (num_embeddings, dim) -> (*, dim)."""
    idx = input._data if isinstance(input, Tensor) else xp.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be an integer tensor, got dtype {idx.dtype}")
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = int(idx.max() if idx.max() >= n else idx.min())
        raise IndexError(f"embedding: index {bad} is out of range for {n} embeddings")
    if max_norm is not None:  # renormalize the rows looked up, in place, as PyTorch
        with no_grad():
            rows = xp.unique(idx)
            norms = xp.linalg.norm(weight._data[rows], ord=norm_type, axis=1, keepdims=True)
            weight._data[rows] *= xp.minimum(1, max_norm / (norms + 1e-7))
    out = weight[Tensor(idx, dtype=xp.int64)]  # (*, dim)
    if padding_idx is None:
        return out
    keep = Tensor((idx != padding_idx)[..., None])  # (*, 1): no gradient flows to the padding row
    return out.where(keep, out.detach())
