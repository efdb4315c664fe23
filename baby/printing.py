"""Tensor repr as PyTorch prints it: 4 decimals (or none for whole numbers), summarised past 1000 elements."""

from . import dtypes
from .backend import xp


def _shown(a):
    """The elements repr prints: all of a small array; past 1000 elements, the first and last 3 along each
    dim (PyTorch decides the format from these too), so a huge or expanded tensor is never read whole."""
    if a.size <= 1000:
        return a
    return a[xp.ix_(*[xp.r_[0:3, n - 3:n] if n > 6 else xp.arange(n) for n in a.shape])]  # (<=6, ...)


def tensor_repr(t, name="tensor"):
    """`tensor([[1., 2.]], requires_grad=True)`, with dtype and grad_fn where PyTorch shows them."""
    a = t._data
    s = _shown(a)
    whole = a.dtype.kind != "f" or bool(xp.all(xp.isnan(s) | xp.isinf(s) | (s == xp.round(s))))
    body = xp.array2string(a, separator=", ", prefix=f"{name}(", threshold=1000, edgeitems=3,
                           max_line_width=80, precision=4, floatmode="maxprec" if whole else "fixed")
    body = body.replace(", ..., ", ",  ..., ")  # PyTorch's spacing around the summary
    extra = []
    if a.size == 0 and a.ndim > 1:
        extra.append(f"size={tuple(a.shape)}")
    if a.dtype not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool):
        extra.append(f"dtype=baby.{a.dtype}")
    if t._op is not None:
        extra.append(f"grad_fn={t._op!r}")
    elif t.requires_grad:
        extra.append("requires_grad=True")
    return f"{name}({', '.join([body] + extra)})"
