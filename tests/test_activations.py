"""Activations (nn.functional and nn modules) against PyTorch: values and input gradients in float32 and
float64, at the kinks (0, +-1, +-3, 6, min/max) and at large magnitudes, in place, reprs and errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check

import baby
from baby import nn
from baby.nn import functional as F

pytestmark = pytest.mark.usefixtures("helpers_rng_untouched")  # the suite's random streams stay as they were
RNG = np.random.default_rng(7)
KINKS = [-100, -50, -20, -10, -6, -5, -3, -2, -1, -0.5, 0, 0.5, 1, 2, 3, 5, 6, 10, 20, 50, 100]
TOL = {np.float32: dict(atol=1e-5, rtol=1e-4), np.float64: dict(atol=1e-10, rtol=1e-7)}

ELEMENTWISE = [  # id, baby function, torch function (same keyword arguments)
    ("relu", F.relu, TF.relu, {}),
    ("relu6", F.relu6, TF.relu6, {}),
    ("leaky_relu", F.leaky_relu, TF.leaky_relu, {}),
    ("leaky_relu-0.2", F.leaky_relu, TF.leaky_relu, {"negative_slope": 0.2}),
    ("elu", F.elu, TF.elu, {}),
    ("elu-0.5", F.elu, TF.elu, {"alpha": 0.5}),
    ("selu", F.selu, TF.selu, {}),
    ("celu", F.celu, TF.celu, {}),
    ("celu-2", F.celu, TF.celu, {"alpha": 2.0}),
    ("silu", F.silu, TF.silu, {}),
    ("mish", F.mish, TF.mish, {}),
    ("softplus", F.softplus, TF.softplus, {}),
    ("softplus-beta2-threshold10", F.softplus, TF.softplus, {"beta": 2, "threshold": 10}),
    ("softplus-beta0.5-threshold5", F.softplus, TF.softplus, {"beta": 0.5, "threshold": 5}),
    ("hardtanh", F.hardtanh, TF.hardtanh, {}),
    ("hardtanh-(-2,3)", F.hardtanh, TF.hardtanh, {"min_val": -2.0, "max_val": 3.0}),
    ("hardsigmoid", F.hardsigmoid, TF.hardsigmoid, {}),
    ("hardswish", F.hardswish, TF.hardswish, {}),
    ("logsigmoid", F.logsigmoid, TF.logsigmoid, {}),
    ("softsign", F.softsign, TF.softsign, {}),
    ("tanhshrink", F.tanhshrink, TF.tanhshrink, {}),
    ("sigmoid", F.sigmoid, torch.sigmoid, {}),
    ("tanh", F.tanh, torch.tanh, {}),
]
INPLACE = [case for case in ELEMENTWISE if case[0].split("-")[0] in
           ("relu", "relu6", "leaky_relu", "elu", "selu", "celu", "silu", "mish", "hardtanh", "hardsigmoid",
            "hardswish")]


def ids(cases):
    return [c[0] for c in cases]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, fn, tfn, kw", ELEMENTWISE, ids=ids(ELEMENTWISE))
def test_elementwise_matches_torch(name, fn, tfn, kw, dtype):
    for x in (np.array(KINKS, dtype), RNG.uniform(-4, 4, (3, 4, 5)).astype(dtype)):
        check(lambda t: fn(t, **kw), lambda t: tfn(t, **kw), [x], **TOL[dtype])


@pytest.mark.parametrize("nhwc", [False, True])
def test_relu_in_pieces_as_pytorch(nhwc):
    """ReLU over 2 * parallel.BLOCK elements or more runs in pieces over the thread pool: values and gradients
    as PyTorch's, NaN, -0.0 and both memory layouts included."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 16, 32, 32)).astype(np.float32)
    x.reshape(-1)[::97], x.reshape(-1)[5::89] = np.nan, -0.0
    gy = rng.standard_normal(x.shape).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    torch.relu(tx).backward(torch.tensor(gy))
    nhwc_x = baby.tensor(np.ascontiguousarray(x.transpose(0, 2, 3, 1))).permute(0, 3, 1, 2)  # NCHW view
    bx = (nhwc_x if nhwc else baby.tensor(x)).detach().requires_grad_()
    y = baby.relu(bx)
    y.backward(baby.tensor(gy))
    np.testing.assert_array_equal(y.numpy(), torch.relu(torch.tensor(x)).numpy())
    np.testing.assert_array_equal(np.signbit(y.numpy()), np.signbit(torch.relu(torch.tensor(x)).numpy()))
    np.testing.assert_array_equal(bx.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_inputs_give_finite_gradients(dtype):
    x = baby.tensor(np.array([-1e4, -100, 100, 1e4], dtype), requires_grad=True)
    for fn in (F.elu, F.selu, F.celu, F.softplus, F.logsigmoid, F.mish, F.silu):
        x.grad = None
        fn(x).sum().backward()
        assert np.isfinite(x.grad.numpy()).all(), fn.__name__


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw, approximate", [({}, "none"), ({"approximate": "tanh"}, "tanh")])
def test_gelu(kw, approximate, dtype):
    check(lambda t: F.gelu(t, **kw), lambda t: TF.gelu(t, **kw), [np.array(KINKS[2:-2], dtype)],
          atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("fn, tfn", [(F.softmax, TF.softmax), (F.log_softmax, TF.log_softmax)])
def test_softmax_and_log_softmax(fn, tfn, dim, dtype):
    x = RNG.uniform(-5, 5, (3, 4, 2)).astype(dtype)
    check(lambda t: fn(t, dim), lambda t: tfn(t, dim), [x], **TOL[dtype])
    check(lambda t: fn(t, dim=dim, dtype=baby.float64), lambda t: tfn(t, dim=dim, dtype=torch.float64),
          [x], **TOL[dtype])


@pytest.mark.parametrize("shape", [(2, 3), (3,), (2, 3, 4), (2, 3, 4, 5)])
def test_softmax_implicit_dim_warns_and_picks_torchs_dim(shape):
    x = RNG.standard_normal(shape).astype(np.float32)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = F.softmax(baby.tensor(x))
    with pytest.warns(UserWarning):
        ty = TF.softmax(torch.tensor(x))
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-6)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_glu(dim):
    check(lambda t: F.glu(t, dim), lambda t: TF.glu(t, dim), [(4, 6, 2)])


@pytest.mark.parametrize("name, fn, tfn, kw", INPLACE, ids=ids(INPLACE))
def test_inplace_returns_its_input_with_torchs_values_and_gradients(name, fn, tfn, kw):
    x = np.array(KINKS, np.float64)
    gy = RNG.standard_normal(x.shape)
    ours, theirs = baby.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    a, ta = ours * 2, theirs * 2  # non-leaf inputs
    y, ty = fn(a, **kw, inplace=True), tfn(ta, **kw, inplace=True)
    assert y is a and ty is ta
    np.testing.assert_allclose(a.numpy(), ta.detach().numpy(), atol=1e-10, rtol=1e-7)
    (y * 1).backward(gy)
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), atol=1e-10, rtol=1e-7)


@pytest.mark.parametrize("name, fn, tfn, kw", INPLACE, ids=ids(INPLACE))
def test_inplace_on_a_leaf_that_requires_grad_is_an_error_and_fine_without_grad(name, fn, tfn, kw):
    with pytest.raises(RuntimeError, match="leaf"):
        fn(baby.ones(3, requires_grad=True), **kw, inplace=True)
    x = np.array(KINKS, np.float32)
    ours = baby.tensor(x)
    assert fn(ours, **kw, inplace=True) is ours
    np.testing.assert_allclose(ours.numpy(), tfn(torch.tensor(x), **kw).numpy(), atol=1e-6, rtol=1e-5)


def test_errors():
    with pytest.raises(RuntimeError, match="Halving dimension must be even, but dimension 1 is size 5"):
        F.glu(baby.zeros(3, 5))
    with pytest.raises(ValueError, match=r"min_val \(2\) cannot be greater than max_val \(1\)"):
        F.hardtanh(baby.zeros(3), 2, 1)
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D"):
        nn.Softmax2d()(baby.zeros(3, 4))
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")


# ---- modules ----------------------------------------------------------------------------------------------
MODULES = [  # baby module, torch module: same forward, gradient and repr
    (nn.ReLU(), torch.nn.ReLU()), (nn.ReLU(True), torch.nn.ReLU(True)),
    (nn.ReLU(inplace=True), torch.nn.ReLU(inplace=True)),
    (nn.ReLU6(), torch.nn.ReLU6()), (nn.ReLU6(True), torch.nn.ReLU6(True)),
    (nn.LeakyReLU(), torch.nn.LeakyReLU()), (nn.LeakyReLU(0.2, True), torch.nn.LeakyReLU(0.2, True)),
    (nn.ELU(), torch.nn.ELU()), (nn.ELU(0.5, inplace=True), torch.nn.ELU(0.5, inplace=True)),
    (nn.SELU(), torch.nn.SELU()), (nn.SELU(True), torch.nn.SELU(True)),
    (nn.CELU(2.0), torch.nn.CELU(2.0)), (nn.CELU(inplace=True), torch.nn.CELU(inplace=True)),
    (nn.SiLU(), torch.nn.SiLU()), (nn.SiLU(True), torch.nn.SiLU(True)),
    (nn.Mish(), torch.nn.Mish()), (nn.Mish(True), torch.nn.Mish(True)),
    (nn.Softplus(), torch.nn.Softplus()), (nn.Softplus(2, 10), torch.nn.Softplus(2, 10)),
    (nn.Hardtanh(), torch.nn.Hardtanh()), (nn.Hardtanh(-2.0, 3, True), torch.nn.Hardtanh(-2.0, 3, True)),
    (nn.Hardsigmoid(), torch.nn.Hardsigmoid()), (nn.Hardsigmoid(True), torch.nn.Hardsigmoid(True)),
    (nn.Hardswish(), torch.nn.Hardswish()), (nn.Hardswish(True), torch.nn.Hardswish(True)),
    (nn.LogSigmoid(), torch.nn.LogSigmoid()), (nn.Softsign(), torch.nn.Softsign()),
    (nn.Tanhshrink(), torch.nn.Tanhshrink()), (nn.Sigmoid(), torch.nn.Sigmoid()),
    (nn.Tanh(), torch.nn.Tanh()),
    (nn.GELU(), torch.nn.GELU()), (nn.GELU("tanh"), torch.nn.GELU("tanh")),
    (nn.Softmax(1), torch.nn.Softmax(1)), (nn.Softmax(dim=-1), torch.nn.Softmax(dim=-1)),
    (nn.LogSoftmax(1), torch.nn.LogSoftmax(1)), (nn.Softmax2d(), torch.nn.Softmax2d()),
    (nn.GLU(), torch.nn.GLU()), (nn.GLU(1), torch.nn.GLU(1)),
]


@pytest.mark.parametrize("m, tm", MODULES, ids=[repr(tm) for _, tm in MODULES])
def test_module_matches_torch(m, tm):
    assert repr(m) == repr(tm)
    x = RNG.uniform(-4, 4, (2, 4, 3, 2))
    x[0, 0, :, 0] = [-3, 0, 3]  # kinks
    ours, theirs = baby.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(ours * 1), tm(theirs * 1)  # non-leaf inputs, as in-place modules need
    tol = dict(atol=1e-6, rtol=1e-5) if isinstance(m, nn.GELU) else dict(atol=1e-10, rtol=1e-7)  # erf to 1e-7
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **tol)
    gy = RNG.standard_normal(y.shape)
    y.backward(gy)
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), **tol)


def test_softmax_module_default_dim_is_torchs_implicit_one():
    assert nn.Softmax().dim is None and repr(nn.Softmax()) == "Softmax(dim=None)"
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = nn.Softmax()(baby.ones(2, 3))
    np.testing.assert_allclose(y.numpy(), np.full((2, 3), 1 / 3), rtol=1e-6)


def test_hardtanh_deprecated_keywords():
    with pytest.warns(UserWarning, match="deprecated"):
        m = nn.Hardtanh(min_value=-2.0, max_value=2.0)
    assert (m.min_val, m.max_val) == (-2.0, 2.0)
    with pytest.raises(ValueError, match="min_val"):
        nn.Hardtanh(1.0, -1.0)


def test_dropout_inplace_writes_into_its_input():
    baby.manual_seed(0)
    x = baby.tensor(RNG.uniform(1, 2, (50, 40)), requires_grad=True)
    a = x * 1
    y = F.dropout(a, 0.25, inplace=True)
    assert y is a
    kept = y.numpy() != 0
    np.testing.assert_allclose(y.numpy()[kept], x.numpy()[kept] / 0.75)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.75)
    assert F.dropout(a, 0.5, training=False, inplace=True) is a
