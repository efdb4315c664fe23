"""The graph under construction: ONNX nodes over named values, initializers, and the tidying passes.

Values are names. A traced tensor gets a name when a converter emits the node that makes it; a tensor no op
made from the inputs (a weight, a folded constant) becomes an initializer when a node first uses it, named
after the model's parameter or buffer whose memory it is. No `onnx` import here: the graph is plain data.
"""

import dataclasses

import numpy as np


class OnnxExporterError(RuntimeError):
    """A model, op or argument that baby.onnx.export cannot express in ONNX."""


@dataclasses.dataclass
class Node:
    """One ONNX node: op_type over input names, making output names, with attributes."""

    op_type: str
    inputs: list
    outputs: list
    attrs: dict


def _key(a):
    """What identifies an array's memory: its data pointer, shape, strides and dtype."""
    return a.__array_interface__["data"][0], a.shape, a.strides, a.dtype.str


class Graph:
    """Nodes, initializers and the names of traced tensors, for opset `opset`; `params` names arrays."""

    def __init__(self, opset, params):
        self.opset, self.nodes, self.inits = opset, [], {}
        self.names, self.arrays = {}, {}  # id(tensor) -> name; id(array) of a traced tensor -> name
        self.unstable = {}  # id(tensor) -> why: constants that change with the dynamic axes
        self.made = {}  # id(traced tensor) -> (its record, the second trace's or None)
        self.sizes = []  # (name, shape in the first trace, shape in the second) of the traced values
        self.params = {_key(a): name for name, a in params}
        self.count, self.scope = 0, ""

    def fresh(self, base):
        """A new value name: the module path of the op being converted, `base` and a number."""
        self.count += 1
        return f"{self.scope}/{base}_{self.count}" if self.scope else f"{base}_{self.count}"

    def bind(self, t, name):
        """Tensor `t` (traced) is the value `name`."""
        self.names[id(t)], self.arrays[id(t._data)] = name, name

    def traced(self, t):
        """Whether `t` depends on the graph's inputs (else it is a constant)."""
        return id(t) in self.names

    def value(self, t):
        """The name of tensor `t`: its traced value, or an initializer of its array."""
        if id(t) in self.unstable:
            raise OnnxExporterError(self.unstable[id(t)])
        return self.names[id(t)] if id(t) in self.names else self.const(t._data)

    def const(self, a, dtype=None, name=None):
        """An initializer holding array `a` (named `name`, or after the parameter it is, if any)."""
        a = np.asarray(a, dtype=dtype)
        name = name or (self.params.get(_key(a)) if a.ndim else None)
        if name is None:
            name = self.fresh("const")
        elif name in self.inits:
            return name
        self.inits[name] = np.ascontiguousarray(a).reshape(a.shape)  # ascontiguousarray makes 0-d 1-d
        return name

    def ints(self, values):
        """An int64 initializer of `values` (shapes, axes, pads)."""
        return self.const(np.asarray(values, dtype=np.int64).reshape(-1))

    def add(self, op_type, inputs, outputs=1, **attrs):
        """Emit a node; its output name (or names, when `outputs` > 1)."""
        names = [self.fresh(op_type) for _ in range(outputs)]
        self.nodes.append(Node(op_type, list(inputs), names, attrs))
        return names[0] if outputs == 1 else names

    def transposed(self, t, perm):
        """Tensor `t` with axes `perm`: a transposed initializer when `t` is constant, else a Transpose."""
        if self.traced(t):
            return self.add("Transpose", [self.value(t)], perm=list(perm))
        return self.const(t._data.transpose(perm))

    def reduce(self, op_type, x, axes, keepdims):
        """A Reduce* node over `axes`: an attribute before opset 18 (ReduceSum: 13), an input after."""
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.add(op_type, [x, self.ints(axes)], keepdims=int(keepdims))
        return self.add(op_type, [x], axes=axes, keepdims=int(keepdims))

    def tidy(self, outputs, fold_batchnorm):
        """Cancel transpose pairs, fold eval BatchNorm into the conv before it, drop what no output needs."""
        self._transposes()
        self._argmax_gather()
        self._prune(outputs)
        self._reshapes()
        self._prune(outputs)
        if fold_batchnorm:
            self._fold_batchnorm()
            self._prune(outputs)

    def _uses(self):
        uses = {}
        for n in self.nodes:
            for i in n.inputs:
                uses.setdefault(i, []).append(n)
        return uses

    def _rename(self, old, new):
        for n in self.nodes:
            n.inputs = [new if i == old else i for i in n.inputs]

    def _transposes(self):
        """Transpose(Transpose(x)) -> x when the two perms cancel, else one Transpose of x."""
        made = {o: n for n in self.nodes for o in n.outputs}
        for n in self.nodes:
            first = made.get(n.inputs[0]) if n.op_type == "Transpose" else None
            if first is None or first.op_type != "Transpose":
                continue
            perm = [first.attrs["perm"][p] for p in n.attrs["perm"]]
            if perm == sorted(perm):
                self._rename(n.outputs[0], first.inputs[0])
                n.op_type, n.inputs, n.attrs = "Identity", [first.inputs[0]], {}
            else:
                n.inputs, n.attrs = [first.inputs[0]], {"perm": perm}

    def _reshapes(self):
        """Reshape(Reshape(x, s1), s2) -> Reshape(x, s2) when the first has no other use and each 0 of s2
        (copy the input's dim) falls on a 0 of s1 (which copied x's)."""
        made, uses = {o: n for n in self.nodes for o in n.outputs}, self._uses()
        for n in self.nodes:
            m = made.get(n.inputs[0]) if n.op_type == "Reshape" else None
            if m is None or m.op_type != "Reshape" or len(uses[m.outputs[0]]) != 1:
                continue
            s1, s2 = self.inits.get(m.inputs[1]), self.inits.get(n.inputs[1])
            if s1 is None or s2 is None:
                continue
            if all(i < len(s1) and s1[i] == 0 for i in np.flatnonzero(s2 == 0)):
                n.inputs[0] = m.inputs[0]

    def _argmax_gather(self):
        """GatherElements(x, ArgMax(x, axis, keepdims=1), axis) -> ReduceMax(x, axis, keepdims=1)."""
        made = {o: n for n in self.nodes for o in n.outputs}
        for n in self.nodes:
            arg = made.get(n.inputs[1]) if n.op_type == "GatherElements" else None
            if arg is not None and arg.op_type == "ArgMax" and arg.inputs[0] == n.inputs[0] and \
                    arg.attrs["keepdims"] and arg.attrs["axis"] == n.attrs["axis"]:
                x, axis = n.inputs[0], n.attrs["axis"]
                n.op_type, n.attrs = "ReduceMax", {"keepdims": 1}
                n.inputs = [x, self.ints([axis])] if self.opset >= 18 else [x]
                if self.opset < 18:
                    n.attrs["axes"] = [axis]

    def _fold_batchnorm(self):
        """Conv -> BatchNormalization (eval, constant statistics) as one Conv with scaled weights and bias."""
        made, uses = {o: n for n in self.nodes for o in n.outputs}, self._uses()
        for bn in self.nodes:
            conv = made.get(bn.inputs[0]) if bn.op_type == "BatchNormalization" else None
            if conv is None or conv.op_type != "Conv" or len(uses[conv.outputs[0]]) != 1:
                continue
            if not all(i in self.inits for i in conv.inputs[1:] + bn.inputs[1:]):
                continue
            w, *b = (self.inits[i] for i in conv.inputs[1:])
            gamma, beta, mean, var = (self.inits[i] for i in bn.inputs[1:])
            s = gamma / np.sqrt(var + np.asarray(bn.attrs["epsilon"], var.dtype))  # (Cout,)
            bias = ((b[0] if b else 0) - mean) * s + beta  # (Cout,)
            W = w * s.reshape(-1, *(1,) * (w.ndim - 1))  # (Cout, Cin/G, *k) scaled per output channel
            wname = conv.inputs[1]
            bname = wname[:-len("weight")] + "bias" if wname.endswith("weight") else wname + ".bias"
            conv.inputs = [conv.inputs[0], self.const(W.astype(w.dtype), name=f"{wname}.bn_folded"),
                           self.const(bias.astype(w.dtype), name=f"{bname}.bn_folded")]
            self._rename(bn.outputs[0], conv.outputs[0])
            bn.op_type, bn.inputs, bn.attrs = "Identity", [conv.outputs[0]], {}

    def _prune(self, outputs):
        """Drop Identity nodes between values, then every node and initializer no output depends on."""
        for n in self.nodes:
            if n.op_type == "Identity" and n.outputs[0] not in outputs:
                self._rename(n.outputs[0], n.inputs[0])
        made, uses = {o: n for n in self.nodes for o in n.outputs}, self._uses()
        for n in self.nodes:  # an output's Identity: the node before it makes the output itself
            m = made.get(n.inputs[0]) if n.op_type == "Identity" and n.outputs[0] in outputs else None
            if m is not None and n.inputs[0] not in outputs and len(uses[n.inputs[0]]) == 1:
                m.outputs = [n.outputs[0] if o == n.inputs[0] else o for o in m.outputs]
                n.inputs = n.outputs = []
                n.op_type = "Identity"
        made, need, keep = {o: n for n in self.nodes for o in n.outputs}, list(outputs), set()
        while need:
            n = made.get(need.pop())
            if n is not None and id(n) not in keep:
                keep.add(id(n))
                need += n.inputs
        self.nodes = [n for n in self.nodes if id(n) in keep]
        used = {i for n in self.nodes for i in n.inputs} | set(outputs)
        self.inits = {k: v for k, v in self.inits.items() if k in used}
