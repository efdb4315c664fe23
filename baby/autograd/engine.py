"""The backward engine: a topological order of the graph, then each op's gradients, checked against the
version counters so nothing changed in place since the forward is read, accumulated into leaves' .grad.
Backward runs under no_grad in the calling thread only (grad mode is per thread); backward calls in several
threads may share leaves: their sums into `.grad` are serialized by one lock, as PyTorch's AccumulateGrad."""

import sys
import threading

from .. import grad_mode
from ..arena import fresh_like
from ..backend import xp
from ..parallel import MIN_BYTES, split
from ..tensor import Function, Tensor, _first, _to_array, _vc_of, _wrap
from . import anomaly, higher


def run_backward(roots, gradients, retain_graph=None, inputs=None, accumulate=True, create_graph=False):
    """Backpropagate from `roots` (each seeded with its gradient, or ones for a scalar); accumulate into
    leaves' `.grad` (only those in `inputs` when given), or, with accumulate=False, return the gradients
    at `inputs` as {id: array} without touching any `.grad`. With `create_graph` the walk records its ops
    (baby/autograd/higher.py): the gradients are Tensors that can be differentiated again."""
    grads = {}
    for i, (t, g) in enumerate(zip(roots, gradients, strict=True)):
        if not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if t.numel() != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs, got shape "
                                   f"{tuple(t.shape)}")
            g = xp.ones_like(t._data)
        else:
            g = _to_array(g, t.dtype, infer=False)
            if g.shape != t._data.shape:
                raise RuntimeError(f"mismatch in shape: gradient has shape {tuple(g.shape)} and output has "
                                   f"shape "
                                   f"{tuple(t._data.shape)}")
        grads[id(t)] = g if id(t) not in grads else grads[id(t)] + g
    wanted = None if inputs is None else {id(t) for t in inputs}
    if create_graph:
        seeds = higher.seeds(roots, gradients, grads)
        keep = create_graph if retain_graph is None else retain_graph
        return higher.propagate(_topo_order(roots), seeds, keep, wanted, accumulate)
    with grad_mode.no_grad():
        return _propagate(_topo_order(roots), grads, retain_graph, wanted, accumulate)


class Arrays:
    """The first-order walk's steps: gradients are arrays, hooks see them wrapped, leaves sum in place."""

    local = False

    @staticmethod
    def hooked(node, g):
        """g after node's hooks (a hook's returned Tensor replaces it)."""
        for hook in node._hooks or ():
            r = hook(_wrap(g))
            g = g if r is None else _to_array(r, node.dtype, infer=False)
        return g

    # accumulate and grads_of: _accumulate and _grads_of, set below where they are defined


def _propagate(order, grads, retain_graph, wanted, accumulate, steps=Arrays):
    """Walk `order` (outputs before inputs) turning each node's gradient into its inputs' gradients, by
    `steps` (Arrays here; higher.Graph records the walk). With `steps.local` the walk stops at `wanted`."""
    found = {}
    pop, get, grads_of = grads.pop, grads.get, steps.grads_of
    for node in order:
        g = pop(id(node), None)
        if g is None:
            continue
        if node._hooks is not None:
            g = steps.hooked(node, g)
        if wanted is not None and id(node) in wanted:
            if accumulate:
                steps.accumulate(node, g)
            else:
                found[id(node)] = g
        elif (node._op is None or node._retains_grad) and wanted is None:
            steps.accumulate(node, g)
        if node._op is None or (steps.local and id(node) in wanted):
            continue
        gxs = grads_of(node, g)
        if Function.anomaly_nan:
            anomaly.check(node._op, gxs)
        for x, gx in zip(node._inputs, gxs, strict=True):
            if gx is None or not x.requires_grad:
                continue
            if gx.shape != x._data.shape:
                raise RuntimeError(f"{node._op.name()} returned a gradient of shape {tuple(gx.shape)} for "
                                   f"an input of shape {tuple(x._data.shape)}")
            prev = get(id(x))
            grads[id(x)] = gx if prev is None else prev + gx
        gxs = gx = None  # (let go: a leaf's gradient then has no holder but this walk's name, see _unshared)
        if not retain_graph:
            op = node._op
            node._op, node._inputs = _freed.get(type(op)) or _FreedGraph.of(op), ()
    return found


def _grads_of(node, g):
    """The op's gradients for each input of `node`, after checking nothing it needs changed in place."""
    op = node._op
    if type(op) is _FreedGraph:
        raise RuntimeError("trying to backward through the graph a second time (its intermediate values "
                           "were freed by the first backward); pass retain_graph=True to the first call")
    if (*map(_first, map(_vc_of, node._inputs)), node._vc[0]) != op.versions and _changed(node):
        _version_error(node)
    if op.array_grads:
        return op.backward(g, node)
    out = op.backward(_wrap(g), node)
    out = out if isinstance(out, (tuple, list)) else (out,)
    return tuple(None if o is None else xp.asarray(o._data if isinstance(o, Tensor) else o, dtype=x.dtype)
                 for o, x in zip(out, node._inputs, strict=True))


def _changed(node):
    """Whether `node` or an input it was computed from changed in place since its op recorded them."""
    op = node._op
    return node._vc[0] != op.versions[-1] or any(t._vc[0] != v
                                                 for t, v in zip(node._inputs, op.versions, strict=False))


def _version_error(node):
    """Name the tensor that changed in place since `node`'s op recorded it."""
    op = node._op
    for t, v in zip(node._inputs + (node,), op.versions, strict=True):
        if t._vc[0] != v:
            role = "output" if t is node else "input"
            raise RuntimeError(
                f"a tensor needed for gradient computation was modified by an in-place operation: the {role} "
                f"of {op.name()} (shape {tuple(t.shape)}) is at version {t._vc[0]}; expected version {v}. "
                "Use an out-of-place op (x = x + 1, not x += 1) or clone() the tensor before changing it")


_accumulating = threading.Lock()


def _accumulate(node, g):
    """Add `g` to `node.grad`: in place, or a fresh array laid out like the node's data the first time."""
    with _accumulating:
        _add_grad(node, g)


def _add_grad(node, g):
    """_accumulate's sum, the lock held."""
    if node._grad is None:
        node._grad = _wrap(g if _unshared(g, node._data) else _own_copy(g, node._data))
    elif node._grad._data.flags.writeable and not node._grad.requires_grad:
        xp.add(node._grad._data, g, out=node._grad._data, casting="unsafe")
    else:
        node._grad._data = node._grad._data + g
    for hook in node._post_hooks or ():
        hook(node)


_WALK_REFS = 5  # references to a gradient only the walk holds: _propagate's, _accumulate's, _add_grad's and
# _unshared's names and getrefcount's argument
_COUNTS_REFS = sys.implementation.name == "cpython" and sys.version_info < (3, 14)  # (later CPythons may
# borrow references without counting them: there a gradient is always copied)


def _unshared(g, like):
    """Whether `g` can become a leaf's `.grad` as it is, as PyTorch's AccumulateGrad steals a gradient no one
    else holds: laid out like the leaf, writeable, referenced by the walk only, its memory its own (or an
    arena block no other array views)."""
    if not _COUNTS_REFS or type(g) is not xp.ndarray or g.dtype != like.dtype or g.strides != like.strides \
            or not g.flags.writeable or sys.getrefcount(g) != _WALK_REFS:
        return False
    base = g.base  # (numpy points every view of an arena block at the block's one array)
    return base is None or (type(base) is xp.ndarray and type(base.base) is memoryview
                            and sys.getrefcount(base) == 3)  # (g.base, `base` and the argument)


def _own_copy(g, like):
    """A fresh array holding g, laid out in memory like `like` (so optimizers update contiguously); big
    copies (often transposing: NHWC-computed gradients of NCHW inputs) split over the thread pool."""
    out = fresh_like(like)
    if out.nbytes < MIN_BYTES:  # (one thread's share anyway)
        out[...] = g
    elif out.ndim:
        split(lambda r: out.__setitem__(r, g[r]), out)
    else:
        out[...] = g
    return out


class _FreedGraph(Function):
    """Stands in for an op whose graph was freed by an earlier backward() (it keeps the op's name)."""

    def __init__(self, name):
        self.op_name = name

    @staticmethod
    def of(op):
        """The marker standing in for `op` (one shared by all of baby's ops of a class that Function.name
        names)."""
        freed = _FreedGraph(op.name())
        if type(op).name is Function.name and type(op).__module__.startswith("baby."):
            _freed[type(op)] = freed
        return freed

    def name(self):
        return self.op_name

    def forward(self, *arrays):
        raise RuntimeError("a freed graph node computes nothing")

    def backward(self, gy, node):
        raise RuntimeError("a freed graph node has no gradient")



_freed = {}  # op class -> its shared _FreedGraph


def _topo_order(roots):
    """Nodes reachable from `roots`, each before the inputs it was computed from (iterative DFS); each leaf
    just after its last consumer, so its gradient is complete (and its post-accumulate hooks run: DDP
    starts all-reduces there) while the rest of the backward goes on."""
    post, visited, stack = [], set(), [(r, False) for r in reversed(roots)]
    pop, push, add = stack.pop, stack.append, visited.add
    while stack:
        node, finished = pop()
        if finished:  # (post order: a leaf goes before its first finished consumer, so after its last in
            for x in reversed(node._inputs):  # the order walked)
                if x._op is None and x.requires_grad and id(x) not in visited:
                    add(id(x))
                    post.append(x)
            post.append(node)
        elif id(node) not in visited:
            add(id(node))
            push((node, True))
            for x in node._inputs:
                if x._op is not None and x.requires_grad and id(x) not in visited:
                    push((x, False))
    return post[::-1]


Arrays.accumulate, Arrays.grads_of = staticmethod(_accumulate), staticmethod(_grads_of)
Tensor._engine = staticmethod(run_backward)  # Tensor.backward runs this engine (tensor.py cannot import it)
