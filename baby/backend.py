"""The array module the ops compute with: NumPy. baby is NumPy-only; this is where a GPU array module
(CuPy) would have to plug in, and not the only place it would have to reach (see README, "NumPy only")."""

import ctypes
import ctypes.util

import numpy

xp = numpy


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
