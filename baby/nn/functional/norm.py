"""batch_norm: one fused op over channels (axis 1) with a closed-form backward, as PyTorch's batch_norm."""

from ...arena import fresh_like
from ...backend import xp
from ...parallel import split
from ...tensor import Function, Tensor


def _channel_sum(a, b=None):
    """Sum of `a` (or of a * b, without the temporary) over every axis but 1: shape (C,)."""
    ix = "abcdefghijklmnopq"[:a.ndim]  # one letter per axis; "b" is the channel axis
    return xp.einsum(f"{ix}->b", a) if b is None else xp.einsum(f"{ix},{ix}->b", a, b)


class BatchNorm(Function):
    """(x - mean) / sqrt(var + eps) * w + b per channel of x (N, C, *d); batch statistics unless given.

    Training (no statistics given): mean and biased var over every axis but 1, kept on the op as
    `mean`, `var` (C,) for the running update, and the centred xc = x - mean for the backward. With
    M = N * prod(d), s = w / std: gb = sum(gy), gw = sum(gy * xc) / std, gx = s * gy - s * gw / (std * M) * xc
    - s * gb / M; with given statistics gx = s * gy. Every pass is split by batch rows over the thread pool.
    """

    def __init__(self, eps, mean=None, var=None):
        self.eps, self.mean, self.var, self.training = eps, mean, var, mean is None

    def forward(self, x, w, b):
        C, M = x.shape[1], x.size // x.shape[1]
        shape = (1, C) + (1,) * (x.ndim - 2)  # per-channel values broadcast against x
        y = fresh_like(x)  # (N, C, *d) in x's memory layout
        if self.training:
            self.mean = sum(split(lambda r: _channel_sum(x[r]), x)) / M  # (C,)
            mean = self.mean.reshape(shape)
            centred = lambda r: xp.subtract(x[r], mean, out=y[r])  # noqa: E731  (y holds xc for now)
            self.var = sum(split(lambda r: _channel_sum(centred(r), y[r]), x)) / M  # (C,), biased
            self.xc, y = y, fresh_like(x)
        self.invstd = 1 / xp.sqrt(self.var + self.eps)  # (C,)
        a = (w * self.invstd).reshape(shape)
        c = (b if self.training else b - self.mean * w * self.invstd).reshape(shape)
        src = self.xc if self.training else x  # y = xc * a + b, or x * a + (b - mean * a)

        def normalize(r):
            xp.multiply(src[r], a, out=y[r])
            y[r] += c

        split(normalize, x)
        return y

    def backward(self, gy, node):
        x, w, b = node.inputs
        C, M = x.shape[1], x.numel() // x.shape[1]
        shape = (1, C) + (1,) * (x.ndim - 2)  # per-channel values broadcast against x
        xc = self.xc if self.training else x._data - self.mean.reshape(shape)  # (N, C, *d)
        sums = split(lambda r: (_channel_sum(gy[r]), _channel_sum(gy[r], xc[r])), gy)
        gb, gw = sum(s[0] for s in sums), sum(s[1] for s in sums) * self.invstd  # (C,), (C,)
        scale = w._data * self.invstd  # (C,)
        gx = None
        if x.requires_grad:
            gx = fresh_like(x._data)
            k, c = (scale * self.invstd * gw / M).reshape(shape), (scale * gb / M).reshape(shape)
            s = scale.reshape(shape)

            def grad(r):
                xp.multiply(gy[r], s, out=gx[r])
                if self.training:
                    gx[r] -= xp.multiply(xc[r], k)
                    gx[r] -= c

            split(grad, gy)
        return gx, gw if w.requires_grad else None, gb if b.requires_grad else None


def _check(name, t, C):
    if t is not None and (not isinstance(t, Tensor) or t.shape != (C,)):
        got = t.shape if isinstance(t, Tensor) else type(t).__name__
        raise ValueError(f"batch_norm: {name} must be a Tensor of shape ({C},) for {C} channels, got {got}")


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalize x (N, C, *d) per channel; training updates running_mean/var (C,) in place, as PyTorch."""
    if x.ndim < 2:
        raise ValueError(f"batch_norm: input must be (N, C, *d), got shape {tuple(x.shape)}")
    C = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        _check(name, t, C)
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: pass both running_mean and running_var, or neither")
    if not training and running_mean is None:
        raise ValueError("batch_norm: training=False needs running_mean and running_var")
    M = x.numel() // max(C, 1)
    if training and M <= 1:
        raise ValueError(f"batch_norm: training needs more than 1 value per channel, got input "
                         f"{tuple(x.shape)}")
    w = weight if weight is not None else Tensor(xp.ones(C, dtype=x.dtype), dtype=x.dtype)
    b = bias if bias is not None else Tensor(xp.zeros(C, dtype=x.dtype), dtype=x.dtype)
    stats = (None, None) if training else (running_mean._data, running_var._data)
    op = BatchNorm(eps, *stats)
    y = op(x, w, b)
    if training and running_mean is not None:
        running_mean._data *= 1 - momentum
        running_mean._data += momentum * op.mean
        running_var._data *= 1 - momentum
        running_var._data += (momentum * M / (M - 1)) * op.var
    return y


def _affine(y, weight, bias):
    """y (N, C, *d) * weight + bias, both (C,) or None."""
    shape = (1, y.shape[1]) + (1,) * (y.ndim - 2)  # per-channel values broadcast against y
    y = y if weight is None else y * weight.reshape(*shape)
    return y if bias is None else y + bias.reshape(*shape)


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalize x (N, C, *d) over each group of C / num_groups channels (and all of *d), then affine."""
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ValueError(f"group_norm: num_groups={num_groups} must divide the channels of input (N, C, *d), "
                         f"got shape {tuple(x.shape)}")
    N, C = x.shape[:2]
    for name, t in (("weight", weight), ("bias", bias)):
        _check(name, t, C)
    y = batch_norm(x.reshape(1, N * num_groups, -1), None, None, training=True, eps=eps)  # (1, N G, C/G *d)
    return _affine(y.reshape(*x.shape), weight, bias)


def instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalize each channel of each sample of x (N, C, *d) over *d; running statistics (C,) are updated
    with the mean over samples, as PyTorch; use_input_stats=False normalizes with them instead."""
    if x.ndim < 3:
        raise ValueError(f"instance_norm: input must be (N, C, *d) with spatial dims, got shape "
                         f"{tuple(x.shape)}")
    N, C = x.shape[:2]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        _check(name, t, C)
    if not use_input_stats:
        return batch_norm(x, running_mean, running_var, weight, bias, training=False, eps=eps)
    y = batch_norm(x.reshape(1, N * C, *x.shape[2:]), None, None, training=True, eps=eps)  # (1, N C, *d)
    if running_mean is not None:
        a = x._data.reshape(N, C, -1)  # (N, C, M)
        running_mean._data *= 1 - momentum
        running_mean._data += momentum * a.mean(axis=(0, 2))
        running_var._data *= 1 - momentum
        running_var._data += momentum * a.var(axis=2, ddof=1).mean(axis=0)
    return _affine(y.reshape(*x.shape), weight, bias)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """input / sqrt(mean(input**2) + eps) over the trailing `normalized_shape` dims, times weight; eps
    defaults to the machine epsilon of input's dtype."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if len(shape) == 0 or tuple(input.shape[-len(shape):]) != shape:
        raise RuntimeError(f"rms_norm: given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size {tuple(input.shape)}")
    if weight is not None and tuple(weight.shape) != shape:
        raise RuntimeError(f"rms_norm: weight has shape {tuple(weight.shape)}, expected normalized_shape "
                           f"{shape}")
    eps = float(xp.finfo(input.dtype).eps) if eps is None else eps
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    y = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()  # (..., *shape)
    return y if weight is None else y * weight
