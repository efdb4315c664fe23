"""Matrix product: 1-D, 2-D and batched with broadcasting, as numpy.matmul."""

from ..backend import xp
from ..parallel import matmul as mm
from ..tensor import Function, as_tensor
from .elementwise import sum_to


class MatMul(Function):
    """a @ b."""

    def forward(self, a, b):
        return mm(a, b)

    def backward(self, gy, node):
        a, b = node.inputs
        A = a._data[None, :] if a.ndim == 1 else a._data  # (..., n, k)
        B = b._data[:, None] if b.ndim == 1 else b._data  # (..., k, m)
        G = gy.reshape(gy.shape + (1,) * (b.ndim == 1))  # (..., n?, m?) with the dropped axes restored
        G = G.reshape(G.shape[:-1] + (1,) + G.shape[-1:]) if a.ndim == 1 else G
        ga = sum_to(mm(G, xp.swapaxes(B, -1, -2)), A.shape).reshape(a.shape) if a.requires_grad else None
        gb = sum_to(mm(xp.swapaxes(A, -1, -2), G), B.shape).reshape(b.shape) if b.requires_grad else None
        return ga, gb


def matmul(a, b):
    """a @ b: vectors, matrices, and stacks of matrices with broadcast batch dims."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul needs at least 1-D operands, got shapes {a.shape} and {b.shape}")
    k_a, k_b = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
    try:
        ok = k_a == k_b and xp.broadcast_shapes(a.shape[:-2], b.shape[:-2]) is not None
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"matmul shapes {a.shape} and {b.shape} do not match: inner dims {k_a} and {k_b} "
                         "must be equal and batch dims must broadcast")
    return MatMul()(a, b)
