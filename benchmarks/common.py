"""What both benchmarks share: the same allocator policy for baby and PyTorch in one process.

By default glibc hands large freed blocks back to the system and the next allocation of that size
page-faults on fresh memory (~0.25 ms per MiB here); when that happens depends on the history of both
libraries' frees, and it swung single timings by 2-10x. `keep_freed_memory` makes malloc keep freed
memory for reuse (as PyTorch's caching allocators do), the same for both libraries, so the ratios measure
the computation.
"""

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)


def keep_freed_memory():
    """Raise glibc's mmap threshold to 32 MiB and its trim threshold to 1 GiB; False without glibc."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, 32 << 20) and mallopt(M_TRIM_THRESHOLD, 1 << 30))
