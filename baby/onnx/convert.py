"""One converter per op class: a traced Record -> ONNX nodes on the Graph, returning the output's name.

baby's convolutions and pools run channels-last (N, *S, C) on transposed views of NCHW tensors; their
converters wrap the ONNX op (NCHW) in Transposes that the Graph's tidying cancels against the surrounding
permutes. `r2` is the same op's record from a second trace with the dynamic axes grown by one (None when no
axis is dynamic): where a shape differs between the two, that dim is dynamic.
"""

import math

import numpy as np

from ..nn.functional.attention import MaskedSoftmax
from ..nn.functional.basic import LayerNorm
from ..nn.functional.norm import BatchNorm
from ..ops import elementwise as E
from ..ops import shape as S
from ..ops.conv.op import Conv, ConvTranspose
from ..ops.index import Gather
from ..ops.join import Concatenate, Stack
from ..ops.math import Cos, Expm1, Log1p, Sin
from ..ops.matmul import Einsum, Linear, MatMul
from ..ops.matrix import Triangle
from ..ops.pool import AvgPool, MaxPool
from ..ops.rearrange import Roll
from ..ops.reduce import Arg, Cumsum, LogSoftmax, Max, Prod, Softmax, Sum
from ..trace import Assign
from .graph import OnnxExporterError

CONVERTERS = {}
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # Slice bounds past either end of an axis


def converts(*classes):
    """Register the decorated function as the converter of `classes`."""
    def register(fn):
        for c in classes:
            CONVERTERS[c] = fn
        return fn
    return register


def _unary(op_type):
    """A converter to the one-input ONNX op `op_type`."""
    return lambda g, r, r2: g.add(op_type, [g.value(r.inputs[0])])


def _binary(op_type):
    """A converter to the ONNX op `op_type` over every input (broadcasting as NumPy)."""
    return lambda g, r, r2: g.add(op_type, [g.value(t) for t in r.inputs])


for _cls, _type in ((E.Neg, "Neg"), (E.Exp, "Exp"), (E.Log, "Log"), (E.Sqrt, "Sqrt"), (E.Abs, "Abs"),
                    (E.ReLU, "Relu"), (E.Sigmoid, "Sigmoid"), (E.Tanh, "Tanh"), (Sin, "Sin"),
                    (Cos, "Cos"), (S.Clone, "Identity"), (Assign, "Identity")):
    CONVERTERS[_cls] = _unary(_type)
for _cls, _type in ((E.Add, "Add"), (E.Mul, "Mul"), (E.Pow, "Pow"), (E.Maximum, "Max"),
                    (MatMul, "MatMul")):
    CONVERTERS[_cls] = _binary(_type)


@converts(E.Div)
def div(g, r, r2):
    """a / b; a sum divided by its count (a mean) is a ReduceMean, so the count may change with the
    dynamic axes."""
    a, b = r.inputs
    src = g.made.get(id(a))
    if isinstance(src, tuple) and isinstance(src[0].op, Sum) and not g.traced(b) and b.ndim == 0:
        (s, s2), axes = src, src[0].attrs["axes"]
        counts = [math.prod(rec.inputs[0].shape[i] for i in axes) for rec in (s, s2 or s)]
        if [float(b._data), float((r2 or r).inputs[1]._data)] == counts:
            g.unstable.pop(id(b), None)
            return g.reduce("ReduceMean", g.value(s.inputs[0]), axes, s.attrs["keepdims"])
    return g.add("Div", [g.value(t) for t in r.inputs])


COMPARE = {"greater": "Greater", "less": "Less", "equal": "Equal", "greater_equal": "GreaterOrEqual",
           "less_equal": "LessOrEqual"}
ROUNDING = {"floor": "Floor", "ceil": "Ceil", "round": "Round", "sign": "Sign"}


@converts(E.Compare)
def compare(g, r, r2):
    """A comparison: Greater, Less, Equal, ... (not_equal as Not(Equal))."""
    name = r.attrs["fn"].__name__
    if name == "not_equal":
        return g.add("Not", [g.add("Equal", [g.value(t) for t in r.inputs])])
    if name not in COMPARE:
        raise OnnxExporterError(f"the comparison {name} has no ONNX conversion")
    return g.add(COMPARE[name], [g.value(t) for t in r.inputs])


@converts(E.Rounding)
def rounding(g, r, r2):
    """floor, ceil, round, sign: the ONNX op of the same name."""
    name = r.attrs["fn"].__name__.replace("<lambda>", "round to decimals")
    if name not in ROUNDING:
        raise OnnxExporterError(f"the rounding {name} has no ONNX conversion")
    return g.add(ROUNDING[name], [g.value(r.inputs[0])])


@converts(E.Cast)
def cast(g, r, r2):
    """A dtype change: Cast."""
    from onnx.helper import np_dtype_to_tensor_dtype
    return g.add("Cast", [g.value(r.inputs[0])], to=np_dtype_to_tensor_dtype(np.dtype(r.attrs["dtype"])))


@converts(E.PowScalar)
def pow_scalar(g, r, r2):
    """x ** p for a number p: Pow with a constant exponent of x's dtype."""
    x = r.inputs[0]
    return g.add("Pow", [g.value(x), g.const(r.attrs["p"], x.dtype)])


@converts(Log1p)
def log1p(g, r, r2):
    """log(1 + x): Log(Add)."""
    x = r.inputs[0]
    return g.add("Log", [g.add("Add", [g.value(x), g.const(1, x.dtype)])])


@converts(Expm1)
def expm1(g, r, r2):
    """exp(x) - 1: Sub(Exp)."""
    x = r.inputs[0]
    return g.add("Sub", [g.add("Exp", [g.value(x)]), g.const(1, x.dtype)])


@converts(E.GELU)
def gelu(g, r, r2):
    """GELU from Erf (exact) or Tanh (approximate), as the formula."""
    x = r.inputs[0]
    v, c = g.value(x), lambda k: g.const(k, x.dtype)
    if r.attrs["approximate"] == "tanh":  # 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
        inner = g.add("Add", [v, g.add("Mul", [g.add("Pow", [v, c(3)]), c(0.044715)])])
        t = g.add("Tanh", [g.add("Mul", [inner, c(math.sqrt(2 / math.pi))])])
    else:  # 0.5 x (1 + erf(x / sqrt(2)))
        t = g.add("Erf", [g.add("Div", [v, c(math.sqrt(2))])])
    return g.add("Mul", [g.add("Mul", [v, c(0.5)]), g.add("Add", [t, c(1)])])


@converts(E.Where)
def where(g, r, r2):
    """Where: the condition is a traced comparison (an activation's) or a constant mask."""
    cond = r.attrs["cond"]
    name = g.arrays.get(id(cond))
    return g.add("Where", [name or g.const(cond), *(g.value(t) for t in r.inputs)])


@converts(Linear)
def linear(g, r, r2):
    """x @ w.T + b: Gemm with transB."""
    return g.add("Gemm", [g.value(t) for t in r.inputs], transB=1)


@converts(Einsum)
def einsum(g, r, r2):
    """Einsum with the op's equation."""
    equation = f"{','.join(r.attrs['ins'])}->{r.attrs['out']}"
    return g.add("Einsum", [g.value(t) for t in r.inputs], equation=equation)


def _nchw(g, t):
    """The (N, C, *S) transpose of the channels-last tensor t (N, *S, C)."""
    nd = t.ndim - 2
    return g.add("Transpose", [g.value(t)], perm=[0, nd + 1, *range(1, nd + 1)])


def _nhwc(g, y, nd):
    """The channels-last (N, *S, C) transpose of the value y (N, C, *S)."""
    return g.add("Transpose", [y], perm=[0, *range(2, nd + 2), 1])


def _pads(pads):
    """ONNX pads: every dim's start, then every dim's end."""
    return [int(b) for b, _ in pads] + [int(a) for _, a in pads]


@converts(Conv, ConvTranspose)
def conv(g, r, r2):
    """Conv / ConvTranspose: an `nchw` op as it is; else on the NCHW transpose of the channels-last input,
    the weights in PyTorch's layout."""
    x, w, *b = r.inputs
    nd, a = x.ndim - 2, r.attrs
    nchw = a.get("nchw", False)
    W = g.value(w) if nchw else g.transposed(w, (nd + 1, nd, *range(nd)))  # (C', C/G, *k): PyTorch's layouts
    extra = {"output_padding": list(a["output_padding"])} if "output_padding" in a else {}
    y = g.add("ConvTranspose" if extra else "Conv", [g.value(x) if nchw else _nchw(g, x), W,
                                                     *(g.value(t) for t in b)],
              kernel_shape=list(w.shape[2:] if nchw else w.shape[:nd]), strides=list(a["stride"]),
              pads=_pads(a["pads"]), dilations=list(a["dilation"]), group=int(a["groups"]), **extra)
    return y if nchw else _nhwc(g, y, nd)


def _pool_input(g, x, a):
    """A pool's input as an NCHW value: an `nchw` op's itself, else the channels-last one transposed."""
    return g.value(x) if a.get("nchw", False) else _nchw(g, x)


def _pool_output(g, y, a, nd):
    """A pool's NCHW result as the op gives it (channels-last unless the op is `nchw`)."""
    return y if a.get("nchw", False) else _nhwc(g, y, nd)


@converts(MaxPool)
def max_pool(g, r, r2):
    """MaxPool with baby's pads (the ceil_mode ones included), on the NCHW input."""
    x, a = r.inputs[0], r.attrs
    y = g.add("MaxPool", [_pool_input(g, x, a)], kernel_shape=list(a["k"]), strides=list(a["stride"]),
              pads=_pads(a["pads"]), dilations=list(a["dilation"]))
    return _pool_output(g, y, a, x.ndim - 2)


@converts(AvgPool)
def avg_pool(g, r, r2):
    """AveragePool (window sums / window size), times window size / baby's divisor where they differ."""
    x, a = r.inputs[0], r.attrs
    y = g.add("AveragePool", [_pool_input(g, x, a)], kernel_shape=list(a["k"]), strides=list(a["stride"]),
              pads=_pads(a["pads"]), count_include_pad=1)  # window sums / prod(k)
    scale = math.prod(a["k"]) / np.asarray(a["divisor"], np.float64)  # () or (*O, 1)
    if np.any(scale != 1):
        y = g.add("Mul", [y, g.const(scale.reshape(scale.shape[:-1]) if scale.ndim else scale, x.dtype)])
    return _pool_output(g, y, a, x.ndim - 2)


@converts(BatchNorm)
def batch_norm(g, r, r2):
    """Eval: BatchNormalization; with batch statistics (group and instance norm): the formula."""
    x, w, b = r.inputs
    a = r.attrs
    if not a["training"]:
        return g.add("BatchNormalization", [g.value(x), g.value(w), g.value(b), g.const(a["mean"]),
                                            g.const(a["var"])], epsilon=float(a["eps"]))
    axes = [0, *range(2, x.ndim)]  # batch statistics (group_norm, instance_norm): over all but dim 1
    v = g.value(x)
    xc = g.add("Sub", [v, g.reduce("ReduceMean", v, axes, True)])
    var = g.reduce("ReduceMean", g.add("Mul", [xc, xc]), axes, True)
    y = g.add("Div", [xc, g.add("Sqrt", [g.add("Add", [var, g.const(a["eps"], x.dtype)])])])
    shape = (1, -1) + (1,) * (x.ndim - 2)  # per-channel values broadcast against x
    if g.traced(w) or np.any(w._data != 1):
        y = g.add("Mul", [y, g.add("Reshape", [g.value(w), g.ints(shape)])])
    if g.traced(b) or np.any(b._data != 0):
        y = g.add("Add", [y, g.add("Reshape", [g.value(b), g.ints(shape)])])
    return y


@converts(LayerNorm)
def layer_norm(g, r, r2):
    """LayerNormalization over the trailing `k` dims (its formula before opset 17)."""
    x, w, b = r.inputs
    k, eps = int(r.attrs["k"]), float(r.attrs["eps"])
    if g.opset >= 17:
        return g.add("LayerNormalization", [g.value(t) for t in r.inputs], axis=-k, epsilon=eps)
    axes, v = list(range(x.ndim - k, x.ndim)), g.value(x)  # before opset 17: the formula
    xc = g.add("Sub", [v, g.reduce("ReduceMean", v, axes, True)])
    var = g.reduce("ReduceMean", g.add("Mul", [xc, xc]), axes, True)
    y = g.add("Div", [xc, g.add("Sqrt", [g.add("Add", [var, g.const(eps, x.dtype)])])])
    return g.add("Add", [g.add("Mul", [y, g.value(w)]), g.value(b)])


def _dynamic(r, r2, shape1, shape2):
    """Which entries of a recorded shape differ between the two traces."""
    return [i for i, (m, n) in enumerate(zip(shape1, shape2, strict=True)) if m != n] if r2 else []


@converts(S.Reshape)
def reshape(g, r, r2):
    x, shape = r.inputs[0], list(r.attrs["shape"])
    if x.shape == r.output.shape and (r2 is None or r2.inputs[0].shape == r2.output.shape):
        return g.add("Identity", [g.value(x)])
    dyn = _dynamic(r, r2, shape, r2.attrs["shape"] if r2 else shape)
    for i in list(dyn):
        if i < x.ndim and shape[i] == x.shape[i] and r2.attrs["shape"][i] == r2.inputs[0].shape[i]:
            shape[i] = 0  # ONNX: the input's size in this dim
            dyn.remove(i)
    if len(dyn) > 1:  # the sizes at run time, from the shape of a value that had them in both traces
        return g.add("Reshape", [g.value(x), _shape_of_values(g, r, r2, shape, dyn)])
    for i in dyn:
        shape[i] = -1
    return g.add("Reshape", [g.value(x), g.ints(shape)])


def _shape_of_values(g, r, r2, shape, dyn):
    """A shape tensor: the static entries of `shape`, and each dynamic one gathered from the Shape of a
    traced value whose size in some dim matched it in both traces."""
    parts = []
    for i, n in enumerate(shape):
        if i not in dyn:
            parts.append(g.ints([n]))
            continue
        found = next(((name, d) for name, s1, s2 in reversed(g.sizes) for d in range(len(s1))
                      if s1[d] == n and s2[d] == r2.attrs["shape"][i]), None)
        if found is None:
            raise OnnxExporterError(f"reshape to {tuple(r.attrs['shape'])}: dim {i} changes with the dynamic "
                                    "axes and no traced value has its size")
        parts.append(g.add("Gather", [g.add("Shape", [found[0]]), g.ints([found[1]])], axis=0))
    return g.add("Concat", parts, axis=0)


@converts(S.Permute)
def permute(g, r, r2):
    """Transpose."""
    return g.add("Transpose", [g.value(r.inputs[0])], perm=[int(i) for i in r.attrs["axes"]])


@converts(S.BroadcastTo)
def broadcast_to(g, r, r2):
    """Expand; a dynamic dim is 1 in the shape (Expand keeps the input's)."""
    x, shape = r.inputs[0], list(r.attrs["shape"])
    lead = len(shape) - x.ndim
    for i in _dynamic(r, r2, shape, r2.attrs["shape"] if r2 else shape):
        if i < lead or x.shape[i - lead] != shape[i]:
            raise OnnxExporterError(f"broadcast_to {tuple(shape)}: a dynamic dim is broadcast from size 1")
        shape[i] = 1  # Expand keeps the input's size there
    return g.add("Expand", [g.value(x), g.ints(shape)])


@converts(S.Pad)
def pad(g, r, r2):
    """Pad with a constant."""
    x = r.inputs[0]
    return g.add("Pad", [g.value(x), g.ints(_pads(r.attrs["pad"])), g.const(r.attrs["value"], x.dtype)])


@converts(S.Flip)
def flip(g, r, r2):
    """Slice with step -1 along the flipped axes."""
    axes = list(r.attrs["axes"])
    n = len(axes)
    return g.add("Slice", [g.value(r.inputs[0]), g.ints([-1] * n), g.ints([INT_MIN] * n), g.ints(axes),
                           g.ints([-1] * n)])


@converts(S.GetItem)
def getitem(g, r, r2):
    """Basic indexing (ints, slices, None, ...) and one constant integer array: Slice, Gather, Unsqueeze."""
    x, index = r.inputs[0], r.attrs["index"]
    index = index if isinstance(index, tuple) else (index,)
    index2 = r2.attrs["index"] if r2 else index
    index2 = index2 if isinstance(index2, tuple) else (index2,)
    fixed = [k for k, i in enumerate(index) if id(i) not in g.arrays]  # what must not change between traces
    if r2 and any(repr(index[k]) != repr(index2[k]) for k in fixed):
        raise OnnxExporterError(f"indexing with {index!r}: the index changes with the dynamic axes")
    if sum(isinstance(i, np.ndarray) for i in index) > 1 or any(
            isinstance(i, np.ndarray) and i.dtype.kind not in "iu" for i in index):
        raise OnnxExporterError("indexing with several index arrays or a bool mask has no ONNX conversion")
    if any(isinstance(i, np.ndarray) for i in index) and any(isinstance(i, int | np.integer) for i in index):
        raise OnnxExporterError("indexing with an index array and ints together has no ONNX conversion")
    ell = [k for k, i in enumerate(index) if i is Ellipsis]
    used = sum(i is not None and i is not Ellipsis for i in index)
    if ell:
        index = index[:ell[0]] + (slice(None),) * (x.ndim - used) + index[ell[0] + 1:]
    index = index + (slice(None),) * (x.ndim - sum(i is not None for i in index))
    v, starts, ends, axes, steps, picks, new, axis, out = g.value(x), [], [], [], [], [], [], 0, 0
    for i in index:
        if i is None:
            new.append(out)
            out += 1
            continue
        if isinstance(i, slice) and i != slice(None):  # Python's bounds (negative ones too): ONNX's
            step = 1 if i.step is None else int(i.step)
            starts.append((0 if step > 0 else INT_MAX) if i.start is None else int(i.start))
            ends.append((INT_MAX if step > 0 else INT_MIN) if i.stop is None else int(i.stop))
            axes.append(axis)
            steps.append(step)
        elif not isinstance(i, slice):
            picks.append((axis, i))
        out += 1 if isinstance(i, slice) else np.ndim(i)
        axis += 1
    if axes:
        v = g.add("Slice", [v, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    for axis, i in reversed(picks):  # from the last axis, so the earlier ones keep their positions
        traced = g.arrays.get(id(i)) if isinstance(i, np.ndarray) else None  # an index the model computed
        v = g.add("Gather", [v, traced or g.const(np.asarray(i, np.int64))], axis=axis)
    return g.add("Unsqueeze", [v, g.ints(new)]) if new else v


@converts(Sum)
def sum_(g, r, r2):
    """ReduceSum."""
    return g.reduce("ReduceSum", g.value(r.inputs[0]), r.attrs["axes"], r.attrs["keepdims"])


@converts(Max)
def max_(g, r, r2):
    """ReduceMax."""
    return g.reduce("ReduceMax", g.value(r.inputs[0]), r.attrs["axes"], r.attrs["keepdims"])


@converts(Prod)
def prod(g, r, r2):
    """ReduceProd."""
    return g.reduce("ReduceProd", g.value(r.inputs[0]), [r.attrs["axis"]], r.attrs["keepdims"])


@converts(Softmax, LogSoftmax)
def softmax(g, r, r2):
    """Softmax or LogSoftmax along the op's axis."""
    op_type = "Softmax" if isinstance(r.op, Softmax) else "LogSoftmax"
    return g.add(op_type, [g.value(r.inputs[0])], axis=int(r.attrs["axis"]))


@converts(Cumsum)
def cumsum(g, r, r2):
    """CumSum."""
    return g.add("CumSum", [g.value(r.inputs[0]), g.const(np.asarray(r.attrs["axis"], np.int64))])


@converts(Arg)
def arg(g, r, r2):
    """ArgMax / ArgMin along an axis, or of the flattened tensor."""
    x, a = r.inputs[0], r.attrs
    op_type = "ArgMax" if a["fn"] == "argmax" else "ArgMin"
    if a["axis"] is not None:
        return g.add(op_type, [g.value(x)], axis=int(a["axis"]), keepdims=int(a["keepdims"]))
    flat = g.add("Reshape", [g.value(x), g.ints([-1])])
    return g.add("Reshape", [g.add(op_type, [flat], axis=0, keepdims=0),
                             g.ints([1] * x.ndim if a["keepdims"] else [])])


@converts(Gather)
def gather(g, r, r2):
    """GatherElements by the traced (or constant) index along `dim`."""
    d, index = r.attrs["dim"], r.attrs["index"][r.attrs["dim"]]
    i = g.arrays.get(id(index)) or g.const(np.broadcast_to(index, r.output.shape))
    return g.add("GatherElements", [g.value(r.inputs[0]), i], axis=int(d))


@converts(Concatenate)
def concatenate(g, r, r2):
    """Concat."""
    return g.add("Concat", [g.value(t) for t in r.inputs], axis=int(r.attrs["axis"]))


@converts(Stack)
def stack(g, r, r2):
    """Unsqueeze each input, then Concat."""
    axis = int(r.attrs["axis"])
    parts = [g.add("Unsqueeze", [g.value(t), g.ints([axis])]) for t in r.inputs]
    return g.add("Concat", parts, axis=axis)


@converts(Triangle)
def triangle(g, r, r2):
    """tril / triu: Trilu (opset 14 and later) with the diagonal offset."""
    if g.opset < 14:
        raise OnnxExporterError(f"{r.attrs['fn'].__name__} needs opset 14 or later (Trilu)")
    return g.add("Trilu", [g.value(r.inputs[0]), g.const(np.asarray(r.attrs["k"], np.int64))],
                 upper=int(r.attrs["fn"].__name__ == "triu"))


@converts(Roll)
def roll(g, r, r2):
    """Roll by s along d: the last s elements, then the rest (two Slices and a Concat per dim)."""
    x, v = r.inputs[0], g.value(r.inputs[0])
    for k, (s, d) in enumerate(zip(r.attrs["shifts"], r.attrs["dims"], strict=True)):
        s %= x.shape[d]
        if r2 is not None and s != r2.attrs["shifts"][k] % r2.inputs[0].shape[d]:
            raise OnnxExporterError(f"roll along dim {d}: the shift changes with the dynamic axes")
        if s:
            tail = g.add("Slice", [v, g.ints([-s]), g.ints([INT_MAX]), g.ints([d])])
            head = g.add("Slice", [v, g.ints([0]), g.ints([-s]), g.ints([d])])
            v = g.add("Concat", [tail, head], axis=int(d))
    return v


@converts(MaskedSoftmax)
def masked_softmax(g, r, r2):
    """Attention's softmax(s + mask) over the last dim, -inf where `keep` is false, 0 in rows left empty."""
    s = r.inputs[0]
    z = g.value(s) if len(r.inputs) == 1 else g.add("Add", [g.value(s), g.value(r.inputs[1])])
    keep = r.attrs["keep"]
    if keep is None:
        return g.add("Softmax", [z], axis=-1)
    k = g.arrays.get(id(keep)) or g.const(keep)
    p = g.add("Softmax", [g.add("Where", [k, z, g.const(-np.inf, s.dtype)])], axis=-1)
    return g.add("Where", [g.add("IsNaN", [p]), g.const(0, s.dtype), p])  # a row with no score: zeros
