"""batch_norm: one fused op over channels (axis 1) with a closed-form backward, as PyTorch's batch_norm."""

import math

from ...arena import fresh_like, memory_order, scratch
from ...backend import einsum, xp
from ...parallel import each
from ...tensor import Function, Tensor

PIECE_BYTES = 1 << 18  # a piece of a pass: x's, gy's, gx's piece and a temporary stay in a core's cache
MATERIALIZE = 4  # images from which the per-channel values are laid out in memory (`_image`)
ROW = 4096  # channels-last: the numbers they are laid out over


def _channel_sum(a, b=None, c=1):
    """Sum of `a` (or of a * b, without the temporary) over every axis but c: shape (a.shape[c],)."""
    ix = "abcdefghijklmnopq"[:a.ndim]  # one letter per axis
    return einsum(f"{ix}->{ix[c]}", a) if b is None else einsum(f"{ix},{ix}->{ix[c]}", a, b)


def _in_memory_order(a):
    """(order, m, c): a's axes outermost-first in memory (axis 0 kept first), a transposed to that order
    (C-contiguous: a contiguous copy in a's own order where a's memory is in no order of its axes), and where
    axis 1 went."""
    if a.flags.c_contiguous:  # (the common case, without sorting the strides)
        return list(range(a.ndim)), a, 1
    order = memory_order(a, first=0)
    m = a.transpose(order)
    if not m.flags.c_contiguous:
        order, m = list(range(a.ndim)), xp.ascontiguousarray(a)
    return order, m, order.index(1)


def _unordered(a, order):
    """a, laid out in memory `order` (from `_in_memory_order`), seen in the original axes' order."""
    return a if order == list(range(a.ndim)) else a.transpose(xp.argsort(order))


def _pieces(fn, a):
    """[fn(r) for slices r of a's images of about PIECE_BYTES each], shared between the pool's threads:
    each pass's temporaries stay in cache (the same slices for arrays of a's shape)."""
    step = max(1, PIECE_BYTES * a.shape[0] // max(a.nbytes, 1))
    pieces = [slice(i, i + step) for i in range(0, a.shape[0], step)]
    return each(fn, pieces)


def _image(v, xm, c):
    """The per-channel values v (C,) broadcast against xm; for MATERIALIZE images or more, laid out in memory
    over xm's dims from the channels' inwards (channels-last: with rows outside them up to ROW numbers):
    ops on a piece then run long same-shape inner loops, which NumPy runs about twice as fast as against a
    (1, C, 1, 1) broadcast (fewer images do not repay the copy)."""
    shape = [1] * xm.ndim
    shape[c] = v.size  # v broadcast against xm
    if xm.shape[0] < MATERIALIZE:
        return v.reshape(shape)
    lo = c  # the first dim laid out
    while lo > 1 and math.prod(xm.shape[lo:]) < ROW:
        lo -= 1
    out = xp.empty((1,) * lo + xm.shape[lo:], v.dtype)  # (1.., *xm.shape[lo:])
    out[...] = v.reshape(shape)
    return out


def _temp(a):
    """This thread's scratch array shaped like the contiguous `a` (valid until the thread's next call)."""
    return scratch("batch_norm", a.shape, a.dtype)


class BatchNorm(Function):
    """(x - mean) / sqrt(var + eps) * w + b per channel of x (N, C, *d); batch statistics unless given.

    Training (no statistics given): mean and biased var over every axis but 1, kept on the op as `mean`,
    `var` (C,) for the running update, from one read of x (each piece's sum and squares about its own mean,
    combined). With a = w / std, y = (x - mean) * a + b; given statistics,
    y = x * a + (b - mean * a).
    With M = N * prod(d) and xc = x - mean: gb = sum(gy), gw = sum(gy * xc) / std, gx = a * gy - a * gw /
    (std * M) * xc - a * gb / M; with given statistics gx = a * gy. Every pass runs over pieces of the images
    whose temporaries stay in cache (xc is recomputed, never stored), shared between the thread pool; the
    arrays are taken in x's memory order, whichever it is. A small x is one piece: its xc, left in the
    thread's scratch by the statistics' pass, serves the next pass too (one subtraction fewer each way: a
    batch-1 BatchNorm2d forward and backward 25% faster).
    """

    def __init__(self, eps, mean=None, var=None):
        self.eps, self.mean, self.var, self.training = eps, mean, var, mean is None

    def forward(self, x, w, b):
        C, M = x.shape[1], x.size // x.shape[1]
        order, xm, c = _in_memory_order(x)  # xm: x in memory order, channels on its axis c
        if self.training:
            shape = [1] * x.ndim
            shape[c] = C  # per-channel values broadcast against xm

            def moments(r):  # x read once: a piece's sum, then its squares about its own mean, in cache
                p, n = xm[r], xm[r].size // C
                s = _channel_sum(p, c=c)
                t = xp.subtract(p, (s / n).reshape(shape), out=_temp(p))
                return s, _channel_sum(t, t, c), n

            parts = _pieces(moments, xm)
            self.mean = sum(s for s, _, _ in parts) / M  # (C,)
            # biased var (C,): the pieces' squares combined by Chan, Golub and LeVeque's pairwise update
            self.var = parts[0][1] / M if len(parts) == 1 else \
                sum(q + n * (s / n - self.mean) ** 2 for s, q, n in parts) / M
            mean = _image(self.mean, xm, c)
        kept = self.training and len(parts) == 1  # the one piece's x - mean is still in this thread's scratch
        self.invstd = 1 / xp.sqrt(self.var + self.eps)  # (C,)
        a = w * self.invstd  # (C,)
        shift = _image(b if self.training else b - self.mean * a, xm, c)
        a = _image(a, xm, c)
        y = fresh_like(xm)  # laid out as xm

        def normalize(r):  # training: (x - mean) * a + b, so a near-zero output keeps PyTorch's sign for ReLU
            if kept:
                xp.multiply(_temp(xm), a, out=y)
            elif self.training:
                xp.subtract(xm[r], mean, out=y[r])
                y[r] *= a
            else:
                xp.multiply(xm[r], a, out=y[r])
            y[r] += shift

        _pieces(normalize, xm)
        return _unordered(y, order)  # x's shape, in x's memory order

    def backward(self, gy, node):
        x, w, b = node.inputs
        C, M = x.shape[1], x.numel() // x.shape[1]
        order, xm, c = _in_memory_order(x._data)  # as in the forward
        gm = xp.ascontiguousarray(gy.transpose(order))  # laid out as xm (a view where gy already is)
        mean = _image(self.mean, xm, c)

        def sums(r):
            xc = xp.subtract(xm[r], mean, out=_temp(xm[r]))
            return _channel_sum(gm[r], c=c), _channel_sum(gm[r], xc, c)

        parts, zero = _pieces(sums, gm), xp.zeros(C, gy.dtype)  # (no pieces: an empty batch)
        kept = len(parts) == 1  # the one piece's x - mean is still in this thread's scratch
        gb = sum((p[0] for p in parts), zero)  # (C,)
        gw = sum((p[1] for p in parts), zero) * self.invstd  # (C,)
        a = w._data * self.invstd  # (C,)
        gx = None
        if x.requires_grad:
            gx = fresh_like(gm)  # laid out as xm
            folded = False
            if self.training:
                k, shift = a * self.invstd * gw / M, a * gb / M  # (C,), (C,)
                folded = not kept and bool(xp.all(k != 0))
                if folded:  # shift folded into the mean: k (x - mean) + shift = k (x - (mean - shift / k))
                    mean = _image(self.mean - shift / k, xm, c)
                else:
                    shift = _image(shift, xm, c)
                k = _image(k, xm, c)
            a = _image(a, xm, c)

            def grad(r):  # a gy - k (x - mean) - a gb / M (not k x - k mean: they cancel), or a gy
                xp.multiply(gm[r], a, out=gx[r])
                if self.training:
                    xc = _temp(xm) if kept else xp.subtract(xm[r], mean, out=_temp(xm[r]))
                    xc *= k
                    gx[r] -= xc
                    if not folded:
                        gx[r] -= shift

            _pieces(grad, gm)
            gx = _unordered(gx, order)  # x's shape, in x's memory order
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
