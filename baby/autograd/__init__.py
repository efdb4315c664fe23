"""Autograd as PyTorch spells it: grad, backward, Function with a ctx, and the grad-mode switches."""

from ..grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from . import derivatives  # noqa: F401  (registers the ops' derivative rules for create_graph)
from .function import Function, FunctionCtx, once_differentiable
from .grads import backward, grad

__all__ = ["Function", "FunctionCtx", "backward", "enable_grad", "grad", "inference_mode", "is_grad_enabled",
           "no_grad", "once_differentiable", "set_grad_enabled"]
