"""PyTorch's legacy tensor types: `FloatTensor(2, 3)`, `LongTensor(tokens)`, `isinstance(x, FloatTensor)`.

Each is a class standing for one dtype, as in PyTorch: calling it makes a tensor of that dtype (from sizes,
a Size, data, or a tensor of the same dtype, which is returned sharing memory); `isinstance` asks the dtype.
"""

from . import dtypes
from .backend import xp
from .device import as_device
from .tensor import Size, Tensor, _wrap


class tensortype(type):
    """The class of the legacy types: `isinstance(x, FloatTensor)` is true for float32 tensors."""

    def __instancecheck__(cls, x):
        return isinstance(x, Tensor) and x.dtype == cls.dtype

    def __repr__(cls):
        return f"<class 'baby.{cls.__name__}'>"


def _new(cls, *args, device=None):
    """A tensor of this type: from sizes (uninitialised), a Size, data, or a tensor of this dtype (shared)."""
    as_device(device)
    d = cls.dtype
    if not args:
        return _wrap(xp.empty(0, d))
    sizes = tuple(args[0]) if len(args) == 1 and isinstance(args[0], Size) else args
    if all(type(n) is int for n in sizes):  # noqa: E721 (bools are data, not sizes)
        if any(n < 0 for n in sizes):
            raise RuntimeError(f"Trying to create tensor with negative dimension {min(sizes)}: {list(sizes)}")
        return _wrap(xp.empty(sizes, d))
    if len(args) > 1:
        raise TypeError(f"{cls.__name__}() takes sizes as ints, or one sequence of data; got {args!r:.80}")
    data = args[0]
    if isinstance(data, Tensor):
        if data.dtype != d:
            raise TypeError(f"{cls.__name__}(tensor) expected a tensor of dtype {d}, got {data.dtype}")
        return data.detach()
    return Tensor(data, dtype=d)


def _type(name, dtype):
    return tensortype(name, (), {"dtype": dtype, "is_sparse": False, "__new__": _new, "__module__": "baby",
                                 "__doc__": f"The legacy type of {dtype} tensors (a constructor and an "
                                            "isinstance check)."})


FloatTensor = _type("FloatTensor", dtypes.float32)
DoubleTensor = _type("DoubleTensor", dtypes.float64)
HalfTensor = _type("HalfTensor", dtypes.float16)
LongTensor = _type("LongTensor", dtypes.int64)
IntTensor = _type("IntTensor", dtypes.int32)
ShortTensor = _type("ShortTensor", dtypes.int16)
CharTensor = _type("CharTensor", dtypes.int8)
ByteTensor = _type("ByteTensor", dtypes.uint8)
BoolTensor = _type("BoolTensor", dtypes.bool)

TYPES = {t.__name__: t for t in (FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor, ShortTensor,
                                 CharTensor, ByteTensor, BoolTensor)}


def type_dtype(t):
    """The dtype a `type()` argument names: a legacy type, its name ('torch.FloatTensor'), a dtype."""
    if isinstance(t, tensortype):
        return t.dtype
    if isinstance(t, str) and t.rpartition(".")[2] in TYPES:
        return TYPES[t.rpartition(".")[2]].dtype
    return dtypes.as_dtype(t)
