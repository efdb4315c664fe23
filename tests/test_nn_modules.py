"""PyTorch's nn surface beyond the conv layers: containers, the Module API (to/double, hooks, attribute
access, strict=False loading), Embedding, GroupNorm, InstanceNorm, channel dropout, Upsample/interpolate,
padding, nn.utils and nn.init's in-place forms, each against PyTorch with copied weights."""

import numpy as np
import pytest
import torch
from helpers import check

import baby
from baby import nn
from baby.nn import functional as F

RNG = np.random.default_rng(5)


def copy_weights(ours, theirs):
    """PyTorch's parameters and buffers into ours (same state-dict keys)."""
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours


def compare(ours, theirs, x, train=True, atol=1e-5):
    """Outputs, input gradients and parameter gradients of a module pair on input x."""
    ours.train(train)
    theirs.train(train)
    check(lambda t: ours(t), lambda t: theirs(t), [x], atol=atol, rtol=1e-4)
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), atol=atol, rtol=1e-4, err_msg=name)
    for (name, b), (_, tb) in zip(ours.named_buffers(), theirs.named_buffers(), strict=True):
        np.testing.assert_allclose(b.numpy(), tb.numpy(), atol=atol, rtol=1e-4, err_msg=name)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


MODULES = [
    pytest.param(lambda m: m.GroupNorm(2, 6), (3, 6, 4, 5), id="GroupNorm"),
    pytest.param(lambda m: m.GroupNorm(3, 6, affine=False), (2, 6, 7), id="GroupNorm-no-affine"),
    pytest.param(lambda m: m.InstanceNorm2d(4), (2, 4, 5, 5), id="InstanceNorm2d"),
    pytest.param(lambda m: m.InstanceNorm2d(4, affine=True, track_running_stats=True), (2, 4, 5, 5),
                 id="InstanceNorm2d-affine-tracked"),
    pytest.param(lambda m: m.InstanceNorm1d(3, affine=True), (2, 3, 9), id="InstanceNorm1d"),
    pytest.param(lambda m: m.Upsample(scale_factor=2), (2, 3, 4, 5), id="Upsample-nearest"),
    pytest.param(lambda m: m.Upsample(size=(7, 9), mode="bilinear", align_corners=False), (2, 3, 4, 5),
                 id="Upsample-bilinear"),
    pytest.param(lambda m: m.Upsample(scale_factor=3, mode="bilinear", align_corners=True), (1, 2, 3, 4),
                 id="Upsample-bilinear-corners"),
    pytest.param(lambda m: m.Upsample(size=11, mode="linear"), (2, 3, 5), id="Upsample-linear"),
    pytest.param(lambda m: m.ReflectionPad2d((1, 2, 0, 3)), (2, 3, 5, 6), id="ReflectionPad2d"),
    pytest.param(lambda m: m.ReplicationPad2d(2), (2, 3, 4, 4), id="ReplicationPad2d"),
    pytest.param(lambda m: m.ZeroPad2d((1, 0, 2, 1)), (2, 3, 4, 4), id="ZeroPad2d"),
    pytest.param(lambda m: m.ConstantPad1d(2, 3.5), (2, 3, 4), id="ConstantPad1d"),
    pytest.param(lambda m: m.Unflatten(1, (2, 3)), (4, 6), id="Unflatten"),
    pytest.param(lambda m: m.Sequential(m.Linear(4, 6), m.Dropout(0.0), m.Linear(6, 2)), (3, 4),
                 id="Sequential-Linear"),
    pytest.param(lambda m: m.Identity(54, unused="yes"), (2, 3), id="Identity-args"),
]


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("make, shape", MODULES)
def test_module_matches_torch(make, shape, train):
    torch.manual_seed(0)
    theirs = make(torch.nn)
    ours = copy_weights(make(nn), theirs)
    compare(ours, theirs, rand(*shape), train)


FUNCTIONS = [
    pytest.param(lambda m, x: m.nn.functional.interpolate(x, scale_factor=1.5, mode="bilinear",
                                                          align_corners=False), (2, 2, 4, 6), id="interp"),
    pytest.param(lambda m, x: m.nn.functional.interpolate(x, size=(3, 3, 3), mode="trilinear",
                                                          align_corners=True), (1, 2, 2, 4, 5), id="tri"),
    pytest.param(lambda m, x: m.nn.functional.pad(x, (1, 1, 2, 0), mode="circular"), (2, 3, 4, 5), id="circ"),
    pytest.param(lambda m, x: m.nn.functional.pad(x, (-1, 2), value=-1.0), (2, 3, 4), id="pad-negative"),
    pytest.param(lambda m, x: m.nn.functional.group_norm(x, 1), (2, 4, 3), id="group_norm"),
    pytest.param(lambda m, x: m.nn.functional.instance_norm(x), (2, 3, 4, 4), id="instance_norm"),
]


@pytest.mark.parametrize("fn, shape", FUNCTIONS)
def test_function_matches_torch(fn, shape):
    check(lambda x: fn(baby, x), lambda x: fn(torch, x), [rand(*shape).astype(np.float64)], atol=1e-10)


def test_embedding_against_torch():
    idx = np.array([[1, 0, 3], [3, 3, 2]])
    for kw in ({}, {"padding_idx": 3}, {"max_norm": 1.0}):
        torch.manual_seed(1)
        theirs = torch.nn.Embedding(5, 4, **kw)
        ours = copy_weights(nn.Embedding(5, 4, **kw), theirs)
        y, ty = ours(baby.tensor(idx)), theirs(torch.tensor(idx))
        g = rand(*ty.shape)
        y.backward(g)
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-6)
        np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-6)
        np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=1e-6)
    e = nn.Embedding.from_pretrained(baby.ones(3, 2))
    assert not e.weight.requires_grad and e(baby.tensor([2])).shape == (1, 2)
    with pytest.raises(IndexError, match="out of range"):
        nn.Embedding(3, 2)(baby.tensor([3]))


def test_channel_dropout():
    baby.manual_seed(0)
    x = baby.ones(8, 16, 3, 3)
    y = nn.Dropout2d(0.5)(x)
    per_channel = y.numpy().reshape(8, 16, 9)
    assert set(np.unique(per_channel)) == {0.0, 2.0} and (per_channel.min(2) == per_channel.max(2)).all()
    assert nn.Dropout2d(0.5).eval()(x) is x
    h = baby.ones(4, 3, requires_grad=True) * 1
    assert nn.Dropout(0.3, inplace=True)(h) is h
    assert repr(nn.Dropout(0.3, inplace=True)) == repr(torch.nn.Dropout(0.3, inplace=True))


def test_containers():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.ReLU())
    layers.insert(0, nn.Identity())
    assert len(layers) == 5 and isinstance(layers[0], nn.Identity) and len(layers[1:3]) == 2
    d = nn.ModuleDict({"a": nn.Linear(2, 3)})
    d["b"] = nn.Linear(3, 1)
    assert list(d.keys()) == ["a", "b"] and "a" in d and len(d) == 2
    ps = nn.ParameterList([nn.Parameter(baby.ones(2)), baby.zeros(3)])
    pd = nn.ParameterDict({"w": baby.ones(2)})

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers, self.heads, self.ps, self.pd = layers, d, ps, pd

    keys = list(Net().state_dict())
    tnet = torch.nn.Module()
    tnet.layers = torch.nn.ModuleList([torch.nn.Identity()] + [torch.nn.Linear(2, 2) for _ in range(3)]
                                      + [torch.nn.ReLU()])
    tnet.heads = torch.nn.ModuleDict({"a": torch.nn.Linear(2, 3), "b": torch.nn.Linear(3, 1)})
    tnet.ps = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.zeros(3))])
    tnet.pd = torch.nn.ParameterDict({"w": torch.nn.Parameter(torch.ones(2))})
    assert keys == list(tnet.state_dict())


def test_module_api_the_pytorch_way():
    class Block(nn.Module):
        def __init__(self, n):
            super().__init__()
            for i in range(n):
                setattr(self, "level_%d" % i, nn.Linear(3, 3))  # noqa: UP031 (PyTorch code's spelling)
            self.register_buffer("steps", baby.zeros(1))
            self.register_buffer("scratch", baby.zeros(2), persistent=False)

        def forward(self, x):
            for i in range(2):
                x = getattr(self, "level_%d" % i)(x)  # noqa: UP031
            return x * self.__getattr__("steps").add(1)

    b = Block(2)
    assert list(b.state_dict()) == ["steps", "level_0.weight", "level_0.bias", "level_1.weight",
                                    "level_1.bias"]
    assert [n for n, _ in b.named_children()] == ["level_0", "level_1"] and len(list(b.modules())) == 3
    assert b.get_submodule("level_1") is b.level_1 and b.get_parameter("level_0.bias") is b.level_0.bias
    seen = []
    pre = b.register_forward_pre_hook(lambda m, inp: (inp[0] * 2,))
    post = b.register_forward_hook(lambda m, inp, out: seen.append(out.shape) or out + 1)
    x = baby.ones(4, 3)
    y = b(x)
    pre.remove()
    post.remove()
    np.testing.assert_allclose(y.numpy(), b(x * 2).numpy() + 1, rtol=1e-6)
    assert seen == [(4, 3)]
    b.double()
    assert all(p.dtype == np.float64 for p in b.parameters()) and b.steps.dtype == np.float64
    assert b.to(baby.float32) is b and b.level_0.weight.dtype == np.float32 and b.cpu() is b
    assert b.to("cpu", dtype=baby.float64).level_0.weight.dtype == np.float64
    opt = baby.optim.SGD(b.parameters(), lr=0.1)  # the same Parameter objects after .to(...)
    b(baby.ones(1, 3, dtype=baby.float64)).sum().backward()
    opt.step()
    b.zero_grad(set_to_none=False)
    assert all((p.grad.numpy() == 0).all() for p in b.parameters())
    b.requires_grad_(False)
    assert not any(p.requires_grad for p in b.parameters())
    del b.level_1
    assert "level_1.weight" not in b.state_dict()
    b.apply(lambda m: nn.init.zeros_(m.weight) if isinstance(m, nn.Linear) else None)
    assert not b.level_0.weight.numpy().any()
    params = Block(1).parameters()
    assert len(params) == 2 and next(params).shape == (3, 3)


def test_linear_subclass_passes_device_and_dtype():
    class MyLinear(nn.Linear):
        def __init__(self, i, o, bias=True, device=None, dtype=None):
            super().__init__(i, o, bias, device, dtype)

    m = MyLinear(3, 2, True, "cpu", baby.float64)
    assert m.weight.dtype == np.float64 and m.bias.dtype == np.float64
    for layer in (nn.LayerNorm(4, device="cpu", dtype=baby.float64), nn.BatchNorm2d(3, dtype=baby.float64),
                  nn.GroupNorm(1, 2, dtype=baby.float64), nn.Embedding(3, 2, dtype=baby.float64),
                  nn.Conv2d(1, 2, 3, device="cpu", dtype=baby.float64)):
        assert all(p.dtype == np.float64 for p in layer.parameters())
    with pytest.raises(RuntimeError, match="CPU"):
        nn.Linear(2, 2, device="cuda")


def test_load_state_dict_non_strict_returns_the_keys():
    m = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    sd = m.state_dict()
    del sd["1.bias"]
    sd["extra"] = baby.zeros(1)
    r = m.load_state_dict(sd, strict=False)
    assert r.missing_keys == ["1.bias"] and r.unexpected_keys == ["extra"]
    with pytest.raises(RuntimeError, match="missing keys"):
        m.load_state_dict(sd)


def test_clip_grad_against_torch():
    def run(m):
        ps = [m.tensor(np.arange(6.0).reshape(2, 3) - 2, requires_grad=True), m.tensor([3.0, -4.0],
                                                                                     requires_grad=True)]
        (ps[0] ** 2).sum().add((ps[1] ** 3).sum()).backward()
        norm = m.nn.utils.clip_grad_norm_(ps, max_norm=5.0)
        g1 = [p.grad.clone() for p in ps]
        inf = m.nn.utils.clip_grad_norm_(ps, 1.0, norm_type=float("inf"))
        m.nn.utils.clip_grad_value_(ps, 0.2)
        v = m.nn.utils.parameters_to_vector(ps)
        m.nn.utils.vector_to_parameters(v * 2, ps)
        return [norm, inf, *g1, *[p.grad for p in ps], v, *ps]

    for o, t in zip(run(baby), run(torch), strict=True):
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-5)


def test_init_in_place():
    w = baby.empty(6, 4, requires_grad=True)
    for fn in (nn.init.orthogonal_, nn.init.xavier_uniform_, nn.init.kaiming_normal_, nn.init.trunc_normal_,
               nn.init.zeros_, nn.init.eye_):
        assert fn(w) is w and w.requires_grad and w.is_leaf
    np.testing.assert_array_equal(w.numpy(), np.eye(6, 4))
    q = nn.init.orthogonal_(baby.empty(3, 5)).numpy()
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-5)
    t = nn.init.trunc_normal_(baby.empty(2000), std=1.0, a=-0.5, b=0.5).numpy()
    assert t.min() >= -0.5 and t.max() <= 0.5
    k = nn.init.dirac_(baby.empty(2, 2, 3, 3))
    x = baby.randn(1, 2, 5, 5)
    np.testing.assert_allclose(F.conv2d(x, k, padding=1).numpy(), x.numpy(), rtol=1e-6)
