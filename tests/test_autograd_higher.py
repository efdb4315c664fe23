"""gradcheck / gradgradcheck on every primitive, the conv's double backward over its options,
autograd.functional against PyTorch's, and what users build on create_graph: a WGAN-GP step, Newton's method,
hooks and custom Functions under create_graph, anomaly mode."""

import numpy as np
import pytest
import torch

import baby
from baby import ops
from baby.autograd import GradcheckError, gradcheck, gradgradcheck

RNG = np.random.default_rng(3)
F = baby.nn.functional


def _inputs(*shapes, low=-1.5, high=1.5):
    return tuple(baby.tensor(RNG.uniform(low, high, s), requires_grad=True) for s in shapes)


PRIMITIVES = [  # (id, fn, shapes): every op class of baby/ops and the fused ops of nn.functional
    ("add-mul-neg", lambda a, b: -(a + b) * a, [(2, 3), (3,)]),
    ("div", lambda a, b: a / (b * b + 1), [(2, 3), (2, 3)]),
    ("pow", lambda a, b: (a * a + 0.5) ** b, [(2, 3), (2, 3)]),
    ("pow-scalar", lambda a: a ** 3, [(2, 3)]),
    ("exp-log-sqrt", lambda a: a.exp() * (a * a + 1).log() * (a * a + 1).sqrt(), [(2, 3)]),
    ("abs-relu", lambda a: a.abs() * a + a.relu() * a, [(2, 3)]),
    ("sigmoid-tanh-gelu", lambda a: a.sigmoid() * a.tanh() + F.gelu(a) + F.gelu(a, approximate="tanh"),
     [(2, 3)]),
    ("sin-cos-log1p-expm1", lambda a: a.sin() * a.cos() + (a * a).log1p() * a.expm1(), [(2, 3)]),
    ("maximum-where", lambda a, b: ops.maximum(a, b) * ops.where(a > 0, a, b), [(2, 3), (2, 3)]),
    ("sum-max", lambda a: a.sum(1, keepdim=True) * a.amax(0) * a, [(2, 3)]),
    ("prod-cumsum", lambda a: a.prod(1, keepdim=True) * a.cumsum(0), [(2, 3)]),
    ("softmax-log_softmax", lambda a: a.softmax(1) * a.log_softmax(0), [(2, 3)]),
    ("reshape-permute-broadcast", lambda a: a.reshape(3, 2).T * a.expand(2, 2, 3), [(2, 3)]),
    ("getitem-setitem-clone", lambda a: a[:, ::2] * a[[1, 1], :2] + ops.clone(a)[0, 1], [(2, 3)]),
    ("pad-flip-dilate-undilate", lambda a: ops.dilate(ops.flip(ops.pad(a, ((1, 0), (0, 2))), (0,)), (1,), 1)
     ** 2 + ops.undilate(a, (1,), 1).sum(), [(2, 3)]),
    ("stack-cat", lambda a, b: ops.stack([a, b]) * ops.cat([b, a]).reshape(2, 2, 3), [(2, 3), (2, 3)]),
    ("gather-scatter_add", lambda a, b: a.gather(1, baby.tensor([[0, 2], [1, 1]])) * b[:, :2]
     + a.scatter_add(1, baby.tensor([[0, 2], [1, 1]]), b * b)[:, 1:], [(2, 3), (2, 3)]),
    ("scatter-index_add", lambda a, b: a.scatter(1, baby.tensor([[0, 2], [1, 0]]), b * b) * a
     + a.index_add(1, baby.tensor([0, 2, 0]), b * a, alpha=2), [(2, 3), (2, 3)]),
    ("tril-diagonal-diag_embed-roll-cumprod", lambda a: baby.tril(a * a) * a + a.diagonal() ** 2
     + baby.diag_embed(a[0]) * a + baby.roll(a, 1, 1) * a + a.cumprod(1), [(3, 3)]),
    ("matmul-einsum", lambda a, b: (a @ b) ** 2 + ops.einsum("ij,jk->ik", a, b).tanh(), [(2, 3), (3, 2)]),
    ("linear", lambda x, w, b: F.linear(x, w, b) ** 2, [(2, 3), (2, 3), (2,)]),
    ("max_pool-avg_pool", lambda x: F.max_pool2d(x ** 3, 2) + F.avg_pool2d(x * x, 2), [(1, 1, 4, 4)]),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (3,), w, b) * x, [(2, 3), (3,), (3,)]),
    ("batch_norm", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True) * x,
     [(3, 2), (2,), (2,)]),
    ("cross_entropy", lambda x: F.cross_entropy(x * x, baby.tensor([0, 2]), label_smoothing=0.1), [(2, 3)]),
    ("binary_cross_entropy", lambda x, t: F.binary_cross_entropy(x.sigmoid(), t.sigmoid()), [(2, 3), (2, 3)]),
    ("conv-bias", lambda x, w, b: F.conv2d(x, w, b, padding=1) ** 2, [(1, 2, 3, 3), (2, 2, 2, 2), (2,)]),
    ("conv_transpose", lambda x, w: F.conv_transpose2d(x, w, stride=2) ** 2, [(1, 2, 2, 2), (2, 1, 2, 2)]),
]


@pytest.mark.parametrize("fn, shapes", [pytest.param(f, s, id=i) for i, f, s in PRIMITIVES])
def test_gradcheck_and_gradgradcheck_every_primitive(fn, shapes):
    xs = _inputs(*shapes)
    assert gradcheck(fn, xs)
    assert gradgradcheck(fn, xs, atol=1e-4)


@pytest.mark.parametrize("stride, padding, dilation, groups", [
    (1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (2, 1, 1, 2), (1, 0, 2, 2), (3, 2, 1, 1),
])
def test_gradgradcheck_conv(stride, padding, dilation, groups):
    x, w = _inputs((1, 2, 5, 4), (2, 2 // groups, 2, 2))
    assert gradgradcheck(lambda x, w: F.conv2d(x, w, stride=stride, padding=padding, dilation=dilation,
                                                 groups=groups), (x, w), atol=1e-4)


@pytest.mark.parametrize("stride, padding, dilation, groups, output_padding", [
    (1, 0, 1, 1, 0), (2, 1, 1, 1, 1), (2, 0, 2, 2, 1), (1, 1, 2, 1, 0),
])
def test_gradgradcheck_conv_transpose(stride, padding, dilation, groups, output_padding):
    x, w = _inputs((1, 2, 3, 3), (2, 4 // groups, 2, 2))
    assert gradgradcheck(lambda x, w: F.conv_transpose2d(x, w, stride=stride, padding=padding,
                                                           output_padding=output_padding, groups=groups,
                                                           dilation=dilation), (x, w), atol=1e-4)


@pytest.mark.parametrize("algorithm", ["auto", "book", "im2col"])
def test_conv_double_backward_under_every_algorithm(algorithm):
    x, w = _inputs((1, 16, 6, 6), (16, 16, 3, 3))  # 16 channels: 'auto' takes winograd for first order
    with baby.ops.conv_algorithm(algorithm):
        y = F.conv2d(x, w, padding=1).tanh().sum()
        gx, gw = baby.autograd.grad(y, (x, w), create_graph=True)
        hx, hw = baby.autograd.grad((gx * gx).sum() + (gw * gw).sum(), (x, w))
    tx, tw = (torch.tensor(t.numpy(), requires_grad=True) for t in (x, w))
    ty = torch.nn.functional.conv2d(tx, tw, padding=1).tanh().sum()
    tgx, tgw = torch.autograd.grad(ty, (tx, tw), create_graph=True)
    thx, thw = torch.autograd.grad((tgx * tgx).sum() + (tgw * tgw).sum(), (tx, tw))
    np.testing.assert_allclose(hx.numpy(), thx.numpy(), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(hw.numpy(), thw.numpy(), rtol=1e-7, atol=1e-9)


def test_gradcheck_catches_a_wrong_custom_function():
    class Square(baby.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 3 * x  # should be 2 * x

    x = baby.tensor([0.5, -1.0, 2.0], dtype=baby.float64, requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 0: 3 of 9 elements differ; worst at output \(2,\), "
                                             r"input \(2,\): numerical 4, analytical 6"):
        gradcheck(Square.apply, (x,))
    assert gradcheck(Square.apply, (x,), raise_exception=False) is False


# ---- autograd.functional against torch.autograd.functional ----------------------------------------------
def _mlp(T, x, w1, b1, w2):
    return (T.tanh(x @ w1 + b1) @ w2).pow(2).sum()


def _cnn(T, x, w, g, b):
    F_ = T.nn.functional
    y = F_.conv2d(x, w, padding=1)
    y = F_.batch_norm(y, None, None, g, b, training=True)
    return F_.max_pool2d(F_.relu(y) + F_.avg_pool2d(y, 1), 2).sum() + (y * y).mean()


@pytest.mark.parametrize("fn, shapes", [
    pytest.param(_mlp, [(4, 3), (3, 5), (5,), (5, 2)], id="mlp"),
    pytest.param(_cnn, [(2, 2, 4, 4), (3, 2, 3, 3), (3,), (3,)], id="cnn-conv-batchnorm-pool"),
])
def test_hvp_vhp_match_torch(fn, shapes):
    arrays = [RNG.uniform(-1, 1, s) for s in shapes]
    vs = [RNG.standard_normal(s) for s in shapes]
    for name in ("hvp", "vhp"):
        ours = getattr(baby.autograd.functional, name)(lambda *a: fn(baby, *a),
                                                       tuple(map(baby.tensor, arrays)),
                                                       tuple(map(baby.tensor, vs)))
        theirs = getattr(torch.autograd.functional, name)(lambda *a: fn(torch, *a),
                                                          tuple(map(torch.tensor, arrays)),
                                                          tuple(map(torch.tensor, vs)))
        np.testing.assert_allclose(ours[0].numpy(), theirs[0].numpy(), rtol=1e-10)
        for o, t in zip(ours[1], theirs[1], strict=True):
            np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("name, fn, args", [
    ("jacobian", lambda T, x: T.tanh(x) * x.sum(), [(3,)]),
    ("jacobian", lambda T, x, y: (x @ y, (x * x).sum()), [(2, 3), (3,)]),
    ("hessian", lambda T, x: (x.sin() * x).sum() * x[0], [(3,)]),
    ("hessian", lambda T, x, y: ((x @ y) ** 3).sum(), [(2, 3), (3,)]),
    ("vjp", lambda T, x: x.exp() * x, [(2, 3)]),
    ("jvp", lambda T, x, y: (x @ y).tanh(), [(2, 3), (3,)]),
])
def test_functional_matches_torch(name, fn, args):
    arrays = [RNG.uniform(-1, 1, s) for s in args]
    extra = {}
    if name in ("vjp", "jvp"):
        out = fn(torch, *map(torch.tensor, arrays))
        shapes = [tuple(out.shape)] if name == "vjp" else args
        extra = {"v": [RNG.standard_normal(s) for s in shapes]}

    def call(T):
        xs = tuple(map(T.tensor, arrays))
        kw = {k: tuple(map(T.tensor, v)) if len(v) > 1 else T.tensor(v[0]) for k, v in extra.items()}
        return getattr(T.autograd.functional, name)(lambda *a: fn(T, *a), xs if len(xs) > 1 else xs[0], **kw)

    ours, theirs = call(baby), call(torch)
    flat = lambda r: [r] if not isinstance(r, tuple) else [u for v in r for u in flat(v)]  # noqa: E731
    assert len(flat(ours)) == len(flat(theirs))
    for o, t in zip(flat(ours), flat(theirs), strict=True):
        assert tuple(o.shape) == tuple(t.shape)
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_functional_strict_and_create_graph():
    with pytest.raises(RuntimeError, match="independent of input 1"):
        baby.autograd.functional.jacobian(lambda x, y: x * 2, (baby.ones(2), baby.ones(2)), strict=True)
    x = baby.tensor([1.0, 2.0], requires_grad=True)
    _, hv = baby.autograd.functional.hvp(lambda x: (x ** 4).sum(), x, baby.ones(2), create_graph=True)
    g, = baby.autograd.grad(hv.sum(), x)  # d/dx of 12 x^2: 24 x
    np.testing.assert_allclose(g.numpy(), [24.0, 48.0])


# ---- what users build on create_graph -------------------------------------------------------------------
def _wgan_step(T, D, G, opt_d, z, real, lam=10.0):
    fake = G(z).detach()
    alpha = T.tensor(np.linspace(0.1, 0.9, real.shape[0]).reshape(-1, 1), dtype=T.float32)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    g, = T.autograd.grad(D(mixed).sum(), mixed, create_graph=True)
    penalty = ((g.norm(2, dim=1) - 1) ** 2).mean()
    loss = D(fake).mean() - D(real).mean() + lam * penalty
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
    return loss.item()


def test_wgan_gp_step_matches_torch():
    def nets(T):
        T.manual_seed(0)
        D = T.nn.Sequential(T.nn.Linear(4, 8), T.nn.Tanh(), T.nn.Linear(8, 8), T.nn.ReLU(), T.nn.Linear(8, 1))
        G = T.nn.Sequential(T.nn.Linear(3, 4))
        return D, G

    (D, G), (tD, tG) = nets(baby), nets(torch)
    for m, t in ((D, tD), (G, tG)):
        m.load_state_dict({k: baby.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    opt, topt = baby.optim.Adam(D.parameters(), lr=1e-2), torch.optim.Adam(tD.parameters(), lr=1e-2)
    for step in range(3):
        z = RNG.standard_normal((6, 3)).astype(np.float32)
        real = RNG.standard_normal((6, 4)).astype(np.float32)
        ours = _wgan_step(baby, D, G, opt, baby.tensor(z), baby.tensor(real))
        theirs = _wgan_step(torch, tD, tG, topt, torch.tensor(z), torch.tensor(real))
        assert ours == pytest.approx(theirs, rel=1e-4, abs=1e-5), f"step {step}"
        for (name, p), tp in zip(D.named_parameters(), tD.parameters(), strict=True):
            np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-4, atol=1e-5,
                                       err_msg=f"step {step}: {name}")


def test_newton_on_rosenbrock():
    def rosenbrock(x):
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2

    x = baby.tensor([-1.2, 1.0], dtype=baby.float64)
    for _ in range(8):
        H = baby.autograd.functional.hessian(rosenbrock, x)
        _, g = baby.autograd.functional.vjp(rosenbrock, x)
        x = x - baby.tensor(np.linalg.solve(H.numpy(), g.numpy()))
    np.testing.assert_allclose(x.numpy(), [1.0, 1.0], atol=1e-10)


def test_hooks_retain_grad_and_functions_under_create_graph():
    class Cube(baby.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 3 * x * x

    seen = []
    x = baby.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x) * 2
    y.register_hook(lambda g: seen.append(g.requires_grad) or g * 1)
    y.retain_grad()
    y.sum().backward(create_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 24.0])  # 6 x^2
    assert x.grad.requires_grad and y.grad is not None and seen == [False]
    g2, = baby.autograd.grad(x.grad.sum(), x)
    np.testing.assert_allclose(g2.numpy(), [12.0, 24.0])  # 12 x


def test_once_differentiable_raises_when_differentiated_twice():
    class Twice(baby.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @baby.autograd.once_differentiable
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 2 * x

    x = baby.tensor([1.0, 2.0], requires_grad=True)
    g, = baby.autograd.grad(Twice.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    with pytest.raises(RuntimeError, match="TwiceBackward is not differentiable twice"):
        g.sum().backward()


def test_anomaly_mode_names_the_op_and_where_it_was_created():
    x = baby.tensor([0.0, 1.0], requires_grad=True)
    with baby.autograd.detect_anomaly(), np.errstate(all="ignore"):
        y = x / x.detach() * 0  # the creation line the error shows
        with pytest.raises(RuntimeError) as e:
            y.sum().backward()
    message = str(e.value)
    assert "Function 'DivBackward0' returned nan values in its 0th output." in message
    assert "y = x / x.detach() * 0  # the creation line the error shows" in message
    assert not baby.autograd.is_anomaly_enabled()
    with np.errstate(all="ignore"):
        (x / x).sum().backward()  # outside anomaly mode: nan gradients, no error
    assert np.isnan(x.grad.numpy()[0])
