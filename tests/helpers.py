"""Shared test helpers: run the same function in baby and in PyTorch, compare outputs and gradients."""

import numpy as np
import torch

import baby

RNG = np.random.default_rng(0)


def arrays(*shapes, dtype=np.float32, low=-2.0, high=2.0, rng=RNG):
    """Random arrays of the given shapes."""
    return [rng.uniform(low, high, s).astype(dtype) for s in shapes]


def _array(x, dtype=np.float32):
    """A shape (tuple of ints) becomes a random array; anything else is taken as data."""
    if isinstance(x, tuple) and all(isinstance(n, int) for n in x):
        return arrays(x, dtype=dtype)[0]
    return np.asarray(x)


def check(baby_fn, torch_fn, inputs, atol=1e-5, rtol=1e-4, grad=True, grad_atol=None, grad_rtol=None):
    """Compare baby_fn(*tensors) with torch_fn(*tensors): the output and the gradient of every float input.

    `inputs` are shapes (tuples of ints, filled with uniform(-2, 2) float32) or arrays. The backward pass
    uses a random output gradient, so every element of the gradient is exercised.
    """
    arrs = [_array(x) for x in inputs]
    needs = [grad and a.dtype.kind == "f" for a in arrs]
    ours = [baby.Tensor(a, dtype=a.dtype, requires_grad=r) for a, r in zip(arrs, needs, strict=True)]
    theirs = [torch.tensor(a, requires_grad=r) for a, r in zip(arrs, needs, strict=True)]
    y, ty = baby_fn(*ours), torch_fn(*theirs)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=atol, rtol=rtol, err_msg="forward")
    assert y.shape == tuple(ty.shape), f"shape {y.shape} != torch {tuple(ty.shape)}"
    assert y.dtype == np.dtype(str(ty.dtype).replace("torch.", "")), f"dtype {y.dtype} != torch {ty.dtype}"
    if not any(needs) or not ty.requires_grad:  # integer or bool outputs have no gradient
        return y
    gy = RNG.standard_normal(y.shape).astype(y.dtype)
    y.backward(gy)
    ty.backward(torch.tensor(gy))
    for i, (o, t) in enumerate(zip(ours, theirs, strict=True)):
        if t.requires_grad:
            assert o.grad is not None, f"input {i} got no gradient"
            assert o.grad.dtype == o.dtype, f"input {i}: gradient dtype {o.grad.dtype} != {o.dtype}"
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), atol=grad_atol or atol,
                                       rtol=grad_rtol or rtol, err_msg=f"gradient of input {i}")
    return y


def finite_difference(fn, *arrays, eps=1e-6, atol=1e-6, rtol=1e-5):
    """Check the gradients of sum(fn(*tensors) * R) against float64 central differences (shapes or arrays)."""
    arrays = [_array(a, np.float64).astype(np.float64) for a in arrays]
    ts = [baby.Tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    y = fn(*ts)
    r = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(r)

    def loss():
        with baby.no_grad():
            return float((fn(*[baby.Tensor(a, dtype=np.float64) for a in arrays]).numpy() * r).sum())

    for a, t in zip(arrays, ts, strict=True):
        num = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + eps
            up = loss()
            a[idx] = old - eps
            down = loss()
            a[idx] = old
            num[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(t.grad.numpy(), num, atol=atol, rtol=rtol)
