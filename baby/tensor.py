"""Tensor: an array, its gradient and the op that made it, and Function, the op base class; the iterative
backward that walks their graph is baby/autograd/engine.py.

Every tensor carries a version counter (shared with the views of its memory). An in-place write bumps it;
each recorded op notes the versions of its inputs and output, and backward refuses to use a tensor that
changed since, so an in-place op gives a correct gradient or a clear error, never a silently wrong one.
"""

import abc
import math
import operator
import traceback
from itertools import repeat

from . import dtypes, grad_mode
from .backend import xp
from .device import CPU, as_device
from .dims import one_axis
from .printing import tensor_repr


class Size(tuple):
    """A tensor's shape: a tuple of ints with numel()."""

    def numel(self):
        """The number of elements a tensor of this shape has."""
        return math.prod(self)

    def __getitem__(self, i):
        r = tuple.__getitem__(self, i)
        return Size(r) if isinstance(i, slice) else r

    def __repr__(self):
        return f"baby.Size({list(self)})"


_traces = []  # the active baby.trace.Trace objects, told of every op call (none: one empty loop)

_FLOAT = object()  # Tensor(data): the default float type, as torch.Tensor; dtype=None keeps an array's type


def _to_array(data, dtype, infer):
    """`data` as an array of `dtype`; else inferred as torch.tensor does (`infer`), or the default float."""
    if isinstance(data, Tensor):
        a = data._data
    elif isinstance(data, str) or (isinstance(data, (list, tuple)) and _has_str(data)):
        raise TypeError(f"tensor data must be numbers, lists of numbers or arrays, got {data!r:.60}")
    else:
        try:
            a = xp.asarray(data)
        except ValueError as e:
            raise ValueError(f"tensor data must be rectangular (same length at every level): {e}") from None
        if a.dtype == object or a.dtype.kind not in "biuf":
            raise TypeError(f"tensor data must be numeric, got an array of dtype {a.dtype}")
    if dtype is _FLOAT:
        return a.astype(dtypes.get_default_dtype(), copy=False)
    if dtype is not None:
        return a.astype(dtypes.as_dtype(dtype), copy=False)
    if isinstance(data, (Tensor, xp.ndarray, xp.generic)):
        return a
    if infer:  # Python data: ints -> int64, floats -> the default float, bools stay bool
        kind = a.dtype.kind
        return a.astype(xp.int64 if kind in "iu" else dtypes.get_default_dtype() if kind == "f" else a.dtype,
                        copy=False)
    return a.astype(dtypes.get_default_dtype(), copy=False)


def _legacy_args(args, dtype, requires_grad):
    """(data, dtype, requires_grad) from Tensor(data, dtype, requires_grad) or PyTorch's legacy size forms:
    Tensor() is empty, Tensor(3, 4) and Tensor(size) are uninitialised tensors of those sizes."""
    if not args:
        return xp.empty(0, dtypes.get_default_dtype()), dtype, requires_grad
    sizes = tuple(args[0]) if len(args) == 1 and isinstance(args[0], Size) else args
    if dtype is _FLOAT and all(type(n) is int for n in sizes):  # noqa: E721 (bools are data, not sizes)
        if any(n < 0 for n in sizes):
            raise RuntimeError(f"Trying to create tensor with negative dimension {min(sizes)}: {list(sizes)}")
        return xp.empty(sizes, dtypes.get_default_dtype()), dtype, requires_grad
    if len(args) > 3:
        raise TypeError(f"Tensor() takes data, dtype and requires_grad, or sizes as ints; got {args!r:.80}")
    return args[0], (args[1] if len(args) > 1 else dtype), (args[2] if len(args) > 2 else requires_grad)


def _has_str(seq):
    return any(isinstance(v, str) or (isinstance(v, (list, tuple)) and _has_str(v)) for v in seq)


_ndarray = xp.ndarray
_data_of, _vc_of, _inputs_of, _requires_grad = map(operator.attrgetter,
                                                   ("_data", "_vc", "_inputs", "requires_grad"))
_first = operator.itemgetter(0)  # (attrgetters and itemgetters are C: no Python frame per tensor)


def _wrap(a):
    """A new graph-free Tensor around the array `a` (no copy, no checks)."""
    t = Tensor.__new__(Tensor)
    t._data, t.requires_grad, t._op, t._inputs, t._vc = a, False, None, (), [0]
    return t


class Function(abc.ABC):
    """An op: `forward(*arrays) -> array`, `backward(gy, node) -> one gradient (or None) per input`.

    The library's own ops (defined in `baby.*`) take and return arrays in backward; a subclass defined
    elsewhere (user code, the book's listings) gets `gy` as a Tensor and may return Tensors or arrays,
    as the book's engine does. Set the class attribute `array_grads` to choose explicitly. An op whose
    output may share its input's memory sets `view = True`, so the two share one version counter.
    """

    view = False
    anomaly = anomaly_nan = False  # set by baby.autograd.set_detect_anomaly: record each op's creation stack

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "array_grads" not in vars(cls):
            cls.array_grads = cls.__module__.split(".")[0] == "baby"

    def __call__(self, *inputs):
        tensors = inputs if all(map(isinstance, inputs, repeat(Tensor))) else tuple(map(_lift, inputs))
        attrs = dict(vars(self)) if _traces else None  # the op's arguments, before forward adds its state
        a = self.forward(*map(_data_of, tensors))
        y = _wrap(a if type(a) is _ndarray else xp.asarray(a))  # NumPy reductions give scalars
        for trace in _traces:
            trace.record(self, tensors, attrs, y)
        if self.view:
            a, x = y._data, tensors[0]
            base = a.base  # (NumPy points a view at the array owning the memory: mostly x's or its base)
            if a is x._data or base is not None and (base is x._data or base is x._data.base or
                                                     xp.may_share_memory(a, x._data)):
                y._vc, y._base = x._vc, x if x._base is None else x._base
        if grad_mode.state.enabled and any(map(_requires_grad, tensors)) and y._data.dtype.kind == "f":
            y.requires_grad, y._op, y._inputs = True, self, tensors
            self.versions = (*map(_first, map(_vc_of, tensors)), y._vc[0])
            self.node_inputs = tensors
            if self.anomaly:
                self.stack = traceback.extract_stack()[:-1]
        return y

    def name(self):
        """The name PyTorch gives this op's node in the graph, e.g. 'MulBackward0'."""
        return f"{type(self).__name__}Backward0"

    def __repr__(self):
        return f"<{self.name()}>"

    @property
    def next_functions(self):
        """(node, 0) for each input: its op, an AccumulateGrad for a leaf that requires grad, else None."""
        return tuple((t._op if t._op is not None else AccumulateGrad(t) if t.requires_grad else None, 0)
                     for t in getattr(self, "node_inputs", ()))


    @abc.abstractmethod
    def forward(self, *arrays):
        """Compute the output array from the input arrays."""

    @abc.abstractmethod
    def backward(self, gy, node):
        """Gradients of the loss with respect to each input, given `gy` for the output `node`."""


class AccumulateGrad:
    """The graph's end at a leaf: where its gradient is accumulated into `.grad`."""

    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        """'AccumulateGrad', as PyTorch names it."""
        return "AccumulateGrad"

    def __repr__(self):
        return "<AccumulateGrad>"


def _lift(x):
    """An op input as a Tensor: arrays keep their dtype, Python numbers take the default types."""
    if isinstance(x, Tensor):
        return x
    return _wrap(xp.asarray(x)) if isinstance(x, xp.ndarray) else Tensor(x, dtype=None)


class Tensor:
    """An n-d array that records the ops applied to it so gradients can flow back."""

    __array_priority__ = 1000
    _base = None  # the tensor whose memory this view shares
    _hooks = None  # functions register_hook added
    _post_hooks = None  # functions register_post_accumulate_grad_hook added
    _retains_grad = False
    _grad = None

    def __init__(self, *args, dtype=_FLOAT, requires_grad=False, device=None):
        as_device(device)
        data, dtype, requires_grad = _legacy_args(args, dtype, requires_grad)
        if isinstance(data, Tensor) and dtype is _FLOAT:
            dtype = None  # a tensor keeps its dtype, as torch.Tensor(t) does
        self._data = _to_array(data, dtype, infer=False)
        if isinstance(data, Tensor) and self._data is data._data:
            self._data = self._data.copy()
        self._op, self._inputs, self._vc = None, (), [0]
        self.requires_grad = False
        self.requires_grad_(requires_grad)

    # ---- attributes (attrgetters where they can: C, no Python frame per read) ------------------------
    shape = property(lambda self: Size(self._data.shape), doc="The shape, a baby.Size.")
    dtype = property(operator.attrgetter("_data.dtype"), doc="The element type.")
    ndim = property(operator.attrgetter("_data.ndim"), doc="The number of dimensions.")
    inputs = property(_inputs_of, doc="The tensors this one was computed from.")
    is_leaf = property(lambda self: self._op is None, doc="True for tensors no recorded op produced.")
    grad_fn = property(operator.attrgetter("_op"), doc="The op that produced this tensor (None for leaves).")
    _version = property(lambda self: self._vc[0], doc="How many in-place writes this memory has had.")

    device = property(lambda self: CPU, doc="Where the data lives: always the CPU.")

    def _set_grad(self, value):
        if isinstance(value, xp.ndarray):  # the book assigns arrays; stored as a Tensor of this dtype
            value = _wrap(value.astype(self.dtype, copy=False))
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"assigned grad expected to be a Tensor or None but got {type(value).__name__}")
        if value is not None and value.shape != self.shape:
            raise RuntimeError(f"assigned grad has shape {tuple(value.shape)}, expected {tuple(self.shape)}")
        self._grad = value

    grad = property(operator.attrgetter("_grad"), _set_grad,
                    doc="The gradient backward() accumulated here (None until then).")

    @property
    def data(self):
        """The same memory as a Tensor cut from the graph; assigning replaces this tensor's values."""
        return _wrap(self._data)

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else xp.asarray(value)

    @property
    def T(self):
        """The tensor with its axes reversed."""
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self):
        """The last two axes swapped (a batch of transposed matrices)."""
        return self.transpose(-2, -1)

    def size(self, dim=None):
        """The shape, or the length of dimension `dim`."""
        if dim is None:
            return self.shape
        return self._data.shape[one_axis(dim, self.shape, "dim")]

    def numel(self):
        """The number of elements."""
        return self._data.size

    def dim(self):
        """The number of dimensions."""
        return self._data.ndim

    def numpy(self):
        """The underlying array (shares memory)."""
        return self._data

    def __array__(self, dtype=None, copy=None):
        a = self._data if dtype is None else self._data.astype(dtype, copy=False)
        return a.copy() if copy else a

    def item(self):
        """The single element as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to a Python "
                               f"number (shape {tuple(self.shape)})")
        return self._data.item()

    def tolist(self):
        """The elements as (nested) Python lists of numbers."""
        return self._data.tolist()

    def detach(self):
        """The same memory cut from the graph (in-place writes to either are seen by both)."""
        t = _wrap(self._data)
        t._vc = self._vc
        return t

    def detach_(self):
        """Cut this tensor from the graph in place; returns self."""
        self._op, self._inputs, self.requires_grad = None, (), False
        return self

    def requires_grad_(self, requires_grad=True):
        """Set requires_grad in place (leaves only); returns self."""
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")
        if not requires_grad and self._op is not None:
            raise RuntimeError("requires_grad can only be changed on leaf tensors; use detach() for a "
                               "non-leaf tensor")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in `.grad` after backward()."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        self._retains_grad = True

    def register_hook(self, hook):
        """Call `hook(grad)` when this tensor's gradient is computed; a returned tensor replaces it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        self._hooks = (self._hooks or []) + [hook]

    def register_post_accumulate_grad_hook(self, hook):
        """Call `hook(tensor)` on this leaf each time backward() has accumulated into its `.grad`."""
        if self._op is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        self._post_hooks = (self._post_hooks or []) + [hook]

    def __len__(self):
        if not self.ndim:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __iter__(self):
        if not self.ndim:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self._data)))

    def __repr__(self):
        return tensor_repr(self)

    def __format__(self, spec):
        return format(self.item(), spec) if self._data.size == 1 else super().__format__(spec)

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self._data.size} elements is ambiguous "
                               f"(shape {tuple(self.shape)})")
        return bool(self._data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an index, got "
                            f"{self.dtype} of shape {tuple(self.shape)}")
        return int(self.item())

    __hash__ = object.__hash__  # by identity, as PyTorch's (C: no Python frame per dict lookup)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (or only `inputs`'); frees the graph unless
        `retain_graph`; with `create_graph` the gradients are recorded as a graph (differentiable again)."""
        self._engine([self], [gradient], retain_graph, inputs=inputs, create_graph=create_graph)

    _engine = None  # the backward engine: baby.autograd (the room above this one) sets it when it loads


def as_tensor(data, dtype=None, device=None):
    """`data` as a Tensor, sharing memory where it can (a Tensor or array of the same dtype is not copied)."""
    if isinstance(data, Tensor) and (dtype is None or dtypes.as_dtype(dtype) == data.dtype):
        return data
    as_device(device)
    return _wrap(_to_array(data, dtype, infer=True))
