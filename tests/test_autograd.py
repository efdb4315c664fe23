"""Autograd as PyTorch has it: autograd.grad, autograd.Function with a ctx, hooks, retain_grad, grad modes,
the second-backward error; and the book's way of writing an op (backward on Tensors)."""

import numpy as np
import pytest
import torch

import baby

A = np.random.default_rng(3).uniform(-1, 1, (3, 4))


def both(fn):
    return [[np.asarray(t.detach().numpy()) if t is not None else None for t in fn(m)] for m in (baby, torch)]


def assert_same(fn, rtol=1e-10):
    ours, theirs = both(fn)
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs, strict=True):
        assert (o is None) == (t is None)
        if o is not None:
            np.testing.assert_allclose(o, t, rtol=rtol, atol=1e-12)


def test_grad_returns_gradients_without_touching_dot_grad():
    def run(m):
        x = m.tensor(A, requires_grad=True)
        w = m.tensor(A[0], requires_grad=True)
        y = ((x * w).sin() ** 2).sum()
        gx, gw = m.autograd.grad(y, [x, w])
        assert x.grad is None and w.grad is None and not gx.requires_grad
        return [gx, gw]

    assert_same(run)


def test_grad_with_grad_outputs_non_leaf_inputs_and_unused():
    def run(m):
        x = m.tensor(A, requires_grad=True)
        u = m.tensor(1.0, dtype=m.float64, requires_grad=True)
        h = x.exp()
        y = h * 3
        gh, gu = m.autograd.grad(y, (h, u), grad_outputs=m.ones_like(y) * 2, allow_unused=True,
                                 retain_graph=True)
        gx, = m.autograd.grad([y.sum()], x)
        return [gh, gu, gx]

    assert_same(run)
    x = baby.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        baby.autograd.grad((x * 2).sum(), [x, baby.tensor([2.0], requires_grad=True)])


def test_backward_twice_needs_retain_graph():
    x = baby.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_backward_inputs_and_autograd_backward():
    def run(m):
        x = m.tensor(A, requires_grad=True)
        w = m.tensor(A, requires_grad=True)
        (x * w).sum().backward(inputs=[w])
        m.autograd.backward([(x * 2).sum(), (w * x).sum()], [m.tensor(1.0, dtype=m.float64)] * 2)
        return [x.grad, w.grad]

    assert_same(run)


class LegendreP3:
    """P3(x) = (5x^3 - 3x) / 2 as an autograd.Function of module `m`, written the tutorial's way."""

    @staticmethod
    def make(m):
        class P3(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return 0.5 * (5 * x**3 - 3 * x)

            @staticmethod
            def backward(ctx, grad_output):
                (x,) = ctx.saved_tensors
                return grad_output * 1.5 * (5 * x**2 - 1)

        return P3


def test_custom_function_legendre_fit():
    """The tutorial's fit of sin(x) by a + b * P3(c + d x), with a custom Function, against PyTorch."""
    def run(m):
        P3 = LegendreP3.make(m)
        x = m.tensor(np.linspace(-np.pi, np.pi, 200))
        y = x.sin()
        a, b, c, d = (m.full((), v, dtype=m.float64, requires_grad=True) for v in (0.0, -1.0, 0.0, 0.3))
        for _ in range(50):
            loss = (a + b * P3.apply(c + d * x) - y).pow(2).sum()
            loss.backward()
            with m.no_grad():
                for p in (a, b, c, d):
                    p -= 5e-6 * p.grad
                    p.grad = None
        return [a, b, c, d, loss]

    assert_same(run, rtol=1e-9)


def test_custom_function_ctx_details_and_several_outputs():
    def make(m):
        class SplitScale(m.autograd.Function):
            @staticmethod
            def forward(ctx, x, k, w):
                ctx.k = k
                ctx.save_for_backward(w)
                assert ctx.needs_input_grad == (True, False, True)
                return x * k, x * w

            @staticmethod
            def backward(ctx, g1, g2):
                (w,) = ctx.saved_tensors
                return g1 * ctx.k + g2 * w, None, g2 * 0 + 7

        return SplitScale

    def run(m):
        x = m.tensor(A, requires_grad=True)
        w = m.tensor(A * 2, requires_grad=True)
        p, q = make(m).apply(x, 3.0, w)
        (p * 2 + q).sum().backward()
        return [p, q, x.grad, w.grad]

    assert_same(run)


def test_hooks_and_retain_grad():
    def run(m):
        x = m.tensor(A, requires_grad=True)
        h = x * 2
        h.retain_grad()
        seen = []
        h.register_hook(lambda g: seen.append(g.clone()))
        x.register_hook(lambda g: g * 10)
        (h**2).sum().backward()
        return [h.grad, seen[0], x.grad]

    assert_same(run)


def test_grad_fn_and_is_leaf():
    x = baby.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert x.is_leaf and x.grad_fn is None and not y.is_leaf
    assert y.grad_fn.name() == "MulBackward0" and "grad_fn=<MulBackward0>" in repr(y)
    assert (x + 1).grad_fn.name() == "AddBackward0"


def test_grad_modes():
    x = baby.tensor([1.0], requires_grad=True)
    with baby.no_grad():
        assert not (x * 2).requires_grad
        with baby.enable_grad():
            assert (x * 2).requires_grad
    with baby.set_grad_enabled(False):
        assert not baby.is_grad_enabled()
    assert baby.is_grad_enabled()
    baby.set_grad_enabled(False)
    assert not (x * 2).requires_grad
    baby.set_grad_enabled(True)
    with baby.inference_mode():
        assert not (x * 2).requires_grad
    with baby.inference_mode(False):
        assert (x * 2).requires_grad

    @baby.no_grad()
    def f(t):
        return t * 2

    @baby.inference_mode()
    def g(t):
        return t * 2

    @baby.enable_grad()
    def h(t):
        return t * 2

    @baby.set_grad_enabled(False)
    def k(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad and not k(x).requires_grad
    assert baby.is_grad_enabled()
    with baby.no_grad():
        assert h(x).requires_grad


class BookFlip(baby.ops.Function):
    """The book's way: forward on arrays, backward(self, out_grad, node) on Tensors with the book's ops."""

    def __init__(self, axes=None):
        self.axes = axes

    def forward(self, a):
        return np.flip(a, self.axes)

    def backward(self, out_grad, node):
        return baby.ops.flip(out_grad, self.axes)


class BookMul(baby.ops.Function):
    def forward(self, a, b):
        return a * b

    def backward(self, out_grad, node):
        a, b = node.inputs
        return out_grad * b, (out_grad * a).data.numpy()  # a Tensor and an array, as the book mixes them


def test_book_style_ops_get_tensor_gradients():
    def run(m):
        x = m.tensor(A, requires_grad=True)
        w = m.tensor(A[::-1].copy(), requires_grad=True)
        if m is baby:
            y = BookMul()(BookFlip((0, 1))(x), w)
        else:
            y = x.flip(0, 1) * w
        (y * m.tensor(A)).sum().backward()
        return [y, x.grad, w.grad]

    assert_same(run)


def _chain(m, shared):
    """Three weights through matmul + relu, the first used again at the end when `shared`; the order in which
    each weight's post-accumulate hook fires, and the loss's graph."""
    ws = [m.tensor(np.eye(3) * (k + 1), requires_grad=True) for k in range(3)]
    fired = []
    for k, w in enumerate(ws):
        w.register_post_accumulate_grad_hook(lambda t, k=k: fired.append(k))
    y = m.tensor(A[:, :3])
    for w in ws + ws[:1] * shared:
        y = (y @ w).relu()
    return fired, y.sum()


@pytest.mark.parametrize("shared", [False, True])
def test_each_leaf_is_done_after_its_last_consumer_as_torch(shared):
    orders = []
    for m in (baby, torch):
        fired, loss = _chain(m, shared)
        loss.backward()
        orders.append(fired)
    assert orders[0] == orders[1] and sorted(orders[0]) == [0, 1, 2]


@pytest.mark.parametrize("op, name", [
    (lambda x: x * x, "MulBackward0"),
    (lambda x: x.exp(), "ExpBackward0"),
    (lambda x: baby.nn.functional.linear(x, x), "MmBackward0"),  # (a name of its own: not shared)
    (lambda x: x.sum(), "SumBackward0"),
])
def test_a_freed_graph_keeps_each_node_name(op, name):
    for _ in range(2):  # the second time through, the freed marker of the op's class is reused
        x = baby.tensor(np.eye(2), requires_grad=True)
        y = op(x)
        y.sum().backward()
        assert y.grad_fn.name() == name
        with pytest.raises(RuntimeError, match="second time"):
            y.sum().backward()


KEEP = []  # the gradients a hook kept


STEAL_CASES = {  # leaves (a, b: (3, 4)) -> a loss; each leaf's first .grad may be its gradient's own array
    "sum of both": lambda m, a, b: (a + b).sum(),
    "same leaf twice": lambda m, a, b: (a + a * b).sum(),
    "big product": lambda m, a, b: (m.ones(300, 3, dtype=m.float64) @ a).sum() * b.sum(),
    "view of a gradient": lambda m, a, b: (a.reshape(12) * b.reshape(12)).sum(),
    "hook keeps it": lambda m, a, b: (_kept(a) * 2 + b).sum(),
    "leaf is the root": lambda m, a, b: a,
}


def _kept(a):
    if not KEEP:  # (the first backward registers the hook; it sees the second's gradient too)
        a.register_hook(lambda g: KEEP.append(g))
    return a


@pytest.mark.parametrize("case", STEAL_CASES)
def test_leaf_gradients_never_share_memory_as_torch(case):
    grads = []
    for m in (baby, torch):
        KEEP.clear()
        a, b = (m.tensor(A + k, requires_grad=True) for k in range(2))
        seed = m.ones(3, 4, dtype=m.float64)
        for _ in range(2):  # the second backward accumulates in place into the first .grad
            y = STEAL_CASES[case](m, a, b)
            y.backward(seed if y.ndim else None)
        held = [t.numpy() for t in (a.grad, b.grad, seed, *KEEP) if t is not None]
        if m is baby:
            assert not any(np.shares_memory(x, y) for i, x in enumerate(held) for y in held[i + 1:])
        grads.append([None if t.grad is None else t.grad.numpy().copy() for t in (a, b)] +
                     [k.detach().numpy().copy() for k in KEEP])
    for o, t in zip(*grads, strict=True):
        assert (o is None) == (t is None)
        if o is not None:
            np.testing.assert_allclose(o, t, rtol=1e-12)
