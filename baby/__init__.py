"""baby: a small, readable, fast deep-learning library on NumPy."""

from . import data, init, models, nn, ops, optim
from .backend import xp as _xp
from .random import get_rng_state, manual_seed, set_rng_state
from .tensor import (
    Tensor,
    arange,
    eye,
    full,
    is_grad_enabled,
    no_grad,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)

float16, float32, float64 = _xp.float16, _xp.float32, _xp.float64
int32, int64, bool_ = _xp.int32, _xp.int64, _xp.bool_

__all__ = [
    "Tensor", "arange", "bool_", "data", "eye", "float16", "float32", "float64", "full", "get_rng_state",
    "init", "int32", "int64", "is_grad_enabled", "manual_seed", "models", "nn", "no_grad", "ones",
    "ones_like", "ops", "optim", "rand", "randn", "set_rng_state", "tensor", "zeros", "zeros_like",
]
