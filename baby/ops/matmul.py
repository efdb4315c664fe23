"""Matrix product: 1-D, 2-D and batched with broadcasting, as numpy.matmul."""

from .. import dtypes
from ..backend import xp
from ..parallel import SIDE_BY_SIDE, side_by_side
from ..parallel import matmul as gemm
from ..tensor import Function, Tensor, as_tensor
from .elementwise import _operand, sum_to


class MatMul(Function):
    """a @ b."""

    def forward(self, a, b):
        return gemm(a, b)

    def backward(self, gy, node):
        a, b = node.inputs
        A = a._data[None, :] if a.ndim == 1 else a._data  # (..., n, k)
        B = b._data[:, None] if b.ndim == 1 else b._data  # (..., k, m)
        G = gy.reshape(gy.shape + (1,) * (b.ndim == 1))  # (..., n?, m?) with the dropped axes restored
        G = G.reshape(G.shape[:-1] + (1,) + G.shape[-1:]) if a.ndim == 1 else G
        ga = sum_to(gemm(G, xp.swapaxes(B, -1, -2)), A.shape).reshape(a.shape) if a.requires_grad else None
        gb = sum_to(gemm(xp.swapaxes(A, -1, -2), G), B.shape).reshape(b.shape) if b.requires_grad else None
        return ga, gb


class Linear(Function):
    """x @ w.T (+ b) for x (M, in), w (out, in), b (out,): one node where x @ w.T + b makes three."""

    def forward(self, x, w, b=None):
        y = gemm(x, w.T)  # (M, out)
        if b is not None:
            y += b
        return y

    def backward(self, gy, node):
        x, w, *b = node.inputs
        if x.requires_grad and w.requires_grad and w._data.size >= SIDE_BY_SIDE:  # one thread each
            gx, gw = side_by_side(lambda: gemm(gy, w._data), lambda: gemm(gy.T, x._data))
        else:
            gx = gemm(gy, w._data) if x.requires_grad else None  # (M, in)
            gw = gemm(gy.T, x._data) if w.requires_grad else None  # (out, in)
        return (gx, gw, *(gy.sum(axis=0) if t.requires_grad else None for t in b))

    def name(self):
        return "AddmmBackward0" if len(self.node_inputs) == 3 else "MmBackward0"


def linear(x, w, b=None):
    """x @ w.T + b as one op, for a float x (M, in), w (out, in) and b (out,) or None of one dtype."""
    return Linear()(x, w) if b is None else Linear()(x, w, b)


def _sparse_mm(a, b):
    """A sparse COO matrix times a dense one (baby.sparse builds on the ops, so it is imported here)."""
    from ..sparse import mm as sparse_mm

    return sparse_mm(a, b)


def matmul(a, b):
    """a @ b: vectors, matrices, and stacks of matrices with broadcast batch dims."""
    if getattr(a, "is_sparse", False):
        return _sparse_mm(a, b)
    if not (type(a) is Tensor and type(b) is Tensor and a._data.dtype == b._data.dtype):
        a, b = (x if isinstance(x, (Tensor, xp.ndarray)) else xp.asarray(x) for x in (a, b))
        d = dtypes.result_type(a, b)
        a, b = _operand(a, d), _operand(b, d)
    sa, sb = a._data.shape, b._data.shape
    if not sa or not sb:
        raise ValueError(f"matmul needs at least 1-D operands, got shapes {sa} and {sb}")
    k_a, k_b = sa[-1], sb[-2] if len(sb) > 1 else sb[0]
    try:
        ok = k_a == k_b and (len(sa) < 3 and len(sb) < 3 or xp.broadcast_shapes(sa[:-2], sb[:-2]) is not None)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"matmul shapes {sa} and {sb} do not match: inner dims {k_a} and {k_b} "
                         "must be equal and batch dims must broadcast")
    return MatMul()(a, b)


def mm(a, b):
    """The product of two matrices (the first may be sparse)."""
    if getattr(a, "is_sparse", False):
        return _sparse_mm(a, b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm expects two 2-d tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def bmm(a, b):
    """Batched matrix product of (B, n, k) and (B, k, m) tensors."""
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm expects (B, n, k) and (B, k, m) tensors, got shapes {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    return matmul(a, b)


class Einsum(Function):
    """numpy.einsum over explicit subscripts ('ij,jk->ik'); each gradient is an einsum of the others."""

    def __init__(self, ins, out):
        self.ins, self.out = ins, out

    def forward(self, *arrays):
        return xp.einsum(f"{','.join(self.ins)}->{self.out}", *arrays)

    def backward(self, gy, node):
        grads = []
        for k, (sub, x) in enumerate(zip(self.ins, node.inputs, strict=True)):
            if not x.requires_grad:
                grads.append(None)
                continue
            subs = [s for j, s in enumerate(self.ins) if j != k]
            arrays = [t._data for j, t in enumerate(node.inputs) if j != k]
            seen = set(self.out).union(*subs)
            kept = "".join(c for c in sub if c in seen)  # letters summed only inside x come back by broadcast
            g = xp.einsum(f"{','.join([self.out] + subs)}->{kept}", gy, *arrays)
            g = g.reshape([x.shape[i] if c in seen else 1 for i, c in enumerate(sub)])  # 1 where lost
            grads.append(xp.broadcast_to(g, x.shape).astype(x.dtype, copy=False))
        return tuple(grads)


def einsum(equation, *operands):
    """Einstein summation, e.g. einsum('bij,bjk->bik', a, b); the operands may also be given as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    eq = equation.replace(" ", "")
    ins, arrow, out = eq.partition("->")
    ins = ins.split(",")
    if "." in eq:
        raise ValueError(f"einsum: '...' is not supported in {equation!r}; name every dim with a letter")
    if not arrow:
        letters = "".join(ins)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if len(ins) != len(operands):
        raise ValueError(f"einsum: {equation!r} names {len(ins)} operands, got {len(operands)}")
    for sub, x in zip(ins, operands, strict=True):
        if len(sub) != x.ndim or len(set(sub)) != len(sub):
            raise ValueError(f"einsum: subscripts {sub!r} do not fit an operand of shape {tuple(x.shape)} "
                             "(one distinct letter per dim)")
    operands = [as_tensor(x) for x in operands]
    d = dtypes.result_type(*operands)
    return Einsum(ins, out)(*[_operand(x, d) for x in operands])
