"""In-place ops (add_, mul_, zero_, copy_, x[i] = v, +=, ...) with PyTorch's autograd semantics.

Outside the graph (under no_grad, or when nothing involved requires grad) they write into the tensor's
memory, so `w -= lr * w.grad` keeps `w` the same leaf. Inside the graph the op is recorded: the tensor's
previous value moves to a hidden node that the new op takes as input, and the tensor becomes the op's
output, written into its own memory. A leaf that requires grad refuses, as in PyTorch; every op that used
the old value still holds it by version, so its backward raises instead of using the new one.
"""

import functools

from .. import dtypes, grad_mode, random
from ..backend import xp
from ..tensor import Tensor, _wrap
from . import elementwise as E
from . import math as M
from . import shape as S
from .index import SetItem, index_add, masked_fill, scatter, scatter_add
from .matrix import tril, triu
from .shape import _index
from .views import rebase


def _records(x, args):
    """Whether the in-place op on `x` with `args` must be recorded in the graph."""
    return grad_mode.state.enabled and (x.requires_grad or any(isinstance(a, Tensor) and a.requires_grad
                                                         for a in args))


def _write(x, y, name, cast=False):
    """Copy the values of `y` into the memory of `x` and count the write."""
    if not cast and not dtypes.can_cast(y.dtype, x.dtype):
        raise RuntimeError(f"{name}: result type {y.dtype} can't be cast to the tensor's type {x.dtype}")
    if y.shape != x.shape:
        raise RuntimeError(f"{name}: the result has shape {tuple(y.shape)}, which does not match the "
                           f"tensor's shape {tuple(x.shape)} (an in-place op cannot change the shape)")
    try:
        x._data[...] = y._data
    except ValueError as e:
        raise RuntimeError(f"{name}: cannot write into this tensor ({e})") from None
    x._vc[0] += 1


def apply_(x, fn, *args, name, cast=False):
    """Set `x` to fn(x, *args) in place: into its memory, recorded in the graph where gradients need it."""
    if not _records(x, args):
        with grad_mode.no_grad():
            _write(x, fn(x, *args), name, cast)
        return x
    if x._op is None and x.requires_grad:
        raise RuntimeError(f"{name}: a leaf tensor that requires grad is used in an in-place operation; "
                           "update it inside `with baby.no_grad():` or use an out-of-place op")
    if x._base is not None and x._data.size and xp.may_share_memory(x._data, x._base._data):
        return rebase(x, lambda t: fn(t, *_before(args, x, t)), lambda y: _write(x, y, name, cast))
    old = _wrap(x._data.copy())  # the value before the write, for the ops that read it in backward
    old._op, old._inputs, old.requires_grad, old._vc = x._op, x._inputs, x.requires_grad, [x._vc[0]]
    y = fn(old, *_before(args, x, old))
    _write(x, y, name, cast)
    x._op, x._inputs, x.requires_grad = y._op, y._inputs, y.requires_grad
    if y._op is not None:
        y._op.versions = y._op.versions[:-1] + (x._vc[0],)
    return x


def _before(args, x, old):
    """The op's other operands, x itself among them (x.mul_(x)) standing for its value before the write."""
    return tuple(old if a is x else a for a in args)


def _restride(x, fn, name):
    """Give `x` the layout fn(x) has (a view of the same memory), in place."""
    if not _records(x, ()):
        x._data = fn(_wrap(x._data))._data
        return x
    if x._op is None:
        raise RuntimeError(f"{name}: a leaf tensor that requires grad is used in an in-place operation")
    old = _wrap(x._data)
    old._op, old._inputs, old.requires_grad, old._vc = x._op, x._inputs, True, x._vc
    y = fn(old)
    x._data, x._op, x._inputs = y._data, y._op, y._inputs
    return x


def t_(x):
    """Transpose a matrix in place (the same memory, the shape swapped)."""
    return _restride(x, S.t, "t_")


def _fill(t, value):
    """`value` (a number or tensor) everywhere in the shape of `t`, through the graph."""
    return E.where(xp.ones(t.shape, bool), value, t)


def _inplace(fn, name):
    def method(self, *args, **kwargs):
        return apply_(self, lambda t, *a: fn(t, *a, **kwargs), *args, name=name)

    method.__name__ = name
    method.__doc__ = f"In place: {fn.__doc__[0].lower()}{fn.__doc__[1:]}"
    return method


add_, sub_, mul_, div_ = (_inplace(f, n) for f, n in ((E.add, "add_"), (E.sub, "sub_"), (E.mul, "mul_"),
                                                      (E.div, "div_")))
pow_, neg_, abs_ = _inplace(E.pow, "pow_"), _inplace(E.neg, "neg_"), _inplace(E.abs, "abs_")
exp_, log_, sqrt_ = _inplace(E.exp, "exp_"), _inplace(E.log, "log_"), _inplace(E.sqrt, "sqrt_")
relu_, sigmoid_, tanh_ = _inplace(E.relu, "relu_"), _inplace(E.sigmoid, "sigmoid_"), _inplace(E.tanh, "tanh_")
clamp_ = clip_ = _inplace(M.clamp, "clamp_")
floor_, round_ = _inplace(M.floor, "floor_"), _inplace(M.round, "round_")
masked_fill_ = _inplace(masked_fill, "masked_fill_")
scatter_add_ = _inplace(scatter_add, "scatter_add_")
scatter_, index_add_ = _inplace(scatter, "scatter_"), _inplace(index_add, "index_add_")
tril_, triu_ = _inplace(tril, "tril_"), _inplace(triu, "triu_")
floor_divide_, remainder_ = _inplace(M.floor_divide, "floor_divide_"), _inplace(M.remainder, "remainder_")


def zero_(x):
    """Set every element to zero, in place."""
    return fill_(x, 0)


def fill_(x, value):
    """Set every element to `value`, in place."""
    return apply_(x, _fill, value, name="fill_", cast=True)


def copy_(x, src):
    """Copy `src` (broadcast to x's shape, converted to x's dtype) into x, in place."""
    return apply_(x, _fill, src, name="copy_", cast=True)


def uniform_(x, a=0.0, b=1.0):
    """Fill with samples uniform in [a, b), in place."""
    return _draw_(x, "uniform_", random.fill_uniform, a, b)


def normal_(x, mean=0.0, std=1.0):
    """Fill with normal samples N(mean, std**2), in place."""
    return _draw_(x, "normal_", random.fill_normal, mean, std)


def _draw_(x, name, fill, *args):
    """Random draws into x's own memory, in its dtype (no temporary of its size); through fill_ (which
    refuses a leaf that requires grad) when the write must be recorded."""
    if _records(x, ()):
        y = xp.empty_like(x._data)
        fill(y, *args)
        return fill_(x, _wrap(y))
    try:
        fill(x._data, *args)
    except ValueError as e:
        raise RuntimeError(f"{name}: cannot write into this tensor ({e})") from None
    x._vc[0] += 1
    return x


def setitem(x, index, value):
    """x[index] = value (ints, slices, masks, index arrays), in place; recorded where gradients need it."""
    index = _index(index)
    if _writes_itself(x, index, value):  # x[i] *= 2: Python stores the updated view x[i] back into x[i]
        return
    if not _records(x, (value,)):
        try:
            x._data[index] = value._data if isinstance(value, Tensor) else value
        except ValueError as e:
            shape = xp.shape(getattr(value, "_data", value))
            raise RuntimeError(f"cannot assign a value of shape {shape} to x[{index!r}] of a tensor of shape "
                               f"{tuple(x.shape)}: {e}") from None
        x._vc[0] += 1
        return

    def assign(t, v):
        v = E._operand(v, t.dtype) if isinstance(v, Tensor) else _wrap(xp.asarray(v, t.dtype))
        return SetItem(index)(t, v)

    apply_(x, assign, value, name="setitem", cast=True)


def _writes_itself(x, index, value):
    """Whether `value` is the very view x[index] (same memory, shape, strides): storing it changes nothing."""
    if not isinstance(value, Tensor) or value._base is None or value._base is not (
            x if x._base is None else x._base):
        return False
    t, v = x._data[index], value._data
    return t.shape == v.shape and t.strides == v.strides and t.ctypes.data == v.ctypes.data


AUGMENTED = {"__iadd__": add_, "__isub__": sub_, "__imul__": mul_, "__itruediv__": div_, "__ipow__": pow_,
             "__ifloordiv__": floor_divide_, "__imod__": remainder_}


def write_out(out, y, name):
    """Store the result `y` of `name(...)` in the tensor `out=` (resized if needed) and return `out`."""
    if grad_mode.state.enabled and (y.requires_grad or out.requires_grad):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad")
    if not dtypes.can_cast(y.dtype, out.dtype):
        raise RuntimeError(f"{name}(): the result type {y.dtype} can't be cast to out's type {out.dtype}")
    if out.shape != y.shape:
        out._data = xp.empty(y.shape, out.dtype)
    out._data[...] = y._data
    out._vc[0] += 1
    return out


_SECOND = ("other", "mat2", "exponent", "tensor2")


def torch_function(fn):
    """`fn` as torch.* spells it: `input=` / `other=` (mat2=, exponent=) keywords and an `out=` tensor."""

    @functools.wraps(fn)
    def wrapped(*args, out=None, **kwargs):
        if "input" in kwargs:
            args = (kwargs.pop("input"),) + args
        for name in _SECOND:
            if name in kwargs and len(args) == 1:
                args = args + (kwargs.pop(name),)
        y = fn(*args, **kwargs)
        return y if out is None else write_out(out, y, fn.__name__)

    return wrapped
