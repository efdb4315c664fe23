"""The one thread pool, and BLAS's thread count (threadpoolctl): NumPy releases the GIL in copies, ufuncs and
matmul.

Big elementwise passes are split by leading rows into one part per thread; conv work is cut into cache-sized
chunks that each thread runs on its own core while OpenBLAS keeps to the calling thread. Small arrays run
inline, where a hand-off (~16 us, and the split pass's lost locality) would cost more than it saves. Every
matrix product goes through `matmul`, so OpenBLAS's own threads run only where a product has too few rows
to split and is too narrow to split by columns (an MLP's: halves of 128 rows each repacked the whole weight,
620 us against OpenBLAS's 380 us); elsewhere they would spin, idle, on the cores the pool needs next
(ResNet-9's batch-1 step, its 4x4 layers' input gradients on OpenBLAS's threads: 53.4 ms, else 43.4). A big
weight's backward runs its input and weight gradients side by side instead, one whole product per thread
(`side_by_side`).
"""

import contextlib
import math
import os
import threading

from threadpoolctl import ThreadpoolController

from .arena import fresh, memory_order
from .backend import einsum, xp

MIN_BYTES = 1 << 20  # below this an array is processed on the calling thread
BLOCK = 1 << 17  # elements per piece of a `blocked` pass, its passes in a core's 2 MiB L2 (ReLU backward on
# (64, 32, 32, 32): 1.51 ms in pieces of 1 << 16, 1.19 in pieces of 1 << 17)
MIN_FLOPS = 1 << 24  # below this a matrix product runs on the calling thread (split: 6M flops 144 us vs 90)
THIN_ROWS = 256  # rows per thread below which a 2-D product is not split by rows: by columns where it is
WIDE = 8  # at least this many times wider than tall, else on OpenBLAS's own threads (then spinning ~0.1 s on
# the pool's cores: an SGD step on ResNet-9 that followed one, 8.3-9.1 ms, else 4.5-5.3)
SIDE_BY_SIDE = 1 << 17  # weights of this many numbers or more: a backward's input and weight gradients run
# side by side (`side_by_side`): ResNet-9's 3x3 layers of 128-512 channels, its training step at batch 1
# 31.4 -> 29.1 ms, at batch 32 266 -> 249 ms; benchmarks/sequences.py's lstm-lm (its 10000x256 decoder)
# 176 -> 150 ms; MobileNet's and LeNet-5's smaller layers, whose work holds the GIL more, ran slower so
SERIAL_MNK = 1 << 18  # OpenBLAS runs a GEMM of m * n * k up to this on the calling thread (interface/gemm.c)
_threads = min(2, os.cpu_count() or 1)
_workers = None  # the pool: _threads - 1 worker threads, started on first use
_busy = threading.Lock()  # held by the thread whose parallel call uses the workers
_local = threading.local()  # .busy: this thread runs a share of a parallel call


def _after_fork():
    """A forked child has none of the parent's threads: it starts a pool of its own when it needs one, and
    takes fresh locks (one held by another thread at the fork would never be released)."""
    global _workers, _busy, _depth_lock
    _workers, _busy, _depth_lock = None, threading.Lock(), threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


class _Worker:
    """A pool thread running one (fn, item) at a time, handed over through two locks: ~16 us a round trip,
    where a ThreadPoolExecutor's submit and result took ~60 us."""

    def __init__(self):
        self._go, self._done = threading.Lock(), threading.Lock()
        self._go.acquire()
        self._done.acquire()
        self._job = self._result = None
        threading.Thread(target=self._loop, name="baby", daemon=True).start()

    def _loop(self):
        _local.busy = True
        while True:
            self._go.acquire()
            if self._job is None:  # stopped
                return
            (fn, item), self._job = self._job, ()  # (holding no references once done)
            try:
                self._result = (True, fn(item))
            except BaseException as e:  # handed to the caller, who raises it
                self._result = (False, e)
            del fn, item
            self._done.release()

    def start(self, fn, item):
        """Run fn(item) on this thread."""
        self._job = (fn, item)
        self._go.release()

    def result(self):
        """Wait for fn(item) and return it (or raise what it raised)."""
        self._done.acquire()
        (ok, r), self._result = self._result, None
        if not ok:
            raise r
        return r

    def stop(self):
        """End the thread."""
        self._job = None
        self._go.release()


def set_num_threads(n):
    """Threads for gathers, transforms, elementwise passes and per-thread GEMMs (default: min(2, cores))."""
    global _threads, _workers
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"num_threads must be an int >= 1, got {n!r}")
    with _busy:
        for w in _workers or ():
            w.stop()
        _threads, _workers = n, None


def num_threads():
    """The number of threads in use."""
    return _threads


def parallel(fn, items):
    """[fn(item) for item in items], spread over the pool, the calling thread taking the first item (and any
    beyond one per thread); in turn where there is one thread or one item, inside another parallel call, or
    while another thread's call holds the pool."""
    global _workers
    if _threads == 1 or len(items) < 2 or getattr(_local, "busy", False) or not _busy.acquire(blocking=False):
        return [fn(i) for i in items]
    try:
        if _workers is None:
            _workers = [_Worker() for _ in range(_threads - 1)]
        handed = list(zip(_workers, items[1:], strict=False))
        for w, item in handed:
            w.start(fn, item)
        _local.busy = True
        try:
            mine = [fn(i) for i in (items[0], *items[1 + len(handed):])]
        finally:
            _local.busy = False
            theirs = [w.result() for w, _ in handed]
        return mine[:1] + theirs + mine[1:]
    finally:
        _busy.release()


def blocked(fn, *arrays):
    """fn(*pieces) over flat pieces of BLOCK elements of `arrays` (one shape, each contiguous in one common
    memory order), shared between the threads: a few passes over a piece read it while it is in cache, and
    temporaries stay piece-sized (ResNet-9's SGD step, 6.6M parameters: 14.2 ms as whole-array passes,
    10.1 ms so). Arrays under MIN_BYTES (a hand-over between threads costs more than it shares: the MLP's
    784x256 SGD update 122-142 us in pieces, 91-98 us whole) or laid out differently: fn(*arrays) once."""
    a0 = arrays[0]
    if a0.nbytes < MIN_BYTES:
        return fn(*arrays)
    order = memory_order(a0)
    flat = [a.transpose(order).reshape(-1) for a in arrays if a.shape == a0.shape and
            a.transpose(order).flags.c_contiguous]  # (size,) views in memory order
    if len(flat) < len(arrays):
        return fn(*arrays)
    pieces = [slice(i, i + BLOCK) for i in range(0, a0.size, BLOCK)]
    parallel(lambda share: [fn(*(f[r] for f in flat)) for r in share], shares(pieces))
    return None


class _Draw:
    """Indices 0..n-1 handed out in order to whichever thread asks next (iterated by several at once)."""

    def __init__(self, n):
        self.n, self.next, self.lock = n, 0, threading.Lock()

    def __iter__(self):
        while True:
            with self.lock:
                i, self.next = self.next, self.next + 1
            if i >= self.n:
                return
            yield i


def shares(items):
    """One share of `items` per thread (at most one per item), drawn as it is iterated: each thread takes the
    next item not yet taken, so a thread slowed by other work (a busy core, the GIL) takes fewer than a
    round-robin deal would have given it, instead of making the others wait."""
    draw = _Draw(len(items))
    return [(items[i] for i in draw) for _ in range(min(_threads, len(items)))]


def each(fn, items):
    """[fn(item) for item in items], in order, the threads drawing items as `shares` deals them."""
    if len(items) < 2 or _threads == 1:
        return [fn(item) for item in items]
    out = [None] * len(items)

    def work(share):
        for i, item in share:
            out[i] = fn(item)

    parallel(work, shares(list(enumerate(items))))
    return out


def rows(n):
    """Slices splitting range(n) into one part per thread."""
    t = min(_threads, n)
    edges = [n * i // t for i in range(t + 1)]
    return [slice(a, b) for a, b in zip(edges, edges[1:], strict=False)]


def split(fn, a, nbytes=None):
    """fn(r) for row slices r of array `a`, one per thread (one slice where the bytes the passes touch,
    `nbytes`, a's by default, are under MIN_BYTES); returns their results."""
    if a.ndim == 0 or (a.nbytes if nbytes is None else nbytes) < MIN_BYTES:
        return [fn(slice(None))]  # (one part: no split to make)
    return parallel(fn, rows(len(a)))


BLAS_LIBRARIES = ThreadpoolController().select(user_api="blas").lib_controllers  # NumPy's BLAS (OpenBLAS)
_held = []  # the thread counts to restore, while a single_threaded_blas block is open in any thread
_depth = 0
_depth_lock = threading.Lock()


class single_threaded_blas(contextlib.ContextDecorator):  # noqa: N801  (a context manager, as contextlib's)
    """BLAS computes on the calling thread only (each of our threads runs its own GEMMs on its core); the
    thread count is set back when the outermost block exits. Nested blocks (a matmul inside a chunked conv,
    one per pool thread) cost a counter; the outermost one threadpoolctl's calls (most of its ~7.5 us; as
    a generator-based context manager a block took ~9.4)."""

    def __enter__(self):
        global _depth
        with _depth_lock:
            if _depth == 0:
                _held[:] = [c.num_threads for c in BLAS_LIBRARIES]
                for c in BLAS_LIBRARIES:
                    c.set_num_threads(1)
            _depth += 1

    def __exit__(self, *exc):
        global _depth
        with _depth_lock:
            _depth -= 1
            if _depth == 0:
                for c, n in zip(BLAS_LIBRARIES, _held, strict=True):
                    c.set_num_threads(n)


def side_by_side(*fns):
    """[fn() for fn in fns], each on a thread of its own (as `parallel`) with single-threaded BLAS: a
    backward's two products of a big weight (SIDE_BY_SIDE numbers or more), one whole product per core,
    where split between the threads each would repack the weight."""
    with single_threaded_blas():
        return parallel(lambda fn: fn(), fns)


def matmul(a, b, out=None):
    """a @ b as numpy.matmul, on the pool with single-threaded OpenBLAS: the result's leading axis (rows, or
    the first batch axis) split between the threads, or a wide 2-D result's columns where it has few rows.
    OpenBLAS's own threads spin ~0.1 s after each call, on the cores the pool's next work needs: a 1x1 conv,
    ReLU and Winograd 3x3 measured 74 ms forward and backward with them, 45 ms this way. An inner size of 1
    (an outer product: a batch-1 Linear's weight gradient) is NumPy's einsum, the same products: OpenBLAS
    took 700 us on (256, 1) @ (1, 784), a broadcast multiply 105, einsum 51 (64 with an ellipsis in its
    subscripts: matrices are written without)."""
    if min(a.ndim, b.ndim) < 2:  # (vectors)
        return xp.matmul(a, b, out=out)
    la, lb = a.shape[:-2], b.shape[:-2]  # batch dims (NumPy's broadcast_shapes, ~3 us, only where needed)
    shape = (*(la if la == lb or not lb else lb if not la else xp.broadcast_shapes(la, lb)), a.shape[-2],
             b.shape[-1])
    if a.shape[-1] == 1:  # an outer product (einsum: twice as fast as the broadcast multiply)
        out = fresh(shape, xp.result_type(a, b)) if out is None else out
        return einsum("ik,kj->ij" if a.ndim == b.ndim == 2 else "...ik,...kj->...ij", a, b, out=out)
    flops = 2 * math.prod(shape) * a.shape[-1]
    if a.shape[-2] * a.shape[-1] * b.shape[-1] <= SERIAL_MNK and flops < MIN_FLOPS:
        return xp.matmul(a, b, out=out)  # small GEMMs, few of them: OpenBLAS stays on this thread
    out = fresh(shape, xp.result_type(a, b)) if out is None else out  # (a fresh block page-faults each step)
    if len(shape) > 2 and shape[0] == 1:  # a leading 1 (one group): split the next axis instead
        matmul(*(x[0] if x.ndim == len(shape) else x for x in (a, b)), out[0])
        return out
    if shape[0] < 2 or flops < MIN_FLOPS:
        with single_threaded_blas():
            return xp.matmul(a, b, out=out)
    if len(shape) == 2 and shape[0] < THIN_ROWS * _threads:  # few rows to split
        if shape[0] * WIDE > shape[1]:  # OpenBLAS splits better (a share of columns would repack all of a)
            return xp.matmul(a, b, out=out)
        with single_threaded_blas():  # columns split: each thread packs the few rows of a, and its b share
            parallel(lambda r: xp.matmul(a, b[:, r], out=out[:, r]), rows(shape[1]))
        return out
    n = len(shape)  # which operands vary along the result's axis 0 (a's rows, or a batch axis):
    lead = a.ndim == n and a.shape[0] > 1, n > 2 and b.ndim == n and b.shape[0] > 1

    def part(r):
        xp.matmul(a[r] if lead[0] else a, b[r] if lead[1] else b, out=out[r])

    with single_threaded_blas():
        parallel(part, rows(shape[0]))
    return out
