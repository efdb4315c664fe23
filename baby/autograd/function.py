"""torch.autograd.Function: a user op as static forward(ctx, ...) / backward(ctx, *grads) on Tensors."""

import contextlib
import functools
import math

from .. import grad_mode
from ..backend import xp
from ..tensor import Function as Op
from ..tensor import Tensor, _wrap


class FunctionCtx:
    """What forward leaves for backward: saved tensors, which inputs need a gradient, any attribute."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad, self._saved = needs_input_grad, ()

    def save_for_backward(self, *tensors):
        """Keep these tensors (or None) for backward."""
        self._saved = tensors

    @property
    def saved_tensors(self):
        """The tensors given to save_for_backward, in order."""
        return self._saved

    def mark_non_differentiable(self, *tensors):
        """Outputs that get no gradient (integer outputs get none anyway)."""
        self.non_differentiable = {id(t) for t in tensors}

    def set_materialize_grads(self, value):
        """Whether backward gets zeros (True, the default) or None for outputs that got no gradient."""
        self.materialize_grads = bool(value)


class _Node(Op):
    """The graph node of one Function.apply call: its backward calls the user's backward on Tensors."""

    array_grads = True

    def __init__(self, fn, ctx, positions, outputs):
        self.fn, self.ctx, self.positions = fn, ctx, positions
        self.shapes = [o.shape for o in outputs]
        flat = xp.concatenate([o._data.reshape(-1) for o in outputs])  # (n_1 + n_2 + ...,)
        self.flat = flat.astype(outputs[0].dtype, copy=False)

    def forward(self, *arrays):
        return self.flat

    def backward(self, gy, node):
        gys, start = [], 0
        for shape in self.shapes:  # the outputs' gradients, flattened one after another in gy
            n = 1
            for s in shape:
                n *= s
            gys.append(_wrap(gy[start:start + n].reshape(shape)))
            start += n
        out = self.fn.backward(self.ctx, *gys)
        out = out if isinstance(out, tuple) else (out,)
        if len(out) < max(self.positions, default=-1) + 1:
            raise RuntimeError(f"{self.fn.__name__}.backward returned {len(out)} gradients; forward took "
                               f"{max(self.positions) + 1} inputs")
        grads = []
        for x, p in zip(node.inputs, self.positions, strict=True):
            g = out[p]
            grads.append(None if g is None else xp.asarray(g._data if isinstance(g, Tensor) else g, x.dtype))
        return tuple(grads)

    def backward_graph(self, gy, node):
        """The user's backward on Tensors that keep their graph (create_graph=True); a backward marked
        once_differentiable runs without one, and differentiating its result raises."""
        gys, start = [], 0
        for shape in self.shapes:  # the outputs' gradients, sliced from gy as ops
            n = math.prod(shape)
            gys.append(gy[start:start + n].reshape(*shape))
            start += n
        once = getattr(self.fn.backward, "once_differentiable", False)
        with grad_mode.no_grad() if once else contextlib.nullcontext():
            out = self.fn.backward(self.ctx, *gys)
        out = out if isinstance(out, tuple) else (out,)
        if once:
            out = tuple(o._data if isinstance(o, Tensor) else o for o in out)
        return tuple(out[p] for p in self.positions)

    def name(self):
        return f"{self.fn.__name__}Backward"


class Function:
    """Subclass with @staticmethod forward(ctx, *args) and backward(ctx, *grad_outputs); call `.apply`."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        """Compute the outputs from the inputs (runs without recording a graph)."""
        raise TypeError("autograd.Function subclasses must define a static forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        """The gradient for each input of forward (None where there is none)."""
        raise TypeError("autograd.Function subclasses must define a static backward(ctx, *grad_outputs)")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run forward and record one node whose backward is `cls.backward`."""
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        with grad_mode.no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        outs = out if isinstance(out, tuple) else (out,)
        skip = getattr(ctx, "non_differentiable", set())
        diff = [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f" and id(o) not in skip]
        if not (grad_mode.state.enabled and any(needs) and diff):
            return out
        positions = [i for i, n in enumerate(needs) if n]
        node = _Node(cls, ctx, positions, diff)(*[args[i] for i in positions])
        start, wired = 0, {}
        for o in diff:  # each output becomes a slice of the node, so its gradient lands in the node's
            n = o.numel()
            wired[id(o)] = node[start:start + n].reshape(*o.shape)
            start += n
        outs = tuple(wired.get(id(o), o) for o in outs)
        return outs if isinstance(out, tuple) else outs[0]


def once_differentiable(fn):
    """Mark a backward as first-order only: under create_graph it runs without recording, and
    differentiating its result raises a RuntimeError naming the Function."""

    @functools.wraps(fn)
    def wrapped(ctx, *grads):
        with grad_mode.no_grad():
            return fn(ctx, *grads)

    wrapped.once_differentiable = True
    return wrapped
