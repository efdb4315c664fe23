"""nn: Module machinery, layers, activations, dropout and losses against PyTorch (forward and gradients)."""

import numpy as np
import pytest
import torch
from helpers import arrays, check, finite_difference

import baby
from baby import nn
from baby.nn import functional as F

RNG = np.random.default_rng(0)


def to_torch(module, tmodule):
    """Copy our module's parameters and buffers into the PyTorch module; returns it."""
    tmodule.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in module.state_dict().items()})
    return tmodule


def check_module(module, tmodule, shapes, atol=1e-5, rtol=1e-4):
    """Same weights in both; per input shape compare output, input and parameter gradients; then the state."""
    to_torch(module, tmodule)
    for shape in shapes:
        x = RNG.uniform(-2, 2, shape).astype(np.float32)
        ours, theirs = baby.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = module(ours), tmodule(theirs)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=atol, rtol=rtol, err_msg="forward")
        gy = RNG.standard_normal(y.shape).astype(np.float32)
        module.zero_grad()
        tmodule.zero_grad()
        y.backward(gy)
        ty.backward(torch.from_numpy(gy))
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), atol=atol, rtol=rtol,
                                   err_msg="grad x")
        tparams = dict(tmodule.named_parameters())
        for name, p in module.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), atol=atol, rtol=rtol,
                                       err_msg=f"grad {name}")
    tstate = tmodule.state_dict()
    for name, v in module.state_dict().items():
        np.testing.assert_allclose(v, tstate[name].numpy(), atol=atol, rtol=rtol, err_msg=f"state {name}")
        assert v.dtype == np.dtype(str(tstate[name].dtype).replace("torch.", "")), name


def mlp():
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))


# ---- Module machinery -------------------------------------------------------------------------------------
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 4)
        self.scale = nn.Parameter(np.ones(4, dtype=np.float32))
        self.register_buffer("count", baby.tensor(0, dtype=baby.int64))
        self.register_buffer("scratch", baby.zeros(2), persistent=False)
        self.act = nn.Sequential(nn.Tanh(), nn.Identity())

    def forward(self, x):
        return self.act(self.lin(x)) * self.scale


def test_names_and_traversal():
    b = Block()
    assert [n for n, _ in b.named_parameters()] == ["scale", "lin.weight", "lin.bias"]
    assert [n for n, _ in b.named_children()] == ["lin", "act"]
    assert [type(m).__name__ for m in b.modules()] == ["Block", "Linear", "Sequential", "Tanh", "Identity"]
    assert [n for n, _ in b.named_buffers()] == ["count", "scratch"]
    assert list(b.state_dict()) == ["scale", "count", "lin.weight", "lin.bias"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in b.parameters())


def test_shared_parameters_listed_once():
    lin = nn.Linear(2, 2)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(m.parameters())) == 2
    assert list(m.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_train_eval_zero_grad():
    b = Block()
    assert b.eval() is b and not any(m.training for m in b.modules())
    b.train()
    assert all(m.training for m in b.modules())
    b(baby.randn(2, 3)).sum().backward()
    assert all(p.grad is not None for p in b.parameters())
    b.zero_grad()
    assert all(p.grad is None for p in b.parameters())
    assert not any(p.requires_grad for p in b.requires_grad_(False).parameters())


def test_setattr_registration_rules():
    b = Block()
    b.scale = None
    assert "scale" not in dict(b.named_parameters())
    with pytest.raises(TypeError, match="parameter 'lin'|module 'lin'"):
        b.lin = baby.zeros(3)
    b.lin.weight = nn.Parameter(np.zeros((4, 3), dtype=np.float32))
    assert [n for n, _ in b.lin.named_parameters()] == ["weight", "bias"]  # re-assignment keeps the order
    with pytest.raises(TypeError, match="weight"):
        b.lin.weight = baby.zeros(4, 3)
    del b.act
    assert [n for n, _ in b.named_children()] == ["lin"]


def test_parameter():
    p = nn.Parameter(np.zeros(3))
    assert p.requires_grad and p.dtype == np.float32 and isinstance(p, baby.Tensor)
    assert nn.Parameter(baby.zeros(2, dtype=baby.float64)).dtype == np.float64
    assert repr(p).startswith("Parameter containing:\ntensor(")


def test_state_dict_holds_detached_tensors_sharing_memory():
    m = mlp()
    sd = m.state_dict()
    assert all(isinstance(v, baby.Tensor) and not v.requires_grad for v in sd.values())
    sd["0.weight"].zero_()  # as PyTorch: the state dict aliases the parameters
    assert np.abs(m[0].weight.numpy()).sum() == 0
    assert m.state_dict(keep_vars=True)["0.weight"] is m[0].weight


def test_torch_mlp_state_dict_loads_as_is():
    tm = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    m = mlp()
    m.load_state_dict(tm.state_dict())
    x = arrays((4, 5))[0]
    np.testing.assert_allclose(m(baby.Tensor(x)).numpy(), tm(torch.from_numpy(x)).detach().numpy(), atol=1e-6)
    assert m[0].weight.dtype == np.float32


def test_load_state_dict_keeps_dtype_and_accepts_tensors():
    m = mlp()
    sd = {k: v.astype(np.float64) + 1 for k, v in m.state_dict().items()}
    sd["2.bias"] = baby.Tensor(sd["2.bias"])
    m.load_state_dict(sd)
    assert all(p.dtype == np.float32 for p in m.parameters())
    np.testing.assert_allclose(m[2].bias.numpy(), sd["2.bias"].numpy())


@pytest.mark.parametrize("edit, error, match", [
    (lambda sd: sd.pop("2.bias"), KeyError, r"missing keys \['2.bias'\]"),
    (lambda sd: sd.update(extra=np.zeros(1)), KeyError, r"unexpected keys \['extra'\]"),
    (lambda sd: sd.update({"0.weight": np.zeros((5, 7))}), ValueError,
     r"'0.weight': got \(5, 7\), expected \(7, 5\)"),
])
def test_load_state_dict_errors(edit, error, match):
    m = mlp()
    sd = m.state_dict()
    before = m[0].weight.numpy().copy()
    edit(sd)
    with pytest.raises(error, match=match):
        m.load_state_dict({k: v + 1 for k, v in sd.items()})
    np.testing.assert_array_equal(m[0].weight.numpy(), before)  # nothing copied


def test_load_state_dict_non_strict():
    m = mlp()
    sd = m.state_dict()
    sd.pop("2.bias")
    sd["extra"] = np.zeros(1)
    assert m.load_state_dict(sd, strict=False) == (["2.bias"], ["extra"])


def test_repr():
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Dropout(0.25), nn.Flatten()),
                      nn.Linear(8, 2, bias=False))
    tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                             torch.nn.Sequential(torch.nn.Dropout(0.25), torch.nn.Flatten()),
                             torch.nn.Linear(8, 2, bias=False))
    assert repr(m) == repr(tm)


def test_sequential_container():
    m = mlp()
    assert len(m) == 3 and isinstance(m[1], nn.ReLU) and isinstance(m[-1], nn.Linear)
    assert isinstance(m[:2], nn.Sequential) and len(m[:2]) == 2 and m[:2][0] is m[0]
    assert [type(x).__name__ for x in m] == ["Linear", "ReLU", "Linear"]
    assert len(m.append(nn.Sigmoid())) == 4
    named = nn.Sequential({"fc": nn.Linear(2, 2), "act": nn.ReLU()})
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]


# ---- layers against PyTorch -------------------------------------------------------------------------------
@pytest.mark.parametrize("module, tmodule, shapes", [
    (nn.Linear(5, 3), torch.nn.Linear(5, 3), [(4, 5), (2, 3, 5), (5,)]),
    (nn.Linear(4, 2, bias=False), torch.nn.Linear(4, 2, bias=False), [(3, 4)]),
    (mlp(), torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3)), [(6, 5)]),
    (nn.ReLU(), torch.nn.ReLU(), [(3, 4)]),
    (nn.Sigmoid(), torch.nn.Sigmoid(), [(3, 4)]),
    (nn.Tanh(), torch.nn.Tanh(), [(3, 4)]),
    (nn.GELU(), torch.nn.GELU(), [(3, 4)]),
    (nn.GELU("tanh"), torch.nn.GELU("tanh"), [(3, 4)]),
    (nn.Softmax(1), torch.nn.Softmax(1), [(3, 4, 2)]),
    (nn.LogSoftmax(-1), torch.nn.LogSoftmax(-1), [(3, 4)]),
    (nn.Identity(), torch.nn.Identity(), [(3, 4)]),
    (nn.Flatten(), torch.nn.Flatten(), [(2, 3, 4, 5)]),
    (nn.Flatten(0, 2), torch.nn.Flatten(0, 2), [(2, 3, 4, 5)]),
    (nn.Flatten(-2), torch.nn.Flatten(-2), [(2, 3, 4)]),
    (nn.Dropout(0.5).eval(), torch.nn.Dropout(0.5).eval(), [(3, 4)]),
])
def test_layer_matches_torch(module, tmodule, shapes):
    check_module(module, tmodule, shapes)


def test_residual():
    m = nn.Residual(nn.Sequential(nn.Linear(4, 4), nn.Tanh()))
    tlin = torch.nn.Linear(4, 4)
    sd = m.state_dict()
    tlin.load_state_dict({k.removeprefix("fn.0."): torch.from_numpy(v.numpy()) for k, v in sd.items()})
    check(lambda x: m(x), lambda x: x + torch.tanh(tlin(x)), [(3, 4)])


def test_linear_init_is_pytorch_like_and_seeded():
    baby.manual_seed(3)
    a = nn.Linear(100, 50)
    baby.manual_seed(3)
    b = nn.Linear(100, 50)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    assert a.weight.shape == (50, 100) and a.bias.shape == (50,) and a.weight.dtype == np.float32
    for p in (a.weight, a.bias):
        assert np.abs(p.numpy()).max() <= 0.1 and np.abs(p.numpy()).max() > 0.09


@pytest.mark.parametrize("fn, tfn, kwargs", [
    (F.relu, torch.relu, {}), (F.sigmoid, torch.sigmoid, {}), (F.tanh, torch.tanh, {}),
    (F.gelu, torch.nn.functional.gelu, {}), (F.gelu, torch.nn.functional.gelu, {"approximate": "tanh"}),
    (F.softmax, torch.softmax, {"dim": 0}), (F.log_softmax, torch.log_softmax, {"dim": 1}),
    (F.flatten, torch.flatten, {"start_dim": 1}),
])
def test_functional_activations(fn, tfn, kwargs):
    check(lambda x: fn(x, **kwargs), lambda x: tfn(x, **kwargs), [(3, 4, 2)])


def test_functional_linear():
    check(F.linear, torch.nn.functional.linear, [(2, 3, 4), (5, 4), (5,)])
    with pytest.raises(ValueError, match=r"input \(2, 3\) and weight \(5, 4\)"):
        F.linear(baby.zeros(2, 3), baby.zeros(5, 4))


# ---- dropout ----------------------------------------------------------------------------------------------
def test_dropout_train_semantics():
    baby.manual_seed(0)
    x = baby.Tensor(RNG.uniform(1, 2, (200, 100)).astype(np.float32), requires_grad=True)
    y = nn.Dropout(0.3)(x)
    kept = y.numpy() != 0
    assert abs(1 - kept.mean() - 0.3) < 0.01
    np.testing.assert_allclose(y.numpy()[kept], x.numpy()[kept] / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / np.float32(0.7), rtol=1e-6)
    assert y.dtype == np.float32


def test_dropout_seeded_and_edges():
    x = baby.ones(10, 10)
    baby.manual_seed(1)
    a = F.dropout(x, 0.5).numpy()
    baby.manual_seed(1)
    np.testing.assert_array_equal(a, F.dropout(x, 0.5).numpy())
    assert nn.Dropout(0.5).eval()(x) is x
    assert F.dropout(x, 0.0) is x and (F.dropout(x, 1.0).numpy() == 0).all()
    for p in (-0.1, 1.5, "a"):
        with pytest.raises(ValueError, match="dropout probability"):
            nn.Dropout(p)


# ---- losses -----------------------------------------------------------------------------------------------
def targets(shape, C, ignore=None):
    t = RNG.integers(0, C, shape)
    if ignore is not None:
        t[RNG.random(shape) < 0.3] = ignore
    return t


CE_CASES = [  # logits shape, target array, kwargs
    ((6, 5), targets(6, 5), {}),
    ((6, 5), targets(6, 5), {"reduction": "sum"}),
    ((6, 5), targets(6, 5), {"reduction": "none"}),
    ((6, 5), targets(6, 5), {"weight": RNG.uniform(0.5, 2, 5).astype(np.float32)}),
    ((8, 5), targets(8, 5, ignore=-100), {}),
    ((8, 5), targets(8, 5, ignore=2), {"ignore_index": 2, "reduction": "none"}),
    ((6, 5), targets(6, 5), {"label_smoothing": 0.1}),
    ((8, 5), targets(8, 5, ignore=-100), {"label_smoothing": 0.2, "reduction": "sum"}),
    ((8, 5), targets(8, 5, ignore=-100),
     {"label_smoothing": 0.3, "weight": RNG.uniform(0.5, 2, 5).astype(np.float32)}),
    ((8, 5), targets(8, 5, ignore=-100),
     {"label_smoothing": 0.3, "weight": RNG.uniform(0.5, 2, 5).astype(np.float32), "reduction": "none"}),
    ((2, 4, 3, 3), targets((2, 3, 3), 4), {}),
    ((2, 4, 3, 5), targets((2, 3, 5), 4, ignore=-100),
     {"label_smoothing": 0.1, "weight": RNG.uniform(0.5, 2, 4).astype(np.float32)}),
    ((2, 4, 7), targets((2, 7), 4), {"reduction": "none", "label_smoothing": 0.05}),
]


@pytest.mark.parametrize("shape, target, kwargs", CE_CASES)
def test_cross_entropy(shape, target, kwargs):
    tkw = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    check(lambda x, t: nn.CrossEntropyLoss(**kwargs)(x, t),
          lambda x, t: torch.nn.CrossEntropyLoss(**tkw)(x, t), [shape, target])


def test_cross_entropy_finite_differences():
    t, w = np.array([[0, 3], [-100, 1]]), np.array([0.5, 1.0, 2.0, 1.5])
    finite_difference(lambda x: F.cross_entropy(x, t, weight=w, label_smoothing=0.2), (2, 4, 2))


def test_cross_entropy_accepts_numpy_targets():
    x = arrays((4, 3))[0]
    t = np.array([0, 2, 1, 2])
    ref = torch.nn.functional.cross_entropy(torch.from_numpy(x), torch.from_numpy(t)).item()
    assert abs(F.cross_entropy(baby.Tensor(x), t).item() - ref) < 1e-6


@pytest.mark.parametrize("target, error, match", [
    (baby.tensor([0.0, 1.0, 2.0]), TypeError, "integer class indices, got dtype float32"),
    (np.array([0, 1]), ValueError, r"input \(3, 4\) and target \(2,\)"),
    (np.array([[0], [1], [2]]), ValueError, r"target \(3, 1\)"),
    (np.array([0, 4, 1]), ValueError, "target value 4 is out of range for 4 classes"),
    (np.array([0, -1, 1]), ValueError, "target value -1"),
])
def test_cross_entropy_errors(target, error, match):
    with pytest.raises(error, match=match):
        F.cross_entropy(baby.zeros(3, 4), target)


def test_cross_entropy_argument_errors():
    with pytest.raises(ValueError, match=r"weight has shape \(3,\), expected \(4,\)"):
        F.cross_entropy(baby.zeros(3, 4), np.array([0, 1, 2]), weight=np.ones(3))
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(reduction):
    check(lambda x, t: nn.MSELoss(reduction)(x, t), lambda x, t: torch.nn.MSELoss(reduction=reduction)(x, t),
          [(4, 3), (4, 3)])


def test_mse_loss_shape_error():
    with pytest.raises(ValueError, match=r"input \(4, 3\) and target \(4,\)"):
        F.mse_loss(baby.zeros(4, 3), baby.zeros(4))
