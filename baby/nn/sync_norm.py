"""SyncBatchNorm: batch normalization whose statistics are those of every rank's batch together."""

import numpy as np

from ..tensor import Function, _wrap
from .functional.norm import _channel_sum
from .norm import _BatchNorm


class SyncBatchNormOp(Function):
    """(x - mean) / sqrt(var + eps) * w + b per channel, mean and biased var over all ranks' x (N, C, *d).

    Forward: one all-reduce of the per-channel sums and the count M, one of the centred squares. Backward:
    one all-reduce of sum(gy) and sum(gy * xc), so gx = s * (gy - sum(gy) / M - xc * sum(gy * xc) /
    (M * (var + eps))) with s = w / std; the weight and bias gradients stay this rank's own (DDP averages).
    """

    def __init__(self, eps, comm, mpi):
        self.eps, self.comm, self.mpi = eps, comm, mpi

    def _sum(self, a):
        """`a` summed over the ranks, in place."""
        self.comm.Allreduce(self.mpi.IN_PLACE, a, self.mpi.SUM)
        return a

    def forward(self, x, w, b):
        C = x.shape[1]
        shape = (1, C) + (1,) * (x.ndim - 2)  # per-channel values broadcast against x
        s = self._sum(np.append(_channel_sum(x), x.size // C).astype(x.dtype))  # (C + 1,) sums, count
        self.M, self.mean = s[C], s[:C] / s[C]
        self.xc = x - self.mean.reshape(shape)  # (N, C, *d)
        self.var = self._sum(_channel_sum(self.xc, self.xc)) / self.M  # (C,), biased
        self.invstd = 1 / np.sqrt(self.var + self.eps)  # (C,)
        return self.xc * (w * self.invstd).reshape(shape) + b.reshape(shape)

    def backward(self, gy, node):
        x, w, b = node.inputs
        C = x.shape[1]
        shape = (1, C) + (1,) * (x.ndim - 2)  # per-channel values broadcast against x
        local = np.concatenate([_channel_sum(gy), _channel_sum(gy, self.xc)])  # (2C,) this rank's sums
        total = self._sum(local.copy())  # (2C,) every rank's
        gb, gw = local[:C], local[C:] * self.invstd
        k = (total[C:] * self.invstd ** 2 / self.M).reshape(shape)
        gx = (w._data * self.invstd).reshape(shape) * (gy - (total[:C] / self.M).reshape(shape) - self.xc * k)
        return (gx if x.requires_grad else None, gw if w.requires_grad else None,
                gb if b.requires_grad else None)


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over (N, C, *d) whose training statistics are all-reduced over `process_group`'s ranks."""

    ndims, layout = (2, 3, 4, 5), "(N, C, *d)"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def forward(self, x):
        from ..distributed.group import is_initialized, mpi, resolve

        g = resolve(self.process_group, "SyncBatchNorm") if is_initialized() else None
        if not self.training or g is None or g.size() == 1:
            return super().forward(x)
        if x.ndim not in self.ndims or x.shape[1] != self.num_features:
            return super().forward(x)  # the plain layer's error message
        momentum = self.momentum
        if self.track_running_stats:
            self.num_batches_tracked._data += 1
            momentum = 1 / int(self.num_batches_tracked._data) if momentum is None else momentum
        C = self.num_features
        w = self.weight if self.weight is not None else _wrap(np.ones(C, x.dtype))
        b = self.bias if self.bias is not None else _wrap(np.zeros(C, x.dtype))
        op = SyncBatchNormOp(self.eps, g.comm, mpi())
        y = op(x, w, b)
        if self.track_running_stats:
            M = float(op.M)
            self.running_mean._data *= 1 - momentum
            self.running_mean._data += momentum * op.mean
            self.running_var._data *= 1 - momentum
            self.running_var._data += (momentum * M / (M - 1)) * op.var
        return y

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """`module` with every BatchNorm*d replaced by a SyncBatchNorm sharing its parameters and buffers."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            for name in ("weight", "bias"):
                if getattr(module, name, None) is not None:
                    setattr(out, name, getattr(module, name))
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                out.register_buffer(name, getattr(module, name))
            out.train(module.training)
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out

