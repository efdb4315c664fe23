"""Elementwise ops: arithmetic, exp/log, activations, maximum, comparisons, where (+ unbroadcast helper)."""

import math
import numbers

from .. import arena, dtypes, parallel
from ..arena import fresh_like
from ..backend import xp
from ..tensor import Function, Tensor, _wrap


def sum_to(g, shape):
    """Sum the broadcast gradient `g` down to `shape`: the one place gradients are un-broadcast."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    stretched = tuple(i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1)
    return g.sum(axis=tuple(range(lead)) + stretched, keepdims=True).reshape(shape)  # (*shape)


def _operand(x, dtype):
    """`x` (a Tensor, array or Python number) as a Tensor of `dtype`; tensors change dtype through Cast."""
    if isinstance(x, Tensor):
        return x if x._data.dtype == dtype else Cast(dtype)(x)
    return _wrap(xp.asarray(x, dtype=dtype))


_NUMBERS = (int, float)  # Python numbers (exactly: bool, a subclass of int, promotes otherwise)


def _binary(a, b):
    """Both operands as Tensors of their promoted type (PyTorch's rules, see dtypes.result_type)."""
    ta, tb = type(a), type(b)
    if ta is Tensor and tb is Tensor and a._data.dtype == b._data.dtype and a._data.shape == b._data.shape:
        return a, b  # the common case: nothing to promote or check
    if ta is Tensor and tb in _NUMBERS and a._data.dtype.kind == "f":  # a float tensor's dtype holds a number
        return a, _wrap(xp.asarray(b, a._data.dtype))
    if tb is Tensor and ta in _NUMBERS and b._data.dtype.kind == "f":
        return _wrap(xp.asarray(a, b._data.dtype)), b
    for x in (a, b):
        if not isinstance(x, (Tensor, numbers.Real, xp.ndarray, xp.generic)):
            raise TypeError(f"an operand must be a Tensor, a real number or an array, not {type(x).__name__}")
    a, b = (x if isinstance(x, (Tensor, numbers.Number, xp.ndarray)) else xp.asarray(x) for x in (a, b))
    d = dtypes.result_type(a, b)
    try:
        xp.broadcast_shapes(xp.shape(a), xp.shape(b))
    except ValueError:
        raise ValueError(f"operands of shapes {tuple(xp.shape(a))} and {tuple(xp.shape(b))} do not "
                         "broadcast") from None
    return _operand(a, d), _operand(b, d)


def _floating(a):
    """`a` as a Tensor with a float dtype: integer and bool data become the default float (as PyTorch)."""
    a = a if isinstance(a, Tensor) else _wrap(xp.asarray(a))
    return a if a._data.dtype.kind == "f" else Cast(dtypes.get_default_dtype())(a)


class Cast(Function):
    """a converted to another dtype; the gradient goes back in the input's dtype."""

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, a):
        return a.astype(self.dtype)

    def backward(self, gy, node):
        return (gy.astype(node.inputs[0].dtype),)


class Rounding(Function):
    """A step function (floor, ceil, round, trunc, sign): gradient zero everywhere, as PyTorch."""

    def __init__(self, fn):
        self.fn = fn

    def forward(self, a):
        return self.fn(a)

    def backward(self, gy, node):
        return (xp.zeros_like(gy),)

    def name(self):
        return f"{self.fn.__name__.capitalize()}Backward0"


class Add(Function):
    """a + b."""

    def forward(self, a, b):
        if a.shape == b.shape and a.dtype == b.dtype and a.nbytes >= arena.MIN_BYTES:  # (a residual sum)
            return xp.add(a, b, out=fresh_like(a))
        return a + b

    def backward(self, gy, node):
        a, b = node.inputs
        return sum_to(gy, a.shape), sum_to(gy, b.shape)


class Mul(Function):
    """a * b."""

    def forward(self, a, b):
        return a * b

    def backward(self, gy, node):
        a, b = node.inputs
        ga = sum_to(gy * b._data, a.shape) if a.requires_grad else None
        gb = sum_to(gy * a._data, b.shape) if b.requires_grad else None
        return ga, gb


class Div(Function):
    """a / b."""

    def forward(self, a, b):
        return a / b

    def backward(self, gy, node):
        a, b = node.inputs
        gb = sum_to(-gy * node._data / b._data, b.shape) if b.requires_grad else None
        return sum_to(gy / b._data, a.shape), gb


class Pow(Function):
    """a ** b, elementwise, with a tensor exponent."""

    def forward(self, a, b):
        return a**b

    def backward(self, gy, node):
        a, b = node.inputs
        ga = sum_to(gy * b._data * a._data ** (b._data - 1), a.shape) if a.requires_grad else None
        if not b.requires_grad:
            return ga, None
        log_a = xp.log(xp.where(a._data > 0, a._data, 1))  # log(a), taken as 0 where a <= 0
        return ga, sum_to(gy * node._data * log_a, b.shape)


class PowScalar(Function):
    """a ** p for a Python number p."""

    def __init__(self, p):
        self.p = p

    def forward(self, a):
        return a**self.p

    def backward(self, gy, node):
        a = node.inputs[0]._data
        if self.p == 0:
            return (xp.zeros_like(gy),)  # d(a ** 0) = 0 everywhere, as torch (not 0 * inf at a = 0)
        return (gy * self.p * a ** (self.p - 1),)


class Neg(Function):
    """-a."""

    def forward(self, a):
        return -a

    def backward(self, gy, node):
        return (-gy,)


class Exp(Function):
    """e ** a."""

    def forward(self, a):
        return xp.exp(a)

    def backward(self, gy, node):
        return (gy * node._data,)


class Log(Function):
    """Natural logarithm (log 0 = -inf without a warning, as PyTorch: log(tril(ones)) is a causal mask)."""

    def forward(self, a):
        with xp.errstate(divide="ignore"):
            return xp.log(a)

    def backward(self, gy, node):
        return (gy / node.inputs[0]._data,)


class Sqrt(Function):
    """Square root."""

    def forward(self, a):
        return xp.sqrt(a)

    def backward(self, gy, node):
        return (gy / (2 * node._data),)


class Abs(Function):
    """|a| (gradient 0 at 0 and at NaN, as PyTorch)."""

    def forward(self, a):
        return xp.abs(a)

    def backward(self, gy, node):
        s = xp.sign(node.inputs[0]._data)
        return (gy * (xp.nan_to_num(s, copy=False) if s.dtype.kind == "f" else s),)


class ReLU(Function):
    """max(a, 0) split by rows over the thread pool (one pass: 4M float32 0.90 ms, 1.18 in cache-sized
    pieces); its backward's comparison and product in pieces (it follows every conv)."""

    def forward(self, a):
        y = fresh_like(a)
        parallel.split(lambda r: xp.maximum(0, a[r], out=y[r]), a)  # (0 first: relu(-0.0) is -0.0, as torch)
        return y

    def backward(self, gy, node):
        gx = fresh_like(node._data)  # laid out as x (as y is): the op that made x reads it in order
        parallel.blocked(_relu_grad, gy, node._data, gx)
        return (gx,)


def _relu_grad(gy, y, gx):
    """gx = gy where y != 0 (y is >= 0 or NaN): a NaN passes its gradient, as torch's threshold_backward."""
    xp.multiply(gy, y != 0, out=gx, dtype=gx.dtype)


class Sigmoid(Function):
    """1 / (1 + e ** -a), computed without overflow."""

    def forward(self, a):
        e = xp.exp(-xp.abs(a))
        return xp.where(a >= 0, 1 / (1 + e), e / (1 + e))

    def backward(self, gy, node):
        return (gy * node._data * (1 - node._data),)


class Tanh(Function):
    """Hyperbolic tangent."""

    def forward(self, a):
        return xp.tanh(a)

    def backward(self, gy, node):
        return (gy * (1 - node._data * node._data),)


def _erf(x):
    """erf to ~1e-7 absolute (Abramowitz & Stegun 7.1.26); NumPy has none."""
    s, x = xp.sign(x), xp.abs(x)
    t = 1 / (1 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return s * (1 - poly * xp.exp(-x * x))


class GELU(Function):
    """x * Phi(x): exact (erf) by default, or the tanh approximation."""

    def __init__(self, approximate="none"):
        self.approximate = approximate

    def forward(self, a):
        if self.approximate == "tanh":
            return 0.5 * a * (1 + xp.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a**3)))
        return (0.5 * a * (1 + _erf(a / math.sqrt(2)))).astype(a.dtype, copy=False)

    def backward(self, gy, node):
        a = node.inputs[0]._data
        if self.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            t = xp.tanh(k * (a + 0.044715 * a**3))
            return (gy * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * k * (1 + 3 * 0.044715 * a * a)),)
        cdf = 0.5 * (1 + _erf(a / math.sqrt(2)))
        pdf = xp.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
        return ((gy * (cdf + a * pdf)).astype(a.dtype, copy=False),)


class Maximum(Function):
    """Elementwise max(a, b); ties split the gradient evenly, as PyTorch."""

    def forward(self, a, b):
        return xp.maximum(a, b)

    def backward(self, gy, node):
        a, b = node.inputs
        share = xp.where(a._data == b._data, gy.dtype.type(0.5), a._data > b._data)  # a's share: 1, 0.5 or 0
        return sum_to(gy * share, a.shape), sum_to(gy * (1 - share), b.shape)


class Where(Function):
    """cond ? a : b; no gradient flows to the mask."""

    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):
        return xp.where(self.cond, a, b)

    def backward(self, gy, node):
        a, b = node.inputs
        return sum_to(xp.where(self.cond, gy, 0), a.shape), sum_to(xp.where(self.cond, 0, gy), b.shape)


def add(a, b, *, alpha=1):
    """a + alpha * b with broadcasting."""
    return Add()(*_binary(a, b if alpha == 1 else mul(b, alpha)))


def sub(a, b, *, alpha=1):
    """a - alpha * b with broadcasting."""
    a, b = _binary(a, b if alpha == 1 else mul(b, alpha))
    return Add()(a, Neg()(b))


def mul(a, b):
    """a * b with broadcasting."""
    return Mul()(*_binary(a, b))


def div(a, b, *, rounding_mode=None):
    """a / b with broadcasting: true division (integers give the default float), or rounded 'trunc' /
    'floor' (integers stay integers; no gradient flows through the rounding, as PyTorch)."""
    if rounding_mode not in (None, "trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    a, b = _binary(a, b)
    if rounding_mode is None:
        return Div()(_floating(a), _floating(b))
    if a._data.dtype.kind in "iub":
        q = xp.floor_divide(a._data, b._data)
        return _wrap(q + ((q < 0) & (q * b._data != a._data)) if rounding_mode == "trunc" else q)
    return Rounding(xp.trunc if rounding_mode == "trunc" else xp.floor)(Div()(a, b))


def pow(a, b):
    """a ** b; `b` a Python number or a tensor."""
    b = b.item() if isinstance(b, xp.generic) else b  # a NumPy scalar exponent must not promote float32
    if isinstance(b, (int, float)) and not isinstance(b, bool) and isinstance(a, Tensor):
        return PowScalar(b)(_floating(a) if isinstance(b, float) else a)
    return Pow()(*_binary(a, b))


def neg(a):
    """-a."""
    return Neg()(a)


def exp(a):
    """e ** a."""
    return Exp()(_floating(a))


def log(a):
    """Natural logarithm."""
    return Log()(_floating(a))


def sqrt(a):
    """Square root."""
    return Sqrt()(_floating(a))


def abs(a):
    """Absolute value."""
    return Abs()(a)


def relu(a):
    """max(a, 0)."""
    return ReLU()(a)


def sigmoid(a):
    """Logistic sigmoid."""
    return Sigmoid()(_floating(a))


def tanh(a):
    """Hyperbolic tangent."""
    return Tanh()(_floating(a))


def gelu(a, approximate="none"):
    """Gaussian error linear unit; approximate='none' (erf) or 'tanh'."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU(approximate)(_floating(a))


def maximum(a, b):
    """Elementwise maximum."""
    return Maximum()(*_binary(a, b))


def minimum(a, b):
    """Elementwise minimum."""
    a, b = _binary(a, b)
    return neg(maximum(neg(a), neg(b)))


def where(cond, a=None, b=None):
    """Elements of `a` where `cond`, else of `b`; with `cond` alone, the indices where it holds."""
    if a is None and b is None:
        return tuple(_wrap(i) for i in xp.nonzero(cond._data if isinstance(cond, Tensor) else cond))
    cond = cond._data if isinstance(cond, Tensor) else xp.asarray(cond)
    a, b = _binary(a, b)
    try:
        xp.broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(f"where: cond {tuple(cond.shape)}, a {tuple(a.shape)} and b {tuple(b.shape)} do "
                         f"not broadcast") from None
    return Where(cond.astype(bool, copy=False))(a, b)


class Compare(Function):
    """A comparison `fn` (a NumPy ufunc: greater, equal, ...) of a and b: a bool array, no gradient."""

    def __init__(self, fn):
        self.fn = fn

    def forward(self, a, b):
        return self.fn(a, b)

    def backward(self, gy, node):
        return None, None


def _compare(fn):
    def compare(a, b):
        return Compare(fn)(*_binary(a, b))

    compare.__doc__ = f"Elementwise {fn.__name__} (a bool tensor, no gradient)."
    return compare


eq, ne, lt, le, gt, ge = map(_compare, (xp.equal, xp.not_equal, xp.less, xp.less_equal, xp.greater,
                                        xp.greater_equal))
