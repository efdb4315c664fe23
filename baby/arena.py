"""The arena: the memory of large freed arrays kept for the next ones of the same size, as PyTorch's
caching allocators keep freed blocks.

By default glibc's malloc hands a large freed block back to the system, and the next array of that size
page-faults on fresh memory (~0.25 ms per MiB), each training step anew. The ops whose large outputs and
temporaries are allocated and freed every step (conv outputs, gradients, padding and workspaces, batch
norm, ReLU) take them from `fresh` instead, so a user's script needs no process-wide malloc setting
(`baby.backend.keep_freed_memory`). Freed blocks are kept up to `CAP` bytes; `empty` drops them.

Arena and scratch arrays start on a 64-byte boundary (a cache line, an AVX-512 vector), as PyTorch's
allocator aligns its blocks. NumPy's own large arrays start 16 or 48 bytes past one, and a ufunc writing
them in cache runs at about half speed: a multiply of 64K floats into an aligned output takes 8 us, into a
misaligned one 17.
"""

import math
import threading
import weakref

from .backend import xp

MIN_BYTES = 1 << 18  # arrays of this many bytes or more come from the arena
ALIGN = 64  # bytes: where arena and scratch arrays start
CAP = 1 << 30  # most bytes of freed blocks kept (a MobileNet step at batch 64 cycles ~510 MiB)
_free = {}  # {bytes: [(bytearray block, offset of its first ALIGN-byte boundary) of freed arrays]}
_free_bytes = 0  # bytes in _free
_live = {}  # {id: (weak reference to an arena array, (block, skip), bytes)} (a weakref.ref with a callback
# costs ~0.5 us an array, weakref.finalize ~2.5)
_lock = threading.RLock()  # (re-entrant: a finalizer may run in a garbage collection under it)
_local = threading.local()  # per-thread scratch arrays, by name


def fresh(shape, dtype, zero=False):
    """A new array (zero-filled when `zero`), as xp.empty/xp.zeros; one of MIN_BYTES or more takes the
    block of an earlier one of the same size, freed since, where there is one. The array owns its block
    until it and every view of it are freed (the views' `base` chains end at it: its own base is a
    memoryview of a bytearray)."""
    global _free_bytes
    dtype = xp.dtype(dtype)
    size = math.prod(shape)
    nbytes = size * dtype.itemsize
    if nbytes < MIN_BYTES:
        return (xp.zeros if zero else xp.empty)(shape, dtype)
    with _lock:
        blocks = _free.get(nbytes)
        kept = blocks.pop() if blocks else None
        _free_bytes -= 0 if kept is None else len(kept[0])
    block, skip = kept or _block(nbytes)
    owner = xp.frombuffer(block, dtype, size, skip)  # (size,)
    if zero and kept is not None:
        owner.fill(0)
    ref = weakref.ref(owner, _freed)
    _live[id(ref)] = ref, (block, skip), nbytes
    return owner.reshape(shape)


def _block(nbytes):
    """(block, skip): a zeroed bytearray holding nbytes from `skip`, its first ALIGN-byte boundary."""
    block = bytearray(nbytes + ALIGN)
    return block, -xp.frombuffer(block, xp.uint8).ctypes.data % ALIGN


def scratch(name, shape, dtype):
    """A per-thread scratch array of `shape` under `name`, reused across calls (grown when too small)."""
    size = math.prod(shape)
    buf = getattr(_local, name, None)
    if buf is None or buf.size < size or buf.dtype != dtype:
        block, skip = _block(max(size, 1) * xp.dtype(dtype).itemsize)
        buf = xp.frombuffer(block, dtype, max(size, 1), skip)
        setattr(_local, name, buf)
    return buf[:size].reshape(shape)


def memory_order(a, first=None):
    """a's axes, the outermost in memory first (axis `first` put first whatever its stride)."""
    rest = sorted((i for i in range(a.ndim) if i != first), key=lambda i: -a.strides[i])
    return rest if first is None else [first, *rest]


def fresh_like(a, dtype=None):
    """xp.empty_like(a, dtype), from `fresh` when `a` is contiguous in some order of its axes (an NCHW view
    of NHWC memory, say); its layout kept either way."""
    dtype = a.dtype if dtype is None else dtype
    if a.flags.c_contiguous:
        return fresh(a.shape, dtype)
    if a.size * xp.dtype(dtype).itemsize < MIN_BYTES:
        return xp.empty_like(a, dtype)  # NumPy's memory (as `fresh`'s below MIN_BYTES), in a's layout
    order = memory_order(a)
    if not a.transpose(order).flags.c_contiguous:
        return xp.empty_like(a, dtype=dtype)
    return fresh([a.shape[i] for i in order], dtype).transpose(xp.argsort(order))  # a's shape, a's layout


def _freed(ref):
    """An arena array was freed: keep its (block, skip) for the next one of its size, within CAP."""
    global _free_bytes
    _, kept, nbytes = _live.pop(id(ref))
    with _lock:
        if _free_bytes + len(kept[0]) <= CAP:
            _free.setdefault(nbytes, []).append(kept)
            _free_bytes += len(kept[0])


def empty():
    """Drop the kept blocks (the next arrays take fresh memory)."""
    global _free_bytes
    with _lock:
        _free.clear()
        _free_bytes = 0


def kept_bytes():
    """Bytes of freed blocks the arena keeps."""
    return _free_bytes
