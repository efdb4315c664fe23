"""Bernoulli, Categorical and OneHotCategorical: the discrete families, given probs or logits."""

from .. import random
from ..backend import xp
from ..nn.functional import softplus
from ..ops import clamp, gather, where
from ..tensor import Tensor, _wrap
from . import constraints
from .distribution import (
    Distribution,
    broadcast_all,
    lazy_property,
    logits_to_probs,
    normalize_logits,
    probs_to_logits,
)


def _one_of(probs, logits):
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")


class Bernoulli(Distribution):
    """1 with probability `probs` (or sigmoid(`logits`)), else 0; elementwise."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        _one_of(probs, logits)
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
        else:
            (self.logits,) = broadcast_all(logits)
        self._param = self.probs if probs is not None else self.logits
        super().__init__(self._param.shape, (), validate_args)

    @lazy_property
    def logits(self):
        """log(p / (1 - p))."""
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        """sigmoid(logits)."""
        return logits_to_probs(self.logits, is_binary=True)

    mean = property(lambda self: self.probs, doc="The mean: probs.")
    variance = property(lambda self: self.probs * (1 - self.probs), doc="The variance: p (1 - p).")

    @property
    def mode(self):
        """1 where p > 1/2, 0 where p < 1/2, NaN at 1/2."""
        p = self.probs.detach()
        return where(p == 0.5, float("nan"), (p > 0.5).to(p.dtype))

    def sample(self, sample_shape=()):
        """0/1 draws (in the parameters' dtype) from baby's generator."""
        shape = self._extended_shape(sample_shape)
        p = xp.broadcast_to(self.probs._data, shape)
        return _wrap((random.generator().random(shape) < p).astype(p.dtype))

    def log_prob(self, value):
        """x logits - softplus(logits): minus binary cross-entropy with logits."""
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return logits * value - softplus(logits)

    def entropy(self):
        """softplus(logits) - p logits."""
        return softplus(self.logits) - self.probs * self.logits

    def enumerate_support(self, expand=True):
        """[0, 1] along a new first dim (expanded over the batch)."""
        v = Tensor(xp.arange(2).reshape((2,) + (1,) * len(self._batch_shape)), dtype=self._param.dtype)
        return v.expand(2, *self._batch_shape) if expand else v  # (2, *batch)


class Categorical(Distribution):
    """One of K categories with probabilities `probs` (..., K) (normalised) or softmax(`logits`)."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        _one_of(probs, logits)
        if probs is not None:
            if probs.dim() < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            if logits.dim() < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = normalize_logits(logits)
        self._param = self.probs if probs is not None else self.logits
        self._num_events = self._param.shape[-1]
        super().__init__(self._param.shape[:-1], (), validate_args)

    @lazy_property
    def logits(self):
        """log p."""
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        """softmax(logits)."""
        return logits_to_probs(self.logits)

    param_shape = property(lambda self: self._param.shape, doc="The shape of probs / logits.")

    @property
    def support(self):
        """The integers 0 .. K-1."""
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self):
        """Undefined for categories: NaN."""
        return _wrap(xp.full(self._extended_shape(), xp.nan, self.probs.dtype))

    variance = mean
    mode = property(lambda self: self.probs.argmax(-1), doc="The most probable category.")

    def sample(self, sample_shape=()):
        """Category indices (int64) of shape sample_shape + batch_shape, from baby's generator."""
        p = self.probs._data.reshape(-1, self._num_events)  # (B, K)
        n = int(xp.prod(sample_shape)) if len(sample_shape) else 1
        cdf = xp.cumsum(p, axis=-1)  # (B, K)
        u = random.generator().random((n, p.shape[0], 1)) * cdf[:, -1:]  # (n, B, 1)
        idx = xp.minimum((cdf[None] <= u).sum(-1), self._num_events - 1)  # (n, B)
        return _wrap(idx.reshape(self._extended_shape(sample_shape)).astype(xp.int64))  # (*sample, *batch)

    def log_prob(self, value):
        """logits at the category `value`."""
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        shape = xp.broadcast_shapes(tuple(value.shape), tuple(self.logits.shape)[:-1] + (1,))
        logits = self.logits.expand(*shape[:-1], self._num_events)  # (*shape, K)
        return gather(logits, -1, value.expand(*shape)).squeeze(-1)

    def entropy(self):
        """-sum p log p."""
        logits = clamp(self.logits, min=float(xp.finfo(self.logits.dtype).min))
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        """0 .. K-1 along a new first dim (expanded over the batch)."""
        v = _wrap(xp.arange(self._num_events).reshape((-1,) + (1,) * len(self._batch_shape)))  # (K, 1, ...)
        return v.expand(self._num_events, *self._batch_shape) if expand else v


class OneHotCategorical(Distribution):
    """A Categorical whose samples are one-hot vectors (..., K)."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits)
        p = self._categorical._param
        super().__init__(p.shape[:-1], p.shape[-1:], validate_args)

    probs = property(lambda self: self._categorical.probs, doc="The category probabilities.")
    logits = property(lambda self: self._categorical.logits, doc="The normalised logits.")
    param_shape = property(lambda self: self._categorical.param_shape, doc="The shape of probs / logits.")
    mean = property(lambda self: self.probs, doc="The mean: probs.")
    variance = property(lambda self: self.probs * (1 - self.probs), doc="The variance: p (1 - p).")

    @property
    def mode(self):
        """The most probable category, one-hot."""
        k = self._categorical._num_events
        return _wrap((self.probs._data.argmax(-1)[..., None] == xp.arange(k)).astype(self.probs.dtype))

    def sample(self, sample_shape=()):
        """One-hot draws (in the probabilities' dtype)."""
        i = self._categorical.sample(sample_shape)._data
        k = self._categorical._num_events
        return _wrap((i[..., None] == xp.arange(k)).astype(self.probs.dtype))  # (*sample, *batch, K)

    def log_prob(self, value):
        """The Categorical's log-probability of the hot index."""
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        """The Categorical's entropy."""
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        """The K one-hot vectors along a new first dim."""
        k = self._categorical._num_events
        v = _wrap(xp.eye(k, dtype=self.probs.dtype).reshape((k,) + (1,) * len(self._batch_shape) + (k,)))
        return v.expand(k, *self._batch_shape, k) if expand else v  # (K, *batch, K)
