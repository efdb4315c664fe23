"""Finite differences in float64 for our own primitives and a few composite expressions."""

import numpy as np
import pytest
from helpers import finite_difference

from baby import ops


@pytest.mark.parametrize("fn, shapes", [
    pytest.param(lambda x: ops.flip(x, (0,)), [(3, 2)], id="flip-0"),
    pytest.param(lambda x: ops.flip(x, (-1, 0)) * x, [(3, 4)], id="flip-both-times-x"),
    pytest.param(lambda x: ops.flip(x), [(2, 2, 3)], id="flip-all"),
    pytest.param(lambda x: ops.dilate(x, (0,), 1), [(3, 2)], id="dilate-0"),
    pytest.param(lambda x: ops.dilate(x, (0, 2), 2), [(2, 2, 3)], id="dilate-0,2-d2"),
    pytest.param(lambda x: ops.dilate(x, (-1,), 1).exp(), [(2, 3)], id="dilate-then-exp"),
    pytest.param(lambda x: ops.undilate(x, (1,), 1), [(2, 5)], id="undilate-1"),
    pytest.param(lambda x: ops.undilate(x, (0, 1), 2), [(4, 5)], id="undilate-both-d2"),
    pytest.param(lambda x: ops.pad(x, ((1, 2), (0, 1))), [(2, 3)], id="pad"),
    pytest.param(lambda x: ops.pad(x, ((2, 0),), value=3.0) ** 2, [(2, 3)], id="pad-trailing-value-squared"),
    pytest.param(lambda x: x[1:, ::2], [(3, 4)], id="getitem-slices"),
    pytest.param(lambda x: x[::-1, None, 1], [(3, 4)], id="getitem-neg-step-None"),
    pytest.param(lambda x: x[..., [0, 2, 0, 0]], [(2, 3)], id="getitem-repeated-fancy"),
    pytest.param(lambda x: x[[1, 1], [0, 0]], [(2, 3)], id="getitem-repeated-pairs"),
    pytest.param(lambda x: x[x.numpy() > 0], [(3, 3)], id="getitem-bool-mask"),
    pytest.param(lambda x: ops.stack([x, x * x], axis=1), [(2, 3)], id="stack"),
    pytest.param(lambda x, y: ops.concatenate([x, y], axis=-1), [(2, 3), (2, 2)], id="concatenate"),
    pytest.param(lambda x: x.softmax(0) * x.log_softmax(-1), [(3, 4)], id="softmax-times-log_softmax"),
    pytest.param(lambda x: x.logsumexp((0, 2)), [(2, 3, 2)], id="logsumexp"),
    pytest.param(lambda x, w: (x @ w).tanh() @ w.T, [(2, 3), (3, 4)], id="matmul-tanh-matmul"),
    pytest.param(lambda x: (x - x.mean(-1, keepdims=True)) / ((x * x).mean(-1, keepdims=True) + 1).sqrt(),
                 [(2, 4)], id="normalize"),
    pytest.param(lambda x, y: ops.where(x > y, x * y, ops.maximum(x, y) - ops.minimum(x, 2 * y)),
                 [(3, 4), (4,)], id="where-maximum-minimum"),
    pytest.param(lambda x: x.gelu() + ops.gelu(x, "tanh") + x.sigmoid() / (1 + abs(x)), [(3, 3)],
                 id="activations"),
])
def test_finite_differences(fn, shapes):
    finite_difference(fn, *shapes)


def test_finite_difference_positive_inputs():
    x = np.random.default_rng(3).uniform(0.5, 2.0, (2, 3))
    finite_difference(lambda a: a.log() * a.sqrt() + a**1.5 + 2**a / a, x)
    finite_difference(lambda a, b: a**b, x, x[::-1].copy())
