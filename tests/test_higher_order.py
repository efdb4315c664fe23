"""Second (and third) derivatives of every differentiable op against PyTorch's, in float64: the same
expression runs on baby and on torch (`T` is the module), create_graph=True, then a second autograd.grad."""

import numpy as np
import pytest
import torch

import baby

RNG = np.random.default_rng(7)


def _pos(T, x):
    return x * x + 0.5  # a positive input for log, sqrt, pow, ...


def _prob(T, x):
    return T.sigmoid(x)  # a probability for binary_cross_entropy


CASES = [  # (id, fn(T, *xs), shapes)
    ("add-broadcast", lambda T, a, b: (a + b) * a, [(3, 4), (4,)]),
    ("sub-mul", lambda T, a, b: (a - b) * b * a, [(3, 4), (3, 1)]),
    ("div", lambda T, a, b: a / _pos(T, b), [(3, 4), (4,)]),
    ("pow-tensor", lambda T, a, b: _pos(T, a) ** b, [(3, 4), (3, 4)]),
    ("pow-scalar", lambda T, a: a ** 3 + _pos(T, a) ** -0.5, [(3, 4)]),
    ("neg-exp-log", lambda T, a: T.exp(-a) * T.log(_pos(T, a)), [(3, 4)]),
    ("sqrt-abs", lambda T, a: T.sqrt(_pos(T, a)) * T.abs(a), [(3, 4)]),
    ("relu", lambda T, a: T.relu(a) * a, [(3, 4)]),
    ("sigmoid-tanh", lambda T, a: T.sigmoid(a) * T.tanh(a), [(3, 4)]),
    ("gelu", lambda T, a: T.nn.functional.gelu(a), [(3, 4)]),
    ("gelu-tanh", lambda T, a: T.nn.functional.gelu(a, approximate="tanh"), [(3, 4)]),
    ("sin-cos", lambda T, a: T.sin(a) * T.cos(2 * a), [(3, 4)]),
    ("log1p-expm1", lambda T, a: T.log1p(_pos(T, a)) * T.expm1(a), [(3, 4)]),
    ("maximum-minimum", lambda T, a, b: T.maximum(a, b) * T.minimum(a, b), [(3, 4), (4,)]),
    ("where", lambda T, a, b: T.where(a > 0, a * b, b * b), [(3, 4), (3, 4)]),
    ("clamp-floor", lambda T, a: T.clamp(a, -0.5, 0.7) * a + T.floor(a), [(3, 4)]),
    ("cast", lambda T, a: (a * a).float().double() * a, [(3, 4)]),
    ("sum-mean", lambda T, a: a.sum(1, keepdim=True) * a.mean(0) * a, [(3, 4)]),
    ("amax-max", lambda T, a: a.amax(1, keepdim=True) * a.max(0).values * a.sum(), [(3, 4)]),
    ("prod", lambda T, a: a.prod(1) * a.prod(), [(3, 4)]),
    ("cumsum", lambda T, a: a.cumsum(1) * a, [(3, 4)]),
    ("var-std-norm", lambda T, a: a.var(1) * a.std(0).sum() + a.norm() * a.sum(), [(3, 4)]),
    ("softmax", lambda T, a: T.softmax(a, 1) * a, [(3, 4)]),
    ("log_softmax", lambda T, a: T.log_softmax(a, 0) * a, [(3, 4)]),
    ("logsumexp", lambda T, a: T.logsumexp(a, 1) * a.sum(0).sum(), [(3, 4)]),
    ("reshape-permute", lambda T, a: a.reshape(2, 6).permute(1, 0) * a.reshape(6, 2), [(3, 4)]),
    ("expand-repeat", lambda T, a: a.expand(2, 3, 4) * a.repeat(2, 1, 1) * a, [(3, 4)]),
    ("getitem", lambda T, a: a[1:, ::2] * a[[0, 0], 1:3] + a[a > 0].sum(), [(3, 4)]),
    ("flip", lambda T, a: T.flip(a, (0, 1)) * a, [(3, 4)]),
    ("pad", lambda T, a: T.nn.functional.pad(a, (1, 2)) ** 2, [(3, 4)]),
    ("stack-cat", lambda T, a, b: T.stack([a, b]) * T.cat([b, a]).reshape(2, 3, 4), [(3, 4), (3, 4)]),
    ("split", lambda T, a: a.split(2, 1)[1] * a.chunk(2, 1)[0], [(3, 4)]),
    ("gather", lambda T, a: a.gather(1, T.tensor([[0, 0], [1, 3], [2, 2]])) * a[:, :2], [(3, 4)]),
    ("scatter_add", lambda T, a, b: a.scatter_add(1, T.tensor([[0, 0, 3, 3], [1, 3, 1, 2], [2, 2, 2, 0]]),
                                                  b * b) * a, [(3, 4), (3, 4)]),
    ("scatter-index_add", lambda T, a, b: a.scatter(1, T.tensor([[0, 2, 1, 3], [1, 0, 3, 2], [3, 2, 0, 1]]),
                                                    b * b) * a
     + a.index_add(1, T.tensor([0, 3, 0, 1]), b * a, alpha=2), [(3, 4), (3, 4)]),
    ("tril-triu-diagonal", lambda T, a: T.tril(a * a, 0) * a + T.triu(a, 1) ** 2
     + (a.diagonal() ** 2).sum() + T.diag_embed(a[0]).sum(0) * a[0], [(4, 4)]),
    ("roll-cumprod", lambda T, a: T.roll(a, 1, 1) * a + a.cumprod(1) * a, [(3, 4)]),
    ("masked_fill", lambda T, a: a.masked_fill(a > 0.5, 0.0) * a, [(3, 4)]),
    ("sort-topk", lambda T, a: a.sort(1).values * a + a.topk(2, 1).values.sum(), [(3, 4)]),
    ("matmul", lambda T, a, b: (a @ b) ** 2, [(3, 4), (4, 2)]),
    ("matmul-vector", lambda T, a, b: (a @ b) * (b @ a.T).sum(), [(3, 4), (4,)]),
    ("matmul-batched", lambda T, a, b: T.tanh(a @ b), [(2, 3, 4), (4, 5)]),
    ("einsum", lambda T, a, b: T.einsum("ij,jk->ik", a, b) ** 2, [(3, 4), (4, 2)]),
    ("linear", lambda T, x, w, b: T.tanh(T.nn.functional.linear(x, w, b)), [(3, 4), (5, 4), (5,)]),
    ("linear-nobias", lambda T, x, w: T.nn.functional.linear(x, w) ** 2, [(3, 4), (5, 4)]),
    ("layer_norm", lambda T, x, w, b: T.nn.functional.layer_norm(x, (4,), w, b) * x, [(3, 4), (4,), (4,)]),
    ("batch_norm-train", lambda T, x, w, b: T.nn.functional.batch_norm(x, None, None, w, b, training=True)
     * x, [(4, 3, 2, 2), (3,), (3,)]),
    ("batch_norm-eval", lambda T, x, w, b: T.nn.functional.batch_norm(
        x, T.zeros(3, dtype=T.float64) + 0.1, T.ones(3, dtype=T.float64) * 2, w, b) * x,
     [(4, 3, 2), (3,), (3,)]),
    ("cross_entropy", lambda T, x: T.nn.functional.cross_entropy(x * x, T.tensor([0, 2, 1])), [(3, 4)]),
    ("cross_entropy-smooth-weight", lambda T, x: T.nn.functional.cross_entropy(
        x * x, T.tensor([0, 2, 1]), weight=T.tensor([1.0, 2.0, 0.5, 1.0], dtype=T.float64),
        label_smoothing=0.2), [(3, 4)]),
    ("nll_loss", lambda T, x: T.nn.functional.nll_loss(T.log_softmax(x * x, 1), T.tensor([0, 2, 1])),
     [(3, 4)]),
    ("binary_cross_entropy", lambda T, x, t: T.nn.functional.binary_cross_entropy(_prob(T, x), _prob(T, t)),
     [(3, 4), (3, 4)]),
    ("bce_with_logits", lambda T, x, t: T.nn.functional.binary_cross_entropy_with_logits(x * x, _prob(T, t)),
     [(3, 4), (3, 4)]),
    ("mse-l1-smooth_l1", lambda T, x, t: T.nn.functional.mse_loss(x * t, t)
     + T.nn.functional.l1_loss(x * x, t) + T.nn.functional.smooth_l1_loss(x * t, t), [(3, 4), (3, 4)]),
    ("max_pool2d", lambda T, x: T.nn.functional.max_pool2d(x ** 3, 2) * 3, [(2, 2, 4, 4)]),
    ("max_pool2d-overlap-pad", lambda T, x: T.nn.functional.max_pool2d(x * x, 3, 1, 1), [(1, 2, 4, 5)]),
    ("avg_pool2d", lambda T, x: T.nn.functional.avg_pool2d(x * x, 3, 2, 1) ** 2, [(2, 2, 5, 5)]),
    ("adaptive_avg_pool2d", lambda T, x: T.nn.functional.adaptive_avg_pool2d(x * x, 1) ** 2, [(2, 3, 4, 4)]),
    ("conv2d", lambda T, x, w, b: T.tanh(T.nn.functional.conv2d(x, w, b, padding=1)), [(2, 3, 5, 5),
                                                                                      (4, 3, 3, 3), (4,)]),
    ("conv2d-stride-dilation-groups", lambda T, x, w: T.nn.functional.conv2d(x, w, stride=2, padding=2,
                                                                             dilation=2, groups=2) ** 2,
     [(2, 4, 7, 6), (6, 2, 3, 2)]),
    ("conv1d", lambda T, x, w: T.nn.functional.conv1d(x, w, stride=2, padding=1) ** 2,
     [(2, 3, 7), (2, 3, 3)]),
    ("conv_transpose2d", lambda T, x, w: T.nn.functional.conv_transpose2d(x, w, stride=2, padding=1,
                                                                          output_padding=1) ** 2,
     [(2, 3, 4, 4), (3, 2, 3, 3)]),
    ("conv_transpose1d-groups-dilation", lambda T, x, w: T.nn.functional.conv_transpose1d(
        x, w, stride=2, groups=2, dilation=2) ** 2, [(1, 4, 5), (4, 3, 3)]),
]


def _run(T, fn, arrays, order):
    """[d/dx sum(fn * v)] then each further order's gradient of sum(previous * u), per input (float64)."""
    xs = [T.tensor(a, requires_grad=True) for a in arrays]
    y = fn(T, *xs)
    v = T.tensor(np.random.default_rng(1).standard_normal(tuple(y.shape)))
    out, grads = [], T.autograd.grad((y * v).sum(), xs, create_graph=True, allow_unused=True)
    out.append(grads)
    for k in range(1, order):
        us = [T.tensor(np.random.default_rng(k + 1).standard_normal(tuple(x.shape))) for x in xs]
        s = sum((g * u).sum() for g, u in zip(grads, us, strict=True) if g is not None)
        grads = T.autograd.grad(s, xs, create_graph=k + 1 < order, allow_unused=True)
        out.append(grads)
    return out


def _compare(fn, shapes, order):
    arrays = [RNG.uniform(-1.5, 1.5, s) for s in shapes]
    ours, theirs = _run(baby, fn, arrays, order), _run(torch, fn, arrays, order)
    for k, (o, t) in enumerate(zip(ours, theirs, strict=True)):
        for i, (a, b) in enumerate(zip(o, t, strict=True)):
            b = np.zeros(arrays[i].shape) if b is None else b.detach().numpy()
            a = np.zeros(arrays[i].shape) if a is None else a.numpy()
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=f"order {k + 1}, input {i}")


@pytest.mark.parametrize("fn, shapes", [pytest.param(f, s, id=i) for i, f, s in CASES])
def test_second_derivative_matches_torch(fn, shapes):
    _compare(fn, shapes, 2)


@pytest.mark.parametrize("fn, shapes", [pytest.param(f, s, id=i) for i, f, s in CASES
                                        if i in ("pow-scalar", "sigmoid-tanh", "softmax", "matmul", "conv2d",
                                                 "div", "gelu", "max_pool2d", "log_softmax")])
def test_third_derivative_matches_torch(fn, shapes):
    _compare(fn, shapes, 3)
