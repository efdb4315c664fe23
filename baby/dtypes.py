"""Element types: PyTorch's names for NumPy dtypes, the default float type, and PyTorch's type promotion."""

import builtins
import numbers

from .backend import xp

float16 = half = xp.dtype(xp.float16)
float32 = float = xp.dtype(xp.float32)  # noqa: A001 (torch.float is float32)
float64 = double = xp.dtype(xp.float64)
uint8, int8 = xp.dtype(xp.uint8), xp.dtype(xp.int8)
int16 = short = xp.dtype(xp.int16)
int32 = int = xp.dtype(xp.int32)  # noqa: A001 (torch.int is int32)
int64 = long = xp.dtype(xp.int64)
bool = xp.dtype(xp.bool_)  # noqa: A001 (torch.bool)

_default = float32


def get_default_dtype():
    """The float type that Python floats and float factories get (float32 unless set)."""
    return _default


def set_default_dtype(d):
    """Set the default float type (float16, float32 or float64)."""
    global _default
    d = as_dtype(d)
    if d.kind != "f":
        raise TypeError(f"set_default_dtype: only floating-point types can be the default, got {d}")
    _default = d


def as_dtype(d):
    """`d` (a baby/NumPy dtype, a type such as float, or a name such as 'float32') as a NumPy dtype."""
    if d is None:
        return None
    try:
        d = xp.dtype(d.replace("torch.", "").replace("baby.", "") if isinstance(d, str) else d)
    except TypeError:
        raise TypeError(f"dtype must be a baby dtype (e.g. baby.float32), got {d!r}") from None
    if d.kind not in "biuf":
        raise TypeError(f"dtype {d} is not supported: baby has bool, integer and floating-point tensors")
    return d


def category(d):
    """0 for bool, 1 for integers, 2 for floating point: the order in which types promote."""
    return 2 if d.kind == "f" else 1 if d.kind in "iu" else 0


def _promote(a, b):
    """The wider of two types: within a category as NumPy does, across categories the higher one."""
    ca, cb = category(a), category(b)
    return xp.promote_types(a, b) if ca == cb else a if ca > cb else b


def scalar_dtype(v):
    """The type a Python scalar becomes on its own: bool, int64 or the default float."""
    if isinstance(v, (builtins.bool, xp.bool_)):
        return bool
    return int64 if isinstance(v, numbers.Integral) else _default



def result_type(*operands):
    """PyTorch's promotion: tensors with dims lead, then 0-dim tensors, then Python scalars; a later group
    decides only where its category is higher (a Python float makes an int tensor the default float).
    NumPy arrays count as Python scalars of their category, so float64 data never widens a float32 tensor."""
    groups = ([], [], [])
    for x in operands:
        if isinstance(x, numbers.Number):
            groups[2].append(scalar_dtype(x))
        elif not hasattr(x, "_data"):  # a NumPy array
            groups[2].append((bool, int64, _default)[category(x.dtype)])
        else:
            groups[0 if x.ndim else 1].append(x.dtype)
    out = None
    for dtypes in groups:
        if dtypes:
            d = dtypes[0]
            for e in dtypes[1:]:
                d = _promote(d, e)
            if out is None or category(d) > category(out):
                out = d
    return out


def can_cast(src, dst):
    """Whether an in-place op may write a `src` result into a `dst` tensor (never to a lower category)."""
    return category(src) <= category(dst)
