"""In-place ops and item assignment in the three situations PyTorch distinguishes: outside the graph (written
into memory), a leaf that requires grad (a clear error), a tensor a recorded op still needs (a correct
gradient or a clear error, never a wrong one)."""

import numpy as np
import pytest
import torch

import baby


def both(fn):
    """fn(baby) and fn(torch), as NumPy arrays."""
    return [np.asarray(r.detach().numpy() if hasattr(r, "detach") else r) for r in (fn(baby), fn(torch))]


# ---- outside the graph: the same memory, the same tensor --------------------------------------------------
INPLACE = [
    pytest.param(lambda m, x: x.add_(m.ones(3)), id="add_"),
    pytest.param(lambda m, x: x.add_(m.ones(3), alpha=2), id="add_-alpha"),
    pytest.param(lambda m, x: x.sub_(1.5), id="sub_"),
    pytest.param(lambda m, x: x.mul_(m.tensor([1.0, 2.0, 3.0])), id="mul_"),
    pytest.param(lambda m, x: x.div_(2), id="div_"),
    pytest.param(lambda m, x: x.pow_(2), id="pow_"),
    pytest.param(lambda m, x: x.clamp_(-0.5, 0.5), id="clamp_"),
    pytest.param(lambda m, x: x.zero_(), id="zero_"),
    pytest.param(lambda m, x: x.fill_(7), id="fill_"),
    pytest.param(lambda m, x: x.copy_(m.tensor([9.0, 8.0, 7.0], dtype=m.float64)), id="copy_"),
    pytest.param(lambda m, x: x.copy_(m.tensor(5.0)), id="copy_-broadcast"),
    pytest.param(lambda m, x: x.masked_fill_(x > 0, 0.0), id="masked_fill_"),
    pytest.param(lambda m, x: x.exp_().neg_().abs_(), id="exp_-neg_-abs_"),
    pytest.param(lambda m, x: x.relu_(), id="relu_"),
]


@pytest.mark.parametrize("op", INPLACE)
def test_inplace_writes_memory_and_returns_self(op):
    def run(m):
        x = m.tensor([0.5, -1.0, 2.0])
        view = x[1:]
        y = op(m, x)
        assert y is x
        return np.concatenate([x.numpy(), view.numpy()])

    ours, theirs = both(run)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_augmented_assignment_keeps_the_leaf():
    """The tutorial's manual SGD: w -= lr * w.grad under no_grad keeps w the leaf that requires grad."""
    def run(m):
        x = m.tensor(np.linspace(-1, 1, 8))
        w = m.tensor([0.1, 0.2], dtype=m.float64, requires_grad=True)
        for _ in range(3):
            loss = ((w[0] + w[1] * x - x**3) ** 2).sum()
            loss.backward()
            with m.no_grad():
                w -= 0.01 * w.grad
                w *= 1.0
            assert w.is_leaf and w.requires_grad and w.grad_fn is None
            w.grad.zero_()
        return w

    ours, theirs = both(run)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


SETITEM = [
    pytest.param(lambda x: x.__setitem__((slice(None), 1), 0), id="column"),
    pytest.param(lambda x: x.__setitem__(0, 5.5), id="row"),
    pytest.param(lambda x: x.__setitem__(x > 0, -1), id="mask"),
    pytest.param(lambda x: x.__setitem__(([0, 2], [1, 0]), 3), id="index-arrays"),
    pytest.param(lambda x: x.__setitem__((slice(None), slice(None, None, 2)), x[:, :2] * 0 + 1), id="tensor"),
    pytest.param(lambda x: x.__setitem__(Ellipsis, 2), id="ellipsis"),
]


@pytest.mark.parametrize("assign", SETITEM)
def test_item_assignment(assign):
    def run(m):
        x = m.tensor(np.arange(12.0).reshape(3, 4) - 5)
        assign(x)
        return x

    ours, theirs = both(run)
    np.testing.assert_array_equal(ours, theirs)


def test_iadd_on_a_plain_tensor_and_on_a_slice():
    x = baby.zeros(2, 3)
    x[0] += 1
    x[:, 1] *= 4
    x += baby.ones(3)
    np.testing.assert_array_equal(x.numpy(), [[2, 5, 2], [1, 1, 1]])


# ---- a leaf that requires grad ----------------------------------------------------------------------------
LEAF_ERRORS = [
    pytest.param(lambda w: w.add_(1), id="add_"),
    pytest.param(lambda w: w.zero_(), id="zero_"),
    pytest.param(lambda w: w.__setitem__(0, 1.0), id="setitem"),
    pytest.param(lambda w: w.__iadd__(1), id="iadd"),
    pytest.param(lambda w: w[0].mul_(2), id="view-of-leaf"),
]


@pytest.mark.parametrize("op", LEAF_ERRORS)
def test_inplace_on_a_leaf_that_requires_grad_raises(op):
    w = baby.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf|view"):
        op(w)
    with pytest.raises(RuntimeError):
        op(torch.ones(3, requires_grad=True))
    np.testing.assert_array_equal(w.numpy(), 1)  # nothing written


# ---- a tensor inside the graph ----------------------------------------------------------------------------
RECORDED = [
    pytest.param(lambda m, h: h.add_(1), id="add_"),
    pytest.param(lambda m, h: h.mul_(3), id="mul_"),
    pytest.param(lambda m, h: h.relu_(), id="relu_"),
    pytest.param(lambda m, h: h.sigmoid_(), id="sigmoid_"),
    pytest.param(lambda m, h: h.clamp_(min=0.0), id="clamp_"),
    pytest.param(lambda m, h: h.__iadd__(h.detach() * 2), id="iadd-constant"),
    pytest.param(lambda m, h: h.__setitem__((slice(None), 0), 0.0), id="setitem-constant"),
    pytest.param(lambda m, h: h.masked_fill_(h > 1, 0.0), id="masked_fill_"),
]


@pytest.mark.parametrize("op", RECORDED)
def test_inplace_inside_the_graph_gives_pytorchs_gradient(op):
    a = np.random.default_rng(0).uniform(-2, 2, (3, 4))

    def run(m):
        x = m.tensor(a, requires_grad=True)
        h = x * 2 - 1  # a non-leaf
        r = op(m, h)
        assert r is h or r is None
        (h * m.tensor(a)).sum().backward()
        return x.grad

    ours, theirs = both(run)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_inplace_writes_a_value_into_the_graph():
    """x[:, 0] = v with v requiring grad: v gets the gradient of the overwritten places."""
    def run(m):
        v = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)
        x = m.zeros(3, 2, dtype=m.float64)
        x[:, 0] = v * 2
        (x * m.tensor([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]], dtype=m.float64)).sum().backward()
        return v.grad

    ours, theirs = both(run)
    np.testing.assert_allclose(ours, theirs)


def test_changing_what_a_recorded_op_needs_raises_naming_the_op():
    x = baby.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = h * x  # Mul needs h
    h.add_(1)
    with pytest.raises(RuntimeError, match="MulBackward0.*version 1; expected version 0"):
        y.sum().backward()
    e = x.exp()  # Exp needs its own output
    with baby.no_grad():
        e.add_(1)
    with pytest.raises(RuntimeError, match="in-place operation.*ExpBackward0"):
        e.sum().backward()
    v = baby.tensor([1.0, 2.0], requires_grad=True) * 1
    s = v.view(2, 1)  # a view shares the version counter of its base
    z = s * 2 + s * v.view(2, 1)
    with baby.no_grad():
        v[0] = 7
    with pytest.raises(RuntimeError, match="in-place"):
        z.sum().backward()


def test_inplace_errors_name_the_op_and_types():
    with pytest.raises(RuntimeError, match="add_.*float32.*int64"):
        baby.tensor([1, 2]).add_(1.5)
    with pytest.raises(RuntimeError, match=r"add_.*\(2, 3\).*\(3,\)"):
        baby.zeros(3).add_(baby.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"assign.*\(2,\).*\(3,\)"):
        baby.zeros(3)[:] = baby.ones(2)
    with pytest.raises(IndexError):
        baby.zeros(3)[5] = 1.0
