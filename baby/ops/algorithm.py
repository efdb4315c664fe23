"""Which convolution algorithm runs, and with what: override, rule table, workspace budget, threads.

The choice is made per call. `set_conv_algorithm` (or the `conv_algorithm` context manager) wins; otherwise
the environment variable BABY_CONV, read at each call; otherwise 'auto', whose rule table is justified by
`benchmarks/conv.py`:
- 1x1 kernels, no groups      -> 'pointwise': a plain matmul (a strided 1x1 reads a strided slice), no im2col;
- one input channel per group -> 'depthwise': per channel, rows of windows times the kernel as a banded
                                 matrix (a batch of small GEMMs), no loop over groups;
- 3x3 or 5x5, stride 1, dilation 1, no groups, >= 16 channels in and out -> 'winograd' F(4x4, 3x3) (a 5x5
                                 kernel as four 3x3 pieces);
- everything else             -> 'im2col': a strided window view and one (grouped) matmul.
A forced algorithm runs wherever it applies; elsewhere the call falls back to 'im2col'.

The backward follows the forward's choice (`choose_grads`): 'pointwise' and 'depthwise' have their own
gradients; 'winograd' takes the input gradient as a (Winograd) conv and the weight gradient in Winograd form;
'im2col' takes the input gradient by col2im (gy @ W^T, then each kernel tap's plane added back at its
place) and the weight gradient as GEMMs cols^T @ gy. Forced 'im2col' keeps the book's formulation instead:
the input gradient is a conv of the dilated gy with the flipped kernel, the weight gradient a conv with
batch and channels swapped.

Work is cut into chunks of images that stay in cache; each of the pool's threads takes its share of the
chunks and runs their copies and GEMMs on its own core, OpenBLAS kept single-threaded meanwhile.

Forward workspaces for the backward: Winograd's transformed input tiles (2.25x the input for 3x3, 9x for 5x5)
are kept by the forward for the weight gradient, when the weights need one and the tiles fit (`kept_buffer`:
at most half the workspace budget each, all kept buffers together within the budget, counted until they
are freed); rebuilding them measured 35-45% of the Winograd weight gradient. Otherwise they are recomputed,
as are im2col's columns: prod(k) times the input, and keeping them measured no faster (strided 3x3 layer of
benchmarks/conv.py, 27.4 vs 27.5 ms forward+backward): the forward then writes every chunk's columns to
memory of its own instead of the one cache-warm chunk buffer, which costs what the backward's gather saves.
"""

import contextlib
import math
import os
import threading
import weakref

from ..backend import xp

ALGORITHMS = ("auto", "im2col", "winograd", "pointwise", "depthwise")
_forced = None
_budget = 256 * 2**20
_kept = 0  # bytes of kept forward workspaces in use
_cache = []  # the memory of freed kept buffers (uint8 arrays), oldest first
_lock = threading.RLock()  # (re-entrant: a buffer's finalizer may run inside a garbage collection here)


def _check(name, source="conv algorithm"):
    if name not in ALGORITHMS:
        raise ValueError(f"{source} must be one of {ALGORITHMS}, got {name!r}")
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
    return _forced if _forced is not None else _check(os.environ.get("BABY_CONV", "auto"), "BABY_CONV")


def choose(k, cin, cout, groups, stride, dilation):
    """The algorithm for a conv with kernel `k`, `cin` -> `cout` channels (per-dim stride, dilation)."""
    k, ones = tuple(k), (1,) * len(k)
    fits = {
        "pointwise": k == ones and groups == 1,
        "depthwise": cin == groups > 1,
        "winograd": k in ((3, 3), (5, 5)) and stride == ones and dilation == ones and groups == 1,
        "im2col": True,
    }
    algo = requested()
    if algo != "auto":
        return algo if fits[algo] else "im2col"
    if fits["winograd"] and min(cin, cout) >= 16:
        return "winograd"
    return next(a for a in ("pointwise", "depthwise", "im2col") if fits[a])


def choose_grads(k, cin, cout, groups, stride, dilation):
    """(input-gradient, weight-gradient) algorithms for the conv `choose` sees: 'conv' (the book's
    formulation), 'col2im', 'gemm', or the forward's own 'winograd', 'pointwise', 'depthwise'."""
    algo = choose(k, cin, cout, groups, stride, dilation)
    if algo in ("pointwise", "depthwise"):
        return algo, algo
    if algo == "winograd":
        return "winograd", "winograd"
    if requested() == "im2col":
        return "conv", "conv"
    return "col2im", "gemm"


def set_workspace_budget(nbytes):
    """Cap the bytes of the conv workspaces, all threads' together (default 256 MiB); work is chunked to fit
    (one image's workspace at least, the threads taking turns when one each would not fit)."""
    global _budget
    if not isinstance(nbytes, int) or nbytes < 2**16:
        raise ValueError(f"workspace budget must be an int of at least 65536 bytes, got {nbytes!r}")
    with _lock:
        _budget = nbytes
        _trim()


def workspace_budget():
    """The current workspace budget in bytes."""
    return _budget


def kept_buffer(shape, dtype):
    """An array for a forward workspace kept for the backward, or None where it would not fit: at most half
    the workspace budget, and all kept buffers alive at most the budget (`kept_bytes`). Freed buffers are
    cached for the next forward (fresh pages cost a page fault each, ~0.25 ms per MiB), in use and cached
    together within the budget."""
    global _kept
    nbytes = math.prod(shape) * xp.dtype(dtype).itemsize
    with _lock:
        if 2 * nbytes > _budget or _kept + nbytes > _budget:
            return None
        _kept += nbytes
        i = next((i for i in reversed(range(len(_cache))) if _cache[i].nbytes == nbytes), None)  # newest
        base = None if i is None else _cache.pop(i)
        _trim()
    base = xp.empty(nbytes, xp.uint8) if base is None else base
    buf = base[:nbytes].view(dtype).reshape(shape)  # (the caller holds buf while it uses any view of it)
    weakref.finalize(buf, _release, base, nbytes)
    return buf


def _release(base, nbytes):
    """A kept buffer of nbytes was freed: cache its memory."""
    global _kept
    with _lock:
        _kept -= nbytes
        _cache.append(base)
        _trim()


def _trim():
    """Drop the oldest cached buffers until kept and cached bytes fit the budget (call holding _lock)."""
    while _cache and _kept + sum(b.nbytes for b in _cache) > _budget:
        _cache.pop(0)


def empty_cache():
    """Free the cached memory of kept buffers (the next forwards allocate afresh)."""
    with _lock:
        _cache.clear()


def kept_bytes():
    """Bytes of kept forward workspaces in use (cached ones not counted)."""
    return _kept
