"""Layers: Linear, Identity, Flatten, Unflatten, Dropout (1d/2d/3d), Embedding, Upsample, padding layers,
Residual (activations are in activation.py)."""

import math
import numbers

from .. import init
from . import functional as F
from .module import Module, Parameter


class Linear(Module):
    """y = x @ weight.T + bias; weight (out, in) and bias from U(-1/sqrt(in), 1/sqrt(in)) as PyTorch."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        w = init.kaiming_uniform(in_features, out_features, shape=(out_features, in_features),
                                 nonlinearity="leaky_relu", a=math.sqrt(5), device=device, dtype=dtype)
        self.weight = Parameter(w)
        bound = 1 / math.sqrt(in_features) if in_features else 0
        self.bias = Parameter(init.uniform(out_features, -bound, bound, device=device, dtype=dtype)) \
            if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={bias}"


class Identity(Module):
    """Returns its input (any constructor arguments are ignored, as PyTorch's)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Merge dims start_dim..end_dim into one (by default all but the batch dim)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Inverted dropout: in training zero each element with probability p, scale the rest by 1 / (1 - p)."""

    drop = staticmethod(F.dropout)

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError(f"dropout probability must be a number in [0, 1], got {p!r}")
        self.p, self.inplace = p, inplace

    def forward(self, x):
        y = self.drop(x, self.p, self.training)
        return x.copy_(y) if self.inplace and y is not x else y

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(Dropout):
    """Zero whole channels of (N, C, L) inputs with probability p."""

    drop = staticmethod(F.dropout1d)


class Dropout2d(Dropout):
    """Zero whole channels of (N, C, H, W) inputs with probability p."""

    drop = staticmethod(F.dropout2d)


class Dropout3d(Dropout):
    """Zero whole channels of (N, C, D, H, W) inputs with probability p."""

    drop = staticmethod(F.dropout3d)


class Unflatten(Module):
    """Split dim `dim` into `unflattened_size`."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        return x.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Embedding(Module):
    """A lookup table: integer indices (*) -> rows of weight (num_embeddings, embedding_dim), N(0, 1)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None,
                 dtype=None):
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for {num_embeddings} "
                                 "embeddings")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.max_norm, self.norm_type = max_norm, norm_type
        w = _weight if _weight is not None else init.normal((num_embeddings, embedding_dim), device=device,
                                                             dtype=dtype)
        self.weight = Parameter(w, requires_grad=not _freeze)
        if _weight is None and padding_idx is not None:
            self.weight._data[padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        """An Embedding whose weight is `embeddings` (frozen unless freeze=False)."""
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings are expected to be 2-dimensional "
                             f"(num_embeddings, embedding_dim), got shape {tuple(embeddings.shape)}")
        n, d = embeddings.shape
        return cls(n, d, padding_idx, max_norm, norm_type, _weight=embeddings, _freeze=freeze)

    def forward(self, x):
        return F.embedding(x, self.weight, self.padding_idx, self.max_norm, self.norm_type)

    def extra_repr(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


class Upsample(Module):
    """Resize the spatial dims (F.interpolate): by `size` or `scale_factor`, nearest or (bi/tri)linear."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size, self.scale_factor, self.mode, self.align_corners = size, scale_factor, mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self):
        what = f"size={self.size}" if self.size is not None else f"scale_factor={float(self.scale_factor)}"
        return f"{what}, mode='{self.mode}'"


class _Pad(Module):
    """Pad the trailing dims with F.pad in `mode`."""

    mode, dims = "constant", 2

    def __init__(self, padding, value=0.0):
        super().__init__()
        one = isinstance(padding, numbers.Integral)
        self.padding = (padding,) * (2 * self.dims) if one else tuple(padding)
        self.value = value

    def forward(self, x):
        return F.pad(x, self.padding, self.mode, self.value if self.mode == "constant" else None)

    def extra_repr(self):
        return f"{self.padding}" + (f", value={self.value}" if self.mode == "constant" else "")


def _pad_layer(name, mode, dims, doc):
    return type(name, (_Pad,), {"mode": mode, "dims": dims, "__doc__": doc})


ZeroPad1d = _pad_layer("ZeroPad1d", "constant", 1, "Pad the last dim with zeros.")
ZeroPad2d = _pad_layer("ZeroPad2d", "constant", 2, "Pad the last 2 dims with zeros.")
ConstantPad1d = _pad_layer("ConstantPad1d", "constant", 1, "Pad the last dim with `value`.")
ConstantPad2d = _pad_layer("ConstantPad2d", "constant", 2, "Pad the last 2 dims with `value`.")
ReflectionPad1d = _pad_layer("ReflectionPad1d", "reflect", 1, "Pad the last dim by reflection.")
ReflectionPad2d = _pad_layer("ReflectionPad2d", "reflect", 2, "Pad the last 2 dims by reflection.")
ReplicationPad1d = _pad_layer("ReplicationPad1d", "replicate", 1, "Pad the last dim with edge values.")
ReplicationPad2d = _pad_layer("ReplicationPad2d", "replicate", 2, "Pad the last 2 dims with edge values.")


class Residual(Module):
    """x + fn(x)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return x + self.fn(x)
