"""Normalization layers: LayerNorm, RMSNorm, GroupNorm, BatchNorm1d/2d/3d and InstanceNorm1d/2d/3d (running
statistics as buffers), as PyTorch."""

import numbers

from .. import dtypes
from ..backend import xp
from ..device import as_device
from ..tensor import Tensor
from . import functional as F
from .module import Module, Parameter


class LayerNorm(Module):
    """Normalize over the trailing `normalized_shape` dims, then an elementwise affine (weight 1, bias 0)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None,
                 dtype=None):
        super().__init__()
        as_device(device)
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


def _dtype(dtype):
    return dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)


class GroupNorm(Module):
    """Normalize (N, C, *d) over groups of C / num_groups channels, then a per-channel affine."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None):
        super().__init__()
        as_device(device)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_groups={num_groups} must divide num_channels={num_channels}")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.weight = Parameter(xp.ones(num_channels), dtype=_dtype(dtype)) if affine else None
        self.bias = Parameter(xp.zeros(num_channels), dtype=_dtype(dtype)) if affine else None

    def forward(self, x):
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class _InstanceNorm(Module):
    """Normalize each channel of each sample over its spatial dims; optional affine and running stats."""

    dims = 2

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False,
                 device=None, dtype=None):
        super().__init__()
        as_device(device)
        d = _dtype(dtype)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(xp.ones(num_features), dtype=d) if affine else None
        self.bias = Parameter(xp.zeros(num_features), dtype=d) if affine else None
        track = track_running_stats
        self.register_buffer("running_mean", Tensor(xp.zeros(num_features), dtype=d) if track else None)
        self.register_buffer("running_var", Tensor(xp.ones(num_features), dtype=d) if track else None)
        self.register_buffer("num_batches_tracked", Tensor(0, dtype=xp.int64) if track else None)

    def forward(self, x):
        if x.ndim not in (self.dims + 1, self.dims + 2):
            raise ValueError(f"{type(self).__name__} expected a {self.dims + 1}-D or {self.dims + 2}-D "
                             f"input, got shape {tuple(x.shape)}")
        batched = x.ndim == self.dims + 2
        x = x if batched else x.unsqueeze(0)
        use_input_stats = self.training or not self.track_running_stats
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats,
                            self.momentum, self.eps)
        return y if batched else y.squeeze(0)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L) inputs."""

    dims = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W) inputs."""

    dims = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of (N, C, D, H, W) inputs."""

    dims = 3


class RMSNorm(Module):
    """x / sqrt(mean(x**2) + eps) over the trailing `normalized_shape` dims, times a weight (ones)."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        as_device(device)
        one = isinstance(normalized_shape, numbers.Integral)
        shape = (normalized_shape,) if one else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.weight = Parameter(xp.ones(shape), dtype=_dtype(dtype)) if elementwise_affine else None
        if not elementwise_affine:
            self.register_parameter("weight", None)

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class LayerNorm1d(LayerNorm):
    """The book's name: LayerNorm over the last dim of size `dim`."""

    def __init__(self, dim, eps=1e-5, device=None, dtype=None):
        super().__init__(dim, eps, device=device, dtype=dtype)


class _BatchNorm(Module):
    """Per-channel normalization with batch statistics in training and running statistics in eval."""

    ndims, layout = (), ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__()
        as_device(device)
        dtype = _dtype(dtype)
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
            raise ValueError(f"{type(self).__name__} expected a {dims} input {self.layout}, got "
                             f"{tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}) got input of shape "
                             f"{tuple(x.shape)}: "
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
