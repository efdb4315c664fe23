"""grad() and backward() over several outputs, as torch.autograd has them."""

from ..tensor import Tensor, _wrap
from .engine import run_backward


def _seq(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def backward(tensors, grad_tensors=None, retain_graph=None, inputs=None):
    """Accumulate the gradients of `tensors` (seeded with `grad_tensors`) into the leaves' `.grad`."""
    tensors = _seq(tensors)
    grads = [None] * len(tensors) if grad_tensors is None else _seq(grad_tensors)
    run_backward(tensors, grads, retain_graph, inputs=None if inputs is None else _seq(inputs))


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, allow_unused=None, materialize_grads=False):
    """The gradients of `outputs` with respect to each of `inputs` (a tuple), leaving every `.grad` alone."""
    outputs, inputs = _seq(outputs), _seq(inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    grads = [None] * len(outputs) if grad_outputs is None else _seq(grad_outputs)
    found = run_backward(outputs, grads, retain_graph, inputs=inputs, accumulate=False)
    out = []
    for i, x in enumerate(inputs):
        g = found.get(id(x))
        if g is None and not (allow_unused or materialize_grads):
            raise RuntimeError(f"grad: input {i} (shape {tuple(x.shape)}) was not used to compute the "
                               "outputs; pass allow_unused=True to get None for it")
        out.append(_wrap(g.copy()) if g is not None else _wrap(x._data * 0) if materialize_grads else None)
    return tuple(out)
