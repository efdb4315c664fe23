"""Transformer layers, stacks and nn.Transformer against PyTorch with copied weights (outputs and the gradient
of the inputs and every parameter, every mask kind), training steps equal to PyTorch's step for step, and
PyTorch's errors for bad input."""

import warnings

import numpy as np
import pytest
import torch
from torch_compare import A, compare, padding

import baby
from baby import nn

pytestmark = [pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
              pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")]
D, NH, FF = 8, 2, 16


@pytest.fixture(autouse=True, scope="module")
def torch_on_one_thread():
    """PyTorch on one thread: its pool on a busy 2-core machine costs up to 100x on these tiny models."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
S, T, N = 5, 4, 3
SRC_KPM = padding(N, S, [5, 2, 4])
TGT_KPM = padding(N, T, [4, 4, 2])
CAUSAL_T = np.triu(np.full((T, T), -np.inf), 1)
CAUSAL_S = np.triu(np.ones((S, S), bool), 1)


def layer_kw(**kw):
    return dict(dim_feedforward=FF, dropout=0.0, **kw)


ENCODER_LAYERS = [
    pytest.param({}, {}, id="post-norm"),
    pytest.param({"norm_first": True}, {"src_key_padding_mask": SRC_KPM}, id="pre-norm-kpm"),
    pytest.param({"batch_first": True, "layer_norm_eps": 1e-3}, {"src_mask": CAUSAL_S, "is_causal": True},
                 id="batch_first-causal"),
    pytest.param({"activation": torch.nn.functional.silu, "bias": False},
                 {"src_mask": A(S, S), "src_key_padding_mask": np.where(SRC_KPM, -np.inf, 0.0)},
                 id="callable-activation-no-bias-float-masks"),
]


def _masks(m, names, ts, dtype):
    return {n: (t if t.dtype == m.bool else t.to(dtype)) for n, t in zip(names, ts, strict=True)}


def _activation(kw, m):
    """The activation argument for library m (a torch function is swapped for baby's of the same name)."""
    act = kw.get("activation")
    if callable(act):
        return dict(kw, activation=getattr(m.nn.functional, act.__name__))
    return kw


@pytest.mark.parametrize("kw, masks", ENCODER_LAYERS)
def test_encoder_layer(kw, masks):
    masks = dict(masks)
    is_causal = masks.pop("is_causal", False)
    names = list(masks)
    shape = (N, S, D) if kw.get("batch_first") else (S, N, D)

    def forward(m, mod, x, *ts):
        return (mod(x, **_masks(m, names, ts, x.dtype), is_causal=is_causal),)

    compare(lambda: torch.nn.TransformerEncoderLayer(D, NH, **layer_kw(**kw)),
            lambda d: nn.TransformerEncoderLayer(D, NH, dtype=d, **layer_kw(**_activation(kw, baby))),
            forward, [A(*shape)] + [masks[n] for n in names])


DECODER_LAYERS = [
    pytest.param({}, {"tgt_mask": CAUSAL_T}, id="post-norm-causal"),
    pytest.param({"norm_first": True}, {"tgt_mask": CAUSAL_T, "tgt_key_padding_mask": TGT_KPM,
                                        "memory_key_padding_mask": SRC_KPM}, id="pre-norm-all-padding"),
    pytest.param({"batch_first": True, "activation": torch.nn.functional.silu},
                 {"memory_mask": np.random.default_rng(1).random((T, S)) > 0.7},
                 id="batch_first-memory_mask"),
]


@pytest.mark.parametrize("kw, masks", DECODER_LAYERS)
def test_decoder_layer(kw, masks):
    names = list(masks)
    bf = kw.get("batch_first")
    shapes = [(N, T, D), (N, S, D)] if bf else [(T, N, D), (S, N, D)]

    def forward(m, mod, tgt, memory, *ts):
        return (mod(tgt, memory, **_masks(m, names, ts, tgt.dtype)),)

    compare(lambda: torch.nn.TransformerDecoderLayer(D, NH, **layer_kw(**kw)),
            lambda d: nn.TransformerDecoderLayer(D, NH, dtype=d, **layer_kw(**_activation(kw, baby))),
            forward, [A(*s) for s in shapes] + [masks[n] for n in names])


def test_encoder_and_decoder_stacks():
    def make(m, d=None):
        kw = {} if d is None else {"dtype": d}
        enc = m.nn.TransformerEncoder(m.nn.TransformerEncoderLayer(D, NH, **layer_kw(**kw)), 2,
                                      m.nn.LayerNorm(D, **kw))
        dec = m.nn.TransformerDecoder(m.nn.TransformerDecoderLayer(D, NH, **layer_kw(**kw)), 2)
        return m.nn.ModuleDict({"enc": enc, "dec": dec})

    def forward(m, mod, src, tgt, kpm):
        mask = m.nn.Transformer.generate_square_subsequent_mask(T, dtype=src.dtype)
        memory = mod["enc"](src, src_key_padding_mask=kpm)
        return (mod["dec"](tgt, memory, tgt_mask=mask, memory_key_padding_mask=kpm, tgt_is_causal=True),)

    compare(lambda: make(torch), lambda d: make(baby, d), forward, [A(S, N, D), A(T, N, D), SRC_KPM])


@pytest.mark.parametrize("kw", [{}, {"batch_first": True, "norm_first": True}])
def test_transformer(kw):
    bf = kw.get("batch_first")

    def forward(m, mod, src, tgt, src_kpm, tgt_kpm):
        tgt_mask = m.nn.Transformer.generate_square_subsequent_mask(T, dtype=src.dtype)
        return (mod(src, tgt, tgt_mask=tgt_mask, src_key_padding_mask=src_kpm, tgt_key_padding_mask=tgt_kpm,
                    memory_key_padding_mask=src_kpm),)

    shapes = [(N, S, D), (N, T, D)] if bf else [(S, N, D), (T, N, D)]
    compare(lambda: torch.nn.Transformer(D, NH, 2, 1, **layer_kw(**kw)),
            lambda d: nn.Transformer(D, NH, 2, 1, dtype=d, **layer_kw(**kw)),
            forward, [A(*s) for s in shapes] + [SRC_KPM, TGT_KPM])


def test_activation_names():
    """'relu' and 'gelu' name the functional activations (gelu is compared in float32 by test_activations)."""
    assert nn.TransformerEncoderLayer(D, NH, FF).activation is baby.nn.functional.relu
    assert nn.TransformerDecoderLayer(D, NH, FF, activation="gelu").activation is baby.nn.functional.gelu
    act = nn.GELU()
    layer = nn.TransformerEncoderLayer(D, NH, FF, activation=act)
    assert layer.activation is act and "activation" in dict(layer.named_children())


def test_state_dict_keys_and_repr_as_torch():
    torch.manual_seed(0)
    theirs, ours = torch.nn.Transformer(D, NH, 1, 1, FF), nn.Transformer(D, NH, 1, 1, FF)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert repr(ours) == repr(theirs)
    assert all(np.abs(p.numpy()).max() <= np.sqrt(6 / sum(p.shape)) for p in ours.parameters() if p.ndim > 1)
    ours.load_state_dict(theirs.state_dict())
    np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(4).numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())


@pytest.mark.parametrize("optimizer, kw, dtype, tol", [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, np.float64, 1e-10),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, np.float32, 2e-5),
    ("Adam", {"lr": 0.01}, np.float64, 1e-10),
    ("Adam", {"lr": 0.01, "eps": 1e-4}, np.float32, 2e-5),
])
def test_training_steps_equal_torch(optimizer, kw, dtype, tol):
    """A tiny sequence-to-sequence Transformer with an output head, trained a few steps on both libraries.
    (The key bias's gradient is zero up to rounding: float32 Adam with a tiny eps would amplify rounding.)"""
    src, tgt = A(S, N, D).astype(dtype), A(T, N, D).astype(dtype)
    labels = np.random.default_rng(2).integers(0, 6, (T, N))

    def build(m):
        m.manual_seed(0)
        return m.nn.ModuleDict({"t": m.nn.Transformer(D, NH, 2, 2, FF, dropout=0.0, norm_first=True),
                                "head": m.nn.Linear(D, 6)})

    theirs = build(torch).to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = build(baby).to(baby.float64 if dtype == np.float64 else baby.float32)
    ours.load_state_dict(theirs.state_dict())
    runs = []
    for m, model in ((torch, theirs), (baby, ours)):
        opt = getattr(m.optim, optimizer)(model.parameters(), **kw)
        mask = m.nn.Transformer.generate_square_subsequent_mask(T, dtype=model["head"].weight.dtype)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            out = model["head"](model["t"](m.tensor(src), m.tensor(tgt), tgt_mask=mask))  # (T, N, 6)
            loss = m.nn.functional.cross_entropy(out.reshape(-1, 6), m.tensor(labels).reshape(-1))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        runs.append((losses, {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=tol, atol=tol)
    for k, v in runs[0][1].items():
        np.testing.assert_allclose(runs[1][1][k], v, rtol=tol, atol=tol, err_msg=k)


def test_dropout_is_active_only_in_training():
    baby.manual_seed(0)
    layer = nn.TransformerEncoderLayer(D, NH, FF, dropout=0.5)
    x = baby.tensor(A(S, N, D), dtype=baby.float32)
    assert not np.allclose(layer(x).numpy(), layer(x).numpy())
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), layer(x).numpy())


ERRORS = [
    (lambda m: m.nn.TransformerEncoderLayer(D, NH, activation="tanh"), RuntimeError,
     "activation should be relu/gelu, not tanh"),
    (lambda m: m.nn.Transformer(D, NH, 1, 1, FF)(m.zeros(3, 2, D), m.zeros(4, 3, D)), RuntimeError,
     "the batch number of src and tgt must be equal"),
    (lambda m: m.nn.Transformer(D, NH, 1, 1, FF)(m.zeros(3, 2, D), m.zeros(4, 2, 6)), RuntimeError,
     "the feature number of src and tgt must be equal to d_model"),
    (lambda m: m.nn.TransformerEncoderLayer(D, 3), AssertionError, "divisible by num_heads"),
    (lambda m: m.nn.TransformerEncoderLayer(D, NH, FF)(m.zeros(S, N, D), src_mask=m.zeros(S, S + 1)),
     RuntimeError, "attn_mask"),
]


@pytest.mark.parametrize("fn, error, match", ERRORS)
def test_errors_as_torch(fn, error, match):
    with pytest.raises(error, match=match):
        fn(torch)
    with pytest.raises(error, match=match):
        fn(baby)


def word_language_model(m):
    """pytorch/examples word_language_model's TransformerModel, written once for either library."""

    class PositionalEncoding(m.nn.Module):
        def __init__(self, d_model, max_len=50):
            super().__init__()
            pe = m.zeros(max_len, d_model)
            position = m.arange(0, max_len, dtype=m.float).unsqueeze(1)
            div_term = m.exp(m.arange(0, d_model, 2).float() * (-np.log(10000.0) / d_model))
            pe[:, 0::2] = m.sin(position * div_term)
            pe[:, 1::2] = m.cos(position * div_term)
            self.register_buffer("pe", pe.unsqueeze(0).transpose(0, 1))

        def forward(self, x):
            return x + self.pe[:x.size(0), :]

    class TransformerModel(m.nn.Transformer):
        def __init__(self, ntoken, ninp, nhead, nhid, nlayers):
            super().__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid, num_encoder_layers=nlayers,
                             dropout=0.0)
            self.pos_encoder = PositionalEncoding(ninp)
            self.input_emb = m.nn.Embedding(ntoken, ninp)
            self.ninp = ninp
            self.decoder = m.nn.Linear(ninp, ntoken)

        def forward(self, src):
            mask = m.log(m.tril(m.ones(len(src), len(src))))
            src = self.pos_encoder(self.input_emb(src) * np.sqrt(self.ninp))
            return m.nn.functional.log_softmax(self.decoder(self.encoder(src, mask=mask)), dim=-1)

    m.manual_seed(0)
    return TransformerModel(11, 8, 2, 16, 2)


def test_word_language_model_transformer_trains_as_torch():
    data = np.random.default_rng(5).integers(0, 11, (7, 3))  # (bptt + 1, batch) token ids
    runs = []
    for m in (torch, baby):
        model = word_language_model(m)
        if m is baby:
            model.load_state_dict(runs[0][1])
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        losses = []
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # log(0) in the mask is -inf without a warning
            for _ in range(3):
                model.zero_grad()
                out = model(m.tensor(data[:-1]))  # (6, 3, 11)
                loss = m.nn.functional.nll_loss(out.view(-1, 11), m.tensor(data[1:]).reshape(-1))
                loss.backward()
                m.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
                for p in model.parameters():
                    p.data.add_(p.grad, alpha=-0.5)
                losses.append(loss.item())
        runs.append((losses, state))
    assert sorted(runs[1][1]) == sorted(runs[0][1])
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-5)
