"""Activations as in PyTorch's nn.functional, composed from baby's ops with PyTorch's values and gradients.

At the kinks too: hardtanh (and relu6, hardsigmoid, hardswish built on it) passes the gradient only strictly
inside (min, max); exp only ever sees clamped values, so elu and softplus give no inf or nan for large
inputs. `inplace=True` writes the result into x and returns x, recorded in the graph as PyTorch does.
"""

import warnings

from ... import ops
from ...ops import elementwise as E
from ...ops import math as M
from ...ops.inplace import apply_
from ...ops.shape import one_axis

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _apply(fn, x, inplace, name, *args):
    """fn(x, *args); with `inplace` the result is written into x, which is returned."""
    return apply_(x, fn, *args, name=name) if inplace else fn(x, *args)


def _hardtanh(x, lo, hi):
    """x clamped to [lo, hi]; the gradient passes only where lo < x < hi, as PyTorch's hardtanh."""
    return E.where(E.le(x, lo), lo, E.where(E.ge(x, hi), hi, x))


def _elu(x, alpha, scale, input_scale):
    """scale * x for x > 0, else scale * alpha * (exp(input_scale * x) - 1), exp taken on min(x, 0)."""
    neg = M.expm1(M.clamp(x, max=0) * input_scale) * (alpha * scale)
    return E.where(E.gt(x, 0), x * scale if scale != 1 else x, neg)


def _softplus(x, beta, threshold):
    bx = x * beta
    soft = M.log1p(E.exp(M.clamp(bx, max=threshold))) / beta  # the clamp keeps exp finite
    return E.where(E.gt(bx, threshold), x, soft)


def relu(input, inplace=False):
    """max(x, 0)."""
    return _apply(E.relu, input, inplace, "relu_")


def relu6(input, inplace=False):
    """min(max(x, 0), 6); gradient 0 at 0 and 6, as PyTorch."""
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clamped to [min_val, max_val]; the gradient passes strictly inside."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return _apply(_hardtanh, input, inplace, "hardtanh_", min_val, max_val)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0, else negative_slope * x."""
    return _apply(lambda x: E.where(E.gt(x, 0), x, x * negative_slope), input, inplace, "leaky_relu_")


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, else alpha * (exp(x) - 1)."""
    return _apply(_elu, input, inplace, "elu_", alpha, 1.0, 1.0)


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalizing constants."""
    return _apply(_elu, input, inplace, "selu_", SELU_ALPHA, SELU_SCALE, 1.0)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    return _apply(_elu, input, inplace, "celu_", alpha, 1.0, 1 / alpha)


def silu(input, inplace=False):
    """x * sigmoid(x)."""
    return _apply(lambda x: x * E.sigmoid(x), input, inplace, "silu_")


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    return _apply(lambda x: x * E.tanh(_softplus(x, 1, 20)), input, inplace, "mish_")


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    return _softplus(input, beta, threshold)


def hardsigmoid(input, inplace=False):
    """min(max(x + 3, 0), 6) / 6; gradient 1/6 strictly inside (-3, 3)."""
    return _apply(lambda x: _hardtanh(x + 3, 0.0, 6.0) / 6, input, inplace, "hardsigmoid_")


def hardswish(input, inplace=False):
    """x * hardsigmoid(x)."""
    return _apply(lambda x: x * _hardtanh(x + 3, 0.0, 6.0) / 6, input, inplace, "hardswish_")


def logsigmoid(input):
    """log(sigmoid(x)) = min(x, 0) - log(1 + exp(-|x|)), stable for any x."""
    return E.minimum(input, 0) - M.log1p(E.exp(-E.abs(input)))  # min's tie at 0 gives the gradient 1/2


def softsign(input):
    """x / (1 + |x|)."""
    return input / (E.abs(input) + 1)


def tanhshrink(input):
    """x - tanh(x)."""
    return input - E.tanh(input)


def glu(input, dim=-1):
    """a * sigmoid(b), with a and b the two halves of the input along `dim`."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = one_axis(dim, input.shape, "dim")
    if input.shape[d] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {input.shape[d]}")
    a, b = ops.chunk(input, 2, d)
    return a * E.sigmoid(b)


def sigmoid(input):
    """1 / (1 + exp(-x))."""
    return E.sigmoid(input)


def tanh(input):
    """Hyperbolic tangent."""
    return E.tanh(input)


def gelu(input, approximate="none"):
    """Gaussian error linear unit: approximate='none' (erf) or 'tanh'."""
    return E.gelu(input, approximate)


def _softmax_dim(x, dim, name):
    """`dim`, or PyTorch's implicit choice (with its deprecation warning) when it is None."""
    if dim is not None:
        return dim
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
                  "dim=X as an argument.", stacklevel=3)
    return 0 if x.ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """Softmax along `dim` (computed in `dtype` if given)."""
    return ops.softmax(input, _softmax_dim(input, dim, "softmax"), dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """Log-softmax along `dim` (computed in `dtype` if given)."""
    return ops.log_softmax(input, _softmax_dim(input, dim, "log_softmax"), dtype=dtype)
