"""The collectives, as torch.distributed's: tensors change in place; `async_op=True` returns a Work.

Every collective starts MPI's non-blocking form (Iallreduce, Ibcast, ...) and a Work finishes it; a
blocking call is the same Work waited on at once. Objects travel as JSON (never pickle).
"""

import json

import numpy as np

from ..tensor import Tensor
from .group import ReduceOp, mpi, resolve


class Work:
    """A started collective: `wait()` blocks until it has finished and its results are in the tensors."""

    def __init__(self, request=None, done=None):
        self._request, self._done = request, done

    def wait(self, timeout=None):
        """Finish the collective (results land in the tensors); returns True."""
        if self._request is not None:
            self._request.Wait()
            self._request = None
        if self._done is not None:
            done, self._done = self._done, None
            done()
        return True

    def is_completed(self):
        """Whether the collective has finished (finishing it if MPI says it has)."""
        if self._request is not None and not self._request.Test():
            return False
        self.wait()
        return True

    def is_success(self):
        """True once completed (an MPI failure aborts the job instead)."""
        return self.is_completed()


def _tensor(t, fn, name="tensor"):
    """The array behind tensor `t`; TypeError naming `fn` and `name` for anything else."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: {name} must be a baby.Tensor, got {type(t).__name__}")
    return t._data


def _contiguous(a):
    """`a` when C-contiguous (MPI reads and writes it in place), else a contiguous copy."""
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _start(request, done, async_op):
    """A Work for a started request: returned for async_op, waited on (returning None) otherwise."""
    work = Work(request, done)
    if async_op:
        return work
    work.wait()
    return None


def _op(op, a, fn):
    """The MPI reduction for ReduceOp `op` (AVG is a SUM divided afterwards) on the array `a`."""
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{fn}: op must be a baby.distributed.ReduceOp, got {op!r}")
    if op is ReduceOp.AVG and not np.issubdtype(a.dtype, np.inexact):
        raise TypeError(f"{fn}: ReduceOp.AVG needs a floating-point tensor, got dtype {a.dtype}")
    MPI = mpi()
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
            ReduceOp.MAX: MPI.MAX}[op]


def _finish(a, buf, op=None, size=1):
    """After a collective into `buf`: divide for AVG, then copy back into `a` when `buf` is a copy."""
    def done():
        if op is ReduceOp.AVG:
            np.divide(buf, size, out=buf)
        if buf is not a:
            a[...] = buf
    return done


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine `tensor` over the ranks with `op`; every rank gets the result in `tensor`."""
    g, a = resolve(group, "all_reduce"), _tensor(tensor, "all_reduce")
    if g is None:
        return None
    buf, mop = _contiguous(a), _op(op, a, "all_reduce")
    return _start(g.comm.Iallreduce(mpi().IN_PLACE, buf, mop), _finish(a, buf, op, g.size()), async_op)


def reduce(tensor, dst=0, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine `tensor` over the ranks with `op` into rank `dst`'s `tensor` (the others' are unchanged)."""
    g, a = resolve(group, "reduce"), _tensor(tensor, "reduce")
    if g is None:
        return None
    root, mop = g.group_rank(dst, "dst"), _op(op, a, "reduce")
    if g.rank() != root:
        return _start(g.comm.Ireduce(_contiguous(a), None, mop, root), None, async_op)
    buf = _contiguous(a)
    return _start(g.comm.Ireduce(mpi().IN_PLACE, buf, mop, root), _finish(a, buf, op, g.size()), async_op)


def broadcast(tensor, src, group=None, async_op=False):
    """Copy rank `src`'s `tensor` into every rank's `tensor`."""
    g, a = resolve(group, "broadcast"), _tensor(tensor, "broadcast")
    if g is None:
        return None
    buf = _contiguous(a)
    return _start(g.comm.Ibcast(buf, g.group_rank(src, "src")), _finish(a, buf), async_op)


def _check_list(tensors, a, n, fn, name):
    """Raise unless `tensors` is a list of `n` tensors shaped and typed like the array `a`."""
    if not isinstance(tensors, (list, tuple)) or len(tensors) != n:
        got = len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__
        raise ValueError(f"{fn}: {name} must be a list of {n} tensors (one per rank), got {got}")
    for i, t in enumerate(tensors):
        b = _tensor(t, fn, f"{name}[{i}]")
        if b.shape != a.shape or b.dtype != a.dtype:
            raise ValueError(f"{fn}: {name}[{i}] has shape {tuple(b.shape)} and dtype {b.dtype}, but the "
                             f"tensor has shape {tuple(a.shape)} and dtype {a.dtype}")


def _spread(out, tensors):
    """Copy row i of the stacked array `out` into tensors[i]."""
    def done():
        for t, row in zip(tensors, out, strict=True):
            t._data[...] = row
    return done


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Every rank's `tensor` into `tensor_list` (one tensor per rank, in rank order) on every rank."""
    g, a = resolve(group, "all_gather"), _tensor(tensor, "all_gather")
    if g is None:
        return None
    _check_list(tensor_list, a, g.size(), "all_gather", "tensor_list")
    out = np.empty((g.size(),) + a.shape, a.dtype)  # (ranks, *shape)
    return _start(g.comm.Iallgather(_contiguous(a), out), _spread(out, tensor_list), async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Every rank's `input_tensor` concatenated along dim 0 into `output_tensor`."""
    g, a = resolve(group, "all_gather_into_tensor"), _tensor(input_tensor, "all_gather_into_tensor")
    if g is None:
        return None
    out = _tensor(output_tensor, "all_gather_into_tensor", "output_tensor")
    if out.size != a.size * g.size() or out.dtype != a.dtype:
        raise ValueError(f"all_gather_into_tensor: output_tensor of shape {tuple(out.shape)} ({out.dtype}) "
                         f"cannot hold {g.size()} inputs of shape {tuple(a.shape)} ({a.dtype})")
    buf = _contiguous(out)
    return _start(g.comm.Iallgather(_contiguous(a), buf), _finish(out, buf), async_op)


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    """Every rank's `tensor` into rank `dst`'s `gather_list` (one tensor per rank)."""
    g, a = resolve(group, "gather"), _tensor(tensor, "gather")
    if g is None:
        return None
    root = g.group_rank(dst, "dst")
    if g.rank() != root:
        return _start(g.comm.Igather(_contiguous(a), None, root), None, async_op)
    _check_list(gather_list, a, g.size(), "gather", "gather_list")
    out = np.empty((g.size(),) + a.shape, a.dtype)  # (ranks, *shape)
    return _start(g.comm.Igather(_contiguous(a), out, root), _spread(out, gather_list), async_op)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """Rank `src`'s scatter_list[i] into rank i's `tensor`."""
    g, a = resolve(group, "scatter"), _tensor(tensor, "scatter")
    if g is None:
        return None
    root, buf = g.group_rank(src, "src"), _contiguous(a)
    send = None
    if g.rank() == root:
        _check_list(scatter_list, a, g.size(), "scatter", "scatter_list")
        send = np.stack([t._data for t in scatter_list])  # (ranks, *shape)
    return _start(g.comm.Iscatter(send, buf, root), _finish(a, buf), async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank of `group` has reached this call."""
    g = resolve(group, "barrier")
    if g is None:
        return None
    return _start(g.comm.Ibarrier(), None, async_op)


def _json(obj, fn):
    """`obj` as UTF-8 JSON bytes; TypeError naming `fn` for what JSON cannot hold (baby never pickles)."""
    try:
        return json.dumps(obj, allow_nan=True).encode()
    except (TypeError, ValueError) as e:
        raise TypeError(f"{fn}: objects travel as JSON in baby (never pickle), and this one cannot: {e}") \
            from None


def all_gather_object(object_list, obj, group=None):
    """Every rank's JSON-safe `obj` into `object_list` (one per rank, in rank order) on every rank."""
    g = resolve(group, "all_gather_object")
    if g is None:
        return
    if not isinstance(object_list, list) or len(object_list) != g.size():
        raise ValueError(f"all_gather_object: object_list must be a list of {g.size()} entries (one per "
                         f"rank), got {object_list!r}")
    data = np.frombuffer(_json(obj, "all_gather_object"), np.uint8)
    sizes = np.empty(g.size(), np.int64)
    g.comm.Allgather(np.array([data.size], np.int64), sizes)
    out = np.empty(int(sizes.sum()), np.uint8)
    g.comm.Allgatherv(data, (out, sizes))
    ends = np.cumsum(sizes)
    for i, (start, end) in enumerate(zip(ends - sizes, ends, strict=True)):
        object_list[i] = json.loads(out[start:end].tobytes())


def broadcast_object_list(object_list, src=0, group=None, device=None):
    """Rank `src`'s list of JSON-safe objects into every rank's `object_list` (same length)."""
    g = resolve(group, "broadcast_object_list")
    if g is None:
        return
    root = g.group_rank(src, "src")
    data = _json(list(object_list), "broadcast_object_list") if g.rank() == root else b""
    size = np.array([len(data)], np.int64)
    g.comm.Bcast(size, root)
    buf = np.frombuffer(data, np.uint8).copy() if g.rank() == root else np.empty(int(size[0]), np.uint8)
    g.comm.Bcast(buf, root)
    values = json.loads(buf.tobytes())
    if len(values) != len(object_list):
        raise ValueError(f"broadcast_object_list: rank {src} sent {len(values)} objects, but this rank's "
                         f"object_list has {len(object_list)}")
    object_list[:] = values
