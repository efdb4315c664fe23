"""The backward walk that records itself (create_graph=True): gradients are Tensors, each op's gradient is
computed by its *derivative rule*, a function written with baby's ops, so the result is a graph that can be
differentiated again, to any order.

The rules live in baby/autograd/derivatives/ and register here by op class (`derivative`). The array
backwards of the ops stay the first-order path; an op with no rule gets its array gradients wrapped in a
node that refuses a second differentiation with a RuntimeError naming the op (PyTorch's
once_differentiable). An op may also define `backward_graph(gy, node)` itself (autograd.Function does).
"""

from .. import grad_mode
from ..backend import xp
from ..tensor import Function, Tensor, _wrap
from . import engine

rules = {}  # op class -> rule(op, gy, node) -> one Tensor (or None) per input


def derivative(*ops):
    """Register the decorated function as the derivative rule of the op classes `ops`."""

    def register(rule):
        for op in ops:
            rules[op] = rule
        return rule

    return register


def seeds(roots, gradients, grads):
    """The roots' gradients as Tensors: a given Tensor keeps its graph (so a jvp's double backward sees it);
    the rest are the checked arrays of `grads`."""
    out = {id(t): _wrap(grads[id(t)]) for t in roots}
    given = [(t, g) for t, g in zip(roots, gradients, strict=True)
             if isinstance(g, Tensor) and g.requires_grad]
    for t in {id(t): t for t, _ in given}.values():
        out[id(t)] = None
    for t, g in given:
        g = g if g.dtype == t.dtype else g.to(t.dtype)
        out[id(t)] = g if out[id(t)] is None else out[id(t)] + g
    return out


class Graph:
    """The recording walk's steps (engine._propagate): gradients are Tensors, each op's by its rule, leaves
    sum out of place; `local` (a walk inside one op's rule) runs no hooks."""

    def __init__(self, local=False):
        self.local = local

    def hooked(self, node, g):
        """g after node's hooks (none in a local walk)."""
        for hook in () if self.local else node._hooks or ():
            r = hook(g)
            g = g if r is None else r
        return g

    accumulate = staticmethod(lambda node, g: _accumulate(node, g))
    grads_of = staticmethod(lambda node, g: grads_of(node, g))


def propagate(order, grads, retain_graph, wanted, accumulate, local=False):
    """engine._propagate on Tensors, with grad mode on: the gradient ops are recorded. `local`: a walk
    inside one op's rule, which runs no hooks and stops at the `wanted` tensors."""
    with grad_mode.enable_grad():
        return engine._propagate(order, grads, retain_graph, wanted, accumulate, Graph(local))


def through(y, inputs, gy):
    """The gradients at `inputs` (None where not required) of y, a Tensor recomputed from `inputs` by
    differentiable ops, for its gradient gy: a fused op's rule as the derivative of its composition. The
    walk stops at `inputs`, so nothing they were computed from is visited."""
    stop = {id(t) for t in inputs}
    order, seen, stack = [], set(), [(y, False)]
    while stack:
        node, finished = stack.pop()
        if finished:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            if id(node) not in stop:
                stack.extend((x, False) for x in node._inputs if x.requires_grad and id(x) not in seen)
    found = propagate(order[::-1], {id(y): gy}, True, stop, False, local=True)
    return tuple(found.get(id(t)) if t.requires_grad else None for t in inputs)


def _accumulate(node, g):
    """node.grad + g out of place (the sum keeps its graph), or g itself the first time."""
    node._grad = g if node._grad is None else node._grad + g


def grads_of(node, g):
    """The gradients (Tensors or None) of `node`'s inputs for its gradient `g`, by the op's rule."""
    op = node._op
    if isinstance(op, engine._FreedGraph):
        engine._grads_of(node, g._data)  # raises the freed-graph error
    if node._vc[0] != op.versions[-1] or any(t._vc[0] != v
                                             for t, v in zip(node._inputs, op.versions, strict=False)):
        engine._version_error(node)
    rule = rules.get(type(op))
    if rule is not None:
        out = rule(op, g, node)
    elif hasattr(op, "backward_graph"):
        out = op.backward_graph(g, node)
    elif not op.array_grads:  # a user op whose backward takes and returns Tensors: maybe differentiable
        out = op.backward(g, node)
    else:
        out = op.backward(g._data, node)
    out = out if isinstance(out, (tuple, list)) else (out,)
    return tuple(_as_grad(o, x, op, g, node) for o, x in zip(out, node._inputs, strict=True))


def _as_grad(o, x, op, g, node):
    """A rule's output for input `x` as a Tensor of x's dtype; an array (no graph) becomes a node that
    refuses to be differentiated again."""
    if o is None:
        return None
    if not isinstance(o, Tensor):
        return Once(op.name(), xp.asarray(o, dtype=x.dtype))(g, *node._inputs)
    return o if o.dtype == x.dtype else o.to(x.dtype)


class Once(Function):
    """A gradient computed on arrays by an op with no derivative rule: differentiating it raises."""

    def __init__(self, op_name, value):
        self.op_name, self.value = op_name, value

    def forward(self, *arrays):
        return self.value

    def backward(self, gy, node):
        raise RuntimeError(f"{self.op_name} is not differentiable twice: its backward is once_differentiable "
                           "or runs on arrays only (no derivative rule in baby/autograd/derivatives/)")

    def name(self):
        return f"{self.op_name.removesuffix('0')}Backward0"
