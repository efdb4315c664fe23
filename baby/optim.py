"""Optimizers (SGD, Adam, AdamW) and learning-rate schedules (StepLR, CosineAnnealingLR), PyTorch semantics.

Updates are applied in place to each parameter's `.data` (its dtype is kept) from its `.grad`; parameters
whose `.grad` is None are skipped.

State format (`Optimizer.state_dict()`), storable in an .npz without pickle once flattened:
    {"state": {i: {"step": int, "exp_avg": ndarray, ...}},          # i: parameter index, see below
     "param_groups": [{"lr": float, "betas": (float, float), ..., "params": [i, ...]}]}
Parameters are numbered 0, 1, 2, ... in order across all groups; per-parameter state holds only arrays and
plain ints; group hyperparameters are plain numbers, bools and tuples of numbers. SGD keeps
"momentum_buffer"; Adam and AdamW keep "step", "exp_avg", "exp_avg_sq" (and "max_exp_avg_sq" with amsgrad).
Scheduler state (`LRScheduler.state_dict()`) is a flat dict of plain numbers and lists of numbers.
"""

import math
import numbers

from .backend import xp
from .tensor import Tensor


def _real(owner, name, value, low, high=math.inf, open_high=False):
    """`value` as a float in [low, high] (or [low, high)); TypeError/ValueError naming `name` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    if not (low <= value < high if open_high else low <= value <= high):
        bound = f">= {low}" if high == math.inf else f"in [{low}, {high}{')' if open_high else ']'}"
        raise ValueError(f"{owner}: invalid {name} {value}, expected a number {bound}")
    return float(value)


class Optimizer:
    """Base class: holds `param_groups` (dicts of params + hyperparameters) and per-parameter `state`.

    A subclass validates a group's hyperparameters in `_check(group)` and updates one parameter in place
    in `_update(p, grad_array, state, group)`.
    """

    def __init__(self, params, defaults):
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or dicts, "
                            "got a single Tensor")
        self.defaults, self.param_groups, self.state = dict(defaults), [], {}
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for group in groups if isinstance(groups[0], dict) else [{"params": groups}]:
            self.add_param_group(group)

    def add_param_group(self, group):
        """Add a dict with "params" (Tensors) and optional per-group hyperparameters over the defaults."""
        name = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a param group must be a dict with a 'params' entry, got {group!r:.60}")
        params = [group["params"]] if isinstance(group["params"], Tensor) else list(group["params"])
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: params must be Tensors, got {type(p).__name__}")
            if p.dtype.kind != "f":
                raise TypeError(f"{name}: can only optimize floating-point tensors, got dtype {p.dtype}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or seen & {id(p) for p in params}:
            raise ValueError(f"{name}: a parameter appears more than once across the param groups")
        group = {**self.defaults, **group, "params": params}
        self._check(group)
        self.param_groups.append(group)

    def _check(self, group):
        """Validate (and normalise to plain numbers) a group's hyperparameters."""

    def zero_grad(self, set_to_none=True):
        """Drop every parameter's gradient (or fill it with zeros when `set_to_none` is False)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad._data[...] = 0

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns `closure()` if given (called first)."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad._data, self.state.setdefault(p, {}), group)
        return loss

    def state_dict(self):
        """Hyperparameters and per-parameter state keyed by parameter index (arrays are copies)."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {index[id(p)]: {k: v.copy() if isinstance(v, xp.ndarray) else v for k, v in s.items()}
                 for p, s in self.state.items() if s}
        groups = [{**g, "params": [index[id(p)] for p in g["params"]]} for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore what `state_dict()` returned (indices may be ints or numeric strings)."""
        name = type(self).__name__
        groups = state_dict["param_groups"]
        sizes, saved = [len(g["params"]) for g in self.param_groups], [len(g["params"]) for g in groups]
        if sizes != saved:
            raise ValueError(f"{name}.load_state_dict: parameter group sizes {saved} do not match {sizes}")
        new_groups = []
        for group, g in zip(self.param_groups, groups, strict=True):
            new_groups.append({**group, **g, "params": group["params"]})
            self._check(new_groups[-1])
        params, new_state = self._params(), {}
        for i, s in state_dict["state"].items():
            if not 0 <= int(i) < len(params):
                raise ValueError(f"{name}.load_state_dict: state for parameter {i}, but there are only "
                                 f"{len(params)} parameters")
            p = params[int(i)]
            new_state[p] = {k: int(v) if k == "step" else xp.array(v, dtype=p.dtype) for k, v in s.items()}
            for k, v in new_state[p].items():
                if k != "step" and v.shape != p.shape:
                    raise ValueError(f"{name}.load_state_dict: state {k!r} of parameter {i} has shape "
                                     f"{v.shape}, expected the parameter's shape {p.shape}")
        self.param_groups, self.state = new_groups, new_state

    def _params(self):
        return [p for g in self.param_groups for p in g["params"]]

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            opts = ", ".join(f"{k}={v}" for k, v in g.items() if k != "params")
            lines.append(f"  group {i}: {len(g['params'])} params, {opts}")
        return "\n".join(lines + [")"])


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum (dampening, Nesterov) and L2 weight decay."""

    def _scratch(self, p):
        """A reusable array shaped like `p` for the update's one temporary (not part of the state)."""
        scratch = self.__dict__.setdefault("_scratch_arrays", {})
        if id(p) not in scratch:
            scratch[id(p)] = xp.empty_like(p._data)
        return scratch[id(p)]

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _check(self, group):
        for key, low, high in [("lr", 0, math.inf), ("momentum", 0, math.inf), ("dampening", 0, 1),
                               ("weight_decay", 0, math.inf)]:
            group[key] = _real("SGD", key, group[key], low, high)
        group["nesterov"] = bool(group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: nesterov momentum requires momentum > 0 and dampening = 0, got "
                             f"momentum={group['momentum']}, dampening={group['dampening']}")

    def _update(self, p, g, state, group):
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        d = g + wd * p._data if wd else g
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = d.astype(p.dtype, copy=True)
            else:
                buf *= mu
                buf += d if group["dampening"] == 0 else (1 - group["dampening"]) * d
            d = d + mu * buf if group["nesterov"] else buf
        p._data -= xp.multiply(d, lr, out=self._scratch(p))


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, optional L2 weight decay and AMSGrad."""

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(params, defaults)

    def _check(self, group):
        name = type(self).__name__
        for key in ("lr", "eps", "weight_decay"):
            group[key] = _real(name, key, group[key], 0)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"{name}: betas must be a pair of numbers, got {betas!r}")
        group["betas"] = tuple(_real(name, f"betas[{i}]", b, 0, 1, open_high=True)
                               for i, b in enumerate(betas))
        group["amsgrad"] = bool(group["amsgrad"])

    def _update(self, p, g, state, group):
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not state:
            state.update(step=0, exp_avg=xp.zeros_like(p._data), exp_avg_sq=xp.zeros_like(p._data))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p._data)
        state["step"] += 1
        m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        if wd and self._decoupled:
            p._data *= 1 - lr * wd
        elif wd:
            g = g + wd * p._data
        d = g - m
        d *= 1 - b1
        m += d                                          # m = lerp(m, g, 1 - b1)
        xp.multiply(g, g, out=d)
        d *= 1 - b2
        v *= b2
        v += d                                          # v = b2 v + (1 - b2) g^2
        if group["amsgrad"]:
            v = xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        xp.sqrt(v, out=d)
        d /= math.sqrt(1 - b2**t)
        d += eps                                        # d = sqrt(v_hat) + eps
        xp.divide(m, d, out=d)
        d *= -lr / (1 - b1**t)
        p._data += d


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): each step scales params by 1 - lr * wd."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)


class LRScheduler:
    """Base class: every `step()` sets each group's lr to the schedule's closed form at the next epoch."""

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}")
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        elif any("initial_lr" not in g for g in optimizer.param_groups):
            raise ValueError(f"{type(self).__name__}: last_epoch={last_epoch} needs 'initial_lr' in every "
                             "param group (set by a scheduler created with last_epoch=-1)")
        self.optimizer, self.last_epoch = optimizer, last_epoch
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.step()

    def lr_at(self, base_lr, epoch):
        """The learning rate at `epoch` for a group whose initial lr is `base_lr`."""
        return base_lr

    def step(self):
        """Advance one epoch and set every group's lr."""
        self.last_epoch += 1
        self._last_lr = [self.lr_at(base, self.last_epoch) for base in self.base_lrs]
        for group, lr in zip(self.optimizer.param_groups, self._last_lr, strict=True):
            group["lr"] = lr

    def get_last_lr(self):
        """The learning rates the last `step()` set, one per group."""
        return list(self._last_lr)

    def state_dict(self):
        """Everything but the optimizer, as plain numbers and lists."""
        return {k: list(v) if isinstance(v, list) else v for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore what `state_dict()` returned."""
        for k, v in state_dict.items():
            setattr(self, k, list(v) if isinstance(v, (list, tuple)) else v)


def _positive_int(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}: {name} must be an integer >= 1, got {value!r}")
    return int(value)


class StepLR(LRScheduler):
    """Multiply the lr by `gamma` every `step_size` epochs: base_lr * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = _positive_int("StepLR", "step_size", step_size)
        self.gamma = _real("StepLR", "gamma", gamma, 0)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        """base_lr * gamma ** (epoch // step_size)."""
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """Cosine from base_lr down to eta_min over T_max epochs (then back up, periodically, as in PyTorch)."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = _positive_int("CosineAnnealingLR", "T_max", T_max)
        self.eta_min = _real("CosineAnnealingLR", "eta_min", eta_min, 0)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        """eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2."""
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
