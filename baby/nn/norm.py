"""Normalization layers: LayerNorm and BatchNorm1d/2d/3d (running statistics as buffers), as PyTorch."""

import numbers

from ..backend import xp
from ..tensor import Tensor
from . import functional as F
from .module import Module, Parameter


class LayerNorm(Module):
    """Normalize over the trailing `normalized_shape` dims, then an elementwise affine (weight 1, bias 0)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype="float32"):
        super().__init__()
        one = isinstance(normalized_shape, numbers.Integral)
        shape = (normalized_shape,) if one else tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.elementwise_affine, self.has_bias = elementwise_affine, bias
        self.weight = Parameter(xp.ones(shape), dtype=dtype) if elementwise_affine else None
        self.bias = Parameter(xp.zeros(shape), dtype=dtype) if elementwise_affine and bias else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.has_bias}")


class _BatchNorm(Module):
    """Per-channel normalization with batch statistics in training and running statistics in eval."""

    ndims, layout = (), ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 dtype="float32", *, bias=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats, self.has_bias = affine, track_running_stats, bias
        self.weight = Parameter(xp.ones(num_features), dtype=dtype) if affine else None
        self.bias = Parameter(xp.zeros(num_features), dtype=dtype) if affine and bias else None
        track = track_running_stats
        self.register_buffer("running_mean", Tensor(xp.zeros(num_features), dtype=dtype) if track else None)
        self.register_buffer("running_var", Tensor(xp.ones(num_features), dtype=dtype) if track else None)
        self.register_buffer("num_batches_tracked", Tensor(0, dtype=xp.int64) if track else None)

    def forward(self, x):
        if x.ndim not in self.ndims:
            dims = " or ".join(f"{n}-D" for n in self.ndims)
            raise ValueError(f"{type(self).__name__} expected a {dims} input {self.layout}, got {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}) got input of shape {x.shape}: "
                             f"expected {self.num_features} channels at dim 1")
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data += 1
            momentum = 1 / int(self.num_batches_tracked._data) if momentum is None else momentum
        batch_stats = self.training or self.running_mean is None
        keep = not self.training or self.track_running_stats  # pass the buffers (updated in training)
        return F.batch_norm(x, self.running_mean if keep else None, self.running_var if keep else None,
                            self.weight, self.bias, batch_stats, momentum, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.has_bias}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs."""

    ndims, layout = (2, 3), "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs."""

    ndims, layout = (4,), "(N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalization of (N, C, D, H, W) inputs."""

    ndims, layout = (5,), "(N, C, D, H, W)"
