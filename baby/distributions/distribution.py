"""Distribution, the base of torch.distributions' families: shapes, argument and sample validation, and the
helpers the families share (broadcasting parameters, probabilities <-> logits)."""

import numbers

from .. import dtypes, grad_mode
from ..backend import xp
from ..ops import broadcast_to, clamp, log, logsumexp, sigmoid, softmax
from ..tensor import Size, Tensor
from . import constraints


class lazy_property:
    """A property computed on first use and then stored on the instance (probs from logits and back)."""

    def __init__(self, fn):
        self.fn, self.__doc__, self.name = fn, fn.__doc__, fn.__name__

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


class Distribution:
    """A batch of probability distributions: `batch_shape` independent ones, each over `event_shape`."""

    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__
    arg_constraints = {}
    support = None

    @staticmethod
    def set_default_validate_args(value):
        """Turn argument validation on or off for distributions made afterwards (on by default)."""
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args expects True or False, got {value!r}")
        Distribution._validate_args = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape, self._event_shape = Size(batch_shape), Size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if not self._validate_args:
            return
        for param, constraint in self.arg_constraints.items():
            if constraints.is_dependent(constraint):
                continue
            if param not in self.__dict__ and isinstance(getattr(type(self), param, None), lazy_property):
                continue  # the one of probs/logits not given
            value = getattr(self, param)
            if not constraint.check(value)._data.all():
                raise ValueError(
                    f"Expected parameter {param} ({type(value).__name__} of shape "
                    f"{tuple(value.shape)}) of distribution {self!r} to satisfy the constraint "
                    f"{constraint!r}, but found invalid values:\n{value}"
                )

    batch_shape = property(lambda self: self._batch_shape, doc="The shape of the batch of distributions.")
    event_shape = property(lambda self: self._event_shape, doc="The shape of one sample of one of them.")

    @property
    def stddev(self):
        """The standard deviation."""
        return self.variance.sqrt()

    def expand(self, batch_shape, _instance=None):
        """The same distribution repeated over a larger batch_shape (parameters broadcast, no copies)."""
        batch_shape, nb = Size(batch_shape), len(self._batch_shape)
        new = type(self).__new__(type(self)) if _instance is None else _instance
        for k, v in self.__dict__.items():
            if isinstance(v, Tensor) and not k.startswith("_unbroadcasted"):
                v = v.expand(*batch_shape, *v.shape[nb:])  # (*batch_shape, *event part)
            elif isinstance(v, Distribution):
                v = v.expand(batch_shape + v.batch_shape[nb:])
            new.__dict__[k] = v
        new._batch_shape = batch_shape
        return new

    def sample(self, sample_shape=()):
        """Draws of shape sample_shape + batch_shape + event_shape, outside the graph."""
        with grad_mode.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        """Reparameterised draws (gradients flow to the parameters), where the family has them."""
        raise NotImplementedError(
            f"{type(self).__name__} has no reparameterised sample (has_rsample is False); use sample()"
        )

    def sample_n(self, n):
        """n draws (the old spelling of sample((n,)))."""
        return self.sample((n,))

    def perplexity(self):
        """exp(entropy)."""
        return self.entropy().exp()

    def _extended_shape(self, sample_shape=()):
        return Size(tuple(sample_shape) + self._batch_shape + self._event_shape)

    def _validate_sample(self, value):
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        start = value.dim() - len(self._event_shape)
        if tuple(value.shape[start:]) != tuple(self._event_shape):
            raise ValueError(
                f"The right-most size of value must match event_shape: {value.shape} vs {self._event_shape}."
            )
        expected = Size(self._batch_shape + self._event_shape)
        for i, j in zip(reversed(value.shape), reversed(expected), strict=False):
            if i != 1 and j != 1 and i != j:
                raise ValueError(
                    f"Value is not broadcastable with batch_shape+event_shape: {value.shape} vs {expected}."
                )
        if not self.support.check(value)._data.all():
            raise ValueError(
                f"Expected value argument ({type(value).__name__} of shape "
                f"{tuple(value.shape)}) to be within the support ({self.support!r}) of the "
                f"distribution {self!r}, but found invalid values:\n{value}"
            )

    def __repr__(self):
        names = [k for k in self.arg_constraints if k in self.__dict__]
        args = ", ".join(
            f"{k}: {v if v.numel() == 1 else v.size()}" for k, v in ((k, self.__dict__[k]) for k in names)
        )
        return f"{type(self).__name__}({args})"


def broadcast_all(*values):
    """The parameters as tensors of one broadcast shape (numbers become tensors of the default float)."""
    if not all(isinstance(v, (Tensor, numbers.Number)) for v in values):
        raise ValueError(
            f"Input arguments must all be instances of numbers.Number or Tensor, got "
            f"{[type(v).__name__ for v in values]}"
        )
    like = next((v.dtype for v in values if isinstance(v, Tensor)), dtypes.get_default_dtype())
    ts = [v if isinstance(v, Tensor) else Tensor(xp.asarray(v, like), dtype=like) for v in values]
    shape = xp.broadcast_shapes(*(tuple(t.shape) for t in ts))
    return tuple(t if tuple(t.shape) == shape else broadcast_to(t, shape) for t in ts)


def clamp_probs(p):
    """Probabilities kept within [eps, 1 - eps] of their dtype."""
    eps = float(xp.finfo(p.dtype).eps)
    return clamp(p, eps, 1 - eps)


def logits_to_probs(logits, is_binary=False):
    """Probabilities from logits: sigmoid (binary) or softmax over the last dim."""
    return sigmoid(logits) if is_binary else softmax(logits, dim=-1)


def probs_to_logits(probs, is_binary=False):
    """Logits from probabilities: log(p / (1 - p)) (binary) or log p."""
    p = clamp_probs(probs)
    return log(p) - log(1 - p) if is_binary else log(p)


def normalize_logits(logits):
    """Logits shifted so that they are log-probabilities (logsumexp 0 over the last dim)."""
    return logits - logsumexp(logits, dim=-1, keepdim=True)


def sum_rightmost(x, n):
    """x summed over its last n dims."""
    return x.reshape(*x.shape[: x.dim() - n], -1).sum(-1) if n > 0 else x  # (*rest, prod(last n))
