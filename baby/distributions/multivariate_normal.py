"""MultivariateNormal, parameterised by a covariance, a precision or a lower Cholesky factor."""

import math

from .. import creation
from ..backend import xp
from ..ops import log
from ..tensor import Size
from . import constraints
from .distribution import Distribution, lazy_property
from .special import Cholesky, Inverse, SolveLower


def _diag(m):
    """The diagonals of matrices (..., n, n) as (..., n)."""
    return (m * creation.eye(m.shape[-1], dtype=m.dtype)).sum(-1)


def _solve_lower(L, b):
    """L^-1 b for lower-triangular L (..., n, n), b (..., n, k), batch dims broadcast."""
    batch = xp.broadcast_shapes(tuple(L.shape[:-2]), tuple(b.shape[:-2]))
    return SolveLower()(L.expand(*batch, *L.shape[-2:]), b.expand(*batch, *b.shape[-2:]))


def mahalanobis(L, x):
    """|L^-1 x|^2 for x (..., n)."""
    return (_solve_lower(L, x.unsqueeze(-1)).squeeze(-1) ** 2).sum(-1)  # (..., n, 1) -> (...)


class MultivariateNormal(Distribution):
    """N(loc, Sigma) over vectors (..., n); give one of covariance_matrix, precision_matrix, scale_tril."""

    arg_constraints = {
        "loc": constraints.real_vector,
        "covariance_matrix": constraints.positive_definite,
        "precision_matrix": constraints.positive_definite,
        "scale_tril": constraints.lower_cholesky,
    }
    support = constraints.real_vector
    has_rsample = True

    def __init__(
        self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None
    ):
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise ValueError(
                "Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified."
            )
        m = given[0]
        if m.dim() < 2:
            raise ValueError(
                "scale_tril / covariance_matrix / precision_matrix must be at least two-dimensional, "
                "with optional leading batch dimensions"
            )
        batch = Size(xp.broadcast_shapes(tuple(m.shape[:-2]), tuple(loc.shape[:-1])))
        n = loc.shape[-1]
        if scale_tril is not None:
            self.scale_tril = scale_tril.expand(*batch, n, n)
        elif covariance_matrix is not None:
            self.covariance_matrix = covariance_matrix.expand(*batch, n, n)
        else:
            self.precision_matrix = precision_matrix.expand(*batch, n, n)
        self.loc = loc.expand(*batch, n)
        super().__init__(batch, (n,), validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = Cholesky()(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = Cholesky()(Inverse()(precision_matrix))

    @lazy_property
    def scale_tril(self):
        """The lower Cholesky factor L of the covariance."""
        return self._unbroadcasted_scale_tril.expand(*self._batch_shape, *self._event_shape * 2)

    @lazy_property
    def covariance_matrix(self):
        """L L^T."""
        L = self._unbroadcasted_scale_tril
        return (L @ L.mT).expand(*self._batch_shape, *self._event_shape * 2)

    @lazy_property
    def precision_matrix(self):
        """The inverse of the covariance."""
        return Inverse()(self.covariance_matrix)

    mean = property(lambda self: self.loc, doc="The mean: loc.")
    mode = property(lambda self: self.loc, doc="The mode: loc.")

    @property
    def variance(self):
        """The covariance's diagonal."""
        return (self._unbroadcasted_scale_tril**2).sum(-1).expand(*self._batch_shape, *self._event_shape)

    def rsample(self, sample_shape=()):
        """loc + L eps, eps ~ N(0, I) from baby's generator."""
        eps = creation.randn(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)  # (..., n)

    def _half_log_det(self):
        return log(_diag(self._unbroadcasted_scale_tril)).sum(-1)

    def log_prob(self, value):
        """-(n log 2 pi + |L^-1 (x - loc)|^2) / 2 - sum log diag L."""
        if self._validate_args:
            self._validate_sample(value)
        M = mahalanobis(self._unbroadcasted_scale_tril, value - self.loc)
        n = self._event_shape[0]
        return -0.5 * (n * math.log(2 * math.pi) + M) - self._half_log_det()

    def entropy(self):
        """n (1 + log 2 pi) / 2 + sum log diag L."""
        n = self._event_shape[0]
        h = 0.5 * n * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return h.expand(*self._batch_shape) if len(self._batch_shape) else h
