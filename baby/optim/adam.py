"""The Adam family: Adam, AdamW, Adamax and NAdam, as torch.optim has them."""

import math

from .. import dtypes
from ..backend import xp
from ..parallel import blocked
from .optimizer import Optimizer, lerp_

_ADAM_RANGES = {"lr": (0, math.inf), "eps": (0, math.inf), "weight_decay": (0, math.inf)}


def _decay(w, g, group, out=None):
    """The gradient after weight decay on the parameter array w: decoupled (w *= 1 - lr * wd, in place) or
    L2 (g + wd * w, into `out` when given)."""
    wd = group["weight_decay"]
    if wd and group.get("decoupled_weight_decay"):
        w *= 1 - group["lr"] * wd
    elif wd:
        return xp.add(g, xp.multiply(w, wd, out=out), out=out)
    return g


def _moments(m, v, g, b1, b2, d):
    """m = lerp(m, g, 1 - b1) and v = b2 v + (1 - b2) g^2 in place, with `d` as scratch."""
    lerp_(m, g, 1 - b1, d)
    xp.multiply(g, 1 - b2, out=d)
    d *= g
    v *= b2
    v += d


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, optional L2 or decoupled weight decay and AMSGrad.

    State: "step", "exp_avg", "exp_avg_sq" (and "max_exp_avg_sq" with amsgrad). The book's spellings
    work too: `Adam(params, lr, beta1=, beta2=, eps=)`, and `.m[p]`, `.v[p]`, `.t` (see below).
    """

    _ranges = _ADAM_RANGES
    _flags = ("amsgrad", "maximize", "decoupled_weight_decay")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False, beta1=None, beta2=None):
        if beta1 is not None or beta2 is not None:      # the book's spelling
            betas = (betas[0] if beta1 is None else beta1, betas[1] if beta2 is None else beta2)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    m = property(lambda self: {p: s["exp_avg"] for p, s in self.state.items() if s},
                 doc="The book's name: {param: its first-moment array} (the live 'exp_avg' state).")
    v = property(lambda self: {p: s["exp_avg_sq"] for p, s in self.state.items() if s},
                 doc="The book's name: {param: its second-moment array} (the live 'exp_avg_sq' state).")
    t = property(lambda self: max((s["step"] for s in self.state.values() if s), default=0),
                 doc="The book's name: the number of steps taken (the largest 'step' of any parameter).")

    def _update(self, p, g, state, group):
        lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
        if not state:
            state.update(step=0, exp_avg=xp.zeros_like(p._data), exp_avg_sq=xp.zeros_like(p._data))
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = xp.zeros_like(p._data)
        state["step"] = t = state["step"] + 1
        c1, c2 = -lr / (1 - b1**t), (1 - b2**t) ** 0.5  # the bias corrections

        def update(w, g, m, v, *vmax):  # one piece: decay, moments, w += c1 m / (sqrt(v) / c2 + eps)
            d, e = self._temp(w), self._temp(w, 1)
            _moments(m, v, _decay(w, g, group, out=e), b1, b2, d)  # (e: free until the step)
            if vmax:
                v = xp.maximum(vmax[0], v, out=vmax[0])
            xp.sqrt(v, out=d)
            d /= c2
            d += eps                                    # d = sqrt(v_hat) + eps
            xp.multiply(m, c1, out=e)
            e /= d
            w += e

        amsgrad = (state["max_exp_avg_sq"],) if group["amsgrad"] else ()
        blocked(update, p._data, g, state["exp_avg"], state["exp_avg_sq"], *amsgrad)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): each step scales params by 1 - lr * wd."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=True)


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm, u = max(b2 u, |g| + eps). State: "step", "exp_avg", "exp_inf"."""

    _ranges = _ADAM_RANGES

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *, maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _update(self, p, g, state, group):
        lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
        if not state:
            state.update(step=0, exp_avg=xp.zeros_like(p._data), exp_inf=xp.zeros_like(p._data))
        state["step"] += 1
        m, u, t = state["exp_avg"], state["exp_inf"], state["step"]
        g = _decay(p._data, g, group)
        d = xp.empty_like(p._data)
        lerp_(m, g, 1 - b1, d)
        xp.abs(g, out=d)
        d += eps
        u *= b2
        xp.maximum(u, d, out=u)                         # u = max(b2 u, |g| + eps)
        xp.multiply(m, -lr / (1 - b1**t), out=d)
        d /= u
        p._data += d


class NAdam(Optimizer):
    """NAdam (Dozat): Adam with Nesterov momentum and the momentum schedule mu_t.

    State: "step", "mu_product" (a float, rounded as PyTorch's default-dtype scalar), "exp_avg",
    "exp_avg_sq".
    """

    _ranges = {**_ADAM_RANGES, "momentum_decay": (0, math.inf)}
    _flags = ("decoupled_weight_decay", "maximize")
    _scalars = {"step": int, "mu_product": float}

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def _update(self, p, g, state, group):
        lr, (b1, b2), eps, psi = group["lr"], group["betas"], group["eps"], group["momentum_decay"]
        if not state:
            state.update(step=0, mu_product=1.0, exp_avg=xp.zeros_like(p._data),
                         exp_avg_sq=xp.zeros_like(p._data))
        state["step"] += 1
        m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        g = _decay(p._data, g, group)
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        scalar = dtypes.get_default_dtype().type        # PyTorch keeps mu_product in this precision
        state["mu_product"] = mu_product = float(scalar(state["mu_product"]) * scalar(mu))
        d = xp.empty_like(p._data)
        _moments(m, v, g, b1, b2, d)
        xp.divide(v, 1 - b2**t, out=d)
        xp.sqrt(d, out=d)
        d += eps                                        # d = sqrt(v_hat) + eps
        step = g * (-lr * (1.0 - mu) / (1.0 - mu_product))
        step /= d
        p._data += step
        xp.multiply(m, -lr * mu_next / (1.0 - mu_product * mu_next), out=step)
        step /= d
        p._data += step
