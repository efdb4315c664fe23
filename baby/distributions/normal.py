"""Normal and Uniform: the reparameterisable location-scale families."""

import math

from .. import creation
from ..ops import log, where
from . import constraints
from .distribution import Distribution, broadcast_all
from .special import NormalCdf, NormalIcdf


class Normal(Distribution):
    """N(loc, scale^2), elementwise."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, (), validate_args)

    mean = property(lambda self: self.loc, doc="The mean: loc.")
    mode = property(lambda self: self.loc, doc="The mode: loc.")
    stddev = property(lambda self: self.scale, doc="The standard deviation: scale.")
    variance = property(lambda self: self.scale**2, doc="The variance: scale^2.")

    def rsample(self, sample_shape=()):
        """loc + scale * eps, eps ~ N(0, 1) from baby's generator."""
        eps = creation.randn(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        """-(x - loc)^2 / (2 scale^2) - log scale - log sqrt(2 pi)."""
        if self._validate_args:
            self._validate_sample(value)
        return (
            -((value - self.loc) ** 2) / (2 * self.variance) - log(self.scale) - 0.5 * math.log(2 * math.pi)
        )

    def cdf(self, value):
        """Phi((x - loc) / scale)."""
        if self._validate_args:
            self._validate_sample(value)
        return NormalCdf()((value - self.loc) / self.scale)

    def icdf(self, value):
        """loc + scale Phi^-1(p)."""
        return self.loc + self.scale * NormalIcdf()(value)

    def entropy(self):
        """1/2 + log(sqrt(2 pi) scale)."""
        return 0.5 + 0.5 * math.log(2 * math.pi) + log(self.scale)


class Uniform(Distribution):
    """Uniform on [low, high), elementwise."""

    arg_constraints = {
        "low": constraints.dependent(is_discrete=False, event_dim=0),
        "high": constraints.dependent(is_discrete=False, event_dim=0),
    }
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = broadcast_all(low, high)
        super().__init__(self.low.shape, (), validate_args)
        if self._validate_args and not (self.low < self.high)._data.all():
            raise ValueError(
                f"Expected parameter low ({type(self.low).__name__} of shape "
                f"{tuple(self.low.shape)}) of distribution {self!r} to satisfy the constraint "
                f"LessThan(upper_bound={self.high}), but found invalid values:\n{self.low}"
            )

    @property
    def support(self):
        """[low, high)."""
        return constraints.interval(self.low, self.high)

    mean = property(lambda self: (self.high + self.low) / 2, doc="The mean: (low + high) / 2.")
    mode = property(lambda self: float("nan") * self.high, doc="No single mode: NaN.")
    variance = property(lambda self: (self.high - self.low) ** 2 / 12, doc="The variance: (high - low)^2/12.")

    def rsample(self, sample_shape=()):
        """low + u (high - low), u ~ U[0, 1) from baby's generator."""
        u = creation.rand(self._extended_shape(sample_shape), dtype=self.low.dtype)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        """-log(high - low) inside [low, high), -inf outside."""
        if self._validate_args:
            self._validate_sample(value)
        inside = (self.low <= value) & (self.high > value)
        return where(inside, -log(self.high - self.low), float("-inf"))

    def cdf(self, value):
        """(x - low) / (high - low), clamped to [0, 1]."""
        return ((value - self.low) / (self.high - self.low)).clamp(0, 1)

    def icdf(self, value):
        """low + p (high - low)."""
        return self.low + value * (self.high - self.low)

    def entropy(self):
        """log(high - low)."""
        return log(self.high - self.low)
