"""In-place ops on views inside the graph, as PyTorch's CopySlices: `out += shortcut` on a conv output (an
NCHW view of baby's NHWC result), `x[:, 0] *= 2`, `y = x.view(...); y.add_(1)` give PyTorch's values and
gradients; the cases PyTorch refuses are refused with its messages; kuangliu/pytorch-cifar's PreActResNet18
runs with `import baby as torch` and matches PyTorch."""

import pathlib
import sys
import types

import numpy as np
import pytest
import torch

import baby

RNG = np.random.default_rng(0)
X = (RNG.standard_normal((3, 4)) / 2).astype(np.float32)
W = np.linspace(-1, 1, 4, dtype=np.float32)
IMG = RNG.standard_normal((2, 8, 6, 6)).astype(np.float32)
K = (RNG.standard_normal((8, 8, 3, 3)) / 8).astype(np.float32)


def _setitem_through_view(lib, x, w):
    y = x * 1
    y.t()[1] = w[:3]
    return y


def _conv_residual(lib, x, w):
    out = lib.nn.functional.conv2d(lib.relu(x), w, padding=1)  # baby: an NCHW view of its NHWC result
    out += x
    out = lib.nn.functional.conv2d(out, w, padding=1)
    out += x * 2
    return out


def _twice_on_one_view(lib, x, w):
    y = x * 1
    v = y.t()
    v += w[:, None]
    v *= 3
    return y


CASES = {  # name: (fn(lib, x, w), x, w); x and w require grad
    "augmented-slice": (lambda lib, x, w: _augmented(x * 2, (slice(None), 0), 3), X, W),
    "augmented-row": (lambda lib, x, w: _augmented(x * 1, 1, w), X, W),
    "view-add_": (lambda lib, x, w: (lambda y: (y.view(4, 3).add_(1), y * y)[1])(x * 1), X, W),
    "transposed-iadd": (lambda lib, x, w: _iadd((x * 1).t(), w[:, None]).sin(), X, W),
    "strided-mul_-tensor": (lambda lib, x, w: (lambda y: (y[1:, ::2].mul_(w[:2]), y * y)[1])(x * 1), X, W),
    "diagonal-mul_": (lambda lib, x, w: (lambda y: (y[:, :3].diagonal().mul_(w[:3]), y * y)[1])(x * 1), X, W),
    "view-of-view": (lambda lib, x, w: (lambda y: (y.t()[1:3].mul_(2), y)[1])(x * 1), X, W),
    "view-read-after": (lambda lib, x, w: (lambda y, v: (v.mul_(2), v * y)[1])(*(lambda y: (y, y[1]))(x * 1)),
                        X, W),
    "base-without-grad": (lambda lib, x, w: (lambda z: (z[:, 1:3].add_(x[:, :2] * w[:2]), z)[1])(
        lib.zeros(3, 4)), X, W),
    "setitem-through-view": (_setitem_through_view, X, W),
    "twice-on-one-view": (_twice_on_one_view, X, W),
    "conv-residual": (_conv_residual, IMG, K),
}


def _augmented(y, index, v):
    y[index] *= v  # Python: t = y[index]; t *= v; y[index] = t
    return y


def _iadd(y, v):
    y += v
    return y


def run(lib, fn, x, w):
    """fn's output and the gradients of x and w for a fixed random upstream gradient."""
    xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
    y = fn(lib, xt, wt)
    gy = np.random.default_rng(1).standard_normal(tuple(y.shape)).astype(np.float32)
    y.backward(lib.tensor(gy))
    return [y.detach().numpy()] + [np.zeros(t.shape) if t.grad is None else t.grad.numpy() for t in (xt, wt)]


@pytest.mark.parametrize("case", CASES)
def test_inplace_on_view_as_pytorch(case):
    fn, x, w = CASES[case]
    for got, want in zip(run(baby, fn, x, w), run(torch, fn, x, w), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_base_and_view_nodes_named_as_pytorch():
    for lib in (baby, torch):
        y = lib.tensor(X, requires_grad=True) * 1
        v = y[1]
        v.mul_(2)
        assert (y.grad_fn.name().split("::")[-1], v.grad_fn.name()) == ("CopySlices", "AsStridedBackward0")
        assert y._version == v._version == 1


REFUSED = {
    "leaf-slice": lambda lib, x: x[0].mul_(2),
    "leaf-view": lambda lib, x: x.view(12).add_(1),
    "leaf-augmented": lambda lib, x: x[:, 0].__imul__(2),
    "expanded": lambda lib, x: (x * 1)[None].expand(2, 3, 4).add_(1),
}


@pytest.mark.parametrize("case", REFUSED)
def test_refused_as_pytorch(case):
    messages = []
    for lib in (baby, torch):
        x = lib.tensor(X, requires_grad=True)
        with pytest.raises(RuntimeError) as e:
            REFUSED[case](lib, x)
        messages.append(str(e.value))
        assert x.grad_fn is None and np.array_equal(x.detach().numpy(), X)
    assert messages[0] == messages[1]


def test_view_of_leaf_under_no_grad_writes_the_leaf():
    x = baby.tensor(X, requires_grad=True)
    with baby.no_grad():
        x[:, 0] *= 2
        x.view(12).add_(1)
    assert x.is_leaf and np.allclose(x.detach().numpy()[:, 0], X[:, 0] * 2 + 1)


# ---- pre-activation ResNets ---------------------------------------------------------------------------
def preact_block(lib, in_planes, planes, stride):
    """A pre-activation block written as PyTorch code is (its residual added in place)."""
    nn, F = lib.nn, lib.nn.functional

    class PreActBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn1 = nn.BatchNorm2d(in_planes)
            self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
            if stride != 1 or in_planes != planes:
                self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False))

        def forward(self, x):
            out = F.relu(self.bn1(x))
            shortcut = self.shortcut(out) if hasattr(self, "shortcut") else x
            out = self.conv1(out)
            out = self.conv2(F.relu(self.bn2(out)))
            out += shortcut
            return out

    return PreActBlock()


def twin_models(make):
    """make(lib) for torch and for baby, baby's weights copied from torch's."""
    t = make(torch)
    b = make(baby)
    b.load_state_dict({k: baby.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return b, t


def compare(models, x, rtol=1e-4, atol=1e-4):
    """Outputs, input gradients and every parameter's gradient of the two models on x, as PyTorch's."""
    results = []
    for lib, m in zip((baby, torch), models, strict=True):
        xt = lib.tensor(x, requires_grad=True)
        y = m(xt)
        gy = np.linspace(-1, 1, y.numel(), dtype=np.float32).reshape(tuple(y.shape))
        y.backward(lib.tensor(gy))
        results.append([y.detach().numpy(), xt.grad.numpy()] + [p.grad.numpy() for p in m.parameters()])
    names = ["output", "input grad"] + [n for n, _ in models[1].named_parameters()]
    for name, got, want in zip(names, *results, strict=True):
        scale = np.abs(want).max() + 1e-12
        np.testing.assert_allclose(got / scale, want / scale, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("in_planes, planes, stride", [(16, 16, 1), (8, 16, 2), (16, 16, 2)])
def test_preact_block_as_pytorch(in_planes, planes, stride):
    models = twin_models(lambda lib: preact_block(lib, in_planes, planes, stride))
    compare(models, RNG.standard_normal((2, in_planes, 8, 8)).astype(np.float32))


def load_preact_resnet(lib, monkeypatch):
    """kuangliu/pytorch-cifar's models/preact_resnet.py (tests/fixtures), its `torch` imports given `lib`."""
    for name, module in (("torch", lib), ("torch.nn", lib.nn), ("torch.nn.functional", lib.nn.functional)):
        monkeypatch.setitem(sys.modules, name, module)
    path = pathlib.Path(__file__).parent / "fixtures" / "preact_resnet.py"
    module = types.ModuleType("preact_resnet")
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    monkeypatch.undo()
    return module


def test_pytorch_cifar_preact_resnet18_as_pytorch(monkeypatch):
    files = {lib: load_preact_resnet(lib, monkeypatch) for lib in (baby, torch)}
    baby.manual_seed(0)
    torch.manual_seed(0)
    models = twin_models(lambda lib: files[lib].PreActResNet18())
    compare(models, RNG.standard_normal((2, 3, 32, 32)).astype(np.float32), rtol=1e-3, atol=1e-3)
