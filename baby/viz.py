"""The autograd graph drawn with Graphviz, as torchviz's make_dot: one box per op (PyTorch's node names and
the shape it produced), the leaves that require grad in blue (parameter names, shapes, dtypes), the outputs
in green. The NCHW <-> NHWC views that nn.functional puts around baby's NHWC ops (conv, pooling) are
folded into those ops, and each module with parameters is a labelled cluster, so a model reads by layer.

Drawing needs the `graphviz` Python package (the `viz` extra); rendering to SVG/PNG also needs the Graphviz
`dot` program (the Debian package graphviz: apt-get install graphviz).
"""

from .nn.functional.basic import LayerNorm
from .nn.functional.loss import BinaryCrossEntropy, CrossEntropy
from .nn.functional.norm import BatchNorm
from .ops import elementwise as E
from .ops import pool as P
from .ops import shape as S
from .ops.conv import Conv, ConvTranspose

_NHWC = (Conv, ConvTranspose, P.MaxPool, P.AvgPool)  # ops that take and give channels-last views
_NAMES = {  # PyTorch's node names where baby's op is named differently
    Conv: "ConvolutionBackward0", ConvTranspose: "ConvolutionBackward0",
    BatchNorm: "NativeBatchNormBackward0", LayerNorm: "NativeLayerNormBackward0", E.ReLU: "ReluBackward0",
    S.Reshape: "ViewBackward0", S.BroadcastTo: "ExpandBackward0", CrossEntropy: "NllLossBackward0",
    BinaryCrossEntropy: "BinaryCrossEntropyBackward0", S.GetItem: "IndexBackward0",
    S.Pad: "ConstantPadNdBackward0",
}
_STYLE = dict(style="filled", shape="box", align="left", fontsize="10", ranksep="0.1", height="0.2",
              fontname="monospace")


def _nhwc(op):
    """Whether `op` takes and gives channels-last views (a conv made with nchw=True does not)."""
    return isinstance(op, _NHWC) and not getattr(op, "nchw", False)


def node_name(op):
    """The name PyTorch gives the graph node of `op` (e.g. 'ConvolutionBackward0')."""
    if isinstance(op, P.MaxPool):
        return f"MaxPool{len(op.k)}DWithIndicesBackward0"
    if isinstance(op, P.AvgPool):
        return f"AvgPool{len(op.k)}DBackward0"
    return _NAMES.get(type(op), op.name())


def _size(t):
    return "(" + ", ".join(map(str, t.shape)) + ")"


def _digraph(n):
    try:
        import graphviz
    except ImportError:
        raise ImportError("make_dot needs the graphviz Python package: pip install 'baby[viz]' (and the "
                          "Debian package graphviz for the dot program that renders it)") from None

    class Digraph(graphviz.Digraph):
        """graphviz.Digraph whose rendering names the missing `dot` program's Debian package."""

        def render(self, *args, **kwargs):
            try:
                return super().render(*args, **kwargs)
            except graphviz.ExecutableNotFound as e:
                raise RuntimeError("rendering the graph needs Graphviz's `dot` program: install the Debian "
                                   "package graphviz (apt-get install graphviz)") from e

        def pipe(self, *args, **kwargs):
            try:
                return super().pipe(*args, **kwargs)
            except graphviz.ExecutableNotFound as e:
                raise RuntimeError("rendering the graph needs Graphviz's `dot` program: install the Debian "
                                   "package graphviz (apt-get install graphviz)") from e

    return Digraph(node_attr=_STYLE, graph_attr=dict(size="12,12") if n < 40 else {})


def _walk(roots):
    """Every tensor of the graph (those that require grad), inputs before the tensors computed from them,
    and for each the tensors that consume it."""
    seen, order, users, stack = set(), [], {}, [(r, False) for r in roots]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        for x in t._inputs:
            if x.requires_grad:
                users.setdefault(id(x), []).append(t)
                stack.append((x, False))
    return order, users


def make_dot(var, params=None, show_attrs=False, show_saved=False, max_attr_chars=50):
    """The autograd graph that produced `var` (a Tensor or a tuple of them) as a graphviz.Digraph;
    `params` ({name: Parameter}, e.g. dict(model.named_parameters())) names the leaves; `show_attrs`
    lists each op's settings, `show_saved` adds the arrays each op keeps for its backward."""
    roots = list(var) if isinstance(var, (tuple, list)) else [var]
    names = {id(p): n for n, p in (params or {}).items()}
    order, users = _walk([r for r in roots if r.requires_grad])

    def folded(t):  # a layout view around an NHWC op, or a reshape to the same shape: drawn as its input
        if any(t is r for r in roots) or not isinstance(t._op, (S.Permute, S.Reshape)):
            return False
        x = t._inputs[0]
        if isinstance(t._op, S.Reshape):
            return x.shape == t.shape
        return _nhwc(x._op) or all(_nhwc(u._op) for u in users.get(id(t), ()))

    def source(x):
        while folded(x):
            x = x._inputs[0]
        return str(id(x))

    def shown(t):  # the shape to print: an NHWC op's is that of the NCHW view folded after it
        after = users.get(id(t), ())
        nchw = _nhwc(t._op) and len(after) == 1 and folded(after[0])
        return _size(after[0] if nchw else t)

    dot = _digraph(len(order))
    groups = {}  # cluster name -> [(node key, label, colour)]
    place = {}  # id(tensor) -> its cluster
    for t in order:  # inputs first, so an activation can follow its op into its cluster
        if folded(t):
            continue
        if t._op is None:
            group = _group(names[id(t)]) if id(t) in names else None
            name = names.get(id(t), "")
            name = name[len(group) + 1:] if group and name.startswith(group + ".") else name
            item = (str(id(t)), f"{name}\n{_size(t)} {t.dtype}".lstrip("\n"), "lightblue")
        else:
            label = f"{node_name(t._op)}\n{shown(t)}"
            if show_attrs:
                label += "".join(f"\n{k}: {str(v)[:max_attr_chars]}" for k, v in _attrs(t._op))
            group = _op_group(t, names, place, users)
            item = (str(id(t)), label, "lightgrey")
            for x in t._inputs:
                if x.requires_grad:
                    dot.edge(source(x), str(id(t)))
            for k, a in _saved(t._op) if show_saved else ():
                dot.node(f"{id(t)}-{k}", f"{k}\n{_size(a)} {a.dtype}", fillcolor="orange")
                dot.edge(f"{id(t)}-{k}", str(id(t)), dir="none")
        if group:
            place[id(t)] = group
            groups.setdefault(group, []).append(item)
        else:
            dot.node(item[0], item[1], fillcolor=item[2])
    for group, items in groups.items():
        with dot.subgraph(name=f"cluster_{group}") as c:
            c.attr(label=group, style="rounded", color="grey60", fontname="monospace", fontsize="10")
            for key, label, colour in items:
                c.node(key, label, fillcolor=colour)
    for r in roots:
        dot.node(f"out-{id(r)}", f"{_size(r)} {r.dtype}", fillcolor="darkolivegreen1")
        if r.requires_grad:
            dot.edge(source(r), f"out-{id(r)}")
    return dot


def _group(name):
    """The cluster of a parameter: the module above the one that owns it ('layer1.0' for
    'layer1.0.conv.weight', so a conv and its batch norm share one), or its owner at the top level."""
    owner = name.rpartition(".")[0]
    return owner.rpartition(".")[0] or owner or None


_ACTIVATIONS = (E.ReLU, E.GELU, E.Sigmoid, E.Tanh)


def _op_group(t, names, place, users):
    """An op's cluster: that of the parameters it takes (through folded views), or, for an activation,
    that of the op it follows when it is that op's only consumer."""
    found = set()
    for x in t._inputs:
        while isinstance(x._op, S.Permute):
            x = x._inputs[0]
        if id(x) in names:
            found.add(_group(names[id(x)]))
    if len(found) == 1:
        return found.pop()
    if isinstance(t._op, _ACTIVATIONS):
        x = t._inputs[0]
        while isinstance(x._op, S.Permute) and len(users.get(id(x), ())) == 1:
            x = x._inputs[0]
        if len(users.get(id(x), ())) <= 1:
            return place.get(id(x))
    return None


def _attrs(op):
    """The op's settings: short public attributes that are not arrays."""
    for k, v in vars(op).items():
        if not (k.startswith("_") or k in ("versions", "node_inputs", "stack") or hasattr(v, "shape")):
            yield k, v


def _saved(op):
    """The arrays the op keeps for its backward."""
    for k, v in vars(op).items():
        if hasattr(v, "shape") and hasattr(v, "dtype") and getattr(v, "ndim", 0) > 0:
            yield k, v
