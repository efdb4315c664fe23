"""Derivative rules of the ops with structure: products (matmul, linear, einsum), joins, index writes,
prod and the softmaxes, each written with baby's ops on Tensors."""

from ...backend import xp
from ...ops import index as I
from ...ops import join as J
from ...ops import reduce as R
from ...ops import shape as S
from ...ops.elementwise import sum_to
from ...ops.matmul import Einsum, Linear, MatMul, einsum, matmul
from ...tensor import _wrap
from ..higher import derivative, through


@derivative(MatMul)
def _matmul(op, gy, node):
    a, b = node.inputs
    A = a.reshape(1, -1) if a.ndim == 1 else a  # (..., n, k)
    B = b.reshape(-1, 1) if b.ndim == 1 else b  # (..., k, m)
    G = gy.reshape(*gy.shape, 1) if b.ndim == 1 else gy  # (..., n?, m) with a dropped m restored
    G = G.reshape(*G.shape[:-1], 1, G.shape[-1]) if a.ndim == 1 else G  # (..., n, m)
    ga = sum_to(matmul(G, B.transpose(-1, -2)), A.shape).reshape(a.shape) if a.requires_grad else None
    gb = sum_to(matmul(A.transpose(-1, -2), G), B.shape).reshape(b.shape) if b.requires_grad else None
    return ga, gb


@derivative(Linear)
def _linear(op, gy, node):
    x, w, *b = node.inputs
    gx = matmul(gy, w) if x.requires_grad else None  # (M, in)
    gw = matmul(gy.transpose(0, 1), x) if w.requires_grad else None  # (out, in)
    return (gx, gw, *(gy.sum(0) if t.requires_grad else None for t in b))


@derivative(Einsum)
def _einsum(op, gy, node):
    grads = []
    for k, (sub, x) in enumerate(zip(op.ins, node.inputs, strict=True)):
        if not x.requires_grad:
            grads.append(None)
            continue
        subs = [s for j, s in enumerate(op.ins) if j != k]
        others = [t for j, t in enumerate(node.inputs) if j != k]
        seen = set(op.out).union(*subs)
        kept = "".join(c for c in sub if c in seen)  # letters summed only inside x come back by broadcast
        g = einsum(f"{','.join([op.out] + subs)}->{kept}", gy, *others)
        g = g.reshape(*[x.shape[i] if c in seen else 1 for i, c in enumerate(sub)])  # 1 where lost
        grads.append(S.broadcast_to(g, tuple(x.shape)))
    return tuple(grads)


@derivative(J.Stack)
def _stack(op, gy, node):
    return tuple(gy[(slice(None),) * op.axis + (i,)] for i in range(len(node.inputs)))


@derivative(J.Concatenate)
def _cat(op, gy, node):
    grads, start = [], 0
    for x in node.inputs:
        n = x.shape[op.axis]
        grads.append(gy[(slice(None),) * op.axis + (slice(start, start + n),)])
        start += n
    return tuple(grads)


@derivative(I.ScatterAdd)
def _scatter_add(op, gy, node):
    src = node.inputs[1]
    n = op.index_shape(src._data)  # the leading block of src that was scattered
    part = S.GetItem(op.index)(gy)  # (*n)
    return gy, S.pad(part, [(0, s - m) for s, m in zip(src.shape, n, strict=True)])


@derivative(I.SetItem)
def _set_item(op, gy, node):
    a, v = node.inputs
    kept = xp.ones(a.shape, gy.dtype)
    kept[op.index] = 0  # 0 where the write replaced a's values
    gv = sum_to(S.GetItem(op.index)(gy), v.shape) if v.requires_grad else None
    return gy * _wrap(kept), gv


@derivative(I.Scatter)
def _scatter(op, gy, node):
    a, src = node.inputs
    kept = xp.ones(a.shape, gy.dtype)
    kept[op.index] = 0  # overwritten places get nothing back
    part = S.GetItem(op.index)(gy)  # (*index.shape)
    gsrc = S.pad(part, [(0, s - p.stop) for s, p in zip(src.shape, op.part, strict=True)])
    return gy * _wrap(kept), gsrc if src.requires_grad else None


@derivative(I.IndexAdd)
def _index_add(op, gy, node):
    gsrc = S.GetItem((slice(None),) * op.dim + (op.index,))(gy)  # (..., len(index), ...)
    return gy, gsrc * op.alpha if op.alpha != 1 else gsrc


@derivative(R.Cumprod)
def _cumprod(op, gy, node):
    x, k = node.inputs[0], op.axis
    head = (slice(None),) * k
    y = J.stack([R.prod(x[head + (slice(0, j + 1),)], k) for j in range(x.shape[k])], k)  # running products
    return through(y, (x,), gy)


@derivative(R.Prod)
def _prod(op, gy, node):
    x, k = node.inputs[0], op.axis
    n = x.shape[k]
    g = gy if op.keepdims else gy.unsqueeze(k)
    if n == 1:
        return (g,)  # the product of the other elements: of none, 1
    head = (slice(None),) * k
    others = [R.prod(J.cat([x[head + (slice(0, i),)], x[head + (slice(i + 1, n),)]], k), k, keepdim=True)
              for i in range(n)]  # (..., 1, ...) each: the product of every element but the i-th
    return (g * J.cat(others, k),)


@derivative(R.LogSoftmax)
def _log_softmax(op, gy, node):
    return (gy - R.exp(node) * gy.sum(op.axis, keepdim=True),)


@derivative(R.Softmax)
def _softmax(op, gy, node):
    return (node * (gy - (gy * node).sum(op.axis, keepdim=True)),)
