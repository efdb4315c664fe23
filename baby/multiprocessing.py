"""torch.multiprocessing: Python's multiprocessing under PyTorch's path (the same functions and classes).

Tensors and modules are shared between processes by `Tensor.share_memory_()` / `Module.share_memory()`,
which move their arrays into memory mapped shared: processes forked after that (the 'fork' start method,
Linux's default) read and write the very same numbers, as Hogwild training needs.
"""

import mmap as _mmap
import multiprocessing as _mp
from multiprocessing import *  # noqa: F403 (PyTorch re-exports all of multiprocessing)

from .backend import xp as _xp

__all__ = list(_mp.__all__) + ["ProcessContext", "spawn"]


class ProcessContext:
    """The processes spawn() started; join() waits for them and raises if one failed."""

    def __init__(self, processes):
        self.processes = processes

    def pids(self):
        """The process ids."""
        return [p.pid for p in self.processes]

    def join(self, timeout=None):
        """Wait for every process (at most `timeout` seconds each); True when all have ended, and a
        RuntimeError naming the first that exited with an error."""
        for p in self.processes:
            p.join(timeout)
        for i, p in enumerate(self.processes):
            if p.exitcode not in (0, None):
                raise RuntimeError(f"process {i} terminated with exit code {p.exitcode}")
        return all(p.exitcode is not None for p in self.processes)


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Start `nprocs` processes running fn(i, *args); with `join` wait for them (an error if one failed),
    else return their ProcessContext."""
    ctx = _mp.get_context(start_method)
    procs = [ctx.Process(target=fn, args=(i, *args), daemon=daemon) for i in range(nprocs)]
    for p in procs:
        p.start()
    context = ProcessContext(procs)
    return context if not join else context.join() and None


def _shared(a):
    """Whether array `a` lies in memory mapped shared (share_memory_ put it there)."""
    while a is not None:
        if isinstance(a, _mmap.mmap):
            return True
        a = a.obj if isinstance(a, memoryview) else getattr(a, "base", None)
    return False


def share_memory_(t):
    """Move this tensor's data (and its gradient's) into shared memory, in place; returns self. Processes
    forked afterwards read and write the same numbers."""
    for x in (t, t.grad):
        if x is not None and not _shared(x._data):
            a = x._data
            buf = _mmap.mmap(-1, max(a.nbytes, 1))  # anonymous and shared: forked processes see writes
            s = _xp.frombuffer(buf, a.dtype, a.size).reshape(a.shape)  # (*a.shape)
            s[...] = a
            x._data = s
    return t


def is_shared(t):
    """Whether this tensor's data is in shared memory."""
    return _shared(t._data)
