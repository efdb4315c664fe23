"""DistributedDataParallel: one model replica per process, gradients averaged over the ranks in backward().

At wrap time rank 0's parameters and buffers are broadcast to every rank. The parameters are cut into
buckets (in reverse order, the order backward() finishes them; the first bucket 1 MB, the others
`bucket_cap_mb`, 25 MB by default; a `bucket_cap_mb` given applies to the first too, as PyTorch's).
A hook on each parameter runs once backward() has accumulated its gradient; when every gradient of the
next bucket is in, they are copied into the bucket's flat buffer, divided by the world size, and a
non-blocking MPI all-reduce (Iallreduce) starts, while backward() goes on computing the gradients of the
layers below. When the last bucket has started, the
all-reduces are waited on and the averaged gradients copied back into each `.grad`.
"""

import contextlib
import time

import numpy as np

from ...autograd.engine import _topo_order
from ...distributed.group import mpi, resolve
from ...grad_mode import is_grad_enabled
from ...tensor import Tensor, _wrap
from ..module import Module

FIRST_BUCKET_MB = 1  # torch.distributed._DEFAULT_FIRST_BUCKET_BYTES: the first bucket starts early


class _Bucket:
    """Parameters (one dtype) whose gradients travel in one all-reduce through the flat buffer `flat`."""

    def __init__(self, params, flags):
        self.params = params
        sizes = [p.numel() for p in params]
        self.ends = np.cumsum(sizes)  # (P,) where each gradient's slice of `flat` ends
        self.starts = self.ends - sizes
        n = int(self.ends[-1])
        self.flat = np.empty(n + (len(params) if flags else 0), params[0].dtype)  # grads, then used flags
        self.flags = self.flat[n:]  # (P,) with find_unused_parameters: 1 where a rank used the parameter
        self.ready, self.request = set(), None

    def pack(self, scale, used):
        """Copy the gradients (zeros where there is none) into `flat`, times `scale`; flags for `used`."""
        for p, s, e in zip(self.params, self.starts, self.ends, strict=True):
            seg = self.flat[s:e]
            if p.grad is None:
                seg[...] = 0
            else:
                np.multiply(p.grad._data.reshape(-1), scale, out=seg)  # (numel,) in C order
        if self.flags.size:
            self.flags[...] = [id(p) in used for p in self.params]

    def unpack(self):
        """Copy the averaged gradients back into each `.grad` (made where missing, left alone where no rank
        used the parameter)."""
        for i, (p, s, e) in enumerate(zip(self.params, self.starts, self.ends, strict=True)):
            if self.flags.size and self.flags[i] == 0:
                continue
            g = self.flat[s:e].reshape(p.shape)  # the parameter's shape, C order
            if p.grad is None:
                p.grad = _wrap(g.copy())
            elif p.grad._data.flags.writeable:
                p.grad._data[...] = g
            else:
                p.grad._data = g.copy()


def _buckets(params, cap_mb, flags):
    """Split `params` (taken in reverse) into per-dtype buckets of about `cap_mb` (first 1 MB for None)."""
    caps, out, open_ = [FIRST_BUCKET_MB if cap_mb is None else cap_mb, cap_mb or 25], [], {}
    for p in reversed(params):
        bucket = open_.setdefault(p.dtype, [[], 0])
        bucket[0].append(p)
        bucket[1] += p._data.nbytes
        if bucket[1] >= caps[min(len(out), 1)] * 2 ** 20:
            out.append(_Bucket(bucket[0], flags))
            del open_[p.dtype]
    out.extend(_Bucket(b[0], flags) for b in open_.values())
    return out


def _broadcast(tensors, comm, root=0):
    """Copy rank `root`'s values of `tensors` into every rank's, one broadcast per dtype."""
    by_dtype = {}
    for t in tensors:
        by_dtype.setdefault(t._data.dtype, []).append(t)
    for group in by_dtype.values():
        flat = np.concatenate([t._data.reshape(-1) for t in group])  # (total,) one dtype
        comm.Bcast(flat, root)
        start = 0
        for t in group:
            t._data[...] = flat[start:start + t.numel()].reshape(t.shape)  # the tensor's shape
            start += t.numel()


def _leaves(outputs):
    """ids of the tensors that `outputs` (a tensor or nested tuples, lists, dicts of them) were made from."""
    stack, roots = [outputs], []
    while stack:
        o = stack.pop()
        if isinstance(o, Tensor):
            roots += [o] if o.requires_grad else []
        elif isinstance(o, (list, tuple)):
            stack.extend(o)
        elif isinstance(o, dict):
            stack.extend(o.values())
    return {id(t) for t in _topo_order(roots)} if roots else set()


class DistributedDataParallel(Module):
    """Data parallelism over MPI: wrap a model in every process; backward() averages the gradients."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 init_sync=True, process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if device_ids or output_device is not None:
            raise ValueError(f"DistributedDataParallel device_ids and output_device arguments only work with "
                             f"GPU modules; baby's modules are on the CPU: pass device_ids=None (got "
                             f"device_ids {device_ids}, output_device {output_device})")
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a baby.nn.Module, got "
                            f"{type(module).__name__}")
        self.module = module
        group = resolve(process_group, "DistributedDataParallel")
        if group is None:
            raise ValueError("DistributedDataParallel: this process is not in process_group")
        self.process_group, self._comm = group, group.comm
        self.dim, self.broadcast_buffers = dim, broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view, self.static_graph = gradient_as_bucket_view, static_graph
        self.bucket_cap_mb = 25 if bucket_cap_mb is None else bucket_cap_mb
        self.require_backward_grad_sync = True
        self._params = [p for p in module.parameters() if p.requires_grad]
        if init_sync:
            _broadcast(list(module.parameters()) + list(module.buffers()), self._comm)
        self._buckets = _buckets(self._params, bucket_cap_mb, find_unused_parameters)
        self._where = {id(p): (b, i) for b in self._buckets for i, p in enumerate(b.params)}
        self._used, self._next, self._started = None, 0, False
        self.wait_seconds, self.sent_bytes = 0.0, 0  # time blocked on all-reduces; bytes all-reduced
        for p in self._params:
            p.register_post_accumulate_grad_hook(self._ready)

    def forward(self, *inputs, **kwargs):
        if self._started:
            missing = [i for i, p in enumerate(self._params) if id(p) not in self._where[id(p)][0].ready]
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. This "
                "error indicates that your module has parameters that were not used in producing loss. You "
                "can enable unused parameter detection by passing the keyword argument "
                "`find_unused_parameters=True` to `baby.nn.parallel.DistributedDataParallel`. Parameter "
                f"indices which did not receive grad: {missing[:10]}")
        if self.broadcast_buffers:
            buffers = list(self.module.buffers())
            if buffers and self._comm.Get_size() > 1:
                _broadcast(buffers, self._comm)
        out = self.module(*inputs, **kwargs)
        if self.find_unused_parameters and is_grad_enabled() and self.require_backward_grad_sync:
            self._used = _leaves(out)
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this block backward() only accumulates local gradients (no all-reduce)."""
        old, self.require_backward_grad_sync = self.require_backward_grad_sync, False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def _ready(self, p):
        """The post-accumulate-grad hook: `p`'s gradient is complete; start every bucket that is full."""
        if not self.require_backward_grad_sync or id(p) not in self._where:  # (a deep copy's parameter)
            return
        if not self._started:
            self._started = True
            if self._used is not None:
                for q in self._params:
                    if id(q) not in self._used:
                        self._mark(q)
        self._mark(p)
        started = [b.request for b in self._buckets[:self._next]]
        if started:
            mpi().Request.Testall(started)  # lets MPI move the started all-reduces along
        while self._next < len(self._buckets) and self._full(self._buckets[self._next]):
            self._start(self._buckets[self._next])
            self._next += 1
        if self._next == len(self._buckets):
            self._finish()

    def _mark(self, p):
        """Count `p`'s gradient in (an error the second time in one iteration)."""
        bucket, i = self._where[id(p)]
        if i in bucket.ready:
            raise RuntimeError(f"Expected to mark a variable ready only once: parameter "
                               f"{self._params.index(p)} of shape {tuple(p.shape)} got its gradient twice "
                               f"in one iteration (two backward() calls need no_sync() for the first)")
        bucket.ready.add(i)

    @staticmethod
    def _full(bucket):
        return len(bucket.ready) == len(bucket.params)

    def _start(self, bucket):
        """Pack the bucket and start its all-reduce."""
        used = self._used if self._used is not None else {id(p) for p in bucket.params}
        bucket.pack(1 / self._comm.Get_size(), used)
        bucket.request = self._comm.Iallreduce(mpi().IN_PLACE, bucket.flat, mpi().SUM)
        self.sent_bytes += bucket.flat.nbytes

    def _finish(self):
        """Wait for every bucket's all-reduce, write the averages into the gradients, reset for the next."""
        start = time.perf_counter()
        mpi().Request.Waitall([b.request for b in self._buckets])
        self.wait_seconds += time.perf_counter() - start
        for b in self._buckets:
            b.unpack()
            b.ready, b.request = set(), None
        self._used, self._next, self._started = None, 0, False

    def extra_repr(self):
        return f"world_size={self.process_group.size()}, buckets={len(self._buckets)}"


DDP = DistributedDataParallel
