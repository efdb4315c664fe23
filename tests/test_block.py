"""A PyTorch conv block's state dict loads into the same baby block and gives the same output and gradients,
in train and in eval mode."""

import numpy as np
import pytest
import torch

import baby
from baby import nn


def blocks():
    """The same block in PyTorch and in baby: Conv2d-BatchNorm2d-ReLU-Conv2d(groups)-MaxPool2d-Linear."""
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3, stride=1, padding=1, groups=4), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(16 * 4 * 4, 10))
    ours = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=1, padding=1, groups=4), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 10))
    with torch.no_grad():  # non-trivial running statistics, so eval mode is a real check
        theirs[1].running_mean.uniform_(-0.5, 0.5)
        theirs[1].running_var.uniform_(0.5, 2.0)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_pytorch_block_state_dict_matches(mode):
    ours, theirs = blocks()
    getattr(ours, mode)()
    getattr(theirs, mode)()
    x = np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float32)
    xo, xt = baby.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    gy = np.random.default_rng(1).standard_normal(yo.shape).astype(np.float32)
    yo.backward(gy)
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    grads = {name: p.grad for name, p in theirs.named_parameters()}
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[name].numpy(), rtol=1e-4, atol=1e-4, err_msg=name)
    for name, buf in theirs.state_dict().items():  # running statistics updated alike in train mode
        np.testing.assert_allclose(ours.state_dict()[name], buf.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
