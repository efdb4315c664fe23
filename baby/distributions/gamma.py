"""Gamma, Dirichlet and Beta: the families drawn from gamma variates. Their rsample differentiates the draw
by implicit reparameterisation, as PyTorch's: Gamma's d x / d a = -(dP(a, x)/da) / p(x) (P the gamma CDF),
Dirichlet's (and so Beta's) through each coordinate's Beta marginal (PyTorch's _dirichlet_grad), computed
from the exact incomplete gamma and beta functions where PyTorch uses approximations (they agree to ~1e-3).
"""

from .. import random
from ..backend import xp
from ..ops import clamp, log, stack, where
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution, broadcast_all
from .special import DirichletDraw, StandardGamma, digamma, lgamma


def _xlogy(x, y):
    return x * log(y)


def standard_gamma(concentration, shape):
    """Gamma(a, 1) draws of `shape` (a broadcast), differentiable with respect to a."""
    a = concentration.expand(*shape)
    draws = random.generator().standard_gamma(a._data.astype(xp.float64))
    tiny = float(xp.finfo(a.dtype).tiny)
    return StandardGamma(xp.maximum(draws, tiny).astype(a.dtype))(a)


class Gamma(Distribution):
    """Gamma(concentration, rate): density x^(a-1) e^(-b x) b^a / Gamma(a)."""

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, (), validate_args)

    mean = property(lambda self: self.concentration / self.rate, doc="The mean: a / b.")
    mode = property(
        lambda self: clamp(self.concentration - 1, min=0) / self.rate, doc="(a - 1) / b, at least 0."
    )
    variance = property(lambda self: self.concentration / self.rate**2, doc="The variance: a / b^2.")

    def rsample(self, sample_shape=()):
        """Gamma(a, 1) draws divided by the rate (reparameterised)."""
        return standard_gamma(self.concentration, self._extended_shape(sample_shape)) / self.rate

    def log_prob(self, value):
        """a log b + (a - 1) log x - b x - log Gamma(a)."""
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration, self.rate
        return _xlogy(a, b) + _xlogy(a - 1, value) - b * value - lgamma(a)

    def entropy(self):
        """a - log b + log Gamma(a) + (1 - a) digamma(a)."""
        a = self.concentration
        return a - log(self.rate) + lgamma(a) + (1 - a) * digamma(a)


class Dirichlet(Distribution):
    """Dirichlet(concentration (..., K)) on the probability simplex."""

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args)

    @property
    def mean(self):
        """a / sum(a)."""
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        """(a - 1)+ / sum (a - 1)+; where every a < 1, a one-hot corner (PyTorch's: the argmax of that
        all-NaN row, its first)."""
        a = clamp(self.concentration - 1, min=0)
        with xp.errstate(invalid="ignore"):
            mode = a / a.sum(-1, keepdim=True)
        c = self.concentration._data
        corner = (xp.argmax(mode._data, -1)[..., None] == xp.arange(c.shape[-1])).astype(c.dtype)  # (..., K)
        return where(Tensor(xp.all(c < 1, -1, keepdims=True), dtype=None), Tensor(corner, dtype=None), mode)

    @property
    def variance(self):
        """a (a0 - a) / (a0^2 (a0 + 1)), a0 = sum(a)."""
        a = self.concentration
        a0 = a.sum(-1, keepdim=True)
        return a * (a0 - a) / (a0**2 * (a0 + 1))

    def rsample(self, sample_shape=()):
        """Gamma(a, 1) draws normalised to sum to 1, reparameterised as PyTorch's."""
        a = self.concentration.expand(*self._extended_shape(sample_shape))
        g = random.generator().standard_gamma(a._data.astype(xp.float64))
        x = g / g.sum(-1, keepdims=True)
        info = xp.finfo(a.dtype)
        return DirichletDraw(xp.clip(x, info.tiny, 1 - info.eps).astype(a.dtype))(a)

    def log_prob(self, value):
        """sum (a - 1) log x + log Gamma(sum a) - sum log Gamma(a)."""
        if self._validate_args:
            self._validate_sample(value)
        a = self.concentration
        return _xlogy(a - 1, value).sum(-1) + lgamma(a.sum(-1)) - lgamma(a).sum(-1)

    def entropy(self):
        """sum log Gamma(a) - log Gamma(a0) - (K - a0) digamma(a0) - sum (a - 1) digamma(a)."""
        a = self.concentration
        k, a0 = a.shape[-1], a.sum(-1)
        return lgamma(a).sum(-1) - lgamma(a0) - (k - a0) * digamma(a0) - ((a - 1) * digamma(a)).sum(-1)


class Beta(Distribution):
    """Beta(concentration1, concentration0) on [0, 1]: a Dirichlet over (x, 1 - x)."""

    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        c1, c0 = broadcast_all(concentration1, concentration0)
        self._dirichlet = Dirichlet(stack([c1, c0], -1), validate_args=validate_args)  # (*batch, 2)
        super().__init__(self._dirichlet.batch_shape, (), validate_args)

    concentration1 = property(lambda self: self._dirichlet.concentration[..., 0], doc="alpha.")
    concentration0 = property(lambda self: self._dirichlet.concentration[..., 1], doc="beta.")

    @property
    def mean(self):
        """a / (a + b)."""
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        """(a - 1) / (a + b - 2)."""
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self):
        """a b / ((a + b)^2 (a + b + 1))."""
        a, b = self.concentration1, self.concentration0
        return a * b / ((a + b) ** 2 * (a + b + 1))

    def rsample(self, sample_shape=()):
        """The first coordinate of a Dirichlet draw (reparameterised)."""
        return self._dirichlet.rsample(sample_shape)[..., 0]

    def log_prob(self, value):
        """The Dirichlet's log-density at (x, 1 - x)."""
        if self._validate_args:
            self._validate_sample(value)
        return self._dirichlet.log_prob(stack([value, 1 - value], -1))

    def entropy(self):
        """The Dirichlet's entropy."""
        return self._dirichlet.entropy()
