"""Layers: Linear, Identity, Flatten, Dropout, Sequential, Residual (activations are in activation.py)."""

import math
import numbers

from .. import init
from . import functional as F
from .module import Module, Parameter


class Linear(Module):
    """y = x @ weight.T + bias; weight (out, in) and bias from U(-1/sqrt(in), 1/sqrt(in)) as PyTorch."""

    def __init__(self, in_features, out_features, bias=True, dtype="float32"):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        w = init.kaiming_uniform(in_features, out_features, shape=(out_features, in_features),
                                 nonlinearity="leaky_relu", a=math.sqrt(5), dtype=dtype)
        self.weight = Parameter(w)
        bound = 1 / math.sqrt(in_features)
        self.bias = Parameter(init.uniform(out_features, -bound, bound, dtype=dtype)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={bias}"


class Identity(Module):
    """Returns its input."""

    def forward(self, x):
        return x


class Flatten(Module):
    """Merge dims start_dim..end_dim into one (by default all but the batch dim)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Inverted dropout: in training zero each element with probability p, scale the rest by 1 / (1 - p)."""

    def __init__(self, p=0.5):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError(f"dropout probability must be a number in [0, 1], got {p!r}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Sequential(Module):
    """Modules applied in order; children are named "0", "1", ... (or by the keys of one dict given)."""

    def __init__(self, *modules):
        super().__init__()
        named = len(modules) == 1 and isinstance(modules[0], dict)
        items = modules[0].items() if named else enumerate(modules)
        for name, m in items:
            self.add_module(str(name), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def append(self, module):
        """Add `module` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def __getitem__(self, i):
        mods = list(self._modules.values())
        return Sequential(*mods[i]) if isinstance(i, slice) else mods[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Residual(Module):
    """x + fn(x)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return x + self.fn(x)
