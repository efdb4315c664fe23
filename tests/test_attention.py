"""Attention against PyTorch with copied weights: scaled_dot_product_attention, MultiheadAttention (every mask
kind, layouts, kdim/vdim, bias_kv, zero_attn), RMSNorm; outputs, attention weights and the gradients of the
inputs and of every parameter, in float64 (tight) and float32 (within 10x PyTorch's own float32 error)."""

import numpy as np
import pytest
import torch
from helpers import finite_difference
from torch_compare import A, compare, padding

import baby
from baby import nn
from baby.nn import functional as F

pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
RNG = np.random.default_rng(4)


@pytest.fixture(autouse=True, scope="module")
def torch_on_one_thread():
    """PyTorch on one thread: its pool on a busy 2-core machine costs up to 100x on these tiny models."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ---- scaled_dot_product_attention ------------------------------------------------------------------------
SDPA = [
    ("plain", {}, [A(2, 3, 4, 8), A(2, 3, 6, 8), A(2, 3, 6, 5)]),
    ("3d", {}, [A(3, 4, 8), A(3, 6, 8), A(3, 6, 8)]),
    ("unbatched-2d", {}, [A(4, 8), A(6, 8), A(6, 5)]),
    ("bool-mask", {"attn_mask": RNG.random((4, 6)) > 0.3}, [A(2, 3, 4, 8), A(2, 3, 6, 8), A(2, 3, 6, 5)]),
    ("float-mask-bcast", {"attn_mask": A(2, 1, 4, 6)}, [A(2, 3, 4, 8), A(2, 3, 6, 8), A(2, 3, 6, 5)]),
    ("is_causal", {"is_causal": True}, [A(2, 3, 4, 8), A(2, 3, 6, 8), A(2, 3, 6, 5)]),
    ("scale", {"scale": 0.3}, [A(2, 4, 8), A(2, 6, 8), A(2, 6, 5)]),
    ("bcast-batch", {}, [A(2, 3, 4, 8), A(1, 3, 6, 8), A(2, 1, 6, 5)]),
    ("gqa", {"enable_gqa": True}, [A(2, 4, 4, 8), A(2, 2, 6, 8), A(2, 2, 6, 5)]),
]


@pytest.mark.parametrize("kw, arrays", [pytest.param(kw, a, id=i) for i, kw, a in SDPA])
def test_sdpa(kw, arrays):
    kw = dict(kw)
    mask = kw.pop("attn_mask", None)

    def call(m, _, q, k, v, mask):
        if mask is not None and mask.dtype != m.bool:
            mask = mask.to(q.dtype)
        return (m.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, **kw),)

    compare(None, None, call, arrays + [mask])


@pytest.mark.parametrize("mask", [np.array([[True] * 5, [False] * 5, [True, False] * 2 + [True]]),
                                  np.array([[0.0] * 5, [-np.inf] * 5, [1.0, -np.inf] * 2 + [0.0]])])
def test_sdpa_fully_masked_rows_give_zeros_and_finite_gradients(mask):
    q, k, v = A(2, 3, 4), A(2, 5, 4), A(2, 5, 3)
    outs = {}
    for m in (torch, baby):
        ts = [m.tensor(a, requires_grad=True) for a in (q, k, v)]
        y = m.nn.functional.scaled_dot_product_attention(*ts, attn_mask=m.tensor(mask))
        (y * m.tensor(np.arange(18.0).reshape(2, 3, 3))).sum().backward()
        outs[m] = [y.detach().numpy()] + [t.grad.numpy() for t in ts]
    for a, b in zip(outs[baby], outs[torch], strict=True):
        assert np.isfinite(a).all()
        np.testing.assert_allclose(a, b, atol=1e-12)
    assert (outs[baby][0][:, 1] == 0).all()


def test_sdpa_dropout_drops_weights_with_the_library_seed():
    q, k, v = (baby.tensor(a, dtype=baby.float32) for a in (A(2, 4, 8), A(2, 6, 8), A(2, 6, 5)))
    baby.manual_seed(7)
    y = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    baby.manual_seed(7)
    p = (q * 8**-0.5 @ k.transpose(-2, -1)).softmax(-1)
    np.testing.assert_allclose(y.numpy(), (F.dropout(p, 0.5) @ v).numpy(), atol=1e-6)
    assert not np.allclose(y.numpy(), F.scaled_dot_product_attention(q, k, v).numpy())


def test_masked_softmax_finite_differences():
    keep = np.array([[True, False, True], [False, False, False]])
    finite_difference(lambda s, m: F.attention.MaskedSoftmax(keep)(s, m) * s, (2, 2, 3), (2, 3))


# ---- MultiheadAttention ----------------------------------------------------------------------------------
L, S, N, E, H = 4, 5, 3, 8, 2
KPM = padding(N, S, [5, 3, 4])
MASK2 = RNG.random((L, S)) > 0.6
MASK2[:, 0] = False  # every query can see key 0: no row is fully masked
MASK3 = RNG.random((N * H, L, S)) > 0.6
MASK3[..., 0] = False
CAUSAL = np.triu(np.ones((L, L), bool), 1)


def mha_case(id, module=None, masks=None, **call):
    """A MultiheadAttention row: constructor kwargs, masks {name: array}, forward kwargs and shapes."""
    return pytest.param(module or {}, masks or {}, call, id=id)


MHA = [
    mha_case("self"),
    mha_case("cross", q=(L, N, E), kv=(S, N, E)),
    mha_case("batch_first", {"batch_first": True}, q=(N, L, E), kv=(N, S, E)),
    mha_case("kdim-vdim", {"kdim": 3, "vdim": 6}, q=(L, N, E), k=(S, N, 3), v=(S, N, 6)),
    mha_case("no-bias", {"bias": False}),
    mha_case("bias_kv", {"add_bias_kv": True}, {"key_padding_mask": KPM, "attn_mask": MASK2},
             q=(L, N, E), kv=(S, N, E)),
    mha_case("zero_attn", {"add_zero_attn": True}, {"attn_mask": MASK2}, q=(L, N, E), kv=(S, N, E)),
    mha_case("bias_kv-zero_attn-3d-mask", {"add_bias_kv": True, "add_zero_attn": True}, {"attn_mask": MASK3},
             q=(L, N, E), kv=(S, N, E)),
    mha_case("kpm-bool", masks={"key_padding_mask": KPM}, q=(L, N, E), kv=(S, N, E)),
    mha_case("kpm-float", masks={"key_padding_mask": np.where(KPM, -1e9, 0.5)}, q=(L, N, E), kv=(S, N, E)),
    mha_case("mask-bool-2d", masks={"attn_mask": MASK2}, q=(L, N, E), kv=(S, N, E)),
    mha_case("mask-float-2d", masks={"attn_mask": A(L, S)}, q=(L, N, E), kv=(S, N, E)),
    mha_case("mask-bool-3d", masks={"attn_mask": MASK3}, q=(L, N, E), kv=(S, N, E)),
    mha_case("mask-float-3d-and-kpm",
             masks={"attn_mask": A(N * H, L, S), "key_padding_mask": np.where(KPM, -np.inf, 0)},
             q=(L, N, E), kv=(S, N, E)),
    mha_case("causal-hint", masks={"attn_mask": CAUSAL}, is_causal=True),
    mha_case("no-weights-masks", masks={"attn_mask": MASK2, "key_padding_mask": KPM}, need_weights=False,
             q=(L, N, E), kv=(S, N, E)),
    mha_case("per-head-weights", {"batch_first": True}, {"key_padding_mask": KPM}, average_attn_weights=False,
             q=(N, L, E), kv=(N, S, E)),
    mha_case("unbatched", masks={"key_padding_mask": KPM[1], "attn_mask": MASK2}, q=(L, E), kv=(S, E)),
    mha_case("unbatched-batch_first", {"batch_first": True}, q=(L, E)),
    mha_case("dropout-eval", {"dropout": 0.5}, masks={"attn_mask": MASK2}, q=(L, N, E), kv=(S, N, E)),
]


@pytest.mark.parametrize("module, masks, call", MHA)
def test_multihead_attention(module, masks, call):
    call = dict(call)
    shapes = [call.pop("q", (L, N, E))]
    self_attention = "kv" not in call and "k" not in call
    if not self_attention:
        kv = call.pop("kv", None)
        shapes += [call.pop("k", kv), call.pop("v", kv)]
    names = list(masks)
    arrays = [A(*s) for s in shapes] + [masks[n] for n in names]

    def forward(m, mod, *ts):
        if "dropout" in module:
            mod.eval()
        x = ts[:len(shapes)]
        q, k, v = (x * 3)[:3] if self_attention else x
        kw = {n: (t if t.dtype == m.bool else t.to(q.dtype))
              for n, t in zip(names, ts[len(shapes):], strict=True)}
        return mod(q, k, v, **kw, **call)

    compare(lambda: torch.nn.MultiheadAttention(E, H, **module),
            lambda d: nn.MultiheadAttention(E, H, dtype=d, **module), forward, arrays)


@pytest.mark.filterwarnings("error")
def test_multihead_attention_fully_masked_rows_as_torch():
    mask = np.zeros((L, S), bool)
    mask[1] = True
    x, kv = A(L, N, E), A(S, N, E)
    for need_weights in (True, False):
        torch.manual_seed(0)
        theirs = torch.nn.MultiheadAttention(E, H).double()
        ours = nn.MultiheadAttention(E, H, dtype=baby.float64)
        ours.load_state_dict(theirs.state_dict())
        ty = theirs(*map(torch.tensor, (x, kv, kv)), attn_mask=torch.tensor(mask),
                    need_weights=need_weights)[0]
        y = ours(*map(baby.tensor, (x, kv, kv)), attn_mask=baby.tensor(mask), need_weights=need_weights)[0]
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-12)  # NaN rows (weights) or zeros
        assert np.isnan(y.numpy()[1]).all() == need_weights


def test_multihead_attention_dropout_only_in_training():
    baby.manual_seed(0)
    mha, x = nn.MultiheadAttention(E, H, dropout=0.5), baby.randn(L, N, E)
    w = mha(x, x, x, average_attn_weights=False)[1].numpy()  # (N, H, L, L), after dropout as PyTorch's
    assert 0.3 < (w == 0).mean() < 0.7 and w.max() > 1 / L
    mha.eval()
    y, w = mha(x, x, x)
    np.testing.assert_allclose(w.numpy().sum(-1), 1, rtol=1e-5)
    np.testing.assert_allclose(mha(x, x, x, need_weights=False)[0].numpy(), y.numpy(), atol=1e-6)


def test_multihead_attention_parameters_as_torch():
    for kw in ({}, {"kdim": 3, "vdim": 4, "add_bias_kv": True}, {"bias": False}):
        torch.manual_seed(0)
        theirs, ours = torch.nn.MultiheadAttention(8, 2, **kw), nn.MultiheadAttention(8, 2, **kw)
        assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
        assert repr(ours) == repr(theirs)
        w = ours.in_proj_weight if ours.in_proj_weight is not None else ours.q_proj_weight
        bound = np.sqrt(6 / sum(w.shape if ours.in_proj_weight is None else (8, 24)))
        assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > bound / 2  # Xavier-uniform
        if ours.in_proj_bias is not None:
            assert not ours.in_proj_bias.numpy().any() and not ours.out_proj.bias.numpy().any()


# ---- RMSNorm ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, normalized, kw", [((3, 4), 4, {}), ((2, 3, 4), (3, 4), {"eps": 1e-3}),
                                                   ((5, 6), [6], {"elementwise_affine": False})])
def test_rms_norm(shape, normalized, kw):
    def make_torch():
        mod = torch.nn.RMSNorm(normalized, **kw)
        if mod.weight is not None:
            with torch.no_grad():
                mod.weight.uniform_(0.5, 1.5)
        return mod

    compare(make_torch, lambda d: nn.RMSNorm(normalized, dtype=d, **kw), lambda m, mod, x: (mod(x),),
            [A(*shape)])
    assert repr(nn.RMSNorm(normalized, **kw)) == repr(torch.nn.RMSNorm(normalized, **kw))


def test_rms_norm_functional_and_finite_differences():
    x, w = A(3, 4), A(4)
    y = F.rms_norm(baby.tensor(x), (4,), baby.tensor(w), eps=1e-6)
    np.testing.assert_allclose(y.numpy(), torch.nn.functional.rms_norm(torch.tensor(x), (4,), torch.tensor(w),
                                                                        eps=1e-6).numpy(), atol=1e-12)
    finite_difference(lambda x, w: F.rms_norm(x, 4, w), (3, 4), (4,))


# ---- bad input -------------------------------------------------------------------------------------------
def _mha(m, **kw):
    m.manual_seed(0)
    return m.nn.MultiheadAttention(8, 2, **kw)


def _x(m, *shape, dtype=None):
    return m.zeros(*shape, dtype=dtype)


ERRORS = [
    (lambda m: m.nn.MultiheadAttention(10, 3), AssertionError, "divisible by num_heads"),
    (lambda m: m.nn.MultiheadAttention(0, 1), ValueError, "greater than 0"),
    (lambda m: _mha(m)(_x(m, 4, 2, 8), _x(m, 5, 2, 8), _x(m, 5, 2, 8), attn_mask=_x(m, 3, 3)), RuntimeError,
     r"2D attn_mask is .*3, 3.*, but should be \(4, 5\)"),
    (lambda m: _mha(m)(_x(m, 4, 2, 8), _x(m, 5, 2, 8), _x(m, 5, 2, 8), attn_mask=_x(m, 3, 4, 5)),
     RuntimeError, r"3D attn_mask is .*3, 4, 5.*, but should be \(4, 4, 5\)"),
    (lambda m: _mha(m)(_x(m, 4, 2, 8), _x(m, 5, 2, 8), _x(m, 5, 2, 8), attn_mask=_x(m, 4, 5, dtype=m.int64)),
     AssertionError, "only bool and floating types of attn_mask"),
    (lambda m: _mha(m)(_x(m, 4, 2, 8), _x(m, 5, 2, 8), _x(m, 5, 2, 8),
                       key_padding_mask=_x(m, 2, 4, dtype=m.bool)), AssertionError, "key_padd"),
    (lambda m: _mha(m)(_x(m, 4, 2, 6), _x(m, 5, 2, 8), _x(m, 5, 2, 8)), AssertionError,
     "expecting embedding dimension of 8, but got 6"),
    (lambda m: _mha(m)(_x(m, 4, 2, 8), _x(m, 5, 2, 8), _x(m, 4, 2, 8)), AssertionError,
     "key shape .* does not match value shape"),
    (lambda m: _mha(m)(_x(m, 4, 8), _x(m, 5, 2, 8), _x(m, 5, 2, 8)), AssertionError,
     "to be 2-D but found 3-D"),
    (lambda m: _mha(m)(_x(m, 4, 2, 8), _x(m, 4, 2, 8), _x(m, 4, 2, 8), is_causal=True), RuntimeError,
     "Need attn_mask if specifying the is_causal hint"),
    (lambda m: m.nn.functional.scaled_dot_product_attention(_x(m, 2, 4, 8), _x(m, 2, 5, 8), _x(m, 2, 5, 8),
                                                            attn_mask=_x(m, 3, 5)), RuntimeError, "4|3"),
    (lambda m: m.nn.functional.scaled_dot_product_attention(_x(m, 4, 8), _x(m, 5, 8), _x(m, 5, 8),
                                                            attn_mask=_x(m, 4, 5, dtype=m.bool),
                                                            is_causal=True),
     RuntimeError, "attn_mask should not be set when is_causal=True"),
    (lambda m: m.nn.functional.scaled_dot_product_attention(_x(m, 4, 8, dtype=m.float64), _x(m, 5, 8),
                                                            _x(m, 5, 8)), RuntimeError, "same dtype"),
    (lambda m: m.nn.functional.scaled_dot_product_attention(_x(m, 4, 8), _x(m, 5, 8), _x(m, 5, 8),
                                                            attn_mask=_x(m, 4, 5, dtype=m.int64)),
     RuntimeError, "attn_mask dtype to be bool or float"),
    (lambda m: m.nn.functional.scaled_dot_product_attention(_x(m, 3, 4, 8), _x(m, 2, 5, 8), _x(m, 2, 5, 8),
                                                            enable_gqa=True), RuntimeError,
     "must divide the number of heads"),
    (lambda m: m.nn.functional.scaled_dot_product_attention(_x(m, 4, 8), _x(m, 5, 8), _x(m, 5, 8),
                                                            attn_mask=_x(m, 2, 4, 5)), RuntimeError, r"4, 5"),
    (lambda m: m.nn.RMSNorm(4)(_x(m, 2, 3)), RuntimeError, r"normalized_shape=\[4\]"),
]


@pytest.mark.parametrize("fn, error, match", ERRORS)
def test_errors_as_torch(fn, error, match):
    with pytest.raises(error, match=match):
        fn(torch)
    with pytest.raises(error, match=match):
        fn(baby)


def test_errors_name_the_shapes():
    with pytest.raises(RuntimeError, match=r"query \(2, 4, 8\), key \(2, 5, 7\)"):
        F.scaled_dot_product_attention(baby.zeros(2, 4, 8), baby.zeros(2, 5, 7), baby.zeros(2, 5, 8))
    with pytest.raises(AssertionError, match=r"\(2, 5\), but got \(2, 4\)"):
        _mha(baby)(_x(baby, 4, 2, 8), _x(baby, 5, 2, 8), _x(baby, 5, 2, 8),
                   key_padding_mask=_x(baby, 2, 4, dtype=baby.bool))
    with pytest.raises(AssertionError, match="embed_dim=10 and num_heads=3"):
        nn.MultiheadAttention(10, 3)
