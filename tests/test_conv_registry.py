"""A new conv algorithm is one record registered: a toy one, forced, runs and matches PyTorch."""

import pytest
import torch.nn.functional as TF
from helpers import check

import baby
from baby.ops.conv import Algorithm, book, register, registry, which_algorithm
from baby.ops.conv.book.loops import kernel_conv


@pytest.fixture(autouse=True)
def _registry(monkeypatch):
    """Registrations made in a test are dropped after it."""
    monkeypatch.setattr(registry, "ALGORITHMS", dict(registry.ALGORITHMS))


def test_a_registered_toy_algorithm_runs_when_forced():
    """The toy: the book's kernel-centric loop as the forward, the book's gradients (whose convolutions are
    the toy again where it fits, i.e. no cropping 'after' pads)."""
    calls = []

    def forward(x, w, g, kept=None):
        calls.append(g)
        return kernel_conv(x, w, g.stride, g.pads, g.dilation, g.groups)

    register(Algorithm("toy", lambda g: all(a >= 0 for _, a in g.pads), forward, book.im2col.input_grad,
                       book.im2col.weight_grad))
    assert "toy" in registry.names()
    with baby.ops.conv_algorithm("toy"):
        check(lambda x, w: baby.nn.functional.conv2d(x, w, padding=1, stride=2),
              lambda x, w: TF.conv2d(x, w, padding=1, stride=2), [(2, 3, 7, 6), (4, 3, 3, 3)], atol=1e-4)
    assert len(calls) >= 2  # the forward, and the input gradient's convolution
    with pytest.raises(ValueError, match="conv algorithm must be one of"):
        baby.ops.set_conv_algorithm("toy2")


def test_auto_follows_the_rule_table_and_registrations(monkeypatch):
    """'auto''s choice is remembered per geometry, yet a new rule table or a new registration under a
    rule's name is what runs next (the first rule that fits wins)."""
    x, w = (2, 16, 16, 16), (3, 3, 16, 16)  # Winograd's: 3x3, 16 channels, 512 outputs
    assert which_algorithm(x, w) == "winograd"
    monkeypatch.setattr(registry, "AUTO", (("im2col", lambda g: True),))
    assert which_algorithm(x, w) == "im2col"
    monkeypatch.undo()
    monkeypatch.setattr(registry, "ALGORITHMS", dict(registry.ALGORITHMS))
    assert which_algorithm(x, w) == "winograd"
    register(Algorithm("winograd", lambda g: False, *(registry.ALGORITHMS["im2col"].forward,) * 3))
    assert which_algorithm(x, w) != "winograd"
