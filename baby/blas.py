"""axpby from the BLAS that NumPy loaded, called through ctypes (no compiled code of baby's own):
y = a x + b y in one pass, where NumPy makes a product into a temporary and then a sum. An SGD step's
momentum and weight updates are one call each (ResNet-9's 6.6M-parameter SGD-momentum step 4.72 -> 3.28 ms).

Only the OpenBLAS builds that NumPy's own wheels ship (scipy-openblas) are bound: their symbol names say the
integer width (`..64_`: 64-bit). With any other BLAS, `axpby` returns False and the caller computes with
NumPy.
"""

import ctypes

from .backend import xp
from .parallel import BLAS_LIBRARIES

_REALS = ((xp.float32, "s", ctypes.c_float), (xp.float64, "d", ctypes.c_double))


def _bind():
    """{float32: saxpby, float64: daxpby} of NumPy's scipy-openblas (empty for any other BLAS)."""
    for c in BLAS_LIBRARIES:
        if c.internal_api != "openblas" or "scipy_openblas" not in c.prefix:
            continue
        for suffix, size in (("64_", ctypes.c_int64), ("", ctypes.c_int32)):  # ILP64, then LP64 builds
            found = {}
            for dtype, letter, real in _REALS:
                fn = getattr(c.dynlib, f"scipy_cblas_{letter}axpby{suffix}", None)
                if fn is not None:
                    fn.argtypes = [size, real, ctypes.c_void_p, size, real, ctypes.c_void_p, size]
                    fn.restype = None
                    found[xp.dtype(dtype)] = fn
            if found:
                return found
    return {}


_ROUTINES = _bind()  # dtype -> the bound ctypes function
MIN_SIZE = 1 << 15  # fewer numbers stay with NumPy: a ctypes call and its pointers cost ~4 us (NumPy's
# two passes and this call break even near 25K float32 numbers)


def axpby(a, x, b, y):
    """y = a * x + b * y in place, by BLAS, for C-contiguous x and y of one float32/float64 dtype and shape;
    returns whether it did (False: no routine for them, or a or b zero, where a BLAS may skip reading x or
    y and so drop a NaN that NumPy's product would keep; fewer than MIN_SIZE numbers)."""
    fn = _ROUTINES.get(y.dtype)
    if fn is None or y.size < MIN_SIZE or x.dtype != y.dtype or x.shape != y.shape or not a or not b or \
            not (x.flags.c_contiguous and y.flags.c_contiguous and y.flags.writeable):
        return False
    fn(y.size, a, x.ctypes.data, 1, b, y.ctypes.data, 1)
    return True
