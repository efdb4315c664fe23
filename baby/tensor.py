"""Tensor: an array, its gradient and the op that made it; iterative backward; no_grad."""

import abc
import functools
import numbers

from . import random
from .backend import xp
from .parallel import split

_grad_enabled = True


class no_grad:
    """Context manager (and decorator, `@no_grad()` or `@no_grad`) in which ops record no graph."""

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        return self if fn is None else self(fn)

    def __enter__(self):
        global _grad_enabled
        self.prev, _grad_enabled = _grad_enabled, False

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)

        return wrapped


def is_grad_enabled():
    """Whether ops currently record the graph."""
    return _grad_enabled


def _to_array(data, dtype):
    """`data` as an array: float32 unless `dtype` is given; clear errors for what can't be one."""
    if isinstance(data, Tensor):
        data, dtype = data._data, data.dtype if dtype is None else dtype
    if isinstance(data, str) or (isinstance(data, (list, tuple)) and _has_str(data)):
        raise TypeError(f"Tensor data must be numbers, lists of numbers or arrays, got {data!r:.60}")
    try:
        a = xp.asarray(data)
    except ValueError as e:
        raise ValueError(f"Tensor data must be rectangular (same length at every level): {e}") from None
    if a.dtype == object or a.dtype.kind in "USV":
        raise TypeError(f"Tensor data must be numeric, got an array of dtype {a.dtype}")
    return a.astype(dtype if dtype is not None else xp.float32, copy=False)


def _has_str(seq):
    return any(isinstance(v, str) or (isinstance(v, (list, tuple)) and _has_str(v)) for v in seq)


class Function(abc.ABC):
    """An op: `forward(*arrays) -> array`, `backward(gy, node) -> one gradient (or None) per input`."""

    def __call__(self, *inputs):
        tensors = [x if isinstance(x, Tensor) else Tensor(x) for x in inputs]
        y = Tensor.__new__(Tensor)
        y._data = xp.asarray(self.forward(*[t._data for t in tensors]))  # NumPy reductions return scalars
        y.grad, y._op, y._inputs = None, None, ()
        y.requires_grad = _grad_enabled and any(t.requires_grad for t in tensors)
        if y.requires_grad:
            y._op, y._inputs = self, tuple(tensors)
        return y

    @abc.abstractmethod
    def forward(self, *arrays):
        """Compute the output array from the input arrays."""

    @abc.abstractmethod
    def backward(self, gy, node):
        """Gradients of the loss with respect to each input, given `gy` for the output `node`."""


class Tensor:
    """An n-d array that records the ops applied to it so gradients can flow back."""

    __array_priority__ = 1000

    def __init__(self, data, dtype=None, requires_grad=False):
        self._data = _to_array(data, dtype)
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad, got dtype {self._data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._op, self._inputs = None, ()

    # ---- properties -------------------------------------------------------------------------------
    shape = property(lambda self: self._data.shape, doc="The shape tuple.")
    dtype = property(lambda self: self._data.dtype, doc="The element type.")
    ndim = property(lambda self: self._data.ndim, doc="The number of dimensions.")
    inputs = property(lambda self: self._inputs, doc="The tensors this one was computed from.")
    is_leaf = property(lambda self: self._op is None, doc="True for tensors no recorded op produced.")

    @property
    def T(self):
        """The tensor with its axes reversed."""
        return self.permute(*reversed(range(self.ndim)))

    @property
    def data(self):
        """The same memory as a Tensor cut from the graph; assigning replaces this tensor's values."""
        t = Tensor.__new__(Tensor)
        t._data, t.grad, t.requires_grad, t._op, t._inputs = self._data, None, False, None, ()
        return t

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else xp.asarray(value)

    def size(self, dim=None):
        """The shape, or the length of dimension `dim`."""
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        """The number of elements."""
        return self._data.size

    def numpy(self):
        """The underlying array (shares memory)."""
        return self._data

    def item(self):
        """The single element as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self._data.item()

    def detach(self):
        """The same data, cut from the graph."""
        return Tensor(self._data, dtype=self.dtype)

    def astype(self, dtype):
        """A copy converted to `dtype` (no gradient flows through)."""
        return Tensor(self._data.astype(dtype), dtype=dtype)

    def requires_grad_(self, flag=True):
        """Set requires_grad in place; returns self."""
        self.requires_grad = bool(flag)
        return self

    def zero_grad(self):
        """Drop the accumulated gradient."""
        self.grad = None

    def __setitem__(self, index, value):
        self._data[index] = value._data if isinstance(value, Tensor) else value

    def __len__(self):
        return len(self._data)

    def __repr__(self):
        body = xp.array2string(self._data, separator=", ", prefix="Tensor(")
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({body}, dtype={self.dtype}{grad})"

    def __bool__(self):
        if self._data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self._data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __hash__(self):
        return id(self)

    # ---- autograd ---------------------------------------------------------------------------------
    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's `.grad`; frees the graph unless `retain_graph`."""
        if not self.requires_grad:
            raise ValueError("backward() on a tensor that does not require grad (no input had requires_grad)")
        if grad is None:
            if self._data.size != 1:
                raise ValueError(f"backward() without grad needs a scalar output, got shape {self.shape}")
            gy = xp.ones_like(self._data)
        else:
            gy = _to_array(grad, self.dtype)
            if gy.shape != self.shape:
                raise ValueError(f"backward() gradient has shape {gy.shape}, expected {self.shape}")
        grads = {id(self): gy}
        for node in _topo_order(self):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._op is None:
                g = _own_copy(g, node._data) if node.grad is None else node.grad._data + g
                node.grad = Tensor(g, dtype=node.dtype)
                continue
            with no_grad():
                gxs = node._op.backward(g, node)
            for x, gx in zip(node._inputs, gxs, strict=True):
                if gx is None or not x.requires_grad:
                    continue
                if gx.shape != x.shape:
                    raise RuntimeError(
                        f"{type(node._op).__name__}.backward returned a gradient of shape {gx.shape} "
                        f"for an input of shape {x.shape}")
                prev = grads.get(id(x))
                grads[id(x)] = gx if prev is None else prev + gx
            if not retain_graph:
                node._op, node._inputs = _Freed, ()


def _own_copy(g, like):
    """A fresh array holding g, laid out in memory like `like` (so optimizers update contiguously); big
    copies (often transposing: NHWC-computed gradients of NCHW inputs) split over the thread pool."""
    out = xp.empty_like(like)
    if out.ndim:
        split(lambda r: out.__setitem__(r, g[r]), out)
    else:
        out[...] = g
    return out


class _FreedGraph(Function):
    """Stands in for an op whose graph was freed by an earlier backward()."""

    def forward(self, *arrays):
        raise RuntimeError("a freed graph node computes nothing")

    def backward(self, gy, node):
        raise RuntimeError("backward through the graph a second time: pass retain_graph=True the first time")


_Freed = _FreedGraph()


def _topo_order(root):
    """Nodes reachable from `root`, each before the inputs it was computed from (iterative DFS)."""
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, finished = stack.pop()
        if finished:
            order.append(node)
        elif id(node) not in visited:
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((x, False) for x in node._inputs if x.requires_grad and id(x) not in visited)
    return order[::-1]


def as_tensor(x, like=None):
    """`x` as a Tensor; Python scalars take the dtype of `like` (no float64 promotion)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, numbers.Number) and like is not None:
        if like.dtype.kind == "f" or isinstance(x, (bool, xp.bool_)):
            return Tensor(x, dtype=like.dtype)
        if isinstance(x, numbers.Integral):
            return Tensor(x, dtype=like.dtype if like.dtype.kind in "iu" else xp.int64)
        return Tensor(x, dtype=xp.float32)
    return Tensor(x)


def _make(array, dtype, requires_grad):
    return Tensor(array, dtype=dtype, requires_grad=requires_grad)


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def tensor(data, dtype=None, requires_grad=False):
    """A new Tensor from data (float32 unless `dtype` is given)."""
    return _make(data, dtype, requires_grad)


def zeros(*shape, dtype=None, requires_grad=False):
    """A tensor of zeros."""
    return _make(xp.zeros(_shape(shape)), dtype, requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    """A tensor of ones."""
    return _make(xp.ones(_shape(shape)), dtype, requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False):
    """A tensor filled with `fill_value`."""
    return _make(xp.full(_shape((shape,)), fill_value), dtype, requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    """Zeros with the shape (and dtype, unless given) of `t`."""
    return _make(xp.zeros(t.shape), t.dtype if dtype is None else dtype, requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    """Ones with the shape (and dtype, unless given) of `t`."""
    return _make(xp.ones(t.shape), t.dtype if dtype is None else dtype, requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """Evenly spaced values in [start, end)."""
    start, end = (0, start) if end is None else (start, end)
    return _make(xp.arange(start, end, step), dtype, requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    """The identity matrix (n x m)."""
    return _make(xp.eye(n, m), dtype, requires_grad)


def randn(*shape, dtype=None, requires_grad=False):
    """Standard normal samples from the library's seeded generator."""
    return _make(random.generator().standard_normal(_shape(shape), dtype=xp.float32), dtype, requires_grad)


def rand(*shape, dtype=None, requires_grad=False):
    """Uniform [0, 1) samples from the library's seeded generator."""
    return _make(random.generator().random(_shape(shape), dtype=xp.float32), dtype, requires_grad)
