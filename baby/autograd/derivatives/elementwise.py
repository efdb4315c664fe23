"""Derivative rules of the elementwise ops: each op's backward once more, written with baby's ops on
Tensors (gy, the inputs and the output `node`), so the gradient is itself a differentiable graph."""

import math

from ...backend import xp
from ...ops import elementwise as E
from ...ops import math as M
from ...ops.elementwise import sum_to
from ...tensor import Function, _wrap
from ..higher import derivative


@derivative(E.Add)
def _add(op, gy, node):
    a, b = node.inputs
    return sum_to(gy, a.shape), sum_to(gy, b.shape)


@derivative(E.Mul)
def _mul(op, gy, node):
    a, b = node.inputs
    return sum_to(gy * b, a.shape) if a.requires_grad else None, sum_to(gy * a, b.shape) if b.requires_grad \
        else None


@derivative(E.Div)
def _div(op, gy, node):
    a, b = node.inputs
    gb = sum_to(-gy * a / (b * b), b.shape) if b.requires_grad else None
    return sum_to(gy / b, a.shape), gb


@derivative(E.Pow)
def _pow(op, gy, node):
    a, b = node.inputs
    ga = sum_to(gy * b * a ** (b - 1), a.shape) if a.requires_grad else None
    if not b.requires_grad:
        return ga, None
    positive = a._data > 0
    log_a = E.where(positive, E.log(E.where(positive, a, 1)), 0)  # log(a), taken as 0 where a <= 0
    return ga, sum_to(gy * node * log_a, b.shape)


@derivative(E.PowScalar)
def _pow_scalar(op, gy, node):
    if op.p == 0:
        return (_wrap(xp.zeros_like(gy._data)),)
    return (gy * op.p * node.inputs[0] ** (op.p - 1),)


@derivative(E.Rounding)
def _rounding(op, gy, node):
    return (_wrap(xp.zeros_like(gy._data)),)


derivative(E.Neg)(lambda op, gy, node: (-gy,))
derivative(E.Exp)(lambda op, gy, node: (gy * node,))
derivative(E.Log)(lambda op, gy, node: (gy / node.inputs[0],))
derivative(E.Sqrt)(lambda op, gy, node: (gy / (2 * node),))
derivative(E.Sigmoid)(lambda op, gy, node: (gy * node * (1 - node),))
derivative(E.Tanh)(lambda op, gy, node: (gy * (1 - node * node),))
derivative(M.Sin)(lambda op, gy, node: (gy * M.cos(node.inputs[0]),))
derivative(M.Cos)(lambda op, gy, node: (-gy * M.sin(node.inputs[0]),))
derivative(M.Log1p)(lambda op, gy, node: (gy / (1 + node.inputs[0]),))
derivative(M.Expm1)(lambda op, gy, node: (gy * (node + 1),))


@derivative(E.Maximum)
def _maximum(op, gy, node):
    a, b = node.inputs
    share = xp.where(a._data == b._data, 0.5, a._data > b._data).astype(gy.dtype)  # a's: 1, 0.5 or 0
    return sum_to(gy * _wrap(share), a.shape), sum_to(gy * _wrap(1 - share), b.shape)


@derivative(E.Where)
def _where(op, gy, node):
    a, b = node.inputs
    return sum_to(E.where(op.cond, gy, 0), a.shape), sum_to(E.where(op.cond, 0, gy), b.shape)


class NormalCDF(Function):
    """Phi(a), the standard normal's distribution function (the exact GELU's gate)."""

    def forward(self, a):
        return (0.5 * (1 + E._erf(a / math.sqrt(2)))).astype(a.dtype, copy=False)

    def backward(self, gy, node):
        a = node.inputs[0]._data
        return (gy * xp.exp(-0.5 * a * a) / math.sqrt(2 * math.pi),)


def _pdf(a):
    return E.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)


derivative(NormalCDF)(lambda op, gy, node: (gy * _pdf(node.inputs[0]),))


@derivative(E.GELU)
def _gelu(op, gy, node):
    a = node.inputs[0]
    if op.approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        t = E.tanh(k * (a + 0.044715 * a ** 3))
        return (gy * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * k * (1 + 3 * 0.044715 * a * a)),)
    return (gy * (NormalCDF()(a) + a * _pdf(a)),)
