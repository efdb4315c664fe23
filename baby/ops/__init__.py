"""The op set: one class per op (forward on arrays, backward -> one gradient per input) + a function."""

from ..parallel import set_num_threads
from ..tensor import Tensor
from .conv import conv, conv_algorithm, conv_transpose, set_conv_algorithm, set_workspace_budget
from .elementwise import (
    abs,
    add,
    div,
    eq,
    exp,
    ge,
    gelu,
    gt,
    le,
    log,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    relu,
    sigmoid,
    sqrt,
    sub,
    sum_to,
    tanh,
    where,
)
from .matmul import matmul
from .pool import avg_pool, max_pool
from .reduce import log_softmax, logsumexp, max, mean, min, softmax, sum
from .shape import (
    broadcast_to,
    concatenate,
    dilate,
    flip,
    getitem,
    pad,
    permute,
    reshape,
    stack,
    transpose,
    undilate,
)

__all__ = [
    "set_conv_algorithm", "set_num_threads", "set_workspace_budget",
    "abs", "add", "avg_pool", "broadcast_to", "concatenate", "conv", "conv_algorithm", "conv_transpose",
    "dilate", "div", "eq",
    "exp", "flip", "ge", "gelu", "getitem", "gt", "le", "log", "log_softmax", "logsumexp", "lt", "matmul",
    "max", "max_pool", "maximum", "mean", "min", "minimum", "mul", "ne", "neg", "pad", "permute", "pow",
    "relu", "reshape", "sigmoid", "softmax", "sqrt", "stack", "sub", "sum", "sum_to", "tanh", "transpose",
    "undilate", "where",
]


def _swap(fn):
    return lambda a, b: fn(b, a)


for _name, _fn in {
    "__add__": add, "__radd__": _swap(add), "__sub__": sub, "__rsub__": _swap(sub),
    "__mul__": mul, "__rmul__": _swap(mul), "__truediv__": div, "__rtruediv__": _swap(div),
    "__pow__": pow, "__rpow__": _swap(pow), "__matmul__": matmul, "__rmatmul__": _swap(matmul),
    "__neg__": neg, "__abs__": abs, "__getitem__": getitem,
    "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
    "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "relu": relu, "sigmoid": sigmoid, "tanh": tanh,
    "gelu": gelu, "maximum": maximum, "minimum": minimum,
    "sum": sum, "mean": mean, "max": max, "min": min, "logsumexp": logsumexp,
    "softmax": softmax, "log_softmax": log_softmax, "matmul": matmul,
    "reshape": reshape, "permute": permute, "transpose": transpose, "broadcast_to": broadcast_to,
    "flip": flip, "pad": pad, "dilate": dilate, "undilate": undilate,
}.items():
    setattr(Tensor, _name, _fn)
Tensor.view = Tensor.reshape
