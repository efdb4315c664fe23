"""baby.blas.axpby (NumPy's own BLAS through ctypes) and SGD's updates through it, against NumPy and torch."""

import numpy as np
import pytest
import torch

import baby
from baby import blas

N = blas.MIN_SIZE + 3  # numbers enough for BLAS, and not a multiple of a vector's width


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-6), (np.float64, 1e-15)], ids=["f32", "f64"])
def test_axpby_is_a_x_plus_b_y(dtype, tol):
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((2, N)).astype(dtype)
    want = dtype(0.3) * x + dtype(-1.7) * y
    assert blas.axpby(0.3, x, -1.7, y)
    np.testing.assert_allclose(y, want, rtol=tol, atol=tol)


def _refused():
    x = np.ones(N, np.float32)
    return {"small": (x[:100], np.ones(100, np.float32)), "float16": (x.astype(np.float16),) * 2,
            "dtypes differ": (x.astype(np.float64), x.copy()), "shapes differ": (x, x.reshape(1, N).copy()),
            "strided": (np.ones(2 * N, np.float32)[::2], x.copy()), "read-only": (x, np.ones(N, np.float32))}


@pytest.mark.parametrize("case", list(_refused()))
def test_axpby_refuses_what_it_cannot_do_in_one_pass(case):
    x, y = _refused()[case]
    if case == "read-only":
        y.flags.writeable = False
    before = y.copy()
    assert not blas.axpby(0.5, x, 2.0, y)
    np.testing.assert_array_equal(y, before)


@pytest.mark.parametrize("a, b", [(0.0, 1.0), (1.0, 0.0)], ids=["a=0", "b=0"])
def test_axpby_leaves_zero_coefficients_to_numpy(a, b):
    """A BLAS may skip reading x (a = 0) or y (b = 0); NumPy's 0 * NaN keeps the NaN, so these refuse."""
    x, y = np.full(N, np.nan, np.float32), np.full(N, np.nan, np.float32)
    assert not blas.axpby(a, x, b, y)


SGD_CASES = [dict(lr=0.1), dict(lr=0.05, momentum=0.9),
             dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1),
             dict(lr=0.05, momentum=0.8, nesterov=True, maximize=True),
             dict(lr=0.1, momentum=0.5, dampening=1.0)]


@pytest.mark.parametrize("kw", SGD_CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)], ids=["f32", "f64"])
def test_sgd_on_a_big_parameter_as_pytorch(kw, dtype, tol, monkeypatch):
    """A parameter of MIN_SIZE numbers or more: SGD's updates go through BLAS (counted), as PyTorch's."""
    calls = []  # the BLAS routine's calls
    for dt, fn in list(blas._ROUTINES.items()):
        monkeypatch.setitem(blas._ROUTINES, dt, lambda *args, fn=fn: calls.append(args[0]) or fn(*args))
    rng = np.random.default_rng(6)
    w0 = rng.standard_normal((N,)).astype(dtype)
    ours, theirs = baby.tensor(w0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    opt, topt = baby.optim.SGD([ours], **kw), torch.optim.SGD([theirs], **kw)
    for step in range(4):
        g = rng.standard_normal(N).astype(dtype)
        if step == 3:
            g[::1000] = np.nan  # a NaN gradient spreads as in PyTorch
        ours.grad, theirs.grad = baby.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)
    assert calls or np.dtype(dtype) not in blas._ROUTINES, "the BLAS path ran (where NumPy's BLAS has axpby)"
