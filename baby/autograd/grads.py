"""grad() and backward() over several outputs, as torch.autograd has them."""

from ..tensor import Tensor, _wrap
from .engine import run_backward


def _seq(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None,
             inputs=None):
    """Accumulate the gradients of `tensors` (seeded with `grad_tensors`) into the leaves' `.grad`; with
    `create_graph` those gradients carry a graph of their own."""
    tensors = _seq(tensors)
    grad_tensors = grad_variables if grad_tensors is None else grad_tensors
    grads = [None] * len(tensors) if grad_tensors is None else _seq(grad_tensors)
    run_backward(tensors, grads, retain_graph, inputs=None if inputs is None else _seq(inputs),
                 create_graph=create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of `outputs` with respect to each of `inputs` (a tuple), leaving every `.grad` alone;
    with `create_graph` they are recorded as a graph, so they can be differentiated again."""
    outputs, inputs = _seq(outputs), _seq(inputs)
    if is_grads_batched:
        raise RuntimeError("grad: is_grads_batched=True is not supported by baby (call grad once per row)")
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    grads = [None] * len(outputs) if grad_outputs is None else _seq(grad_outputs)
    found = run_backward(outputs, grads, retain_graph, inputs=inputs, accumulate=False,
                         create_graph=create_graph)
    out = []
    for i, x in enumerate(inputs):
        g = found.get(id(x))
        if g is None and not (allow_unused or materialize_grads):
            raise RuntimeError(f"grad: input {i} (shape {tuple(x.shape)}) was not used to compute the "
                               "outputs; pass allow_unused=True to get None for it")
        if g is None:
            out.append(_wrap(x._data * 0) if materialize_grads else None)
        else:
            out.append(g if create_graph else _wrap(g.copy()))
    return tuple(out)
