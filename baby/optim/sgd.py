"""SGD with momentum (dampening, Nesterov) and L2 weight decay, as torch.optim.SGD."""

import math

from ..backend import xp
from ..blas import axpby
from ..parallel import blocked
from .optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum (dampening, Nesterov) and L2 weight decay.

    State: "momentum_buffer" (with momentum).
    """

    _ranges = {"lr": (0, math.inf), "momentum": (0, math.inf), "dampening": (0, 1),
               "weight_decay": (0, math.inf)}
    _flags = ("nesterov", "maximize")

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 maximize=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def _check(self, group):
        super()._check(group)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: nesterov momentum requires momentum > 0 and dampening = 0, got "
                             f"momentum={group['momentum']}, dampening={group['dampening']}")

    def _update(self, p, g, state, group):
        lr, mu, wd, damp = group["lr"], group["momentum"], group["weight_decay"], group["dampening"]
        nesterov, first = group["nesterov"], mu and "momentum_buffer" not in state
        if first:  # the buffer starts as the first step's d
            state["momentum_buffer"] = (g + wd * p._data if wd else g).astype(p.dtype, copy=True)

        def update(w, g, buf):  # on one piece: d = g + wd w; buf = mu buf + (1 - damp) d; w -= lr d'
            d = g + wd * w if wd else g
            if mu:
                if not first and not axpby(1 - damp, d, mu, buf):  # (BLAS: one pass, else NumPy's)
                    buf *= mu
                    buf += d if damp == 0 else (1 - damp) * d
                d = d + mu * buf if nesterov else buf
            if not axpby(-lr, d, 1, w):
                w -= xp.multiply(d, lr, out=self._temp(w))

        buf = state["momentum_buffer"] if mu else g
        blocked(update, p._data, g, buf)
