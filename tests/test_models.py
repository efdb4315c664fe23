"""Reference models against PyTorch twins with the same state-dict keys: outputs, gradients, BN statistics."""


import numpy as np
import pytest
import torch
from helpers import t_lenet5, t_mobilenet, t_resnet9, t_small_cnn

import baby
from baby import models

RNG = np.random.default_rng(0)


def _twins(ours, theirs):
    """Copy our (random) weights into the torch twin, with random BN affine parameters and statistics.

    Both then run in float64: float32 rounding differences (~1e-7) would otherwise flip the winner of a
    near-tie in a max pool now and then, and send a gradient down another path.
    """
    state = ours.state_dict()
    for k, v in state.items():
        bn = k.split(".")[-2].startswith("bn") if "." in k else False
        if (bn and k.endswith(".weight")) or k.endswith("running_var"):
            state[k] = RNG.uniform(0.5, 1.5, v.shape).astype(np.float32)
        elif (bn and k.endswith(".bias")) or k.endswith("running_mean"):
            state[k] = RNG.uniform(-0.5, 0.5, v.shape).astype(np.float32)
    ours.load_state_dict(state)
    assert list(state) == list(theirs.state_dict()), "state-dict keys differ from the torch twin's"
    theirs.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in state.items()})
    theirs.double()
    for t in [*ours.parameters(), *ours.buffers()]:
        if t.dtype.kind == "f":
            t.data = t.numpy().astype(np.float64)


def _close(a, b, what, tol):
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    scale = max(float(np.abs(b).max()), 1e-3)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale, err_msg=what)


def _compare(ours, theirs, shape, train, tol=1e-9):
    """Forward, input and parameter gradients, and (in training) updated BN running statistics."""
    x = RNG.standard_normal(shape)
    ours.train(train)
    theirs.train(train)
    bx, tx = baby.Tensor(x, dtype=np.float64, requires_grad=True), torch.tensor(x, requires_grad=True)
    by, ty = ours(bx), theirs(tx)
    _close(by.numpy(), ty, "forward", tol)
    gy = RNG.standard_normal(by.shape)
    by.backward(gy)
    ty.backward(torch.tensor(gy))
    _close(bx.grad.numpy(), tx.grad, "input gradient", tol)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad.numpy(), tparams[name].grad, f"gradient of {name}", tol)
    tstate = theirs.state_dict()
    for name, v in ours.state_dict().items():
        _close(v, tstate[name].numpy(), f"state {name} after the step", tol)


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("make, twin, shape", [
    (lambda: models.LeNet5(), lambda: t_lenet5(), (3, 1, 28, 28)),
    (lambda: models.LeNet5(3, 7, image_size=32), lambda: t_lenet5(3, 7, 16 * 6 * 6), (2, 3, 32, 32)),
    (lambda: models.SmallCNN(), lambda: t_small_cnn(), (4, 1, 8, 8)),
    (lambda: models.ResNet9(), lambda: t_resnet9(), (2, 3, 32, 32)),
    (lambda: models.MobileNet(), lambda: t_mobilenet(), (2, 3, 32, 32)),
], ids=["lenet5", "lenet5-rgb32", "smallcnn", "resnet9", "mobilenet"])
def test_model_matches_torch(make, twin, shape, train):
    baby.manual_seed(0)
    ours, theirs = make(), twin()
    _twins(ours, theirs)
    _compare(ours, theirs, shape, train)


@pytest.mark.parametrize("name, shape, classes, params", [
    ("mlp", (1, 8, 8), 10, 64 * 128 + 128 + 128 * 10 + 10),
    ("cnn", (1, 8, 8), 10, 9 * 32 + 64 + 9 * 32 * 64 + 128 + 1024 * 10 + 10),
    ("lenet", (1, 28, 28), 10, 61706),
    ("resnet9", (3, 32, 32), 10, 6_573_130),
    ("resnet9", (1, 8, 8), 4, 6_573_130 - 2 * 64 * 9 - 6 * 512 - 6),
])
def test_create_shapes_and_sizes(name, shape, classes, params):
    m = models.create(name, shape, classes)
    assert sum(p.numel() for p in m.parameters()) == params
    with baby.no_grad():
        assert m.eval()(baby.zeros(2, *shape)).shape == (2, classes)


@pytest.mark.parametrize("call, match", [
    (lambda: models.create("vgg", (1, 8, 8), 10), "unknown model 'vgg'"),
    (lambda: models.create("lenet", (1, 8, 8), 10), "at least 12x12"),
    (lambda: models.create("resnet9", (3, 4, 4), 10), "at least 8x8"),
    (lambda: models.LeNet5(image_size=10), "image_size must be an integer >= 12"),
    (lambda: models.LeNet5(image_size=(28, 28, 1)), "image_size must be an int or an"),
    (lambda: models.SmallCNN(num_classes=0), "SmallCNN: num_classes must be an integer >= 1"),
    (lambda: models.ResNet9(in_channels=0), "ResNet9: in_channels"),
    (lambda: models.MLP(hidden=(0,)), "MLP: hidden"),
])
def test_bad_model_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
