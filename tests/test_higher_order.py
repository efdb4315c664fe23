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


def _inplace_view(T, x):
    y = x * 1
    y[:, 0] *= 2  # in place on a view: y's node becomes CopySlices, the view's a rebased view
    y[1:, 1:3].mul_(x[:2, 2:] + 1)
    return y * x


def _inplace_transposed(T, x):
    y = x * x
    y.t().mul_(x.t() + 1)  # a view covering the whole base
    return y.sin()


def _sdpa(**kw):
    def fn(T, q, k, v):
        if T is baby:
            return T.nn.functional.scaled_dot_product_attention(q, k, v, **kw)
        with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):  # twice differentiable
            return T.nn.functional.scaled_dot_product_attention(q, k, v, **kw)

    return fn


_KEEP = np.array([[True, False, True, True], [False, False, True, False], [True, True, True, False]])


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
    ("inplace-on-view", _inplace_view, [(3, 4)]),
    ("inplace-on-transposed-view", _inplace_transposed, [(3, 4)]),
    ("sdpa", _sdpa(), [(2, 3, 4), (2, 4, 4), (2, 4, 5)]),
    ("sdpa-causal-scale", _sdpa(is_causal=True, scale=0.7), [(2, 2, 4, 3), (2, 2, 4, 3), (2, 2, 4, 2)]),
    ("sdpa-bool-mask", lambda T, q, k, v: T.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=T.tensor(_KEEP)), [(2, 3, 4), (2, 4, 4), (2, 4, 5)]),
    ("sdpa-float-mask", lambda T, q, k, v, m: T.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=m * m), [(2, 3, 4), (2, 4, 4), (2, 4, 5), (3, 4)]),
    ("sdpa-gqa", _sdpa(enable_gqa=True), [(1, 4, 3, 2), (1, 2, 3, 2), (1, 2, 3, 2)]),
    ("unfold-fold", lambda T, x: T.nn.functional.fold(T.nn.functional.unfold(x * x, 2, padding=1), (3, 4), 2,
                                                      padding=1) * x, [(1, 2, 3, 4)]),
    ("normal-cdf-icdf", lambda T, x: T.distributions.Normal(0.0, 1.0).icdf(
        T.distributions.Normal(0.0, 1.0).cdf(x) * 0.8 + 0.1) * x, [(3, 4)]),
    ("gamma-log_prob-lgamma", lambda T, a: T.distributions.Gamma(_pos(T, a), 1.0).log_prob(
        T.tensor(2.0, dtype=T.float64)), [(3, 4)]),
    ("mvn-precision-inverse", lambda T, a: T.distributions.MultivariateNormal(
        T.zeros(2, dtype=T.float64), covariance_matrix=a @ a.T + T.eye(2, dtype=T.float64)).precision_matrix,
     [(2, 2)]),
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
                                                 "div", "gelu", "max_pool2d", "log_softmax",
                                                 "inplace-on-view", "sdpa-causal-scale")])
def test_third_derivative_matches_torch(fn, shapes):
    _compare(fn, shapes, 3)


ENCODER_LAYERS = [  # (id, layer kwargs, call kwargs as fn(T))
    ("post-norm", {}, lambda T: {}),
    ("pre-norm-causal-kpm", {"norm_first": True},
     lambda T: {"src_mask": T.nn.Transformer.generate_square_subsequent_mask(4, dtype=T.float64),
                "is_causal": True, "src_key_padding_mask": T.tensor([[False] * 3 + [True], [False] * 4])}),
]


def _penalty_grads(T, layer, x, kw):
    """The gradients at x and every parameter of the sum of the squared first gradients (a penalty)."""
    ps = [x, *layer.parameters()]
    gs = T.autograd.grad((layer(x, **kw) ** 2).sum(), ps, create_graph=True)
    return T.autograd.grad(sum((g * g).sum() for g in gs), ps)


@pytest.mark.filterwarnings("ignore:Support for mismatched")  # torch's: a bool padding with a float mask
@pytest.mark.parametrize("layer_kw, call_kw", [pytest.param(k, c, id=i) for i, k, c in ENCODER_LAYERS])
def test_transformer_encoder_layer_double_backward_matches_torch(layer_kw, call_kw):
    kw = dict(d_model=6, nhead=2, dim_feedforward=8, dropout=0.0, batch_first=True, **layer_kw)
    theirs = torch.nn.TransformerEncoderLayer(**kw, dtype=torch.float64)
    ours = baby.nn.TransformerEncoderLayer(**kw, dtype=baby.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = RNG.standard_normal((2, 4, 6))
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):  # twice differentiable
        want = _penalty_grads(torch, theirs, torch.tensor(x, requires_grad=True), call_kw(torch))
    got = _penalty_grads(baby, ours, baby.tensor(x, requires_grad=True), call_kw(baby))
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-8, err_msg=f"input {i}")


def _packed(T, x):
    return T.nn.utils.rnn.pack_padded_sequence(x, [2, 5, 3], enforce_sorted=False)  # x (5, 3, I)


RECURRENT = [  # (id, module name, kwargs, the input as fn(T, x (T, B, I)), with (h0[, c0]))
    ("rnn-tanh-2layer-bidirectional", "RNN", {"num_layers": 2, "bidirectional": True}, None, False),
    ("rnn-relu-h0", "RNN", {"nonlinearity": "relu"}, None, True),
    ("lstm-packed-bidirectional", "LSTM", {"bidirectional": True}, _packed, False),
    ("lstm-proj-h0c0-nobias", "LSTM", {"proj_size": 2, "bias": False}, None, True),
    ("gru-packed-2layer", "GRU", {"num_layers": 2}, _packed, True),
]


def _recurrent_penalty(T, m, x, wrap, states):
    """The gradients at x, the initial states and every parameter of the sum of the squared first gradients
    of the sum of the squared outputs."""
    x = T.tensor(x, requires_grad=True)
    states = [T.tensor(s, requires_grad=True) for s in states]
    hx = None if not states else states[0] if len(states) == 1 else tuple(states)
    out, _ = m(x if wrap is None else wrap(T, x), hx)
    out = out.data if wrap is not None else out  # a PackedSequence's rows
    ps = [x, *states, *m.parameters()]
    gs = T.autograd.grad((out ** 2).sum(), ps, create_graph=True)
    return T.autograd.grad(sum((g * g).sum() for g in gs), ps)


@pytest.mark.parametrize("name, kw, wrap, with_states", [pytest.param(*c[1:], id=c[0]) for c in RECURRENT])
def test_recurrent_double_backward_matches_torch(name, kw, wrap, with_states):
    theirs = getattr(torch.nn, name)(3, 4, dtype=torch.float64, **kw)
    ours = getattr(baby.nn, name)(3, 4, dtype=baby.float64, **kw)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    D, L, Ho = 2 if kw.get("bidirectional") else 1, kw.get("num_layers", 1), kw.get("proj_size") or 4
    x = RNG.standard_normal((5, 3, 3))
    states = [RNG.standard_normal((D * L, 3, Ho))] + ([RNG.standard_normal((D * L, 3, 4))] if name == "LSTM"
                                                      else [])
    states = states if with_states else []
    want = _recurrent_penalty(torch, theirs, x, wrap, states)
    got = _recurrent_penalty(baby, ours, x, wrap, states)
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-9, err_msg=f"input {i}")


def _subclasses(c):
    for s in c.__subclasses__():
        yield s
        yield from _subclasses(s)


def test_every_op_of_baby_has_a_derivative_rule():
    import importlib
    import pkgutil

    from baby.autograd import engine, higher
    from baby.tensor import Function

    for m in pkgutil.walk_packages(baby.__path__, "baby."):
        if not m.name.endswith("__main__"):
            importlib.import_module(m.name)
    ours = [c for c in _subclasses(Function) if c.__module__.startswith("baby.")]
    from baby.distributions import special
    from baby.nn.rnn.op import Recurrence
    from baby.sparse import SparseMM
    from baby.trace import Assign

    # the markers of a missing rule and of a freed graph; the recurrent ops' base (its steps are a
    # subclass's); the trace's record of an in-place write (never in a graph); and the ops still once
    # differentiable (their backwards need what baby lacks as ops: trigamma's derivative, triangular solves
    # of Tensors, a sparse product with a Tensor matrix; or they are samples)
    once = (special.Digamma, special.Cholesky, special.SolveLower, special.StandardGamma,
            special.DirichletDraw, SparseMM)
    exempt = (higher.Once, engine._FreedGraph, Recurrence, Assign, *once)
    missing = sorted(c.__qualname__ for c in ours
                     if c not in higher.rules and not hasattr(c, "backward_graph") and c not in exempt)
    assert len(ours) > 50 and missing == [], f"ops with no rule in baby/autograd/derivatives/: {missing}"
