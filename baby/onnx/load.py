"""baby.onnx.load: an ONNX graph of the ops baby exports, run with baby's own ops.

Each ONNX op is one small function below, named after it, taking baby tensors and ONNX's attributes; the
loaded Program calls them node by node, and `program.code()` lists those calls as Python, so an exported
graph reads as baby code. Nothing in the file is executed: op types select functions from the table.
"""

import math

import numpy as np

from .. import ops
from ..nn import functional as F
from ..tensor import Tensor
from .graph import OnnxExporterError
from .recurrent import RUNNERS as RECURRENT

INT_MAX = 2**62  # Slice bounds past this are "to the end"


def _pairs(pads):
    """ONNX pads (starts, then ends) as (before, after) pairs per dim."""
    n = len(pads) // 2
    return tuple((int(pads[i]), int(pads[i + n])) for i in range(n))


def _ints(t):
    return [int(v) for v in np.asarray(t._data if isinstance(t, Tensor) else t).reshape(-1)]


def conv(x, w, b=None, *, strides, pads, dilations, group, kernel_shape=None):
    """Conv: F.conv1d/2d/3d with (before, after) padding pairs."""
    return getattr(F, f"conv{w.ndim - 2}d")(x, w, b, stride=tuple(strides), padding=_pairs(pads),
                                           dilation=tuple(dilations), groups=group)


def conv_transpose(x, w, b=None, *, strides, pads, dilations, group, output_padding, kernel_shape=None):
    """ConvTranspose: F.conv_transpose1d/2d/3d (symmetric pads, as baby exports them)."""
    before, after = zip(*_pairs(pads), strict=True)
    if before != after:
        raise OnnxExporterError(f"ConvTranspose with asymmetric pads {list(pads)} is not supported")
    return getattr(F, f"conv_transpose{w.ndim - 2}d")(x, w, b, stride=tuple(strides), padding=before,
                                                     output_padding=tuple(output_padding), groups=group,
                                                     dilation=tuple(dilations))


def _padded(x, pads, value):
    """x (N, C, *S) padded in its spatial dims by ONNX pads."""
    return ops.pad(x, _pairs(pads), value) if any(pads) else x


def max_pool(x, *, kernel_shape, strides, pads, dilations):
    """MaxPool: -inf padding, then F.max_pool*d without padding."""
    fn = getattr(F, f"max_pool{x.ndim - 2}d")
    return fn(_padded(x, pads, -math.inf), tuple(kernel_shape), tuple(strides), 0, tuple(dilations))


def average_pool(x, *, kernel_shape, strides, pads, count_include_pad):
    """AveragePool counting the padding: zero padding, then F.avg_pool*d (window sums / window size)."""
    if any(pads) and not count_include_pad:
        raise OnnxExporterError("AveragePool with count_include_pad=0 and pads is not supported")
    return getattr(F, f"avg_pool{x.ndim - 2}d")(_padded(x, pads, 0.0), tuple(kernel_shape), tuple(strides))


def batch_normalization(x, scale, b, mean, var, *, epsilon):
    """BatchNormalization with given statistics: F.batch_norm in eval mode."""
    return F.batch_norm(x, mean, var, scale, b, training=False, eps=epsilon)


def layer_normalization(x, w, b=None, *, axis, epsilon):
    """LayerNormalization over the dims from `axis`: F.layer_norm."""
    return F.layer_norm(x, tuple(x.shape[axis:]), w, b, eps=epsilon)


def gemm(a, b, c=None, *, transB=0, transA=0, alpha=1.0, beta=1.0):
    """Gemm: alpha * a' @ b' + beta * c; F.linear when b is transposed and alpha = beta = 1."""
    if transB and not transA and alpha == beta == 1:
        return F.linear(a, b, c)
    y = ops.matmul(a.T if transA else a, b.T if transB else b) * alpha
    return y if c is None else y + c * beta


def reshape(x, shape):
    """Reshape: 0 keeps the input's size in that dim, -1 is inferred."""
    s = [x.shape[i] if n == 0 else n for i, n in enumerate(_ints(shape))]
    return ops.reshape(x, *s)


def expand(x, shape):
    """Expand: broadcast x and the shape against each other."""
    return ops.broadcast_to(x, np.broadcast_shapes(tuple(x.shape), tuple(_ints(shape))))


def unsqueeze(x, axes):
    """Unsqueeze: size-1 dims at `axes` of the output."""
    n = x.ndim + len(_ints(axes))
    new = sorted(a % n for a in _ints(axes))
    rest = iter(x.shape)
    shape = [1 if i in new else next(rest) for i in range(n)]
    return ops.reshape(x, *shape)


def slice_(x, starts, ends, axes=None, steps=None):
    """Slice: x[start:end:step] along `axes`."""
    starts, ends = _ints(starts), _ints(ends)
    axes = _ints(axes) if axes is not None else list(range(len(starts)))
    steps = _ints(steps) if steps is not None else [1] * len(starts)
    index = [slice(None)] * x.ndim
    for s, e, a, k in zip(starts, ends, axes, steps, strict=True):
        index[a] = slice(None if abs(s) >= INT_MAX else s, None if abs(e) >= INT_MAX else e, k)
    return x[tuple(index)]


def gather(x, i, *, axis=0):
    """Gather: x indexed by the int array i along `axis`."""
    return x[(slice(None),) * (axis % x.ndim) + (i._data,)]


def pad(x, pads, value=None, *, mode="constant"):
    """Pad with a constant: ops.pad with (before, after) pairs."""
    return ops.pad(x, _pairs(_ints(pads)), 0 if value is None else value.item())


def _reduce(fn):
    def reduce(x, axes=None, *, keepdims=1, **attrs):
        axes = attrs.get("axes", _ints(axes) if axes is not None else list(range(x.ndim)))
        return fn(x, tuple(axes), bool(keepdims))
    reduce.__name__ = fn.__name__
    reduce.__doc__ = f"A reduction over `axes`: ops.{fn.__name__}."
    return reduce


def erf(x):
    """Erf to ~1e-7 from baby's ops (Abramowitz & Stegun 7.1.26)."""
    a = ops.abs(x)
    t = 1 / (1 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return ops.sign(x) * (1 - poly * ops.exp(-a * a))


def cast(x, *, to):
    """Cast to the ONNX element type `to`."""
    from onnx.helper import tensor_dtype_to_np_dtype
    return x.to(np.dtype(tensor_dtype_to_np_dtype(to)))


RUNNERS = {
    "Conv": conv, "ConvTranspose": conv_transpose, "MaxPool": max_pool, "AveragePool": average_pool,
    "BatchNormalization": batch_normalization, "LayerNormalization": layer_normalization, "Gemm": gemm,
    "MatMul": ops.matmul, "Add": ops.add, "Sub": ops.sub, "Mul": ops.mul, "Div": ops.div, "Pow": ops.pow,
    "Max": ops.maximum, "Neg": ops.neg, "Exp": ops.exp, "Log": ops.log, "Sqrt": ops.sqrt, "Abs": ops.abs,
    "Relu": ops.relu, "Sigmoid": ops.sigmoid, "Tanh": ops.tanh, "Sin": ops.sin, "Cos": ops.cos, "Erf": erf,
    "Floor": ops.floor, "Ceil": ops.ceil, "Round": ops.round, "Sign": ops.sign, "Identity": lambda x: x,
    "Equal": ops.eq, "Greater": ops.gt, "Less": ops.lt, "GreaterOrEqual": ops.ge, "LessOrEqual": ops.le,
    "Not": ops.logical_not, "IsNaN": ops.isnan,
    "Shape": lambda x: Tensor(np.asarray(x.shape, np.int64)), "Where": ops.where, "Cast": cast,
    "Transpose": lambda x, *, perm: ops.permute(x, *perm),
    "Reshape": reshape, "Expand": expand, "Unsqueeze": unsqueeze, "Slice": slice_, "Gather": gather,
    "GatherElements": lambda x, i, *, axis: ops.gather(x, axis, i), "Pad": pad,
    "Concat": lambda *xs, axis: ops.cat(list(xs), axis),
    "Einsum": lambda *xs, equation: ops.einsum(equation, *xs),
    "ReduceSum": _reduce(ops.sum), "ReduceMean": _reduce(ops.mean), "ReduceMax": _reduce(ops.amax),
    "ReduceProd": _reduce(lambda x, axes, keepdim: ops.prod(x, axes[0], keepdim)),
    "Softmax": lambda x, *, axis=-1: ops.softmax(x, axis),
    "LogSoftmax": lambda x, *, axis=-1: ops.log_softmax(x, axis),
    "CumSum": lambda x, axis: ops.cumsum(x, int(axis.item())),
    "Trilu": lambda x, k=None, *, upper=1: (ops.triu if upper else ops.tril)(x, 0 if k is None else k.item()),
    "ArgMax": lambda x, *, axis=0, keepdims=1: ops.argmax(x, axis, bool(keepdims)),
    "ArgMin": lambda x, *, axis=0, keepdims=1: ops.argmin(x, axis, bool(keepdims)),
}
RUNNERS.update(RECURRENT)


class Program:
    """An ONNX graph as a callable: program(*inputs) runs each node with baby's ops; code() lists them."""

    def __init__(self, model):
        from onnx import helper, numpy_helper
        g = model.graph
        self.initializers = {t.name: Tensor(numpy_helper.to_array(t).copy(), dtype=None)
                             for t in g.initializer}
        self.inputs = [i.name for i in g.input if i.name not in self.initializers]
        self.outputs = [o.name for o in g.output]
        self.nodes = []
        for n in g.node:
            if n.domain not in ("", "ai.onnx") or n.op_type not in RUNNERS:
                raise OnnxExporterError(f"baby.onnx.load: the ONNX op {n.op_type} is not one baby runs")
            attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
            attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs.items()}
            self.nodes.append((n.op_type, list(n.input), list(n.output), attrs))

    def __call__(self, *inputs):
        if len(inputs) != len(self.inputs):
            raise TypeError(f"the graph takes {len(self.inputs)} inputs {self.inputs}, got {len(inputs)}")
        env = dict(self.initializers)
        for n, x in zip(self.inputs, inputs, strict=True):
            env[n] = x if isinstance(x, Tensor) else Tensor(x, dtype=None)
        for op_type, ins, outs, attrs in self.nodes:
            y = RUNNERS[op_type](*(env[i] if i else None for i in ins), **attrs)
            env.update(zip(outs, y, strict=False) if isinstance(y, tuple) else [(outs[0], y)])
        out = [env[o] for o in self.outputs]
        return out[0] if len(out) == 1 else tuple(out)

    def code(self):
        """The graph as Python calls of this module's functions, one line per node."""
        def name(v):
            t = self.initializers.get(v)
            if t is not None and t.dtype == np.int64 and t.numel() <= 8:  # shapes, axes, pads: as a list
                return repr(t.tolist())
            return f"init[{v!r}]" if t is not None else v.replace(".", "_").replace("/", "_") or "None"
        lines = [f"def forward({', '.join(map(name, self.inputs))}):"]
        for op_type, ins, outs, attrs in self.nodes:
            fn = RUNNERS[op_type]
            label = fn.__name__ if fn.__name__ != "<lambda>" else op_type
            args = [name(i) for i in ins] + [f"{k}={v!r}" for k, v in attrs.items()]
            lines.append(f"    {', '.join(map(name, outs))} = {label}({', '.join(args)})")
        lines.append(f"    return {', '.join(map(name, self.outputs))}")
        return "\n".join(lines)


def load(f):
    """The ONNX model in `f` (a path, a binary file, a ModelProto or an ONNXProgram) as a Program run with
    baby's ops."""
    from .export import _onnx
    onnx = _onnx()
    if isinstance(f, onnx.ModelProto):
        return Program(f)
    if hasattr(f, "model_proto"):  # what export returned
        return Program(f.model_proto)
    model = onnx.load_model(f, load_external_data=False)
    return Program(model)
