"""baby.onnx.export: trace the model once (twice with dynamic axes), convert each op, write an ONNX model."""

import enum
import inspect
import os
from importlib import metadata

import numpy as np

from ..grad_mode import no_grad
from ..io import write_atomic
from ..tensor import Tensor
from ..trace import Trace
from .convert import CONVERTERS
from .graph import Graph, Node, OnnxExporterError
from .recurrent import recurrence  # noqa: F401 (registers the recurrent converters)

OPSETS = range(13, 22)  # the opset versions baby writes (18 by default)
_exporting = []  # True while an export traces the model


class TrainingMode(enum.IntEnum):
    """The mode the model is exported in: EVAL (default), PRESERVE (as it is) or TRAINING."""

    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


class ONNXProgram:
    """What export returns, as torch.onnx.ONNXProgram: `model_proto`, `save(path)`, and a call that runs the
    graph with baby's ops (baby.onnx.load) and returns the list of outputs."""

    def __init__(self, model_proto):
        self.model_proto = model_proto

    def save(self, destination):
        """Write the model to `destination` (a path, atomically, or a binary file)."""
        data = self.model_proto.SerializeToString()
        if isinstance(destination, (str, os.PathLike)):
            write_atomic(destination, lambda out: out.write(data))
        else:
            destination.write(data)

    def __call__(self, *args):
        from .load import Program
        out = Program(self.model_proto)(*args)
        return list(out) if isinstance(out, tuple) else [out]

    def __repr__(self):
        g = self.model_proto.graph
        return (f"ONNXProgram({len(g.node)} nodes, inputs {[i.name for i in g.input]}, outputs "
                f"{[o.name for o in g.output]}, opset {self.model_proto.opset_import[0].version})")


def is_in_onnx_export():
    """Whether an export is tracing the model right now."""
    return bool(_exporting)


def _onnx():
    """The onnx package, or a one-line error naming the extra that installs it."""
    try:
        import onnx
    except ImportError:
        raise ModuleNotFoundError("baby.onnx needs the onnx package: pip install 'baby[onnx]'") from None
    return onnx


def _split_args(args, kwargs):
    """(positional args, keyword args): a lone tensor is one argument; a trailing dict is keywords."""
    args = (args,) if isinstance(args, Tensor) else tuple(args)
    if args and isinstance(args[-1], dict) and not kwargs:
        return args[:-1], args[-1]
    return args, dict(kwargs or {})


def _names(given, default, n, what):
    names = list(given or [])
    if len(names) > n:
        raise ValueError(f"export: {len(names)} {what}_names {names} for {n} {what}s")
    return names + default[len(names):n]


def _dynamic_axes(dynamic_axes, dynamic_shapes, shapes):
    """{value name: {axis: dim name}} from PyTorch's forms ({name: {axis: dim name}} or {name: [axes]})."""
    out = {}
    for name, axes in {**(dynamic_shapes or {}), **(dynamic_axes or {})}.items():
        if name not in shapes:
            raise ValueError(f"export: dynamic_axes names {name!r}, which is none of the inputs and outputs "
                             f"{list(shapes)}")
        axes = axes if isinstance(axes, dict) else {a: f"{name}_dynamic_axes_{k + 1}" for k, a in
                                                     enumerate(axes)}
        n = len(shapes[name])
        bad = [a for a in axes if not isinstance(a, int) or not -n <= a < n]
        if bad:
            raise ValueError(f"export: dynamic_axes[{name!r}] has axes {bad} out of range for shape "
                             f"{tuple(shapes[name])}")
        out[name] = {a % n: str(d) for a, d in axes.items() if d is not None}
    return out


def _grow(t, axes):
    """Tensor `t` one longer along each of `axes` (its last slice repeated): the second trace's input."""
    a = t._data
    for ax in axes:
        a = np.concatenate([a, a.take([-1], axis=ax)], axis=ax)  # one more along ax
    return Tensor(a, dtype=None)


def _outputs(out):
    """The model's output as a list of tensors."""
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    if not all(isinstance(t, Tensor) for t in outs):
        raise OnnxExporterError(f"export: the model must return a tensor or a tuple of tensors, got "
                                f"{type(out).__name__}")
    return outs


class _ScopedTrace(Trace):
    """A Trace that also notes, per record, the path of the module whose forward made the call."""

    def __init__(self, model):
        super().__init__()
        self.scopes, self.stack, self.handles = [], [""], []
        for name, m in model.named_modules() if hasattr(model, "named_modules") else ():
            self.handles += [m.register_forward_pre_hook(self._enter(name)),
                             m.register_forward_hook(self._leave)]

    def _enter(self, name):
        def hook(module, args):
            self.stack.append(name)
        return hook

    def _leave(self, module, args, y):
        self.stack.pop()

    def record(self, op, inputs, attrs, output):
        n = len(self.records)
        super().record(op, inputs, attrs, output)
        if len(self.records) > n:
            self.scopes.append(self.stack[-1])

    def __exit__(self, *exc):
        super().__exit__(*exc)
        for h in self.handles:
            h.remove()


def _run(model, args, kwargs):
    """The records (with their module paths) and outputs of one traced call."""
    with no_grad(), _ScopedTrace(model) as t:
        _exporting.append(True)
        try:
            out = model(*args, **kwargs)
        finally:
            _exporting.pop()
    return list(zip(t.records, t.scopes, strict=True)), _outputs(out)


def _depends(g, r):
    """Whether a record's output depends on the graph's inputs (an input or an array attribute is traced)."""
    if any(g.traced(t) for t in r.inputs):
        return True
    arrays = [v for v in r.attrs.values() if isinstance(v, np.ndarray)]
    arrays += [a for v in r.attrs.values() if isinstance(v, tuple) for a in v if isinstance(a, np.ndarray)]
    return any(id(a) in g.arrays for a in arrays)


def _converter(op):
    for cls in type(op).__mro__:
        if cls in CONVERTERS:
            return CONVERTERS[cls]
    raise OnnxExporterError(f"export: the op {type(op).__name__} ({type(op).__module__}) has no ONNX "
                            f"conversion in baby.onnx")


def _check_same(r, r2):
    """Raise unless the second trace's record is the same op, with as many inputs."""
    if r2 is None:
        return
    if type(r.op) is not type(r2.op) or len(r.inputs) != len(r2.inputs):
        raise OnnxExporterError(f"export: the model runs other ops when the dynamic axes change size "
                                f"({type(r.op).__name__} vs {type(r2.op).__name__}); export it without "
                                f"dynamic_axes")


def _convert(g, records, records2):
    """Emit the nodes of every record whose output depends on the inputs."""
    for k, (r, scope) in enumerate(records):
        r2 = records2[k][0] if records2 is not None else None
        g.scope = scope
        _check_same(r, r2)
        if not _depends(g, r):
            continue
        if r2 is not None:
            for t, t2 in zip(r.inputs, r2.inputs, strict=True):
                if not g.traced(t) and not (t._data is t2._data or (t.shape == t2.shape and np.array_equal(
                        t._data, t2._data))):
                    g.unstable[id(t)] = (f"takes a constant of shape {tuple(t.shape)} that changes with the "
                                         "dynamic axes")
        convert = _converter(r.op)
        try:
            g.bind(r.output, convert(g, r, r2))
            g.made[id(r.output)] = (r, r2)
            if r2 is not None:
                g.sizes.append((g.names[id(r.output)], r.output.shape, r2.output.shape))
        except OnnxExporterError as e:
            raise OnnxExporterError(f"export: {type(r.op).__name__}: {e}".replace(": export:", ":")) from None


def _value_info(onnx, name, t, dims):
    shape = [dims.get(i, n) for i, n in enumerate(t.shape)]
    return onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(t.dtype), shape)


def _modes(model):
    return [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []


def _inputs(model, args, kwargs):
    """(default name, tensor) of each tensor argument: the forward parameter it fills, or input_<i>."""
    fn = model.forward if hasattr(model, "forward") else model
    params = [p.name for p in inspect.signature(fn).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    named = [(params[i] if i < len(params) else f"input_{i}", a) for i, a in enumerate(args)]
    return [(n, a) for n, a in named + list(kwargs.items()) if isinstance(a, Tensor)]


def _second_trace(model, args, kwargs, inputs, in_names, dyn, n):
    """(records, outputs) of a call with the dynamic axes one longer than the example's `n` records;
    (None, None) without dynamic input axes."""
    if not any(dyn.get(name) for name in in_names):
        return None, None
    grown = {id(t): _grow(t, dyn.get(name, {})) for name, t in zip(in_names, inputs, strict=True)}
    records, outs = _run(model, [grown.get(id(a), a) for a in args],
                         {k: grown.get(id(a), a) for k, a in kwargs.items()})
    if len(records) != n:
        raise OnnxExporterError("export: the model runs other ops when the dynamic axes change size; "
                                "export it without dynamic_axes")
    return records, outs


def _graph(model, opset, in_names, inputs, out_names, outs, records, records2, dyn, fold):
    """The tidied Graph of the traced ops, from the named inputs to the named outputs."""
    named = [*model.named_parameters(), *model.named_buffers()] if hasattr(model, "named_parameters") else []
    g = Graph(opset, [(n, p._data) for n, p in named])
    for name, t in zip(in_names, inputs, strict=True):
        g.bind(t, name)
        grown = tuple(n + (i in dyn.get(name, {})) for i, n in enumerate(t.shape))  # the second trace's
        g.sizes.append((name, t.shape, grown))
    _convert(g, records, records2)
    for k, (name, t) in enumerate(zip(out_names, outs, strict=True)):
        if not g.traced(t):
            raise OnnxExporterError(f"export: output {k} ({name}) does not depend on the inputs")
        g.nodes.append(Node("Identity", [g.value(t)], [name], {}))
    g.tidy(out_names, fold)
    return g


def export(model, args=(), f=None, *, kwargs=None, verbose=None, input_names=None, output_names=None,
           opset_version=None, dynamo=True, external_data=True, dynamic_shapes=None, report=False,
           optimize=True, verify=False, export_params=True, keep_initializers_as_inputs=False,
           dynamic_axes=None, training=TrainingMode.EVAL, do_constant_folding=True):
    """Export `model` run on `args` as an ONNX model, written to `f` (a path or binary file) when given; the
    ONNXProgram."""
    onnx = _onnx()
    opset = 18 if opset_version is None else opset_version
    if opset not in OPSETS:
        raise ValueError(f"export: opset_version={opset_version!r}; baby writes opsets {OPSETS[0]} to "
                         f"{OPSETS[-1]}")
    if training == TrainingMode.TRAINING or (training == TrainingMode.PRESERVE and getattr(model, "training",
                                                                                         False)):
        raise ValueError("export: baby exports inference graphs; use training=TrainingMode.EVAL")
    args, kwargs = _split_args(args, kwargs)
    defaults, inputs = zip(*_inputs(model, args, kwargs), strict=True) if args or kwargs else ((), ())
    in_names = _names(input_names, list(defaults), len(inputs), "input")
    modes = _modes(model)
    if training == TrainingMode.EVAL:
        for m, _ in modes:
            m.training = False
    try:
        records, outs = _run(model, args, kwargs)
        default = ["output"] if len(outs) == 1 else [f"output_{i}" for i in range(len(outs))]
        out_names = _names(output_names, default, len(outs), "output")
        shapes = dict(zip(in_names + out_names, [t.shape for t in [*inputs, *outs]], strict=True))
        dyn = _dynamic_axes(dynamic_axes, dynamic_shapes, shapes)
        records2, outs2 = _second_trace(model, args, kwargs, inputs, in_names, dyn, len(records))
    finally:
        for m, mode in modes:
            m.training = mode
    g = _graph(model, opset, in_names, inputs, out_names, outs, records, records2, dyn, do_constant_folding)
    for k, name in enumerate(out_names):  # output dims that changed between the traces are dynamic
        changed = [] if outs2 is None else [i for i, (m, n) in enumerate(zip(outs[k].shape, outs2[k].shape,
                                                                           strict=True)) if m != n]
        dyn[name] = {**{i: f"{name}_dynamic_axes_{i + 1}" for i in changed}, **dyn.get(name, {})}
    model_proto = _model(onnx, g, in_names, inputs, out_names, outs, dyn, export_params,
                         keep_initializers_as_inputs, type(model).__name__)
    onnx.checker.check_model(model_proto)
    if verbose:
        print(onnx.printer.to_text(model_proto.graph))
    program = ONNXProgram(model_proto)
    if f is not None:
        program.save(f)
    return program


def _model(onnx, g, in_names, inputs, out_names, outs, dyn, export_params, as_inputs, title):
    """The ModelProto of the tidied graph."""
    h = onnx.helper
    nodes = [h.make_node(n.op_type, n.inputs, n.outputs, name=f"node_{n.outputs[0]}", **n.attrs)
             for n in g.nodes]
    params = set(g.params.values())
    inits = {k: v for k, v in g.inits.items() if export_params or k not in params}
    graph_inputs = [_value_info(onnx, n, t, dyn.get(n, {})) for n, t in zip(in_names, inputs, strict=True)]
    if as_inputs or not export_params:
        graph_inputs += [h.make_tensor_value_info(k, h.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                         for k, v in g.inits.items() if as_inputs or k in params]
    graph_outputs = [_value_info(onnx, n, t, dyn.get(n, {})) for n, t in zip(out_names, outs, strict=True)]
    graph = h.make_graph(nodes, title, graph_inputs, graph_outputs,
                         [onnx.numpy_helper.from_array(v, k) for k, v in inits.items()])
    try:
        version = metadata.version("baby")
    except metadata.PackageNotFoundError:
        version = "0"
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", g.opset)], producer_name="baby",
                         producer_version=version)
    model.ir_version = 8 if g.opset < 19 else 9 if g.opset < 21 else 10
    return model
