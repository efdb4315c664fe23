"""Tensor: construction, factories, properties, no_grad, backward (accumulation, retain_graph), errors."""

import numpy as np
import pytest
import torch
from helpers import check

import baby
from baby import Tensor

# ---- construction ---------------------------------------------------------------------------------------
CONSTRUCT = [
    pytest.param(lambda: Tensor([[1, 2], [3, 4]]), (2, 2), np.float32, id="list-of-ints"),
    pytest.param(lambda: Tensor([1.5, 2.5]), (2,), np.float32, id="list-of-floats"),
    pytest.param(lambda: Tensor(3.5), (), np.float32, id="python-float"),
    pytest.param(lambda: Tensor(7), (7,), np.float32, id="python-int-is-a-size"),
    pytest.param(lambda: Tensor(np.ones((2, 3))), (2, 3), np.float32, id="float64-numpy-to-float32"),
    pytest.param(lambda: Tensor(np.ones(3), dtype=np.float64), (3,), np.float64, id="float64-numpy-kept"),
    pytest.param(lambda: Tensor(np.arange(4)), (4,), np.float32, id="int-numpy-to-float32"),
    pytest.param(lambda: Tensor(np.arange(4), dtype=baby.int64), (4,), np.int64, id="int-numpy-int64"),
    pytest.param(lambda: Tensor([1, 2], dtype=baby.int32), (2,), np.int32, id="list-int32"),
    pytest.param(lambda: Tensor([np.ones(2), np.zeros(2)]), (2, 2), np.float32, id="list-of-arrays"),
    pytest.param(lambda: Tensor(Tensor([1.0], dtype=baby.float64)), (1,), np.float64, id="tensor-kept"),
    pytest.param(lambda: Tensor(Tensor([1.0]), dtype=baby.float64), (1,), np.float64, id="tensor-cast"),
    pytest.param(lambda: baby.tensor([[1.0], [2.0]], requires_grad=True), (2, 1), np.float32, id="tensor-fn"),
    pytest.param(lambda: Tensor([]), (0,), np.float32, id="empty"),
]


@pytest.mark.parametrize("make, shape, dtype", CONSTRUCT)
def test_construction(make, shape, dtype):
    t = make()
    assert isinstance(t, Tensor) and t.shape == shape and t.dtype == dtype and t.grad is None


def test_construction_values_and_requires_grad():
    t = Tensor([[1, 2], [3, 4]], requires_grad=True)
    np.testing.assert_array_equal(t.numpy(), [[1, 2], [3, 4]])
    assert t.requires_grad and t.is_leaf and not Tensor([1.0]).requires_grad


# ---- factories ------------------------------------------------------------------------------------------
LIKE = Tensor(np.ones((2, 3)))
FACTORIES = [
    pytest.param(lambda **kw: baby.zeros(2, 3, **kw), np.zeros((2, 3)), id="zeros"),
    pytest.param(lambda **kw: baby.linspace(0, 4, 5, **kw), np.linspace(0, 4, 5), id="linspace"),
    pytest.param(lambda **kw: baby.logspace(0, 2, 3, **kw), np.logspace(0, 2, 3), id="logspace"),
    pytest.param(lambda **kw: baby.full_like(LIKE, 3, **kw), np.full((2, 3), 3.0), id="full_like"),
    pytest.param(lambda **kw: baby.zeros((2, 3), **kw), np.zeros((2, 3)), id="zeros-tuple"),
    pytest.param(lambda **kw: baby.ones(4, **kw), np.ones(4), id="ones"),
    pytest.param(lambda **kw: baby.ones([2, 2], **kw), np.ones((2, 2)), id="ones-list"),
    pytest.param(lambda **kw: baby.full((2, 2), 7.0, **kw), np.full((2, 2), 7.0), id="full"),
    pytest.param(lambda **kw: baby.full(3, 2.0, **kw), np.full(3, 2.0), id="full-int-shape"),
    pytest.param(lambda **kw: baby.arange(5.0, **kw), np.arange(5), id="arange"),
    pytest.param(lambda **kw: baby.arange(1, 7, 2.0, **kw), np.arange(1, 7, 2), id="arange-step"),
    pytest.param(lambda **kw: baby.eye(3, **kw), np.eye(3), id="eye"),
    pytest.param(lambda **kw: baby.eye(2, 3, **kw), np.eye(2, 3), id="eye-rect"),
    pytest.param(lambda **kw: baby.zeros_like(LIKE, **kw), np.zeros((2, 3)), id="zeros_like"),
    pytest.param(lambda **kw: baby.ones_like(LIKE, **kw), np.ones((2, 3)), id="ones_like"),
    pytest.param(lambda **kw: baby.tensor([[1.0, 2]], **kw), np.array([[1, 2]]), id="tensor"),
]
INT_FACTORIES = [  # PyTorch infers int64 (or bool) from the arguments
    pytest.param(lambda: baby.full(3, 2), np.full(3, 2), np.int64, id="full-int"),
    pytest.param(lambda: baby.full((2,), True), np.full(2, True), np.bool_, id="full-bool"),
    pytest.param(lambda: baby.arange(5), np.arange(5), np.int64, id="arange-int"),
    pytest.param(lambda: baby.arange(1, 7, 2), np.arange(1, 7, 2), np.int64, id="arange-int-step"),
    pytest.param(lambda: baby.tensor([[1, 2]]), np.array([[1, 2]]), np.int64, id="tensor-ints"),
    pytest.param(lambda: baby.tensor([True, False]), np.array([True, False]), np.bool_, id="tensor-bools"),
    pytest.param(lambda: baby.tensor(np.arange(3, dtype=np.int32)), np.arange(3), np.int32, id="np-int32"),
    pytest.param(lambda: baby.tensor(np.ones(2)), np.ones(2), np.float64, id="tensor-np-float64"),
    pytest.param(lambda: baby.randint(0, 5, (3,)) * 0, np.zeros(3), np.int64, id="randint"),
    pytest.param(lambda: baby.randperm(4).sort().values, np.arange(4), np.int64, id="randperm"),
]


@pytest.mark.parametrize("make, expected, dtype", INT_FACTORIES)
def test_factories_infer_dtype_as_torch(make, expected, dtype):
    t = make()
    np.testing.assert_array_equal(t.numpy(), expected)
    assert t.dtype == dtype


@pytest.mark.parametrize("dtype", [None, baby.float64, baby.int64], ids=["default", "f64", "i64"])
@pytest.mark.parametrize("make, expected", FACTORIES)
def test_factories(make, expected, dtype):
    t = make(dtype=dtype)
    np.testing.assert_array_equal(t.numpy(), expected)
    assert t.dtype == (dtype or np.float32) and not t.requires_grad


@pytest.mark.parametrize("make, expected", FACTORIES)
def test_factories_requires_grad(make, expected):
    t = make(requires_grad=True)
    assert t.requires_grad and t.dtype == np.float32
    (t * 2).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.full(expected.shape, 2.0))


def test_like_factories_keep_dtype():
    like = Tensor(np.ones(2), dtype=baby.float64)
    assert baby.zeros_like(like).dtype == np.float64 and baby.ones_like(like).dtype == np.float64
    assert baby.zeros_like(like, dtype=baby.float32).dtype == np.float32
    assert baby.arange(0, 1, 0.25).numpy().tolist() == [0, 0.25, 0.5, 0.75]


@pytest.mark.parametrize("fn", [baby.randn, baby.rand], ids=["randn", "rand"])
def test_random_factories_and_manual_seed(fn):
    baby.manual_seed(0)
    a = fn(3, 4)
    baby.manual_seed(0)
    b = fn((3, 4))
    assert a.shape == (3, 4) and a.dtype == np.float32
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), fn(3, 4).numpy())
    state = baby.get_rng_state()
    c = fn(5, dtype=baby.float64, requires_grad=True)
    baby.set_rng_state(state)
    np.testing.assert_array_equal(fn(5, dtype=baby.float64).numpy(), c.numpy())
    assert c.dtype == np.float64 and c.requires_grad


def test_rand_range_and_randn_moments():
    baby.manual_seed(1)
    u, n = baby.rand(10000).numpy(), baby.randn(10000).numpy()
    assert 0 <= u.min() and u.max() < 1
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05


# ---- properties -----------------------------------------------------------------------------------------
def test_properties():
    t = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert (t.shape, t.dtype, t.ndim, t.numel(), len(t)) == ((2, 3), np.float32, 2, 6, 2)
    assert t.T.shape == (3, 2) and t.T.numpy().tolist() == [[1, 4], [2, 5], [3, 6]]
    assert Tensor([[2.5]]).item() == 2.5 and isinstance(Tensor(3.0).item(), float)
    assert float(Tensor(1.5)) == 1.5 and int(Tensor([4.0])) == 4 and bool(Tensor(1.0))
    assert t.numpy() is t.data.numpy()
    t.numpy()[0, 0] = 10
    assert t[0, 0].item() == 10


def test_op_outputs_hold_arrays_not_numpy_scalars():
    x = Tensor([1.0, 2.0], requires_grad=True)
    for y in (x.sum(), x.max(), x[0], x.mean(), x @ x):
        assert type(y.numpy()) is np.ndarray and y.shape == () and y.dtype == np.float32


def test_detach_shares_data_and_cuts_the_graph():
    x = Tensor([1.0, 2.0], dtype=baby.float64, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf and d.dtype == np.float64
    y = x.detach()
    assert np.shares_memory(y.numpy(), x.numpy())


def test_repr():
    assert repr(Tensor([1.0, 2.0])) == "tensor([1., 2.])"
    r = repr(Tensor([[1, 2], [3, 4]], dtype=baby.float64, requires_grad=True))
    assert r.startswith("tensor([[1., 2.],") and r.endswith("dtype=baby.float64, requires_grad=True)")


def test_numpy_on_the_left_gives_a_tensor():
    t = Tensor([1.0, 2.0], requires_grad=True)
    for y in (np.ones(2) + t, np.ones(2) * t, np.ones(2) - t, np.ones(2) / t):
        assert isinstance(y, Tensor) and y.dtype == np.float32 and y.requires_grad


# ---- no_grad --------------------------------------------------------------------------------------------
def test_no_grad_context_manager():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with baby.no_grad():
        assert not baby.is_grad_enabled()
        y = x * 2
        with baby.no_grad():
            pass
        assert not baby.is_grad_enabled()
    assert baby.is_grad_enabled() and not y.requires_grad and (x * 2).requires_grad


def test_no_grad_restores_after_an_exception():
    with pytest.raises(KeyError), baby.no_grad():
        raise KeyError
    assert baby.is_grad_enabled()


@pytest.mark.parametrize("decorate", [baby.no_grad(), baby.no_grad], ids=["no_grad()", "no_grad"])
def test_no_grad_decorator(decorate):
    @decorate
    def double(t):
        """Docstring kept."""
        return t * 2

    y = double(Tensor([1.0], requires_grad=True))
    assert not y.requires_grad and baby.is_grad_enabled()
    assert double.__name__ == "double" and double.__doc__ == "Docstring kept."


# ---- backward -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [baby.float32, baby.float64], ids=["f32", "f64"])
def test_gradients_accumulate_over_two_backward_calls(dtype):
    x = Tensor([1.0, -2.0, 3.0], dtype=dtype, requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() + 3)
    assert x.grad.dtype == dtype
    x.grad.zero_()
    assert (x.grad.numpy() == 0).all()


def test_gradients_are_writable_and_do_not_alias():
    x, w = Tensor(np.ones((2, 3)), requires_grad=True), Tensor(np.ones((2, 3)), requires_grad=True)
    gy = np.ones((2, 3), np.float32)
    (x + w).backward(gy)
    x.grad.numpy()[...] = 5
    assert (w.grad.numpy() == 1).all() and (gy == 1).all()
    b = Tensor([1.0, 2.0], requires_grad=True)
    b.broadcast_to((3, 2)).sum().backward()
    b.grad.numpy()[...] *= 2


def test_backward_with_an_explicit_gradient():
    x = Tensor([[1.0, 2.0]], requires_grad=True)
    (x * 3).backward(Tensor([[1.0, -1.0]]))
    np.testing.assert_array_equal(x.grad.numpy(), [[3.0, -3.0]])


def test_retain_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_second_backward_through_a_freed_intermediate_raises():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (h * 2).sum().backward()


@pytest.mark.parametrize("depth", [3000, 10000])
def test_deep_chain_backpropagates_without_recursion(depth):
    x = Tensor([1.0, 2.0], dtype=baby.float64, requires_grad=True)
    y = x
    for _ in range(depth):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001**depth] * 2, rtol=1e-9)


def test_deep_chain_without_backward_is_freed_cleanly():
    y = Tensor([1.0], requires_grad=True)
    for _ in range(10000):
        y = y + 1.0
    del y


def test_diamond_graph():
    check(lambda x: (x * 2) * x.exp(), lambda x: (x * 2) * x.exp(), [(3, 4)])
    def shared(x):
        h = x * 3
        return h * h + h.exp() - h[0]

    check(shared, shared, [(3, 4)])


def test_diamond_graph_grad_values():
    x = Tensor([2.0], requires_grad=True)
    a, b = x * 3, x * x
    (a * b + a).backward()
    np.testing.assert_allclose(x.grad.numpy(), [9 * 4.0 + 3])


def test_only_leaves_that_require_grad_get_a_grad():
    x, c = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0])
    y = x * c
    y.sum().backward()
    assert c.grad is None and y.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    assert torch.equal(torch.tensor(x.grad.numpy()), torch.tensor([3.0, 4.0]))


# ---- errors ---------------------------------------------------------------------------------------------
ERRORS = [
    pytest.param(lambda: Tensor([[1, 2], [3]]), ValueError, "rectangular", id="ragged"),
    pytest.param(lambda: Tensor([[1, 2], [3, 4, 5]], dtype=baby.int64), ValueError, "rectangular",
                 id="ragged-int"),
    pytest.param(lambda: Tensor("abc"), TypeError, "numbers", id="string"),
    pytest.param(lambda: Tensor([1.0, "a"]), TypeError, "numbers", id="string-in-list"),
    pytest.param(lambda: Tensor(np.array(["a"])), TypeError, "numeric", id="string-array"),
    pytest.param(lambda: Tensor(None), TypeError, "numeric", id="None"),
    pytest.param(lambda: Tensor([1, 2], dtype=baby.int64, requires_grad=True), RuntimeError, "int64",
                 id="int-requires-grad"),
    pytest.param(lambda: Tensor([1.0, 2.0]).sum().backward(), RuntimeError, "does not require grad",
                 id="backward-no-grad"),
    pytest.param(lambda: (Tensor(np.ones((2, 3)), requires_grad=True) * 2).backward(), RuntimeError,
                 r"\(2, 3\)", id="backward-non-scalar"),
    pytest.param(lambda: (Tensor(np.ones((2, 3)), requires_grad=True) * 2).backward(np.ones(3)), RuntimeError,
                 r"\(3,\).*\(2, 3\)", id="backward-grad-shape"),
    pytest.param(lambda: Tensor([1.0, 2.0]).item(), RuntimeError, r"\(2,\)", id="item"),
    pytest.param(lambda: bool(Tensor([1.0, 2.0])), RuntimeError, r"\(2,\)", id="bool"),
    pytest.param(lambda: baby.manual_seed("0"), TypeError, "seed", id="seed"),
]


@pytest.mark.parametrize("fn, exc, match", ERRORS)
def test_errors(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()
