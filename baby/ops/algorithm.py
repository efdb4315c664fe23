"""Which convolution algorithm runs, and with what: override, rule table, workspace budget, threads.

The choice is made per call. `set_conv_algorithm` (or the `conv_algorithm` context manager) wins; otherwise
the environment variable BABY_CONV, read at each call; otherwise 'auto', whose rule table is justified by
`benchmarks/conv.py`:
- 1x1 kernels, no groups      -> 'pointwise': a plain matmul (a strided 1x1 reads a strided slice), no im2col;
- one input channel per group -> 'depthwise': one multiply-add per kernel tap, no loop over groups;
- 3x3, stride 1, dilation 1, no groups, >= 16 channels in and out -> 'winograd' F(4x4, 3x3);
- everything else             -> 'im2col': a strided window view and one (grouped) matmul.
A forced algorithm runs wherever it applies; elsewhere the call falls back to 'im2col'.
"""

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

ALGORITHMS = ("auto", "im2col", "winograd", "pointwise", "depthwise")
_forced = None
_budget = 256 * 2**20
_threads = min(2, os.cpu_count() or 1)
_pool = None


def _check(name):
    if name not in ALGORITHMS:
        raise ValueError(f"conv algorithm must be one of {ALGORITHMS}, got {name!r}")
    return name


def set_conv_algorithm(name):
    """Force a conv algorithm ('auto', 'im2col', 'winograd', ...); None returns the choice to BABY_CONV."""
    global _forced
    _forced = None if name is None else _check(name)


@contextlib.contextmanager
def conv_algorithm(name):
    """Force a conv algorithm inside a `with` block."""
    global _forced
    prev, _forced = _forced, _check(name)
    try:
        yield
    finally:
        _forced = prev


def requested():
    """The algorithm asked for now: set_conv_algorithm, else $BABY_CONV, else 'auto'."""
    return _forced if _forced is not None else _check(os.environ.get("BABY_CONV", "auto"))


def choose(k, cin, cout, groups, stride, dilation):
    """The algorithm for a conv with kernel `k`, `cin` -> `cout` channels (per-dim stride, dilation)."""
    ones = (1,) * len(k)
    fits = {
        "pointwise": k == ones and groups == 1,
        "depthwise": cin == groups > 1,
        "winograd": tuple(k) == (3, 3) and stride == ones and dilation == ones and groups == 1,
        "im2col": True,
    }
    algo = requested()
    if algo != "auto":
        return algo if fits[algo] else "im2col"
    if fits["winograd"] and min(cin, cout) >= 16:
        return "winograd"
    return next(a for a in ("pointwise", "depthwise", "im2col") if fits[a])


def set_workspace_budget(nbytes):
    """Cap the bytes of any im2col/Winograd workspace (default 256 MiB); work is chunked to fit."""
    global _budget
    if not isinstance(nbytes, int) or nbytes < 2**16:
        raise ValueError(f"workspace budget must be an int of at least 65536 bytes, got {nbytes!r}")
    _budget = nbytes


def workspace_budget():
    """The current workspace budget in bytes."""
    return _budget


def set_num_threads(n):
    """Threads for the gathers and transforms NumPy runs outside BLAS (default: min(2, cores))."""
    global _threads, _pool
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"num_threads must be an int >= 1, got {n!r}")
    if _pool is not None:
        _pool.shutdown()
    _threads, _pool = n, None


def num_threads():
    """The number of threads for gathers and transforms."""
    return _threads


def parallel(fn, items):
    """fn(item) for every item, spread over the thread pool (NumPy releases the GIL in copies and ufuncs)."""
    global _pool
    if _threads == 1 or len(items) < 2:
        return [fn(i) for i in items]
    if _pool is None:
        _pool = ThreadPoolExecutor(_threads, thread_name_prefix="baby-conv")
    return list(_pool.map(fn, items))
