"""Derivative rules of the convolutions (the book's formulation, ops/conv/book/graph.py) and of the fused
ops of nn.functional: batch_norm, SyncBatchNorm, layer_norm and cross_entropy are differentiated as their
composition from baby's ops (recomputed from the same inputs, `higher.through`); binary_cross_entropy has
PyTorch's rule."""

from ...backend import xp
from ...nn.functional.basic import LayerNorm
from ...nn.functional.loss import BinaryCrossEntropy, CrossEntropy
from ...nn.functional.norm import BatchNorm
from ...nn.sync_norm import SyncBatchNormOp
from ...ops import elementwise as E
from ...ops import reduce as R
from ...ops.conv import Conv, ConvTranspose
from ...ops.conv.book import graph as book
from ...tensor import Function, _wrap
from ..higher import derivative, through


def _channels_last(op, x, w, gy):
    """x, w, gy of a Conv or ConvTranspose op as channels-last Tensors (permuted where the op is `nchw`)."""
    if not op.nchw:
        return x, w, gy
    n = x.ndim
    return (x.permute(0, *range(2, n), 1), w.permute(*range(2, n), 1, 0),  # (N, *S, C), (*k, C/G, C')
            gy.permute(0, *range(2, n), 1))  # (N, *O, C')


def _as_op_gives(op, gx, gw):
    """gx (N, *S, C) and gw (*k, C/G, C') back in the op's layouts."""
    if not op.nchw:
        return gx, gw
    n = len(op.stride) + 2
    return (gx if gx is None else gx.permute(0, n - 1, *range(1, n - 1)),  # (N, C, *S)
            gw if gw is None else gw.permute(n - 1, n - 2, *range(n - 2)))  # (C', C/G, *k)


@derivative(Conv)
def _conv(op, gy, node):
    x, w, *b = node.inputs
    xl, wl, gl = _channels_last(op, x, w, gy)
    g = op.geometry(xl.shape, wl.shape)
    gx = book.input_grad(gl, wl, g) if x.requires_grad else None
    gw = book.weight_grad(xl, gl, g) if w.requires_grad else None
    axes = (0, *range(2, gy.ndim)) if op.nchw else tuple(range(gy.ndim - 1))  # every axis but the channels'
    return (*_as_op_gives(op, gx, gw), *(gy.sum(axes) if t.requires_grad else None for t in b))


@derivative(ConvTranspose)
def _conv_transpose(op, gy, node):
    x, w = node.inputs
    xl, wl, gl = _channels_last(op, x, w, gy)
    g = op.geometry(xl.shape, wl.shape)  # the Conv whose input gradient this op is
    gx = Conv(g.stride, g.fit(xl.shape[1:-1]), g.dilation, g.groups)(gl, wl) if x.requires_grad else None
    gw = book.weight_grad(gl, xl, g) if w.requires_grad else None
    return _as_op_gives(op, gx, gw)


@derivative(BatchNorm)
def _batch_norm(op, gy, node):
    x, w, b = node.inputs
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)  # per-channel values broadcast against x
    if op.training:
        axes = (0, *range(2, x.ndim))
        xc = x - x.mean(axes, keepdim=True)
        xhat = xc * ((xc * xc).mean(axes, keepdim=True) + op.eps) ** -0.5
    else:
        xhat = (x - _wrap(op.mean.reshape(shape))) * _wrap(op.invstd.reshape(shape).astype(x.dtype))
    return through(xhat * w.reshape(*shape) + b.reshape(*shape), (x, w, b), gy)


class RankSum(Function):
    """`a` summed over the ranks (an all-reduce in SyncBatchNormOp `sbn`'s group): every rank's sum depends
    on every rank's `a`, so the gradient is the ranks' gradients summed in turn."""

    def __init__(self, sbn):
        self.sbn = sbn

    def forward(self, a):
        return self.sbn._sum(a.copy())

    def backward(self, gy, node):
        return (self.sbn._sum(gy.copy()),)


derivative(RankSum)(lambda op, gy, node: (RankSum(op.sbn)(gy),))


@derivative(SyncBatchNormOp)
def _sync_batch_norm(op, gy, node):
    x, w, b = node.inputs  # every rank runs this rule at the same point of its walk: the sums are collective
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)  # per-channel values broadcast against x
    axes, M, total = (0, *range(2, x.ndim)), float(op.M), RankSum(op)
    xc = x - (total(x.sum(axes)) / M).reshape(*shape)
    invstd = ((total((xc * xc).sum(axes)) / M + op.eps) ** -0.5).reshape(*shape)
    return through(xc * invstd * w.reshape(*shape) + b.reshape(*shape), (x, w, b), gy)


@derivative(LayerNorm)
def _layer_norm(op, gy, node):
    x, w, b = node.inputs
    axes = tuple(range(x.ndim - op.k, x.ndim))
    xc = x - x.mean(axes, keepdim=True)
    xhat = xc * ((xc * xc).mean(axes, keepdim=True) + op.eps) ** -0.5
    return through(xhat * w + b, (x, w, b), gy)


@derivative(CrossEntropy)
def _cross_entropy(op, gy, node):
    x = node.inputs[0]
    C = x.shape[1]
    q = xp.zeros(x.shape, x.dtype)  # (N, C, *d): the target distribution, weighted and smoothed
    q[op.at] = op.q  # (N, *d) at the targets: the op's one-hot part
    if op.s:
        wc = 1 if op.w is None else op.w.reshape(1, C, *(1,) * (x.ndim - 2))  # (1, C, 1...)
        q += op.mask[:, None] * (op.s / C) * wc
    y = -(R.log_softmax(x, 1) * _wrap(q)).sum(1)  # (N, *d)
    return through(y if op.total is None else y.sum() / _wrap(op.total), (x,), gy)


@derivative(BinaryCrossEntropy)
def _binary_cross_entropy(op, gy, node):
    x, t = node.inputs
    gx = gy * (x - t) / E.maximum((1 - x) * x, 1e-12) if x.requires_grad else None
    return gx, (gy * (E.log(1 - x) - E.log(x)) if t.requires_grad else None)
