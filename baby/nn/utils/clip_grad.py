"""Gradient clipping by total norm or by value, in place, as torch.nn.utils."""

import math

from ...backend import xp
from ...tensor import Tensor, _wrap


def _grads(parameters):
    ps = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in ps if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients so their total `norm_type`-norm is at most `max_norm`; returns the norm before."""
    grads = _grads(parameters)
    if not grads:
        return _wrap(xp.asarray(0.0, xp.float32))
    norm_type = float(norm_type)
    if norm_type == math.inf:
        total = max(float(xp.abs(g._data).max()) for g in grads)
    else:
        total = sum(float((xp.abs(g._data.astype(xp.float64)) ** norm_type).sum()) for g in grads)
        total **= 1 / norm_type
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
                           f"{total}; set error_if_nonfinite=False to clip anyway")
    scale = min(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        g._data *= g._data.dtype.type(scale)
    return _wrap(xp.asarray(total, grads[0].dtype))


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    for g in _grads(parameters):
        xp.clip(g._data, -clip_value, clip_value, out=g._data)
