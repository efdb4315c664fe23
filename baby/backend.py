"""The array module the ops compute with: NumPy. baby is NumPy-only; this is where a GPU array module
(CuPy) would have to plug in, and not the only place it would have to reach (see README, "NumPy only")."""

import ctypes
import ctypes.util

import numpy

xp = numpy

try:
    from numpy._core import multiarray as _multiarray
except ImportError:  # NumPy 1
    from numpy.core import multiarray as _multiarray

einsum = _multiarray.c_einsum  # numpy.einsum less its Python wrapper, which only passes the operands on
# when not asked to `optimize`: ~1 us less a call alone (MobileNet's batch-1 step makes ~180 calls; its step
# 11.69 -> 11.17 ms)


def moveaxis(a, source, destination):
    """numpy.moveaxis for an int or a tuple of ints each side, as one transpose: NumPy's own normalises its
    arguments through ~6 us of Python, this ~1-3 us (the fast conv rooms call it on every call)."""
    n = a.ndim
    if type(source) is int:
        order = list(range(n))
        order.insert(destination % n, order.pop(source % n))
        return a.transpose(order)
    src, dst = [s % n for s in source], [d % n for d in destination]
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return a.transpose(order)


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)


def keep_freed_memory():
    """Have glibc's malloc keep freed memory for reuse, as PyTorch's caching allocators do (mmap threshold
    32 MiB, trim threshold 1 GiB); returns False without glibc. By default a large freed array goes back to
    the system and the next one page-faults on fresh memory (~0.25 ms per MiB): `baby train` on MNIST ran at
    3543-4181 images/s so and 5538-6114 with this. A process-wide setting: `baby train` and the benchmarks
    make it; a script may call it too."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, 32 << 20) and mallopt(M_TRIM_THRESHOLD, 1 << 30))
