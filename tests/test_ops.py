"""Every op against PyTorch: forward, the gradient of every input, and dtypes (float32, float64, ints)."""

import operator

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import check

import baby
from baby import ops
from baby.tensor import Function

RNG = np.random.default_rng(42)


def U(*shape, low=-2.0, high=2.0):
    """An input spec: uniform(low, high) of `shape`, made in the dtype under test."""
    return lambda dtype: RNG.uniform(low, high, shape).astype(dtype)


def P(*shape):
    """Positive inputs (for log, sqrt, division, pow)."""
    return U(*shape, low=0.5, high=2.0)


def case(id, ours, theirs, *inputs, marks=(), **kw):
    """One row of a table: baby function, torch function (None: the same expression), input specs."""
    return pytest.param(ours, theirs or ours, inputs, kw, id=id, marks=marks)


def make(spec, dtype):
    """An input array from a spec: a shape, a U/P maker, or a concrete array (floats cast to `dtype`)."""
    if isinstance(spec, tuple):
        return U(*spec)(dtype)
    if callable(spec):
        return spec(dtype)
    return spec.astype(dtype) if spec.dtype.kind == "f" else spec


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@pytest.fixture(autouse=True)
def grads_keep_dtype(monkeypatch):
    """Every op's backward returns each gradient in its input's dtype (no silent float64 on the way)."""
    for op in list(_subclasses(Function)):
        if "backward" not in vars(op):
            continue

        def backward(self, gy, node, _orig=op.backward):
            gxs = _orig(self, gy, node)
            for x, gx in zip(node.inputs, gxs, strict=True):
                if gx is not None and x.requires_grad and gy.dtype == x.dtype:
                    assert gx.dtype == x.dtype, f"{type(self).__name__} grad {gx.dtype} for {x.dtype} input"
            return gxs

        monkeypatch.setattr(op, "backward", backward)


def run(ours, theirs, inputs, kw, dtype):
    check(ours, theirs, [make(s, dtype) for s in inputs], **kw)


DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]

# ---- elementwise ---------------------------------------------------------------------------------------
ELEMENTWISE = [
    case("add", lambda a, b: a + b, None, (3, 4), (3, 4)),
    case("add-bcast-(3,1)+(4,)", lambda a, b: a + b, None, (3, 1), (4,)),
    case("add-bcast-(2,1,4)+(3,1)", lambda a, b: a + b, None, (2, 1, 4), (3, 1)),
    case("add-bcast-()+(3,)", lambda a, b: a + b, None, (), (3,)),
    case("add-fn", ops.add, torch.add, (2, 3), (3,)),
    case("add-scalar-right", lambda a: a + 2.5, None, (3, 4)),
    case("add-scalar-left", lambda a: 2 + a, None, (3, 4)),
    case("add-np-float64-scalar", lambda a: a + np.float64(1.5), None, (3,)),
    case("sub", lambda a, b: a - b, None, (3, 4), (3, 4)),
    case("sub-bcast", lambda a, b: a - b, None, (4,), (3, 1)),
    case("sub-fn", ops.sub, torch.sub, (2, 3), (2, 1)),
    case("sub-scalar-right", lambda a: a - 1.5, None, (3,)),
    case("sub-scalar-left", lambda a: 2 - a, None, (3,)),
    case("sub-np-scalar-left", lambda a: np.float64(2.0) - a, lambda a: 2.0 - a, (3,)),
    case("mul", lambda a, b: a * b, None, (3, 4), (3, 4)),
    case("mul-bcast", lambda a, b: a * b, None, (2, 3, 1), (1, 4)),
    case("mul-fn", ops.mul, torch.mul, (3,), (2, 3)),
    case("mul-scalar-right", lambda a: a * 0.3, None, (3, 4)),
    case("mul-scalar-left", lambda a: 3 * a, None, (3, 4)),
    case("div", lambda a, b: a / b, None, (3, 4), P(3, 4)),
    case("div-bcast", lambda a, b: a / b, None, (3, 1), P(4)),
    case("div-fn", ops.div, torch.div, (2, 3), P(3)),
    case("div-scalar-right", lambda a: a / 4.0, None, (3,)),
    case("div-scalar-left", lambda a: 1 / a, None, P(3, 4)),
    case("pow-scalar-2", lambda a: a**2, None, (3, 4)),
    case("pow-scalar-3", lambda a: a**3, None, (3, 4)),
    case("pow-scalar-0.5", lambda a: a**0.5, None, P(3, 4)),
    case("pow-scalar-neg1.5", lambda a: a**-1.5, None, P(3, 4)),
    case("pow-scalar-0", lambda a: a**0, None, np.array([0.0, 1.0, -2.0])),
    case("pow-tensor", lambda a, b: a**b, None, P(3, 4), (3, 4)),
    case("pow-tensor-bcast", lambda a, b: a**b, None, P(3, 1), (4,)),
    case("pow-fn", ops.pow, torch.pow, P(2, 3), (3,)),
    case("pow-scalar-base", lambda a: 2**a, None, (3, 4)),
    case("pow-scalar-base-float", lambda a: 0.5**a, None, (5,)),
    case("neg", lambda a: -a, None, (3, 4)),
    case("neg-fn", ops.neg, torch.neg, (3,)),
    case("exp", lambda a: a.exp(), None, (3, 4)),
    case("log", lambda a: a.log(), None, P(3, 4)),
    case("sqrt", lambda a: a.sqrt(), None, P(3, 4)),
    case("abs", lambda a: abs(a), None, (3, 4)),
    case("abs-method", lambda a: a.abs(), None, (2, 3)),
    case("relu", lambda a: a.relu(), None, (3, 4)),
    case("sigmoid", lambda a: a.sigmoid(), None, U(3, 4, low=-8, high=8)),
    case("sigmoid-extreme", ops.sigmoid, torch.sigmoid, np.array([-100.0, -30.0, 0.0, 30.0, 100.0])),
    case("tanh", lambda a: a.tanh(), None, U(3, 4, low=-4, high=4)),
    case("gelu-erf", lambda a: a.gelu(), F.gelu, U(3, 4, low=-5, high=5)),
    case("gelu-tanh", lambda a: ops.gelu(a, approximate="tanh"), lambda a: F.gelu(a, approximate="tanh"),
         U(3, 4, low=-5, high=5)),
    case("maximum", ops.maximum, torch.maximum, (3, 4), (3, 4)),
    case("maximum-bcast", lambda a, b: a.maximum(b), torch.maximum, (3, 1), (4,)),
    case("maximum-ties", ops.maximum, torch.maximum, np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0])),
    case("maximum-scalar", lambda a: ops.maximum(a, 0.5), lambda a: torch.clamp(a, min=0.5), (3, 4)),
    case("minimum", ops.minimum, torch.minimum, (3, 4), (3, 4)),
    case("minimum-bcast", lambda a, b: a.minimum(b), torch.minimum, (4,), (2, 1)),
    case("minimum-ties", ops.minimum, torch.minimum, np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0])),
    case("where", lambda a, b: ops.where(a > 0, a, b), lambda a, b: torch.where(a > 0, a, b), (3, 4), (4,)),
    case("where-mask-input", ops.where, torch.where, np.array([[True, False, True], [False, False, True]]),
         (2, 3), (3,)),
    case("where-mask-bcast", ops.where, torch.where, np.array([[True], [False]]), (3,), (2, 1)),
    case("where-scalar", lambda c, a: ops.where(c, a, 0.0), lambda c, a: torch.where(c, a, 0.0),
         np.array([True, False, True]), (2, 3)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ours, theirs, inputs, kw", ELEMENTWISE)
def test_elementwise(ours, theirs, inputs, kw, dtype):
    run(ours, theirs, inputs, kw, dtype)


CMP = {"eq": (ops.eq, torch.eq), "ne": (ops.ne, torch.ne), "lt": (ops.lt, torch.lt), "le": (ops.le, torch.le),
       "gt": (ops.gt, torch.gt), "ge": (ops.ge, torch.ge)}
OPERATORS = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__", "gt": "__gt__", "ge": "__ge__"}


@pytest.mark.parametrize("name", CMP)
def test_comparisons(name):
    a, b = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]), np.array([2.0, 2.0, 2.0])
    ours, theirs = CMP[name]
    check(ours, theirs, [a, b], grad=False)
    check(lambda x, y: getattr(x, OPERATORS[name])(y), theirs, [a, b], grad=False)
    check(lambda x: ours(x, 2.0), lambda x: theirs(x, 2.0), [a], grad=False)


def test_where_sends_no_gradient_to_the_mask():
    x = baby.Tensor([-1.0, 2.0, -3.0], requires_grad=True)
    cond = baby.Tensor([1.0, 0.0, 1.0], requires_grad=True)
    ops.where(cond, x, -x).sum().backward()
    assert cond.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, -1.0, 1.0])


# ---- reductions -----------------------------------------------------------------------------------------
def _dims(x, axis):
    return tuple(range(x.ndim)) if axis is None else axis


REDUCTIONS = {"sum": (ops.sum, torch.sum), "mean": (ops.mean, torch.mean), "amax": (ops.amax, torch.amax),
              "amin": (ops.amin, torch.amin), "logsumexp": (ops.logsumexp, torch.logsumexp)}
REDUCE = [
    case(f"{name}-axis={axis}-keepdims={keep}",
         lambda x, f=ours, a=axis, k=keep: f(x, a, k),
         lambda x, f=theirs, a=axis, k=keep: f(x, dim=_dims(x, a), keepdim=k), (2, 3, 4))
    for name, (ours, theirs) in REDUCTIONS.items()
    for axis in (None, 0, -1, (0, 2), (-1, -3), [1])
    for keep in (False, True)
] + [
    case("sum-method", lambda x: x.sum(axis=1), lambda x: x.sum(dim=1), (3, 4)),
    case("sum-0d", lambda x: x.sum(), None, ()),
    case("sum-1d", lambda x: x.sum(0), None, (5,)),
    case("mean-method", lambda x: x.mean(axis=-1, keepdims=True), lambda x: x.mean(-1, keepdim=True), (3, 4)),
    case("max-method", lambda x: x.max(), lambda x: x.amax(), (3, 4)),
    case("amax-ties", lambda x: x.amax(axis=1), lambda x: x.amax(dim=1),
         np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])),
    case("max-ties-all", lambda x: x.max(), lambda x: x.max(), np.array([[1.0, 3.0], [3.0, 3.0]])),
    case("amin-ties", lambda x: x.amin(axis=0), lambda x: x.amin(dim=0), np.array([[1.0, 0.0], [1.0, 2.0]])),
    case("max-dim-values", lambda x: x.max(dim=1).values, lambda x: x.max(dim=1).values, (3, 4)),
    case("max-dim-keepdim", lambda x: x.max(1, keepdim=True)[0], lambda x: x.max(1, keepdim=True)[0], (3, 4)),
    case("max-axis-alias", lambda x: x.max(axis=0).values, lambda x: x.max(0).values, (3, 4)),
    case("min-dim-values", lambda x: x.min(-1).values, lambda x: x.min(-1).values, (2, 3, 4)),
    case("logsumexp-method", lambda x: x.logsumexp(axis=1), lambda x: x.logsumexp(1), (3, 4)),
    case("logsumexp-large", lambda x: ops.logsumexp(x, 1), lambda x: x.logsumexp(1),
         U(3, 4, low=-300, high=300)),
    case("logsumexp--inf", lambda x: ops.logsumexp(x, 1), lambda x: x.logsumexp(1),
         np.array([[-np.inf, -np.inf], [0.0, -np.inf]]), grad=False,
         marks=pytest.mark.filterwarnings("ignore:divide by zero")),
] + [
    case(f"{name}-axis={axis}", lambda x, f=ours, a=axis: f(x, axis=a),
         lambda x, f=theirs, a=axis: f(x, dim=a), (2, 3, 4))
    for name, ours, theirs in (("softmax", ops.softmax, torch.softmax),
                               ("log_softmax", ops.log_softmax, torch.log_softmax))
    for axis in (0, 1, -1)
] + [
    case("softmax-method", lambda x: x.softmax(), lambda x: x.softmax(-1), (3, 4)),
    case("log_softmax-method", lambda x: x.log_softmax(0), lambda x: x.log_softmax(0), (3, 4)),
    case("softmax-large", lambda x: x.softmax(), lambda x: x.softmax(-1), U(3, 4, low=-500, high=500)),
    case("log_softmax-large", lambda x: x.log_softmax(), lambda x: x.log_softmax(-1),
         U(3, 4, low=-500, high=500)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ours, theirs, inputs, kw", REDUCE)
def test_reduce(ours, theirs, inputs, kw, dtype):
    run(ours, theirs, inputs, kw, dtype)


# ---- matmul ---------------------------------------------------------------------------------------------
MATMUL = [
    case(f"{a}@{b}", lambda x, y: x @ y, None, a, b)
    for a, b in [((3,), (3,)), ((2, 3), (3, 4)), ((3,), (3, 4)), ((2, 3), (3,)), ((5, 2, 3), (3, 4)),
                 ((2, 3), (5, 3, 4)), ((4, 2, 3), (4, 3, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((3,), (2, 3, 4)),
                 ((2, 3, 4), (4,)), ((3,), (2, 1, 3, 4)), ((2, 1, 3, 4), (4,))]
] + [
    case("matmul-fn", ops.matmul, torch.matmul, (2, 3), (3, 4)),
    case("matmul-method", lambda x, y: x.matmul(y), torch.matmul, (2, 3), (3,)),
    case("matmul-numpy-right", lambda x: x @ np.ones((4, 2)), lambda x: x @ torch.ones(4, 2, dtype=x.dtype),
         (3, 4)),
    case("rmatmul-numpy", lambda y: np.ones((2, 3)) @ y, lambda y: torch.ones(2, 3, dtype=y.dtype) @ y,
         (3, 4)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ours, theirs, inputs, kw", MATMUL)
def test_matmul(ours, theirs, inputs, kw, dtype):
    run(ours, theirs, inputs, kw, dtype)


# ---- shape ops ------------------------------------------------------------------------------------------
def torch_pad(x, pairs, value=0.0):
    """Our (before, after)-per-axis padding as F.pad's flat, last-axis-first list."""
    return F.pad(x, [n for pair in reversed(pairs) for n in pair], value=value)


def torch_dilate(x, axes, d):
    """Dilate built from zeros + slicing assignment."""
    shape = [n + (n - 1) * d if i in axes else n for i, n in enumerate(x.shape)]
    out = torch.zeros(shape, dtype=x.dtype)
    out[tuple(slice(None, None, d + 1) if i in axes else slice(None) for i in range(x.ndim))] = x
    return out


def torch_undilate(x, axes, d):
    return x[tuple(slice(None, None, d + 1) if i in axes else slice(None) for i in range(x.ndim))]


REPEATS = np.array([0, 2, 0, 0])
PAIRS = np.array([[0, 1], [1, 1]])
MASK = np.array([True, False, True])
SHAPE = [
    case("reshape", lambda x: x.reshape(6, 4), None, (2, 3, 4)),
    case("reshape-tuple", lambda x: x.reshape((4, 6)), None, (2, 3, 4)),
    case("reshape-minus1", lambda x: x.reshape(-1), None, (2, 3, 4)),
    case("reshape-minus1-mid", lambda x: x.reshape(4, -1, 3), None, (2, 3, 4)),
    case("reshape-fn", lambda x: ops.reshape(x, (3, 2)), lambda x: x.reshape(3, 2), (6,)),
    case("view", lambda x: x.view(2, 2), None, (4,)),
    case("permute", lambda x: x.permute(2, 0, 1), None, (2, 3, 4)),
    case("permute-tuple-neg", lambda x: x.permute((-1, 0, 1)), lambda x: x.permute(2, 0, 1), (2, 3, 4)),
    case("permute-fn", lambda x: ops.permute(x, 1, 0), lambda x: x.permute(1, 0), (2, 3)),
    case("transpose", lambda x: x.transpose(0, 2), None, (2, 3, 4)),
    case("transpose-neg", lambda x: x.transpose(-1, -3), None, (2, 3, 4)),
    case("transpose-default", lambda x: ops.transpose(x), lambda x: x.transpose(-2, -1), (2, 3, 4)),
    case(".T-2d", lambda x: x.T, None, (2, 3)),
    case(".T-3d", lambda x: x.T, lambda x: x.permute(2, 1, 0), (2, 3, 4)),
    case("broadcast_to", lambda x: x.broadcast_to((2, 3, 4)), None, (3, 1)),
    case("broadcast_to-0d", lambda x: ops.broadcast_to(x, (2, 2)), lambda x: x.broadcast_to((2, 2)), ()),
    case("broadcast_to-lead", lambda x: x.broadcast_to((3, 4)), None, (4,)),
    case("getitem-int", lambda x: x[1], None, (3, 4)),
    case("getitem-neg-int", lambda x: x[-1, 2], None, (3, 4)),
    case("getitem-slice", lambda x: x[1:3], None, (4, 3)),
    case("getitem-step", lambda x: x[::2, 1::2], None, (5, 4)),
    case("getitem-neg-step", lambda x: x[::-2], lambda x: x.flip(0)[::2], (5, 3)),
    case("getitem-None", lambda x: x[:, None, 1:], None, (3, 4)),
    case("getitem-ellipsis", lambda x: x[..., 1], None, (2, 3, 4)),
    case("getitem-ellipsis-mid", lambda x: x[1, ..., ::2], None, (2, 3, 4)),
    case("getitem-int-array-repeats", lambda x: x[REPEATS], lambda x: x[torch.tensor(REPEATS)], (3, 2)),
    case("getitem-list-repeats", lambda x: x[[1, 1, 0]], None, (3, 2)),
    case("getitem-tuple-repeats", lambda x: x[(0, 0, 1), :], None, (3, 2)),
    case("getitem-2d-int-array", lambda x: x[PAIRS], lambda x: x[torch.tensor(PAIRS)], (3, 2)),
    case("getitem-paired-arrays", lambda x: x[[0, 2, 0], [1, 1, 1]], None, (3, 4)),
    case("getitem-slice-and-array", lambda x: x[:, [3, 3, 0]], None, (2, 4)),
    case("getitem-tensor-index", lambda x: x[baby.tensor([2, 0, 2], dtype=baby.int64)],
         lambda x: x[torch.tensor([2, 0, 2])], (3, 2)),
    case("getitem-bool-mask", lambda x: x[x > 0], None, (3, 4)),
    case("getitem-bool-rows", lambda x: x[MASK], lambda x: x[torch.tensor(MASK)], (3, 4)),
    case("pad", lambda x: x.pad(((1, 2), (0, 1))), lambda x: torch_pad(x, ((1, 2), (0, 1))), (2, 3)),
    case("pad-trailing", lambda x: ops.pad(x, ((2, 1),)), lambda x: torch_pad(x, ((2, 1),)), (2, 3, 4)),
    case("pad-value", lambda x: ops.pad(x, ((0, 0), (1, 1)), value=-1.5),
         lambda x: torch_pad(x, ((0, 0), (1, 1)), value=-1.5), (2, 3)),
    case("stack-0", lambda *xs: ops.stack(xs), lambda *xs: torch.stack(xs), (3, 4), (3, 4), (3, 4)),
    case("stack-1", lambda *xs: ops.stack(xs, 1), lambda *xs: torch.stack(xs, 1), (3, 4), (3, 4)),
    case("stack-neg", lambda *xs: ops.stack(xs, axis=-1), lambda *xs: torch.stack(xs, -1), (3, 4), (3, 4)),
    case("concatenate-0", lambda *xs: ops.concatenate(xs), lambda *xs: torch.cat(xs), (2, 3), (4, 3), (1, 3)),
    case("concatenate-neg", lambda *xs: ops.concatenate(xs, axis=-1), lambda *xs: torch.cat(xs, -1), (2, 3),
         (2, 1)),
] + [
    case(f"flip-{axes}", lambda x, a=axes: x.flip(a),
         lambda x, a=axes: x.flip(tuple(range(x.ndim)) if a is None else a), (2, 3, 4))
    for axes in [(0,), (-1,), (0, 2), None]
] + [
    case(f"{name}-axes={axes}-d={d}", lambda x, f=ours, a=axes, d=d: f(x, a, d),
         lambda x, f=theirs, a=axes, d=d: f(x, [i % x.ndim for i in a], d), shape)
    for name, ours, theirs in [("dilate", ops.dilate, torch_dilate),
                               ("undilate", ops.undilate, torch_undilate)]
    for axes, d, shape in [((0,), 1, (3, 4)), ((1,), 2, (3, 4)), ((0, 1), 1, (3, 4)), ((-1, 1), 2, (2, 3, 4)),
                           ((0,), 0, (3, 4))]
] + [
    case("dilate-method", lambda x: x.dilate((0, 1), 1), lambda x: torch_dilate(x, (0, 1), 1), (2, 2)),
    case("undilate-method", lambda x: x.undilate((0,), 2), lambda x: torch_undilate(x, (0,), 2), (7, 2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ours, theirs, inputs, kw", SHAPE)
def test_shape(ours, theirs, inputs, kw, dtype):
    run(ours, theirs, inputs, kw, dtype)


def test_layout_ops_are_views():
    x = baby.randn(2, 3, 4)
    for y in (x.reshape(6, 4), x.permute(2, 0, 1), x.T, x.transpose(0, 1), x.broadcast_to((5, 2, 3, 4)),
              x[1:, ::2], x.flip(1), ops.undilate(x, (2,), 1)):
        assert np.shares_memory(y.numpy(), x.numpy())


def test_dilate_undilate_are_inverses():
    x = baby.randn(3, 4, 5)
    np.testing.assert_array_equal(ops.undilate(ops.dilate(x, (0, 2), 2), (0, 2), 2).numpy(), x.numpy())


# ---- composites -----------------------------------------------------------------------------------------
COMPOSITE = [
    case("mlp", lambda x, w, b: (x @ w + b).relu().sum(axis=1), None, (4, 3), (3, 5), (5,)),
    case("layernorm", lambda x: (x - x.mean(-1, keepdims=True)) / ((x - x.mean(-1, keepdims=True)) ** 2)
         .mean(-1, keepdims=True).sqrt(), lambda x: (x - x.mean(-1, keepdim=True))
         / ((x - x.mean(-1, keepdim=True)) ** 2).mean(-1, keepdim=True).sqrt(), (3, 5)),
    case("x-used-thrice", lambda x: x * x.exp() + x, None, (3, 4)),
    case("cross-entropy", lambda x: -x.log_softmax(-1)[[0, 1, 2], [1, 0, 1]].mean(),
         lambda x: -x.log_softmax(-1)[[0, 1, 2], [1, 0, 1]].mean(), (3, 4)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ours, theirs, inputs, kw", COMPOSITE)
def test_composite(ours, theirs, inputs, kw, dtype):
    run(ours, theirs, inputs, kw, dtype)


# ---- dtypes ---------------------------------------------------------------------------------------------
INT_OPS = [
    case("add", lambda a, b: a + b, None),
    case("sub", lambda a, b: a - b, None),
    case("mul", lambda a, b: a * b, None),
    case("scalar-right", lambda a, b: a * 2 + 3, None),
    case("scalar-left", lambda a, b: 2 - a, None),
    case("pow", lambda a, b: a**2, None),
    case("neg", lambda a, b: -a, None),
    case("abs", lambda a, b: abs(a), None),
    case("relu", lambda a, b: a.relu(), None),
    case("maximum", ops.maximum, torch.maximum),
    case("minimum", ops.minimum, torch.minimum),
    case("where", lambda a, b: ops.where(a > b, a, b), lambda a, b: torch.where(a > b, a, b)),
    case("sum", lambda a, b: a.sum(axis=0), lambda a, b: a.sum(0)),
    case("max", lambda a, b: a.amax(axis=1), lambda a, b: a.amax(1)),
    case("min", lambda a, b: a.min(), lambda a, b: a.amin()),
    case("matmul", lambda a, b: a @ b.T, lambda a, b: a @ b.T),
    case("reshape", lambda a, b: a.reshape(-1), None),
    case("getitem", lambda a, b: a[[1, 0], ::2], None),
    case("pad", lambda a, b: ops.pad(a, ((1, 0), (0, 2))), lambda a, b: torch_pad(a, ((1, 0), (0, 2)))),
    case("flip", lambda a, b: a.flip((0,)), lambda a, b: a.flip(0)),
    case("stack", lambda a, b: ops.stack([a, b]), lambda a, b: torch.stack([a, b])),
    case("dilate", lambda a, b: ops.dilate(a, (1,), 1), lambda a, b: torch_dilate(a, (1,), 1)),
    case("true-div-to-float32", lambda a, b: a / b, None),
    case("float-scalar-to-float32", lambda a, b: a * 0.5, None),
    case("int-plus-float32", lambda a, b: a + baby.ones(3), lambda a, b: a + torch.ones(3)),
    case("exp-to-float32", lambda a, b: a.exp(), None),
    case("sqrt-to-float32", lambda a, b: a.abs().sqrt(), None),
]


@pytest.mark.parametrize("dtype", [np.int32, np.int64], ids=["i32", "i64"])
@pytest.mark.parametrize("ours, theirs, inputs, kw", INT_OPS)
def test_integer_dtypes(ours, theirs, inputs, kw, dtype):
    a, b = np.array([[3, -1, 4], [1, -5, 9]], dtype=dtype), np.array([[2, 7, 1], [8, 2, 8]], dtype=dtype)
    check(ours, theirs, [a, b], grad=False)


@pytest.mark.parametrize("fn", [lambda m, x: m * 2, lambda m, x: m * 0.5, lambda m, x: m + True,
                                lambda m, x: m * x, lambda m, x: m.sum()],
                         ids=["times-int", "times-float", "plus-bool", "times-float-tensor", "sum"])
def test_bool_tensors_promote_like_torch(fn):
    check(fn, fn, [np.array([True, False, True]), np.array([1.5, 2.5, 3.5], np.float32)], grad=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_float_dtype_kept_through_graph_and_grads(dtype):
    x = baby.Tensor(RNG.uniform(0.5, 2, (3, 4)), dtype=dtype, requires_grad=True)
    w = baby.Tensor(RNG.uniform(-1, 1, (4, 2)), dtype=dtype, requires_grad=True)
    ys = [x + 1.5, 2.5 - x, x * 0.1, 0.1 * x, x / 3.0, 1.0 / x, x**0.5, 2.0**x, x ** np.float64(2.0),
          x * np.float64(3.0), (x @ w).sigmoid(), x.gelu(), ops.gelu(x, "tanh"), x.mean(), x.logsumexp(1),
          x.softmax(0), x.log_softmax(), ops.maximum(x, 1.0), ops.where(x > 1, x, 0.0),
          ops.pad(x, ((1, 1),), 0.5)]
    y = ys[0].sum()
    for t in ys:
        assert t.dtype == dtype, t
        y = y + t.sum()
    y.backward()
    assert x.grad.dtype == dtype and w.grad.dtype == dtype


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("number", [3, -2.5, 1e10], ids=["int", "float", "big"])
@pytest.mark.parametrize("fn", [operator.add, operator.sub, operator.mul, operator.truediv],
                         ids=["add", "sub", "mul", "div"])
def test_python_number_operands_like_torch(fn, number, dtype):
    x = np.array([0.5, -1.5, 4.0], dtype=dtype)
    ours, theirs = baby.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    tol = 1e-3 if dtype == "float16" else 1e-6  # (PyTorch divides a number by a half tensor via reciprocal)
    with np.errstate(over="ignore", invalid="ignore"):  # 1e10: inf in float16, in both libraries
        for got, want in ((fn(ours, number), fn(theirs, number)), (fn(number, ours), fn(number, theirs))):
            assert str(got.dtype) == str(want.dtype).removeprefix("torch.")
            np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=tol)
            got.sum().backward()
            want.sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=tol)
    assert ours.grad.dtype == x.dtype


def test_mixed_float_dtypes_promote_like_torch():
    a, b = baby.ones(2, requires_grad=True), baby.ones(2, dtype=baby.float64, requires_grad=True)
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


# ---- errors ---------------------------------------------------------------------------------------------
def _t(*shape):
    return baby.zeros(*shape)


ERRORS = [
    case("matmul-inner", lambda: _t(2, 3) @ _t(4, 5), None, exc=ValueError, match=r"\(2, 3\).*\(4, 5\)"),
    case("matmul-batch", lambda: _t(2, 3, 4) @ _t(3, 4, 5), None, exc=ValueError,
         match=r"\(2, 3, 4\).*\(3, 4, 5\)"),
    case("matmul-vec", lambda: _t(3) @ _t(4), None, exc=ValueError, match=r"\(3,\).*\(4,\)"),
    case("matmul-0d", lambda: ops.matmul(_t(), _t(3)), None, exc=ValueError, match=r"\(\).*\(3,\)"),
    case("reshape", lambda: _t(2, 3).reshape(4, 2), None, exc=ValueError, match=r"\(2, 3\).*\(4, 2\)"),
    case("reshape-minus1", lambda: _t(2, 3).reshape(4, -1), None, exc=ValueError,
         match=r"\(2, 3\).*\(4, -1\)"),
    case("reshape-two-minus1", lambda: _t(2, 3).reshape(-1, -1), None, exc=ValueError, match=r"\(2, 3\)"),
    case("add", lambda: _t(2, 3) + _t(4), None, exc=ValueError, match=r"\(2, 3\).*\(4,\)"),
    case("mul-array", lambda: _t(2, 3) * np.array([1.0, 2.0]), None, exc=ValueError,
         match=r"\(2, 3\).*\(2,\)"),
    case("maximum", lambda: ops.maximum(_t(3), _t(2)), None, exc=ValueError, match=r"\(3,\).*\(2,\)"),
    case("where", lambda: ops.where(np.ones(4, bool), _t(3), _t(3)), None, exc=ValueError,
         match=r"\(4,\).*\(3,\)"),
    case("sum-axis-range", lambda: _t(2, 3).sum(axis=2), None, exc=ValueError, match=r"dim=2.*\(2, 3\)"),
    case("sum-axis-neg", lambda: _t(2, 3).sum(axis=-3), None, exc=ValueError, match=r"dim=-3.*\(2, 3\)"),
    case("sum-axis-dup", lambda: _t(2, 3).sum(axis=(1, -1)), None, exc=ValueError, match=r"\(2, 3\)"),
    case("sum-axis-float", lambda: _t(2, 3).sum(axis=1.0), None, exc=TypeError, match="dim"),
    case("max-axis", lambda: _t(2, 3).max(axis=5), None, exc=ValueError, match=r"\(2, 3\)"),
    case("max-empty", lambda: _t(0, 3).max(), None, exc=RuntimeError, match=r"\(0, 3\)"),
    case("softmax-axis", lambda: _t(2, 3).softmax(2), None, exc=IndexError, match=r"dim=2.*\(2, 3\)"),
    case("softmax-axis-tuple", lambda: _t(2, 3).softmax((0, 1)), None, exc=TypeError, match="dim"),
    case("flip-axes", lambda: _t(2, 3).flip((0, 3)), None, exc=ValueError, match=r"\(2, 3\)"),
    case("permute-short", lambda: _t(2, 3, 4).permute(0, 1), None, exc=ValueError,
         match=r"\(0, 1\).*\(2, 3, 4\)"),
    case("permute-range", lambda: _t(2, 3, 4).permute(0, 1, 5), None, exc=ValueError, match=r"\(2, 3, 4\)"),
    case("permute-wrap", lambda: _t(2, 3, 4).permute(0, 1, -4), None, exc=ValueError, match=r"\(2, 3, 4\)"),
    case("permute-dup", lambda: _t(2, 3, 4).permute(0, 0, 1), None, exc=ValueError, match=r"\(2, 3, 4\)"),
    case("permute-float", lambda: _t(2, 3).permute(0.0, 1.0), None, exc=TypeError, match="axes"),
    case("transpose", lambda: _t(2, 3).transpose(0, 2), None, exc=ValueError, match=r"\(2, 3\)"),
    case("broadcast_to", lambda: _t(3).broadcast_to((4,)), None, exc=ValueError, match=r"\(3,\).*\(4,\)"),
    case("broadcast_to-fewer-dims", lambda: _t(2, 3).broadcast_to((3,)), None, exc=ValueError,
         match=r"\(2, 3\).*\(3,\)"),
    case("getitem", lambda: _t(2, 3)[2], None, exc=IndexError, match=r"\(2, 3\)"),
    case("getitem-array", lambda: _t(2, 3)[[0, 5]], None, exc=IndexError, match=r"\(2, 3\)"),
    case("getitem-too-many", lambda: _t(2)[0, 0], None, exc=IndexError, match=r"\(2,\)"),
    case("pad-too-many", lambda: ops.pad(_t(2), ((1, 1), (1, 1))), None, exc=ValueError, match=r"\(2,\)"),
    case("pad-negative", lambda: ops.pad(_t(2), ((-1, 1),)), None, exc=ValueError, match=r"\(2,\)"),
    case("stack", lambda: ops.stack([_t(2, 3), _t(3, 2)]), None, exc=ValueError, match=r"\(2, 3\).*\(3, 2\)"),
    case("stack-empty", lambda: ops.stack([]), None, exc=ValueError, match="at least one"),
    case("concatenate", lambda: ops.concatenate([_t(2, 3), _t(2, 2)]), None, exc=ValueError,
         match=r"\(2, 3\).*\(2, 2\)"),
    case("dilate-negative", lambda: ops.dilate(_t(3), (0,), -1), None, exc=ValueError, match="dilation"),
    case("dilate-axes", lambda: ops.dilate(_t(3), (1,), 1), None, exc=ValueError, match=r"\(3,\)"),
    case("gelu-approximate", lambda: ops.gelu(_t(3), "fast"), None, exc=ValueError, match="approximate"),
]


@pytest.mark.parametrize("ours, theirs, inputs, kw", ERRORS)
def test_errors_name_the_shapes(ours, theirs, inputs, kw):
    with pytest.raises(kw["exc"], match=kw["match"]):
        ours()
