"""The fast rooms' memory: layouts, padding, window views, chunks on the thread pool, the workspace budget,
the buffers a forward keeps for the backward, and every tuning constant.

im2col, pointwise and depthwise follow x's memory layout: an NCHW array seen through a transposed view is
computed channels-first (its output NCHW in memory too); an NHWC array channels-last (Winograd reads any
strides and writes NHWC). Work is cut into chunks (of images for im2col, of channels for depthwise, of tiles
for Winograd) whose workspace stays in cache (the constants below); im2col's and depthwise's chunks, and the
tiles Winograd keeps for its backward, stay within the workspace budget over all threads too; each thread of
the pool takes its share of the chunks and runs their gathers and GEMMs on its own core, OpenBLAS kept
single-threaded meanwhile.

Forward workspaces for the backward: Winograd's transformed input tiles (2.25x the input for 3x3, 9x for 5x5)
are kept by the forward for the weight gradient, when the weights need one and the tiles fit (`kept_buffer`:
at most half the workspace budget each, all kept buffers together within the budget, counted until they
are freed); rebuilding them measured 35-45% of the Winograd weight gradient. Otherwise they are recomputed,
as are im2col's columns: prod(k) times the input, and keeping them measured no faster (strided 3x3 layer of
benchmarks/conv.py, 27.4 vs 27.5 ms forward+backward): the forward then writes every chunk's columns to
memory of its own instead of the one cache-warm chunk buffer, which costs what the backward's gather saves.
"""

import math
import threading
import weakref

from .... import arena
from ....arena import fresh
from ....backend import xp
from ....parallel import each, num_threads, parallel, rows, single_threaded_blas
from ..geometry import is_int, out_size

# Tuning constants, all of them (the fast rooms read them here at each call)
CHUNK_BYTES = 4 << 20  # im2col: a chunk's workspace, about what a core's cache holds while its GEMM reads it
DEPTHWISE_TILE = 16  # depthwise: outputs per tile of the last spatial dim (its banded matrix's columns)
DEPTHWISE_CHUNK = 8 << 20  # depthwise: target workspace of a chunk of channels (bounded by the budget)
WINOGRAD_SPLIT = 8192  # most columns of one product with a Winograd transform matrix
WINOGRAD_CHUNK_TILES = 128  # most tiles per chunk: cache-sized, yet NumPy calls long (a GIL hand-over ~50 us)
WINOGRAD_CHUNK_BYTES = 8 << 20  # most bytes of transformed tiles per chunk (36 * tiles * channels * 4)
WINOGRAD_GROUP_BYTES = 24 << 20  # weight gradient: transformed tiles gathered per GEMM (bounds the workspace)
WINOGRAD_BLOCK_BYTES = 16 << 20  # most bytes of a block of the transformed filter (36 * channels * block * 4)

_budget = 256 * 2**20
_kept = 0  # bytes of kept forward workspaces in use
_cache = []  # the memory of freed kept buffers (uint8 arrays), oldest first
_lock = threading.RLock()  # (re-entrant: a buffer's finalizer may run inside a garbage collection here)


def channels_first(x):
    """Whether x (N, *S, C) keeps its channels outside its spatial dims in memory (an NCHW array's view)."""
    return x.strides[-1] > x.strides[-2]


def to_nhwc(a):
    """(N, C, *S) -> (N, *S, C), a view."""
    return a.transpose(0, *range(2, a.ndim), 1)  # (N, *S, C)


def to_nchw(a):
    """(N, *S, C) -> (N, C, *S), a view."""
    return a.transpose(0, a.ndim - 1, *range(1, a.ndim - 1))  # (N, C, *S)


def alloc(shape, first, dtype, zero=False):
    """A new (N, *S, C) array, laid out NCHW in memory when `first`, else NHWC (from the arena)."""
    if not first:
        return fresh(shape, dtype, zero)  # (N, *S, C)
    return to_nhwc(fresh((shape[0], shape[-1], *shape[1:-1]), dtype, zero))  # (N, *S, C) view


def framed(shape, dtype, box):
    """A new array (from the arena), zero outside `box`: see `zero_frame`."""
    return zero_frame(fresh(shape, dtype), box)


def zero_frame(a, box):
    """`a` with its elements outside `box` (one slice, start and stop given, per trailing dim) set to zero:
    only the frame is written, the caller fills the box (full zero fills took MobileNet 30 ms a step)."""
    lead = a.ndim - len(box)
    for d, s in enumerate(box):
        a[(slice(None),) * (lead + d) + (slice(0, s.start),)] = 0
        a[(slice(None),) * (lead + d) + (slice(s.stop, None),)] = 0
    return a


def contiguous(a, first):
    """a (N, *S, C) itself when its memory is contiguous in the layout `first` asks for (NCHW when True,
    NHWC when False), else a copy that is (a broadcast gradient, a cropped or strided view)."""
    if (to_nchw(a) if first else a).flags.c_contiguous:
        return a
    out = alloc(a.shape, first, a.dtype)  # (N, *S, C)
    gather(out, a)
    return out


def pad(x, pads, value=0):
    """x (N, *S, C) padded with `value` by (before, after) per spatial dim, in x's memory layout; negative
    amounts crop. A copy when anything is padded, else a view (so no padding means no copy)."""
    S = x.shape[1:-1]
    if all(b <= 0 and a <= 0 for b, a in pads):
        return x[(slice(None), *(slice(-b, n + a) for n, (b, a) in zip(S, pads, strict=True)))]  # (N, *S', C)
    keep = [(max(-b, 0), max(min(n, n + a), -b, 0)) for n, (b, a) in zip(S, pads, strict=True)]  # rows kept
    shape = (x.shape[0], *(n + b + a for n, (b, a) in zip(S, pads, strict=True)), x.shape[-1])
    out = alloc(shape, channels_first(x), x.dtype, zero=value == 0)  # (N, *padded, C)
    if value != 0:
        out.fill(value)
    dst = tuple(slice(lo + b, hi + b) for (lo, hi), (b, _) in zip(keep, pads, strict=True))
    out[(slice(None), *dst)] = x[(slice(None), *(slice(lo, hi) for lo, hi in keep))]
    return out


def windows(x, k, stride, dilation, O=None, writeable=False):
    """Every kernel window of x (N, *S, C), as a strided view (N, *O, *k, C): no copy (the first O of them
    per dim when given; writeable to add gradients back through it). Window o, tap j reads x at
    o * stride + j * dilation."""
    N, *S, C = x.shape
    sN, *sS, sC = x.strides
    O = out_size(S, k, stride, ((0, 0),) * len(S), dilation) if O is None else O
    steps = tuple(t * s for t, s in zip(sS, stride, strict=True))  # one output step
    taps = tuple(t * d for t, d in zip(sS, dilation, strict=True))  # one kernel tap
    strides = (sN, *steps, *taps, sC)
    return xp.lib.stride_tricks.as_strided(x, (N, *O, *k, C), strides, writeable=writeable)  # (N, *O, *k, C)


def chunks(N, per_image, target=None):
    """Image ranges [(n0, n1), ...] (of N images, or of channels), each with a workspace of `per_image` bytes
    per image within `target` (CHUNK_BYTES) and the budget's share of one thread (one image at least); as
    many as a multiple of the threads where there are enough images."""
    T = num_threads()
    step = max(1, min(target or CHUNK_BYTES, _budget // T) // max(per_image, 1))
    count = -(-N // step)
    count = min(-(-count // T) * T, N)
    return [(N * i // count, N * (i + 1) // count) for i in range(count)]


def run_chunks(fn, N, per_image, target=None, add=False):
    """[fn(n0, n1) for each of `chunks`] (with `add`: the sum of those arrays, or None without chunks). The
    chunks are shared between the threads, each running its own GEMMs on single-threaded BLAS: drawn as the
    threads get to them (`parallel.each`), or with `add` dealt round-robin, each thread summing its own
    (so the sum's rounding does not depend on timing); they run in turn (with BLAS's threads) where there
    are fewer chunks than threads or one workspace per thread would not fit the budget."""
    parts = chunks(N, per_image, target)
    T = num_threads()

    def share(items):
        out = [fn(n0, n1) for n0, n1 in items] if not add else None
        for n0, n1 in items if add else ():
            r = fn(n0, n1)
            out = r if out is None else xp.add(out, r, out=out)
        return out

    if len(parts) < T or T == 1 or T * per_image * (parts[0][1] - parts[0][0]) > _budget:
        return share(parts)
    with single_threaded_blas():
        if not add:
            return each(lambda part: fn(*part), parts)
        sums = parallel(lambda i: share(parts[i::T]), list(range(T)))
    return sum(sums[1:], sums[0])


def tile_chunks(N, th, tw, channels, tiles=None):
    """Winograd: the (N, th) tile rows cut into chunks (n0, n1, i0, i1) of at most WINOGRAD_CHUNK_TILES and
    WINOGRAD_CHUNK_BYTES and `tiles` / num_threads() tiles (`tiles`: all of them by default), so
    that every worker gets one."""
    tiles = tiles or N * th * tw
    size = min(WINOGRAD_CHUNK_TILES, max(1, WINOGRAD_CHUNK_BYTES // (144 * channels)),
               -(-tiles // num_threads()))
    rows = max(1, size // tw)
    if rows < th:
        return [(n, n + 1, i, min(i + rows, th)) for n in range(N) for i in range(0, th, rows)]
    nb = max(1, rows // th)
    return [(n, min(n + nb, N), 0, th) for n in range(0, N, nb)]


def channel_blocks(K, C, P):
    """Winograd: [0, K) cut into blocks of about P channels (near-square GEMM outputs (P, block)), one per
    worker at least, each (36, block, C) of the filter's transform within WINOGRAD_BLOCK_BYTES."""
    size = max(1, min(-(-K // num_threads()), max(P, 16), WINOGRAD_BLOCK_BYTES // (144 * max(C, 1))))
    return [(k, min(k + size, K)) for k in range(0, K, size)]


def tile_offsets(chunks, tw):
    """Winograd: (chunk, p0, p1) for each chunk: its tiles' range in the list of all the chunks' tiles."""
    items, p = [], 0
    for c in chunks:
        items.append((c, p, p + (c[1] - c[0]) * (c[3] - c[2]) * tw))
        p = items[-1][2]
    return items


def gather(dst, src):
    """dst[...] = src, the copy split by leading rows over the pool (in turn within a parallel call)."""
    parallel(lambda r: dst.__setitem__(r, src[r]), rows(len(dst)))


def tap_slices(t, S, O, stride, pads, dilation):
    """The slices of x (spatial size S) and of y (size O) that kernel tap `t` connects, per spatial dim
    (x[xs] pairs with y[ys]); None where the tap reaches no element of x."""
    xs, ys = [], []
    for i, n, o, s, (b, _), d in zip(t, S, O, stride, pads, dilation, strict=True):
        off = i * d - b  # x index of output 0
        o0, o1 = max(0, -(off // s)), min(o, (n - 1 - off) // s + 1)  # outputs whose x lies in [0, n)
        if o1 <= o0:
            return None
        xs.append(slice(o0 * s + off, (o1 - 1) * s + off + 1, s))
        ys.append(slice(o0, o1))
    return tuple(xs), tuple(ys)


def set_workspace_budget(nbytes):
    """Cap the bytes of the conv workspaces, all threads' together (default 256 MiB); work is chunked to fit
    (one image's workspace at least, the threads taking turns when one each would not fit)."""
    global _budget
    if not is_int(nbytes) or nbytes < 2**16:
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
    """Free the cached memory of kept buffers and of the arena (the next forwards allocate afresh)."""
    with _lock:
        _cache.clear()
    arena.empty()


def kept_bytes():
    """Bytes of kept forward workspaces in use (cached ones not counted)."""
    return _kept


class NonFinite(ArithmeticError):
    """A result of Winograd's transforms or depthwise's banded matrices holds NaN or inf: those mix a value
    into its neighbours' results (0 * inf), so the registry redoes the call by a direct algorithm."""


def check_finite(a):
    """Raise NonFinite unless every element of `a` (a chunk's result, still in cache) is finite: its dot
    product with itself is NaN or inf if any is (an overflow of a huge finite one only costs the redo;
    float16, whose squares overflow early, is checked element by element)."""
    v = a.reshape(-1)  # (a.size,): a view of a contiguous chunk
    if not (xp.isfinite(xp.dot(v, v)) if v.itemsize >= 4 else xp.isfinite(v).all()):
        raise NonFinite
