"""gradcheck and gradgradcheck: each analytic Jacobian (one backward per output element) against central
differences of the function (two forwards per input element), as torch.autograd.gradcheck."""

from ..backend import xp
from ..tensor import Tensor, _wrap
from .grads import grad


class GradcheckError(RuntimeError):
    """An analytic gradient that disagrees with the numerical one (PyTorch's GradcheckError)."""


def _tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(func, inputs):
    """The float outputs of func(*inputs), as a tuple of Tensors."""
    return tuple(o for o in _tuple(func(*inputs)) if isinstance(o, Tensor) and o.dtype.kind == "f")


def _numerical(func, inputs, i, eps):
    """d outputs / d inputs[i] by central differences: one (out.numel(), x.numel()) array per output."""
    x = inputs[i]._data
    cols = []
    for k in range(x.size):
        idx = xp.unravel_index(k, x.shape)
        old = x[idx]
        x[idx] = old + eps
        plus = [o._data.astype(xp.float64).reshape(-1) for o in _outputs(func, inputs)]
        x[idx] = old - eps
        minus = [o._data.astype(xp.float64).reshape(-1) for o in _outputs(func, inputs)]
        x[idx] = old
        cols.append([(p - m) / (2 * eps) for p, m in zip(plus, minus, strict=True)])
    outs = _outputs(func, inputs)
    return [xp.stack([c[j] for c in cols], axis=1) if cols else xp.zeros((outs[j].numel(), 0))
            for j in range(len(outs))]


def _analytic(func, inputs, i):
    """d outputs / d inputs[i] by backward passes, one per output element: as _numerical's arrays."""
    x, outs = inputs[i], _outputs(func, inputs)
    rows = []
    for o in outs:
        J = xp.zeros((o.numel(), x.numel()))
        for r in range(o.numel() if o.requires_grad else 0):
            seed = xp.zeros(o.numel(), o.dtype)
            seed[r] = 1
            g, = grad(o, x, _wrap(seed.reshape(o.shape)), retain_graph=True, allow_unused=True)
            J[r] = 0 if g is None else g._data.reshape(-1)
        rows.append(J)
    return rows


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True,
              fast_mode=False, masked=None):
    """Whether the gradients of func(*inputs) with respect to each input that requires grad match central
    differences (use float64 inputs): |analytic - numerical| <= atol + rtol * |numerical| everywhere. A
    failure raises GradcheckError naming the output, the input, the worst element and both values (or
    returns False when raise_exception=False)."""
    inputs = _tuple(inputs)
    for i, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        for j, (num, ana) in enumerate(zip(_numerical(func, inputs, i, eps), _analytic(func, inputs, i),
                                           strict=True)):
            bad = xp.abs(ana - num) > atol + rtol * xp.abs(num)
            if not bad.any():
                continue
            if not raise_exception:
                return False
            err = xp.where(bad, xp.abs(ana - num), -1)
            r, c = xp.unravel_index(int(err.argmax()), err.shape)
            out_idx = tuple(int(v) for v in xp.unravel_index(r, _outputs(func, inputs)[j].shape))
            in_idx = tuple(int(v) for v in xp.unravel_index(c, x.shape))
            raise GradcheckError(
                f"Jacobian mismatch for output {j} with respect to input {i}: {int(bad.sum())} of "
                f"{bad.size} elements differ; worst at output {out_idx}, input {in_idx}: numerical "
                f"{num[r, c]:.8g}, analytical {ana[r, c]:.8g} (atol={atol}, rtol={rtol})")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False, masked=False):
    """gradcheck of the first derivatives: the gradients of func's outputs (seeded with `grad_outputs`, or
    random ones) with respect to its inputs, differentiated again, against central differences."""
    inputs = _tuple(inputs)
    outs = _outputs(func, inputs)
    if grad_outputs is None:
        rng = xp.random.default_rng(0)
        grad_outputs = tuple(Tensor(rng.standard_normal(o.shape), dtype=o.dtype, requires_grad=True)
                             for o in outs)
    grad_outputs = _tuple(grad_outputs)
    n = len(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def first(*args):
        xs, gys = args[:n], args[n:]
        ys = _outputs(func, xs)
        pairs = [(y, g) for y, g in zip(ys, gys, strict=True) if y.requires_grad]
        gs = grad([y for y, _ in pairs], [xs[i] for i in wrt], [g for _, g in pairs], create_graph=True,
                  allow_unused=True)
        return tuple(g if g is not None else _wrap(xp.zeros(xs[i].shape, xs[i].dtype))
                     for g, i in zip(gs, wrt, strict=True))

    return gradcheck(first, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
