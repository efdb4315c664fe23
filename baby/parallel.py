"""A small thread pool for the array work NumPy runs outside BLAS (it releases the GIL in copies and ufuncs).

Big elementwise passes and reductions are split by leading rows into one part per thread; small ones run
inline, where a thread hand-off (~50 us) would cost more than it saves.
"""

import os
from concurrent.futures import ThreadPoolExecutor

MIN_BYTES = 1 << 20  # below this an array is processed on the calling thread
_threads = min(2, os.cpu_count() or 1)
_pool = None


def set_num_threads(n):
    """Threads for gathers, transforms and elementwise passes (default: min(2, cores))."""
    global _threads, _pool
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"num_threads must be an int >= 1, got {n!r}")
    if _pool is not None:
        _pool.shutdown()
    _threads, _pool = n, None


def num_threads():
    """The number of threads for gathers, transforms and elementwise passes."""
    return _threads


def parallel(fn, items):
    """[fn(item) for item in items], spread over the pool (the calling thread takes the first item)."""
    global _pool
    if _threads == 1 or len(items) < 2:
        return [fn(i) for i in items]
    if _pool is None:
        _pool = ThreadPoolExecutor(_threads - 1, thread_name_prefix="baby")
    rest = [_pool.submit(fn, i) for i in items[1:]]
    return [fn(items[0])] + [f.result() for f in rest]


def rows(n, nbytes=None):
    """Slices splitting range(n) into one part per thread (a single part for arrays under MIN_BYTES)."""
    t = 1 if nbytes is not None and nbytes < MIN_BYTES else min(_threads, n)
    edges = [n * i // t for i in range(t + 1)]
    return [slice(a, b) for a, b in zip(edges, edges[1:], strict=False)]


def split(fn, a):
    """fn(r) for row slices r of array `a`, one per thread; returns their results."""
    return parallel(fn, rows(len(a), a.nbytes)) if a.ndim else [fn(slice(None))]
