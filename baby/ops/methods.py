"""The ops as Tensor methods and operators, with PyTorch's signatures: x.sum(dim=1), x += y, x[i] = v."""

import numbers

from .. import dtypes
from ..creation import multinomial
from ..device import as_device
from ..device import device as Device
from ..tensor import Tensor, _wrap
from . import elementwise as E
from . import index as I
from . import inplace as P
from . import join as J
from . import math as M
from . import matrix as X
from . import rearrange as A
from . import reduce as R
from . import shape as S
from .matmul import bmm, matmul, mm


def _swap(fn):
    return lambda a, b: fn(b, a)


OPERANDS = (Tensor, numbers.Real, E.xp.ndarray, E.xp.generic)  # what an operator takes beside a tensor


def _operator(fn):
    """`fn` as a Python operator: an operand other than a tensor, real number or array gives NotImplemented,
    so Python raises PyTorch's TypeError ("unsupported operand type(s) for +: 'Tensor' and 'NoneType'")."""

    def op(a, b):
        return fn(a, b) if isinstance(b, OPERANDS) else NotImplemented

    return op


def to_args(*args, **kwargs):
    """The dtype (or None) and copy flag of to(dtype), to(device), to(tensor), to(device, dtype, copy=)."""
    dtype, device, copy = kwargs.pop("dtype", None), kwargs.pop("device", None), kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, (str, Device)):
            device = a
        else:
            dtype = a
    as_device(device)
    return dtypes.as_dtype(dtype), copy


def to(self, *args, **kwargs):
    """This tensor in another dtype or on a device: to(dtype), to(device), to(tensor), to(device, dtype)."""
    d, copy = to_args(*args, **kwargs)
    out = self if d is None or d == self.dtype else E.Cast(d)(self)
    return S.clone(out) if copy and out is self else out


def _to(dtype, doc):
    def convert(self, memory_format=None):
        return to(self, dtype)

    convert.__doc__ = doc
    return convert


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor",
               "uint8": "ByteTensor", "bool": "BoolTensor"}


def type_(self, dtype=None):
    """The type name (e.g. 'baby.FloatTensor'), or with `dtype` this tensor converted to it."""
    return f"baby.{_TYPE_NAMES[str(self.dtype)]}" if dtype is None else to(self, dtype)


def _new(fill):
    def new(self, *size, dtype=None, device=None, requires_grad=False):
        from .. import creation

        return getattr(creation, fill)(*size, dtype=self.dtype if dtype is None else dtype, device=device,
                                       requires_grad=requires_grad)

    new.__doc__ = f"A new tensor of {fill} (this tensor's dtype unless given)."
    return new


def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
    """A new tensor of `fill_value` (this tensor's dtype unless given)."""
    from ..creation import full

    return full(size, fill_value, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)


def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    """A new tensor copying `data` (this tensor's dtype unless given)."""
    from ..creation import tensor

    return tensor(data, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)


def cuda(self, *args, **kwargs):
    """No CUDA here: a clear error (baby runs on the CPU)."""
    as_device("cuda")


def _bitwise(logical, bitwise):
    def op(a, b):
        a, b = E._binary(a, b)
        return (logical if a.dtype == bool else lambda x, y: _wrap(bitwise(x._data, y._data)))(a, b)

    return op


def _invert(a):
    return M.logical_not(a) if a.dtype == bool else _wrap(~a._data)


_UFUNC_OPS = {"add": E.add, "subtract": E.sub, "multiply": E.mul, "true_divide": E.div, "divide": E.div,
              "power": E.pow, "matmul": matmul, "maximum": E.maximum, "minimum": E.minimum,
              "equal": E.eq, "not_equal": E.ne, "less": E.lt, "less_equal": E.le, "greater": E.gt,
              "greater_equal": E.ge}


def array_ufunc(self, ufunc, method, *inputs, **kwargs):
    """NumPy operators with a Tensor (`array @ t`, `array + t`) give Tensors through baby's ops; any
    other NumPy function reads the arrays and returns an array."""
    if method == "__call__" and not kwargs and ufunc.__name__ in _UFUNC_OPS and len(inputs) == 2:
        return _UFUNC_OPS[ufunc.__name__](*inputs)
    arrays = [x._data if isinstance(x, Tensor) else x for x in inputs]
    if "out" in kwargs:
        kwargs["out"] = tuple(x._data if isinstance(x, Tensor) else x for x in kwargs["out"])
    return getattr(ufunc, method)(*arrays, **kwargs)


def _arrays(v):
    """`v` with every Tensor inside (lists, tuples, dicts) replaced by its array."""
    if isinstance(v, Tensor):
        return v._data
    if isinstance(v, (list, tuple)):
        return type(v)(_arrays(x) for x in v)
    return {k: _arrays(x) for k, x in v.items()} if isinstance(v, dict) else v


def array_function(self, func, types, args, kwargs):
    """NumPy functions (np.std, np.concatenate, np.testing ...) read the arrays and return arrays."""
    return func(*_arrays(args), **_arrays(kwargs))


def copy(self):
    """A detached copy (the book's `.data.copy()`; PyTorch spells it clone().detach())."""
    return S.clone(self).detach()


METHODS = {
    "__array_function__": array_function, "copy": copy,
    "__array_ufunc__": array_ufunc,
    "__add__": E.add, "__radd__": _swap(E.add), "__sub__": E.sub, "__rsub__": _swap(E.sub),
    "__mul__": E.mul, "__rmul__": _swap(E.mul), "__truediv__": E.div, "__rtruediv__": _swap(E.div),
    "__floordiv__": M.floor_divide, "__rfloordiv__": _swap(M.floor_divide),
    "__mod__": M.remainder, "__rmod__": _swap(M.remainder),
    "__pow__": E.pow, "__rpow__": _swap(E.pow), "__matmul__": matmul, "__rmatmul__": _swap(matmul),
    "__neg__": E.neg, "__pos__": lambda a: a, "__abs__": E.abs, "__invert__": _invert,
    "__and__": _bitwise(M.logical_and, E.xp.bitwise_and), "__or__": _bitwise(M.logical_or, E.xp.bitwise_or),
    "__xor__": _bitwise(M.logical_xor, E.xp.bitwise_xor),
    "__getitem__": S.getitem, "__setitem__": P.setitem,
    "__eq__": E.eq, "__ne__": E.ne, "__lt__": E.lt, "__le__": E.le, "__gt__": E.gt, "__ge__": E.ge,
    "eq": E.eq, "ne": E.ne, "lt": E.lt, "le": E.le, "gt": E.gt, "ge": E.ge,
    "add": E.add, "sub": E.sub, "subtract": E.sub, "mul": E.mul, "multiply": E.mul, "div": E.div,
    "divide": E.div, "true_divide": E.div, "pow": E.pow, "neg": E.neg, "negative": E.neg,
    "exp": E.exp, "log": E.log, "sqrt": E.sqrt, "abs": E.abs, "relu": E.relu, "sigmoid": E.sigmoid,
    "tanh": E.tanh, "gelu": E.gelu, "maximum": E.maximum, "minimum": E.minimum,
    "where": lambda a, c, b: E.where(c, a, b),
    "sin": M.sin, "cos": M.cos, "tan": M.tan, "log1p": M.log1p, "expm1": M.expm1, "log2": M.log2,
    "log10": M.log10, "rsqrt": M.rsqrt, "reciprocal": M.reciprocal, "square": M.square, "sign": M.sign,
    "floor": M.floor, "ceil": M.ceil, "round": M.round, "trunc": M.trunc, "clamp": M.clamp, "clip": M.clamp,
    "floor_divide": M.floor_divide, "remainder": M.remainder, "fmod": M.fmod,
    "logical_and": M.logical_and, "logical_or": M.logical_or, "logical_xor": M.logical_xor,
    "logical_not": M.logical_not, "isnan": M.isnan, "isinf": M.isinf, "isfinite": M.isfinite,
    "isclose": M.isclose, "allclose": M.allclose, "equal": M.equal,
    "sum": R.sum, "mean": R.mean, "max": R.max, "min": R.min, "amax": R.amax, "amin": R.amin,
    "argmax": R.argmax, "argmin": R.argmin, "prod": R.prod, "cumsum": R.cumsum, "var": R.var, "std": R.std,
    "norm": R.norm, "all": R.all, "any": R.any, "logsumexp": R.logsumexp, "softmax": R.softmax,
    "log_softmax": R.log_softmax,
    "matmul": matmul, "mm": mm, "bmm": bmm,
    "reshape": S.reshape, "view": S.reshape, "permute": S.permute, "transpose": S.transpose,
    "swapaxes": S.transpose, "swapdims": S.transpose, "broadcast_to": S.broadcast_to, "expand": S.expand,
    "flip": S.flip, "pad": S.pad, "dilate": S.dilate, "undilate": S.undilate, "unsqueeze": S.unsqueeze,
    "squeeze": S.squeeze, "flatten": S.flatten, "unflatten": S.unflatten, "repeat": S.repeat, "t": S.t,
    "split": J.split, "chunk": J.chunk, "clone": S.clone, "contiguous": S.contiguous,
    "view_as": lambda a, b: S.reshape(a, b.shape), "reshape_as": lambda a, b: S.reshape(a, b.shape),
    "expand_as": lambda a, b: S.expand(a, b.shape),
    "gather": I.gather, "scatter_add": I.scatter_add, "index_select": I.index_select,
    "masked_fill": I.masked_fill, "sort": I.sort, "argsort": I.argsort, "topk": I.topk, "nonzero": I.nonzero,
    "to": to, "type": type_, "astype": to, "cpu": lambda a: a, "cuda": cuda,
    "float": _to(dtypes.float32, "As float32."), "double": _to(dtypes.float64, "As float64."),
    "half": _to(dtypes.float16, "As float16."), "long": _to(dtypes.int64, "As int64."),
    "int": _to(dtypes.int32, "As int32."), "short": _to(dtypes.int16, "As int16."),
    "bool": _to(dtypes.bool, "As bool."), "byte": _to(dtypes.uint8, "As uint8."),
    "new_zeros": _new("zeros"), "new_ones": _new("ones"), "new_empty": _new("empty"), "new_full": new_full,
    "new_tensor": new_tensor,
    "add_": P.add_, "sub_": P.sub_, "mul_": P.mul_, "div_": P.div_, "pow_": P.pow_, "neg_": P.neg_,
    "abs_": P.abs_, "exp_": P.exp_, "log_": P.log_, "sqrt_": P.sqrt_, "relu_": P.relu_,
    "sigmoid_": P.sigmoid_, "tanh_": P.tanh_, "clamp_": P.clamp_, "clip_": P.clip_, "floor_": P.floor_,
    "round_": P.round_, "masked_fill_": P.masked_fill_, "scatter_add_": P.scatter_add_, "zero_": P.zero_,
    "fill_": P.fill_, "copy_": P.copy_, "t_": P.t_, "uniform_": P.uniform_, "normal_": P.normal_,
    "cumprod": R.cumprod, "tril": X.tril, "triu": X.triu, "tril_": P.tril_, "triu_": P.triu_,
    "diag": X.diag, "diagonal": X.diagonal, "diag_embed": X.diag_embed, "addmm": X.addmm,
    "baddbmm": X.baddbmm,
    "scatter": I.scatter, "scatter_": P.scatter_, "index_add": I.index_add, "index_add_": P.index_add_,
    "narrow": A.narrow, "roll": A.roll, "repeat_interleave": A.repeat_interleave,
    "multinomial": multinomial,
    **P.AUGMENTED,
}
METHODS.update(__rand__=_swap(METHODS["__and__"]), __ror__=_swap(METHODS["__or__"]),
               __rxor__=_swap(METHODS["__xor__"]))
_OPERATORS = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "eq", "ne", "lt", "le", "gt", "ge")
METHODS.update({k: _operator(METHODS[k]) for k in (f"__{form}{name}__" for form in ("", "r", "i")
                                                   for name in _OPERATORS) if k in METHODS})


def bind():
    """Set every entry of METHODS on Tensor."""
    for name, fn in METHODS.items():
        setattr(Tensor, name, fn)
