"""Optimizers that divide by a running root-mean-square: RMSprop, Adagrad, Adadelta (torch.optim's)."""

import math

from ..backend import xp
from .optimizer import Optimizer, lerp_

_NONNEG = (0, math.inf)


def _l2(p, g, group):
    """The gradient with L2 weight decay added (g + wd * p)."""
    return g + group["weight_decay"] * p._data if group["weight_decay"] else g


class RMSprop(Optimizer):
    """RMSprop (Hinton): divide by sqrt of a running mean of g^2 (minus the mean's square when centered).

    State: "step", "square_avg" (and "momentum_buffer" with momentum, "grad_avg" when centered).
    """

    _ranges = dict.fromkeys(("lr", "alpha", "eps", "weight_decay", "momentum"), _NONNEG)
    _flags = ("centered", "maximize")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 *, maximize=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _update(self, p, g, state, group):
        lr, alpha, mu = group["lr"], group["alpha"], group["momentum"]
        if not state:
            state.update(step=0, square_avg=xp.zeros_like(p._data))
        state["step"] += 1
        g = _l2(p, g, group)
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * g * g                        # v = alpha v + (1 - alpha) g^2
        if group["centered"]:
            ga = state.setdefault("grad_avg", xp.zeros_like(p._data))
            lerp_(ga, g, 1 - alpha, xp.empty_like(ga))
            avg = xp.sqrt(v - ga * ga)
        else:
            avg = xp.sqrt(v)
        avg += group["eps"]
        if mu > 0:
            buf = state.setdefault("momentum_buffer", xp.zeros_like(p._data))
            buf *= mu
            buf += g / avg
            p._data -= lr * buf
        else:
            p._data -= lr * g / avg


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.): divide by the root of the sum of all squared gradients; lr decays as
    lr / (1 + (step - 1) lr_decay). State: "step", "sum".

    As in PyTorch, "sum" starts at the constructor's initial_accumulator_value for every group.
    """

    _ranges = dict.fromkeys(("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"), _NONNEG)

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10, *, maximize=False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      maximize=maximize))

    def _update(self, p, g, state, group):
        if not state:
            state.update(step=0, sum=xp.full_like(p._data, self.defaults["initial_accumulator_value"]))
        state["step"] += 1
        g = _l2(p, g, group)
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"]
        s += g * g
        std = xp.sqrt(s)
        std += group["eps"]
        p._data -= clr * g / std


class Adadelta(Optimizer):
    """Adadelta (Zeiler): step = sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g, scaled by lr.

    State: "step", "square_avg", "acc_delta".
    """

    _ranges = {"lr": _NONNEG, "rho": (0, 1), "eps": _NONNEG, "weight_decay": _NONNEG}

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *, maximize=False):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _update(self, p, g, state, group):
        rho, eps = group["rho"], group["eps"]
        if not state:
            state.update(step=0, square_avg=xp.zeros_like(p._data), acc_delta=xp.zeros_like(p._data))
        state["step"] += 1
        g = _l2(p, g, group)
        v, u = state["square_avg"], state["acc_delta"]
        v *= rho
        v += (1 - rho) * g * g                          # v = rho v + (1 - rho) g^2
        delta = xp.sqrt(u + eps)
        delta /= xp.sqrt(v + eps)
        delta *= g
        u *= rho
        u += (1 - rho) * delta * delta                  # u = rho u + (1 - rho) delta^2
        p._data -= group["lr"] * delta
