"""torch.distributions.constraints: what a parameter or a value must satisfy; `check(value)` gives a bool
tensor (one element per batch element and event)."""

from ..backend import xp
from ..tensor import Tensor, _wrap


def _array(v):
    return v._data if isinstance(v, Tensor) else xp.asarray(v)


class Constraint:
    """A region of values; `check(value)` is a bool tensor (True inside), event_dim dims reduced."""

    is_discrete, event_dim = False, 0

    def check(self, value):
        """True where `value` satisfies the constraint (last `event_dim` dims reduced)."""
        return _wrap(xp.asarray(self._check(_array(value))))

    def __repr__(self):
        return f"{type(self).__name__.lstrip('_')}()"


class _Dependent(Constraint):
    """Determined by other parameters: not checked."""

    def __init__(self, is_discrete=False, event_dim=0):
        self.is_discrete, self.event_dim = is_discrete, event_dim

    def __call__(self, *, is_discrete=False, event_dim=0):
        return _Dependent(is_discrete, event_dim)

    def _check(self, a):
        raise ValueError("a dependent constraint cannot be checked")


def is_dependent(constraint):
    """Whether `constraint` is a dependent one (skipped by argument validation)."""
    return isinstance(constraint, _Dependent)


class _Real(Constraint):
    def _check(self, a):
        return a == a  # not NaN


class _Boolean(Constraint):
    is_discrete = True

    def _check(self, a):
        return (a == 0) | (a == 1)


class _GreaterThan(Constraint):
    def __init__(self, lower_bound, strict=True):
        self.lower_bound, self.strict = lower_bound, strict

    def _check(self, a):
        b = _array(self.lower_bound)
        return a > b if self.strict else a >= b

    def __repr__(self):
        return f"{'GreaterThan' if self.strict else 'GreaterThanEq'}(lower_bound={self.lower_bound})"


class _Interval(Constraint):
    def __init__(self, lower_bound, upper_bound, half_open=False):
        self.lower_bound, self.upper_bound, self.half_open = lower_bound, upper_bound, half_open

    def _check(self, a):
        lo, hi = _array(self.lower_bound), _array(self.upper_bound)
        return (lo <= a) & ((a < hi) if self.half_open else (a <= hi))

    def __repr__(self):
        name = "HalfOpenInterval" if self.half_open else "Interval"
        return f"{name}(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _IntegerInterval(Constraint):
    is_discrete = True

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def _check(self, a):
        return (a % 1 == 0) & (self.lower_bound <= a) & (a <= self.upper_bound)

    def __repr__(self):
        return f"IntegerInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _IntegerGreaterThan(Constraint):
    is_discrete = True

    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def _check(self, a):
        return (a % 1 == 0) & (a >= self.lower_bound)

    def __repr__(self):
        return f"IntegerGreaterThan(lower_bound={self.lower_bound})"


class _Simplex(Constraint):
    event_dim = 1

    def _check(self, a):
        return xp.all(a >= 0, axis=-1) & (xp.abs(a.sum(-1) - 1) < 1e-6)


class _OneHot(Constraint):
    is_discrete, event_dim = True, 1

    def _check(self, a):
        return xp.all((a == 0) | (a == 1), axis=-1) & (a.sum(-1) == 1)


class _LowerCholesky(Constraint):
    event_dim = 2

    def _check(self, a):
        lower = xp.all(xp.tril(a) == a, axis=(-2, -1))
        return lower & xp.all(xp.diagonal(a, axis1=-2, axis2=-1) > 0, axis=-1)


class _PositiveDefinite(Constraint):
    event_dim = 2

    def _check(self, a):
        sym = xp.all(xp.isclose(a, xp.swapaxes(a, -1, -2), atol=1e-6), axis=(-2, -1))
        return sym & xp.all(xp.linalg.eigvalsh(a.astype(xp.float64)) > 0, axis=-1)


class _IndependentConstraint(Constraint):
    def __init__(self, base_constraint, reinterpreted_batch_ndims):
        self.base_constraint, self.reinterpreted_batch_ndims = base_constraint, reinterpreted_batch_ndims
        self.is_discrete = base_constraint.is_discrete
        self.event_dim = base_constraint.event_dim + reinterpreted_batch_ndims

    def _check(self, a):
        r = self.base_constraint._check(a)
        n = self.reinterpreted_batch_ndims
        return xp.all(r.reshape(r.shape[: r.ndim - n] + (-1,)), axis=-1) if n else r  # (*batch, -1)

    def __repr__(self):
        return f"IndependentConstraint({self.base_constraint!r}, {self.reinterpreted_batch_ndims})"


dependent = _Dependent()
real = _Real()
boolean = _Boolean()
positive = _GreaterThan(0.0)
nonnegative = _GreaterThan(0.0, strict=False)
unit_interval = _Interval(0.0, 1.0)
nonnegative_integer = _IntegerGreaterThan(0)
positive_integer = _IntegerGreaterThan(1)
simplex = _Simplex()
one_hot = _OneHot()
lower_cholesky = _LowerCholesky()
positive_definite = _PositiveDefinite()
independent = _IndependentConstraint
real_vector = _IndependentConstraint(real, 1)
greater_than = _GreaterThan
interval = _Interval
integer_interval = _IntegerInterval


def greater_than_eq(lower_bound):
    """x >= lower_bound."""
    return _GreaterThan(lower_bound, strict=False)


def half_open_interval(lower_bound, upper_bound):
    """lower_bound <= x < upper_bound."""
    return _Interval(lower_bound, upper_bound, half_open=True)
