"""Autograd as PyTorch spells it: grad, backward (create_graph for higher order), Function with a ctx, the
grad-mode switches, functional (vjp, jvp, hvp, jacobian, hessian), gradcheck and anomaly mode."""

from ..grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from . import derivatives, functional  # derivatives registers the ops' rules for create_graph
from .anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .function import Function, FunctionCtx, once_differentiable
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .grads import backward, grad

__all__ = ["Function", "FunctionCtx", "GradcheckError", "backward", "derivatives", "detect_anomaly",
           "enable_grad", "functional", "grad", "gradcheck", "gradgradcheck", "inference_mode",
           "is_anomaly_enabled", "is_grad_enabled", "no_grad", "once_differentiable", "set_detect_anomaly",
           "set_grad_enabled"]
