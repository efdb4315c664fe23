"""torch.autograd.functional: vjp, jvp, jacobian, hessian, vhp and hvp of a function of tensors, built on
grad (and on create_graph for everything past the first derivative). Inputs and outputs are a Tensor or a
tuple of Tensors, returned in the same structure as PyTorch returns them."""

from .. import grad_mode
from ..backend import xp
from ..ops.join import stack
from ..tensor import Tensor, _wrap
from .grads import grad


def _as_tuple(x, what, fn):
    """(tuple of Tensors, whether x was a tuple), checking every element is a Tensor."""
    is_tuple = isinstance(x, (tuple, list))
    xs = tuple(x) if is_tuple else (x,)
    for i, t in enumerate(xs):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}: the {what} must be a Tensor or a tuple of Tensors, but element {i} is "
                            f"{type(t).__name__}")
    return xs, is_tuple


def _prepare(inputs, create_graph):
    """Inputs that require grad, as new graph nodes: a view that keeps an input's graph when a graph is
    wanted for the result, else a detached copy."""
    with grad_mode.enable_grad():
        return tuple(x.reshape(*x.shape) if create_graph and x.requires_grad else
                     x.detach().requires_grad_(x.dtype.kind == "f") for x in inputs)


def _call(func, xs, fn):
    with grad_mode.enable_grad():
        return _as_tuple(func(*xs), "outputs of the user-provided function", fn)


def _grads(outputs, xs, seeds, create_graph, strict, fn):
    """grad of outputs (seeded) at xs; zeros where unused (an error when strict)."""
    pairs = [(o, s) for o, s in zip(outputs, seeds, strict=True) if o.requires_grad]
    gs = (grad([o for o, _ in pairs], xs, [s for _, s in pairs], retain_graph=True, create_graph=create_graph,
               allow_unused=True) if pairs else (None,) * len(xs))
    out = []
    for i, (g, x) in enumerate(zip(gs, xs, strict=True)):
        if g is None and strict:
            raise RuntimeError(f"{fn}: the output of the user-provided function is independent of input {i}. "
                               "This is not allowed in strict mode.")
        out.append(_wrap(xp.zeros(x.shape, x.dtype)) if g is None else g)
    return tuple(out)


def _finish(ts, create_graph):
    return tuple(t if create_graph else t.detach() for t in ts)


def _shape(ts, is_tuple):
    return ts if is_tuple else ts[0]


def _vectors(v, like, fn):
    """`v` (one Tensor per `like`, of its shape); ones for a single element when v is None."""
    if v is None:
        if any(t.numel() != 1 for t in like):
            raise RuntimeError(f"{fn}: the vector v can only be None if the input to the user-provided "
                               "function is a single element")
        return tuple(_wrap(xp.ones(t.shape, t.dtype)) for t in like)
    vs, _ = _as_tuple(v, "v", fn)
    if len(vs) != len(like) or any(a.shape != b.shape for a, b in zip(vs, like, strict=True)):
        raise RuntimeError(f"{fn}: v has shapes {[tuple(a.shape) for a in vs]}, expected "
                           f"{[tuple(b.shape) for b in like]}")
    return vs


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product at `inputs`."""
    xs, in_tuple = _as_tuple(inputs, "inputs", "vjp")
    xs = _prepare(xs, create_graph)
    outs, out_tuple = _call(func, xs, "vjp")
    g = _grads(outs, xs, _vectors(v, outs, "vjp"), create_graph, strict, "vjp")
    return _shape(_finish(outs, create_graph), out_tuple), _shape(_finish(g, create_graph), in_tuple)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product, by differentiating a vjp with respect to its
    vector (the double-backward trick)."""
    xs, in_tuple = _as_tuple(inputs, "inputs", "jvp")
    vs = _vectors(v, xs, "jvp")
    xs = _prepare(xs, True)
    outs, out_tuple = _call(func, xs, "jvp")
    us = tuple(_wrap(xp.zeros(o.shape, o.dtype)).requires_grad_(o.dtype.kind == "f") for o in outs)
    g = _grads(outs, xs, us, True, strict, "jvp")
    pairs = [(t, s) for t, s in zip(g, vs, strict=True) if t.requires_grad]
    if not pairs:
        Jv = tuple(_wrap(xp.zeros(o.shape, o.dtype)) for o in outs)
    else:
        Jv = tuple(_wrap(xp.zeros(u.shape, u.dtype)) if j is None else j for u, j in zip(
            us, grad([t for t, _ in pairs], us, [s for _, s in pairs], create_graph=create_graph,
                     allow_unused=True), strict=True))
    return _shape(_finish(outs, create_graph), out_tuple), _shape(_finish(Jv, create_graph), out_tuple)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of func at `inputs`: for each output and input, a Tensor of shape out.shape + in.shape
    (one backward per output element; `vectorize` and `strategy` are accepted and give the same values)."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError(f'jacobian: expected strategy to be either "forward-mode" or "reverse-mode", got '
                         f"{strategy!r}")
    xs, in_tuple = _as_tuple(inputs, "inputs", "jacobian")
    xs = _prepare(xs, create_graph)
    outs, out_tuple = _call(func, xs, "jacobian")
    blocks = []
    for o in outs:
        rows = []
        for r in range(o.numel()):
            seed = xp.zeros(o.numel(), o.dtype)
            seed[r] = 1
            rows.append(_grads([o], xs, [_wrap(seed.reshape(o.shape))], create_graph, strict, "jacobian"))
        blocks.append(tuple(_stack([row[i] for row in rows], o.shape, x.shape, x.dtype)
                            for i, x in enumerate(xs)))
    blocks = tuple(_finish(b, create_graph) for b in blocks)
    return _shape(tuple(_shape(b, in_tuple) for b in blocks), out_tuple)


def _stack(rows, out_shape, in_shape, dtype):
    """Rows (one gradient per output element) as a Tensor of shape out_shape + in_shape."""
    if not rows:
        return _wrap(xp.zeros(tuple(out_shape) + tuple(in_shape), dtype))
    return stack(rows).reshape(*out_shape, *in_shape)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar func at `inputs`: the Jacobian of its gradient (a tuple of tuples of
    Tensors of shape in_i.shape + in_j.shape for a tuple of inputs)."""
    xs, in_tuple = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*ys):
        outs, _ = _call(func, ys, "hessian")
        if len(outs) != 1 or outs[0].numel() != 1:
            raise RuntimeError("hessian: the function given to hessian should return a single Tensor with "
                               f"one element, got shapes {[tuple(o.shape) for o in outs]}")
        return _grads(outs, ys, [_wrap(xp.ones(outs[0].shape, outs[0].dtype))], True, strict, "hessian")

    H = jacobian(gradient, xs, create_graph, strict, vectorize, outer_jacobian_strategy)
    return H if in_tuple else H[0][0]


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H): the vector-Hessian product of a scalar function."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v): the Hessian-vector product of a scalar function (H is symmetric, so this is
    the vjp of the gradient, as vhp)."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(func, inputs, v, create_graph, strict, fn):
    xs, in_tuple = _as_tuple(inputs, "inputs", fn)
    vs = _vectors(v, xs, fn)
    xs = _prepare(xs, create_graph)
    outs, _ = _call(func, xs, fn)
    if len(outs) != 1 or outs[0].numel() != 1:
        raise RuntimeError(f"{fn}: the function given to {fn} should return a single Tensor with one "
                           f"element, got shapes {[tuple(o.shape) for o in outs]}")
    g = _grads(outs, xs, [_wrap(xp.ones(outs[0].shape, outs[0].dtype))], True, strict, fn)
    Hv = _grads(g, xs, vs, create_graph, strict, fn)
    return _finish(outs, create_graph)[0], _shape(_finish(Hv, create_graph), in_tuple)
