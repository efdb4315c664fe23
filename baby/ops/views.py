"""In-place ops on views inside the graph, as PyTorch's CopySlices: the view's base is rebased.

`v` is a view of `b` (their arrays share memory; `v._base is b`). An in-place op on `v` inside the graph:
1. `old`, the base before the write: a copy of b's array holding b's node (its op may read old values);
2. the op runs on ViewOf(old) (the values v had), giving y; y is written into v's memory;
3. b becomes CopySlices(old, y): old with v's region replaced by y. Its gradient: zero over the region for
   old, the region of the incoming gradient for y;
4. v becomes ViewOf(b): the region of the new base.
The region is found from the memory itself (the offset and strides of v's array within b's), so it holds for
any chain of view ops; `Layout` makes arrays laid out exactly like b's, in which the same region is a view.
"""

from ..backend import xp
from ..tensor import Function, _wrap

as_strided = xp.lib.stride_tricks.as_strided


class Layout:
    """b's memory layout (shape, strides, the span of memory it covers) and the region view v takes in it."""

    def __init__(self, b, v):
        s = b.itemsize
        self.dtype, self.shape, self.strides = b.dtype, b.shape, b.strides
        dims = list(zip(b.shape, b.strides, strict=True))
        low = sum((n - 1) * t for n, t in dims if t < 0)  # bytes below b[0...]
        high = sum((n - 1) * t for n, t in dims if t > 0)
        self.size, self.start = (high - low) // s + 1, -low // s  # span elements; where b[0...] lies in it
        self.at = self.start + (v.ctypes.data - b.ctypes.data) // s  # where v[0...] lies in the span
        self.vshape, self.vstrides = v.shape, v.strides
        self.full = v.size == b.size  # v covers every element of b (a transposed or reshaped view)

    def span(self, a):
        """The memory of `a` (an array laid out like b) as one 1-d view."""
        dims = zip(a.shape, a.strides, strict=True)
        low = a[tuple(slice(n - 1, n) if t < 0 else slice(0, 1) for n, t in dims)]  # (1, ...): lowest address
        return as_strided(low, (self.size,), (a.itemsize,))  # (span,)

    def new(self, zero=False):
        """A fresh span: the memory of an array laid out like b."""
        return (xp.zeros if zero else xp.empty)(self.size, self.dtype)

    def whole(self, buf):
        """The span `buf` seen as b: (*b.shape) with b's strides."""
        return as_strided(buf[self.start:], self.shape, self.strides)

    def part(self, buf):
        """The span `buf` seen as v: the region of b the view covers."""
        return as_strided(buf[self.at:], self.vshape, self.vstrides)

    def copy(self, a):
        """A span holding the values of `a` (b's shape, any layout)."""
        buf = self.new()
        self.whole(buf)[...] = a
        return buf


class ViewOf(Function):
    """The region of a base: the view v, sharing the base's memory; its gradient lands in the region."""

    view = True

    def __init__(self, layout):
        self.layout = layout

    def name(self):
        """'AsStridedBackward0', as PyTorch names a rebased view's node."""
        return "AsStridedBackward0"

    def forward(self, b):
        return self.layout.part(self.layout.span(b))

    def backward(self, gy, node):
        L = self.layout
        buf = L.new(zero=not L.full)
        L.part(buf)[...] = gy
        return (L.whole(buf),)


class CopySlices(Function):
    """The base after an in-place op on its view: `old` with the view's region replaced by `y`.

    Built after the write, so the result is the base's own memory (`live`), which already holds it."""

    def __init__(self, layout, live):
        self.layout, self.live = layout, live

    def name(self):
        """'CopySlices', as PyTorch names it."""
        return "CopySlices"

    def forward(self, old, y):
        return self.live

    def backward(self, gy, node):
        L = self.layout
        buf = L.copy(gy)
        gv = L.part(buf)  # (*v.shape): the gradient of the values written
        if L.full:  # nothing of the old base shows through
            return None, gv
        gv = gv.copy()
        L.part(buf)[...] = 0
        return L.whole(buf), gv


def rebase(v, fn, write):
    """Apply the in-place op `fn` (old view -> new values) to the view `v` inside the graph, `write(y)`
    storing the values into v's memory; v's base becomes CopySlices of its old self and the values."""
    b = v._base
    if b._op is None and b.requires_grad:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    if any(t == 0 and n > 1 for n, t in zip(v._data.shape, v._data.strides, strict=True)):
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to "
                           "a single memory location. Please clone() the tensor before performing the "
                           "operation.")
    L = Layout(b._data, v._data)
    old = _wrap(L.whole(L.copy(b._data)))  # the base's values before the write, holding its node
    old._op, old._inputs, old.requires_grad, old._vc = b._op, b._inputs, b.requires_grad, [b._vc[0]]
    y = fn(ViewOf(L)(old))
    write(y)
    new = CopySlices(L, b._data)(old, y)
    b._op, b._inputs, b.requires_grad = new._op, new._inputs, new.requires_grad
    new._op.versions = new._op.versions[:-1] + (b._vc[0],)
    view = ViewOf(L)(b)
    v._op, v._inputs, v.requires_grad = view._op, view._inputs, view.requires_grad
    view._op.versions = (b._vc[0], v._vc[0])
    return v
