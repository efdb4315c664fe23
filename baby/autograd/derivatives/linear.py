"""Ops linear in their input (reshape, permute, broadcast, index, pad, flip, dilate, sum, cumsum, avg-pool,
gather, cast, tril/triu, diagonal, diag_embed, roll, the view and CopySlices of in-place writes on views) and
the ones linear in the gradient given a fixed mask (relu, abs, max, max-pool).

For such an op the backward is a linear map of gy, x -> L(gy). Its own gradient is the transpose of that map;
for a linear op the transpose of its backward is its forward. So one node kind, `LinearMap(fwd, adj)`, makes
the gradient: its forward is the op's array backward, its backward the adjoint on arrays, and its own
derivative rule is `LinearMap(adj, fwd)`: differentiable to any order, with the first-order array code.
"""

import copy

from ...backend import xp
from ...nn.functional.vision import Fold, Unfold
from ...ops import elementwise as E
from ...ops import pool as P
from ...ops import reduce as R
from ...ops import shape as S
from ...ops.conv.fast.memory import to_nchw, to_nhwc
from ...ops.index import Gather
from ...ops.matrix import DiagEmbed, Diagonal, Triangle
from ...ops.rearrange import Roll
from ...ops.views import CopySlices, ViewOf
from ...sparse import ToDense
from ...tensor import Function, _wrap
from ..higher import derivative


class LinearMap(Function):
    """y = fwd(a) for a linear `fwd` on arrays whose transpose is `adj`; named after the op it serves."""

    def __init__(self, fwd, adj, name):
        self.fwd, self.adj, self.op_name = fwd, adj, name

    def forward(self, a):
        return self.fwd(a)

    def backward(self, gy, node):
        return (self.adj(gy),)

    def name(self):
        return self.op_name


@derivative(LinearMap)
def _linear_map(op, gy, node):
    return (LinearMap(op.adj, op.fwd, f"{op.op_name.removesuffix('0')}Backward0")(gy),)


class _Node:
    """What an op's backward reads of its output node (inputs, data), kept even after the graph is freed."""

    def __init__(self, node):
        self.inputs, self._data = node.inputs, node._data


def backward_map(op, node):
    """The LinearMap applying `op`'s first-order backward (for its only input) to a gradient."""
    kept = _Node(node)
    return lambda g: op.backward(g, kept)[0]


def forward_map(op):
    """The op's forward on arrays, on a fresh copy (a call records versions on the op it runs)."""
    fresh = copy.copy(op)
    return lambda g: xp.asarray(fresh.forward(g))


@derivative(S.Reshape, S.Permute, S.BroadcastTo, S.GetItem, S.Flip, S.Dilate, S.Undilate, S.Clone, R.Sum,
            R.Cumsum, P.AvgPool, Gather, E.Cast, Triangle, Diagonal, DiagEmbed, Roll, Fold, Unfold, ToDense)
def _linear(op, gy, node):
    name = f"{op.name().removesuffix('0')}Backward0"
    return (LinearMap(backward_map(op, node), forward_map(op), name)(gy),)


@derivative(S.Pad)
def _pad(op, gy, node):
    zero = S.Pad(op.pad, 0)  # the padding value is a constant: the map is linear only without it
    name = f"{op.name().removesuffix('0')}Backward0"
    return (LinearMap(backward_map(op, node), forward_map(zero), name)(gy),)


def _masked(mask):
    """gy times a fixed mask, as a product with a constant (its transpose is itself)."""
    return lambda op, gy, node: (E.mul(gy, _wrap(mask(op, node).astype(gy.dtype))),)


derivative(E.ReLU)(_masked(lambda op, node: xp.logical_not(node._data <= 0)))
derivative(E.Abs)(_masked(lambda op, node: xp.sign(node.inputs[0]._data)))


@derivative(R.Max)
def _max(op, gy, node):
    x = node.inputs[0]._data
    y = node._data if op.keepdims else xp.expand_dims(node._data, op.axes)
    mask = x == y
    share = mask / mask.sum(axis=op.axes, keepdims=True, dtype=x.dtype)  # (*x.shape): ties share
    g = gy if op.keepdims else gy.reshape(*y.shape)  # reduced axes back as size 1
    return (E.mul(g, _wrap(share.astype(x.dtype))),)


@derivative(P.MaxPool)
def _max_pool(op, gy, node):
    x, y = node.inputs[0]._data, node._data
    if op.nchw:
        x, y = to_nhwc(x), to_nhwc(y)  # (N, *S, C), (N, *O, C)
    masks = list(op.first_max(x, y))  # (tap, mask (N, *O, C)) for each tap of the window

    def gather(g):  # the transpose of the scatter: each window's gradient read at its first max
        taps = P._taps(op._view(P.pad(to_nhwc(g) if op.nchw else g, op.pads)), op.k)
        out = xp.zeros(y.shape, g.dtype)  # (N, *O, C)
        for (_, m), (_, t) in zip(masks, taps, strict=True):
            out += xp.where(m, t, 0)
        return to_nchw(out) if op.nchw else out

    return (LinearMap(backward_map(op, node), gather, "MaxPoolBackwardBackward0")(gy),)


def _region(L):
    """The maps of a view's region in its base (Layout L): read it out of a base-shaped gradient, and put a
    view-shaped one back in a zero base (each the other's transpose)."""

    def read(g):  # (*b.shape) -> (*v.shape)
        return L.part(L.copy(g)).copy()

    def put(g):  # (*v.shape) -> (*b.shape), zero outside the region
        buf = L.new(zero=True)
        L.part(buf)[...] = g
        return L.whole(buf)

    return read, put


@derivative(ViewOf)
def _view_of(op, gy, node):
    read, put = _region(op.layout)
    return (LinearMap(put, read, "AsStridedBackwardBackward0")(gy),)


@derivative(CopySlices)
def _copy_slices(op, gy, node):
    L = op.layout
    read, put = _region(L)
    gv = LinearMap(read, put, "CopySlicesBackward0")(gy)
    if L.full:  # nothing of the old base shows through
        return None, gv

    def hole(g):  # (*b.shape): g with the region zeroed, its own transpose
        buf = L.copy(g)
        L.part(buf)[...] = 0
        return L.whole(buf)

    return LinearMap(hole, hole, "CopySlicesBackward0")(gy), gv


derivative(E.Compare, R.Arg)(lambda op, gy, node: (None,) * len(node.inputs))  # bool/int results: no grad
