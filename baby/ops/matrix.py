"""Matrix structure: tril, triu (and their index lists), diagonal, diag_embed, diag; addmm and baddbmm."""

from .. import dtypes
from ..backend import xp
from ..tensor import Function, _wrap
from .elementwise import _floating, add, mul
from .matmul import bmm, mm
from .shape import one_axis


class Triangle(Function):
    """The lower (tril) or upper (triu) triangle of the last two dims from diagonal `k`; zeros elsewhere."""

    def __init__(self, fn, k):
        self.fn, self.k = fn, k

    def forward(self, a):
        return self.fn(a, self.k)

    def backward(self, gy, node):
        return (self.fn(gy, self.k),)

    def name(self):
        return f"{self.fn.__name__.capitalize()}Backward0"


def _triangle(fn, a, diagonal):
    if a.ndim < 2:
        raise RuntimeError(f"{fn.__name__}: input tensor must have at least 2 dimensions, got shape "
                           f"{tuple(a.shape)}")
    return Triangle(fn, int(diagonal))(a)


def tril(a, diagonal=0):
    """The lower triangle of the last two dims (on and below `diagonal`), zeros above."""
    return _triangle(xp.tril, a, diagonal)


def triu(a, diagonal=0):
    """The upper triangle of the last two dims (on and above `diagonal`), zeros below."""
    return _triangle(xp.triu, a, diagonal)


def _triangle_indices(fn, row, col, offset, dtype):
    rows, cols = fn(row, offset, col)  # row-major order, as PyTorch
    return _wrap(xp.stack([rows, cols]).astype(dtypes.as_dtype(dtype or dtypes.int64)))  # (2, n)


def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    """The (2, n) coordinates of the lower triangle of a row x col matrix, row by row."""
    return _triangle_indices(xp.tril_indices, row, col, offset, dtype)


def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    """The (2, n) coordinates of the upper triangle of a row x col matrix, row by row."""
    return _triangle_indices(xp.triu_indices, row, col, offset, dtype)


def _diagonal_view(a, offset, d1, d2):
    """The writable view of diagonal `offset` of dims d1, d2, moved to the last dim (as PyTorch's)."""
    v = xp.diagonal(a, offset, d1, d2)
    if a.flags.writeable:
        v.setflags(write=True)  # NumPy marks it read-only only to warn; it is a true view of `a`
    return v


class Diagonal(Function):
    """The diagonal `offset` of dims d1 and d2, as a new last dim (a view)."""

    view = True

    def __init__(self, offset, d1, d2):
        self.offset, self.d1, self.d2 = offset, d1, d2

    def forward(self, a):
        return _diagonal_view(a, self.offset, self.d1, self.d2)

    def backward(self, gy, node):
        gx = xp.zeros(node.inputs[0].shape, gy.dtype)
        _diagonal_view(gx, self.offset, self.d1, self.d2)[...] = gy
        return (gx,)


class DiagEmbed(Function):
    """The last dim placed on diagonal `offset` of two new dims d1, d2; zeros elsewhere."""

    def __init__(self, offset, d1, d2):
        self.offset, self.d1, self.d2 = offset, d1, d2

    def forward(self, a):
        n = a.shape[-1] + abs(self.offset)
        shape = list(a.shape[:-1])
        for d in sorted((self.d1, self.d2)):
            shape.insert(d, n)  # (..., n, ..., n, ...)
        y = xp.zeros(shape, a.dtype)
        _diagonal_view(y, self.offset, self.d1, self.d2)[...] = a
        return y

    def backward(self, gy, node):
        return (xp.diagonal(gy, self.offset, self.d1, self.d2),)


def _two_dims(dim1, dim2, ndim, name):
    shape = (0,) * ndim
    d1, d2 = one_axis(dim1, shape, "dim1"), one_axis(dim2, shape, "dim2")
    if d1 == d2:
        raise RuntimeError(f"{name}: diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def diagonal(a, offset=0, dim1=0, dim2=1):
    """The diagonal `offset` of dims dim1 and dim2 (a view), as the last dim."""
    d1, d2 = _two_dims(dim1, dim2, a.ndim, "diagonal")
    return Diagonal(int(offset), d1, d2)(a)


def diag_embed(a, offset=0, dim1=-2, dim2=-1):
    """Matrices with the last dim of `a` on diagonal `offset` of dims dim1, dim2 (one more dim than `a`)."""
    d1, d2 = _two_dims(dim1, dim2, a.ndim + 1, "diag_embed")
    return DiagEmbed(int(offset), d1, d2)(a)


def diag(a, diagonal=0):
    """A 1-d tensor to the matrix with it on `diagonal`; a matrix to its `diagonal` as a 1-d tensor."""
    if a.ndim == 1:
        return diag_embed(a, diagonal, 0, 1)
    if a.ndim == 2:
        return Diagonal(int(diagonal), 0, 1)(a)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {a.ndim}D (shape {tuple(a.shape)})")


def _scaled(x, s):
    return x if s == 1 else mul(x, s)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2); input broadcasts to (n, m); beta=0 ignores input."""
    if mat1.ndim != 2 or mat2.ndim != 2 or mat1.shape[1] != mat2.shape[0]:
        shapes = " and ".join("x".join(map(str, m.shape)) for m in (mat1, mat2))
        raise RuntimeError(f"addmm: mat1 and mat2 shapes cannot be multiplied ({shapes})")
    return _add_product(input, _scaled(mm(mat1, mat2), alpha), beta, "addmm")


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * (batch1 @ batch2) for (B, n, k) @ (B, k, m); input broadcasts to (B, n, m)."""
    for name, b in (("batch1", batch1), ("batch2", batch2)):
        if b.ndim != 3:
            raise RuntimeError(f"baddbmm: {name} must be a 3D tensor, got shape {tuple(b.shape)}")
    if batch2.shape[:2] != (batch1.shape[0], batch1.shape[2]):
        raise RuntimeError(f"baddbmm: expected size for first two dimensions of batch2 tensor to be: "
                           f"{[batch1.shape[0], batch1.shape[2]]} but got: {list(batch2.shape[:2])} "
                           f"(batch1 {tuple(batch1.shape)}, batch2 {tuple(batch2.shape)})")
    return _add_product(input, _scaled(bmm(batch1, batch2), alpha), beta, "baddbmm")


def _add_product(input, p, beta, name):
    """beta * input + p, with input broadcast to p's shape (never the other way)."""
    try:
        if xp.broadcast_shapes(input.shape, p.shape) != p.shape:
            raise ValueError
    except ValueError:
        raise RuntimeError(f"{name}: input of shape {tuple(input.shape)} does not broadcast to the product's "
                           f"shape {tuple(p.shape)}") from None
    if beta == 0:  # PyTorch ignores input then (nan and inf in it do not propagate)
        return p
    return add(_scaled(_floating(input), beta), p)
