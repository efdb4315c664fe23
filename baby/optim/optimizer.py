"""The Optimizer base: parameter groups with per-group options, per-parameter state, its state dict.

Updates are applied in place to each parameter's array (`p._data`, its dtype is kept) from its `.grad`;
parameters whose `.grad` is None are skipped.

State format (`Optimizer.state_dict()`), storable in an .npz without pickle once flattened:
    {"state": {i: {"step": int, "exp_avg": ndarray, ...}},          # i: parameter index, see below
     "param_groups": [{"lr": float, "betas": (float, float), ..., "params": [i, ...]}]}
Parameters are numbered 0, 1, 2, ... in order across all groups; per-parameter state holds arrays shaped
like the parameter, plain ints ("step") and plain floats (NAdam's "mu_product"); group hyperparameters are
plain numbers, bools and tuples of numbers. The state keys are PyTorch's: SGD keeps "momentum_buffer";
Adam and AdamW "step", "exp_avg", "exp_avg_sq" (and "max_exp_avg_sq" with amsgrad); see each optimizer.
"""

import math
import numbers
from collections import defaultdict

from .. import grad_mode
from ..arena import scratch
from ..backend import xp
from ..tensor import Tensor


def _real(owner, name, value, low, high=math.inf, open_high=False):
    """`value` as a float in [low, high] (or [low, high)); TypeError/ValueError naming `name` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    if not (low <= value < high if open_high else low <= value <= high):
        bound = f">= {low}" if high == math.inf else f"in [{low}, {high}{')' if open_high else ']'}"
        raise ValueError(f"{owner}: invalid {name} {value}, expected a number {bound}")
    return float(value)


def _betas(owner, betas):
    """`betas` as a pair of floats in [0, 1); TypeError/ValueError naming `betas[i]` otherwise."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"{owner}: betas must be a pair of numbers, got {betas!r}")
    return tuple(_real(owner, f"betas[{i}]", b, 0, 1, open_high=True) for i, b in enumerate(betas))


def lerp_(a, b, w, d):
    """a = lerp(a, b, w) in place, rounded as torch.lerp_ does; `d` (shaped like `a`) is scratch."""
    xp.subtract(b, a, out=d)
    if w < 0.5:
        d *= w
        a += d                                          # a + w (b - a)
    else:
        d *= 1 - w
        xp.subtract(b, d, out=a)                        # b - (1 - w) (b - a)


class Optimizer:
    """Base class: holds `param_groups` (dicts of params + hyperparameters) and per-parameter `state`.

    A subclass lists its hyperparameters' ranges in `_ranges` (name: (low, high)) and its flags in
    `_flags`, and updates one parameter in place in `_update(p, grad_array, state, group)`. `_scalars`
    names the per-parameter state entries that are numbers, not arrays (with their type).
    """

    _ranges = {"lr": (0, math.inf)}
    _flags = ("maximize",)
    _scalars = {"step": int}

    def __init__(self, params, defaults):
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors or dicts, got a single Tensor")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: params must be an ordered collection (a list), got a set")
        self.defaults, self.param_groups, self.state = dict(defaults), [], defaultdict(dict)
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list")
        for group in groups if isinstance(groups[0], dict) else [{"params": groups}]:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Add a dict with "params" (Tensors) and optional per-group hyperparameters over the defaults."""
        name = type(self).__name__
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError(f"{name}: a param group must be a dict with a 'params' entry, "
                            f"got {param_group!r:.60}")
        params = param_group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: params must be an ordered collection (a list), got a set")
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: params must be Tensors, got {type(p).__name__}")
            if p.dtype.kind != "f":
                raise TypeError(f"{name}: can only optimize floating-point tensors, got dtype {p.dtype}")
            if not (p.is_leaf or p._retains_grad):
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (params must be leaves)")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or seen & {id(p) for p in params}:
            raise ValueError(f"{name}: a parameter appears more than once across the param groups")
        group = {**self.defaults, **param_group, "params": params}
        self._check(group)
        self.param_groups.append(group)

    def _check(self, group):
        """Validate (and normalise to plain numbers) a group's hyperparameters."""
        name = type(self).__name__
        for key, (low, high) in self._ranges.items():
            group[key] = _real(name, key, group[key], low, high)
        for key in self._flags:
            group[key] = bool(group[key])
        if "betas" in group:
            group["betas"] = _betas(name, group["betas"])

    def zero_grad(self, set_to_none=True):
        """Drop every parameter's gradient (or fill it with zeros when `set_to_none` is False)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p._grad is None:
                    p._grad = None
                else:
                    p._grad._data[...] = 0

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns `closure()` if given (called first, with
        grad enabled)."""
        loss = None
        if closure is not None:
            with grad_mode.enable_grad():
                loss = closure()
        state, update = self.state, self._update
        for group in self.param_groups:
            maximize = group["maximize"]
            for p in group["params"]:
                if p._grad is not None:
                    g = p._grad._data
                    update(p, -g if maximize else g, state[p], group)
        return loss

    @staticmethod
    def _temp(a, i=0):
        """Temporary number `i` shaped like the array `a` (a `blocked` piece, or a whole small parameter):
        this thread's scratch, reused by every update (piece-sized, it stays in cache: ResNet-9's SGD
        momentum step 5.2 -> 4.1 ms against a whole-parameter array per temporary, written back to memory)."""
        return scratch(f"optim{i}", a.shape, a.dtype)

    def _update(self, p, g, state, group):
        """Update `p._data` in place from the gradient array `g` (the subclass's algorithm)."""
        raise TypeError(f"{type(self).__name__} does not define its update")

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
        params, new_state = self._params(), defaultdict(dict)
        for i, s in state_dict["state"].items():
            if not 0 <= int(i) < len(params):
                raise ValueError(f"{name}.load_state_dict: state for parameter {i}, but there are only "
                                 f"{len(params)} parameters")
            p = params[int(i)]
            new_state[p] = {k: self._scalars[k](v) if k in self._scalars else xp.array(v, dtype=p.dtype)
                            for k, v in s.items()}
            for k, v in new_state[p].items():
                if k not in self._scalars and v.shape != p.shape:
                    raise ValueError(f"{name}.load_state_dict: state {k!r} of parameter {i} has shape "
                                     f"{tuple(v.shape)}, expected the parameter's shape {tuple(p.shape)}")
        self.param_groups, self.state = new_groups, new_state

    def _params(self):
        return [p for g in self.param_groups for p in g["params"]]

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            opts = ", ".join(f"{k}={v}" for k, v in g.items() if k != "params")
            lines.append(f"  group {i}: {len(g['params'])} params, {opts}")
        return "\n".join(lines + [")"])
