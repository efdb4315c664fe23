"""nn.RNN / LSTM / GRU and their cells against PyTorch with copied weights: outputs, final states, and the
gradients of the input, the initial states and every parameter, over layers x directions x batch_first x
packed/padded x proj_size; the fused ops against float64 finite differences; PyTorch's errors."""

import itertools

import numpy as np
import pytest
import torch
from helpers import finite_difference

import baby
from baby.nn.rnn import op

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
I, H, B, T = 3, 5, 4, 6
LENGTHS = [6, 3, 5, 1]  # unsorted, so packing sorts and unsorts
MODES = [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("GRU", {}), ("LSTM", {}),
         ("LSTM", {"proj_size": 2})]


def twins(name, dtype=torch.float64, **kw):
    """A PyTorch module and baby's, baby's loaded from PyTorch's state dict as it is."""
    theirs = getattr(torch.nn, name)(I, H, **kw).to(dtype)
    ours = getattr(baby.nn, name)(I, H, **kw).to(baby.float64 if dtype == torch.float64 else baby.float32)
    ours.load_state_dict({k: baby.tensor(v.numpy().copy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def run_both(name, kw, packed, dtype=torch.float64, unbatched=False, with_states=True):
    """Outputs, states and every gradient of both libraries on the same inputs, as lists of arrays."""
    ours, theirs = twins(name, dtype, **kw)
    D, L = 1 + kw.get("bidirectional", False), kw.get("num_layers", 1)
    Ho = kw.get("proj_size") or H
    rng = np.random.default_rng(0)
    bf = kw.get("batch_first", False)
    shape = (T, I) if unbatched else (B, T, I) if bf else (T, B, I)
    state_shapes = [(L * D, Ho), (L * D, H)] if unbatched else [(L * D, B, Ho), (L * D, B, H)]
    arrays = [rng.standard_normal(shape)] + [rng.standard_normal(s) for s in state_shapes]
    results = []
    for lib, m in ((torch, theirs), (baby, ours)):
        x, h0, c0 = (lib.tensor(a.astype(np.float64), dtype=lib.float64 if dtype == torch.float64
                                else lib.float32, requires_grad=True) for a in arrays)
        R = lib.nn.utils.rnn
        inp = R.pack_padded_sequence(x, LENGTHS, batch_first=bf, enforce_sorted=False) if packed else x
        hx = ((h0, c0) if name == "LSTM" else h0) if with_states else None
        out, hn = m(inp, hx)
        if packed:
            out, _ = R.pad_packed_sequence(out, batch_first=bf)
        outs = [out] + (list(hn) if name == "LSTM" else [hn])
        loss = sum((o * lib.tensor(np.random.default_rng(k).standard_normal(tuple(o.shape)), dtype=o.dtype))
                   .sum() for k, o in enumerate(outs))
        loss.backward()
        ins = [x] + ([h0, c0] if name == "LSTM" else [h0]) if with_states else [x]
        results.append([o.detach().numpy() for o in outs] + [t.grad.numpy() for t in ins]
                       + [p.grad.numpy() for p in m.parameters()])
    return results


LAYOUTS = [(1, False, False), (2, True, True), (1, True, False), (2, False, True)]  # L, bidir, batch_first
GRID = [(name, dict(mode_kw, num_layers=L, bidirectional=bi, batch_first=bf), packed)
        for (name, mode_kw), (L, bi, bf), packed in itertools.product(MODES, LAYOUTS, [False, True])]


@pytest.mark.parametrize("name,kw,packed", GRID, ids=[f"{n}-{kw}-{'packed' if p else 'padded'}"
                                                     for n, kw, p in GRID])
def test_layers_float64(name, kw, packed):
    theirs, ours = run_both(name, kw, packed)
    assert len(theirs) == len(ours)
    for a, b in zip(theirs, ours, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name,kw", [("LSTM", {"num_layers": 2, "bidirectional": True, "proj_size": 2}),
                                     ("GRU", {"num_layers": 2, "bidirectional": True}),
                                     ("RNN", {"num_layers": 2})])
def test_layers_float32_within_torch_error(name, kw):
    exact = run_both(name, kw, packed=True)[0]
    theirs, ours = run_both(name, kw, packed=True, dtype=torch.float32)
    for e, a, b in zip(exact, theirs, ours, strict=True):
        assert b.dtype == np.float32
        assert np.abs(b - e).max() <= 10 * np.abs(a - e).max() + 1e-6


@pytest.mark.parametrize("name,kw", MODES[::2] + MODES[-1:])
@pytest.mark.parametrize("unbatched,with_states", [(True, True), (True, False), (False, False)])
def test_unbatched_and_default_states(name, kw, unbatched, with_states):
    kw = dict(kw, num_layers=2, bidirectional=True, batch_first=with_states)  # (unbatched: batch_first no-op)
    theirs, ours = run_both(name, kw, False, unbatched=unbatched, with_states=with_states)
    for a, b in zip(theirs, ours, strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_no_bias_and_dropout_between_layers(name):
    for kw in ({"bias": False}, {"num_layers": 3, "dropout": 1.0}):  # dropout 1 zeroes: deterministic
        theirs, ours = run_both(name, kw, packed=False)
        for a, b in zip(theirs, ours, strict=True):
            np.testing.assert_allclose(b, a, rtol=0, atol=1e-10)


def test_dropout_is_off_in_eval():
    m = baby.nn.LSTM(I, H, 2, dropout=0.5).eval()
    x = baby.randn(T, B, I)
    assert np.array_equal(m(x)[0].numpy(), m(x)[0].numpy())


@pytest.mark.parametrize("name,kw", [("LSTM", {"num_layers": 2, "bidirectional": True, "proj_size": 2}),
                                     ("GRU", {"bias": False}), ("RNN", {"nonlinearity": "relu"})])
def test_parameters_names_shapes_init_repr(name, kw):
    ours, theirs = getattr(baby.nn, name)(I, H, **kw), getattr(torch.nn, name)(I, H, **kw)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert all(p.dtype == np.float32 and np.abs(p.numpy()).max() <= 1 / np.sqrt(H) for p in ours.parameters())
    assert repr(ours) == repr(theirs)
    assert [[tuple(p.shape) for p in ws] for ws in ours.all_weights] == \
        [[tuple(p.shape) for p in ws] for ws in theirs.all_weights]
    assert ours.flatten_parameters() is None


CELLS = [("RNNCell", {}, 1), ("RNNCell", {"nonlinearity": "relu"}, 1), ("RNNCell", {"bias": False}, 1),
         ("LSTMCell", {}, 2), ("LSTMCell", {"bias": False}, 2), ("GRUCell", {}, 1),
         ("GRUCell", {"bias": False}, 1)]


@pytest.mark.parametrize("name,kw,states", CELLS)
@pytest.mark.parametrize("batch", [(B,), ()])
@pytest.mark.parametrize("given", [True, False])
def test_cells(name, kw, states, batch, given):
    theirs = getattr(torch.nn, name)(I, H, **kw).double()
    ours = getattr(baby.nn, name)(I, H, **kw).double()
    ours.load_state_dict({k: baby.tensor(v.numpy().copy()) for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(batch + (I,))] + [rng.standard_normal(batch + (H,)) for _ in range(states)]
    results = []
    for lib, m in ((torch, theirs), (baby, ours)):
        ts = [lib.tensor(a, requires_grad=True) for a in arrays]
        hx = (tuple(ts[1:]) if states == 2 else ts[1]) if given else None
        out = m(ts[0], hx)
        outs = list(out) if states == 2 else [out]
        sum((o * (k + 1.5)).sum() for k, o in enumerate(outs)).backward()
        grads = [t.grad.numpy() for t in (ts if given else ts[:1])]
        results.append([o.detach().numpy() for o in outs] + grads + [p.grad.numpy() for p in m.parameters()])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-10)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("cls,proj,bias,reverse", [
    (op.LSTM, True, True, False), (op.LSTM, False, False, True), (op.GRU, False, True, True),
    (op.GRU, False, False, False), (op.RNNTanh, False, True, True), (op.RNNReLU, False, True, False)])
def test_fused_ops_finite_differences(cls, proj, bias, reverse):
    bs, Hs, P = [3, 2, 2, 1], 3, 2
    N, G, Ho = sum(bs), cls.gates * Hs, P if proj else Hs
    shapes = [(N, 2), (3, Ho)] + ([(3, Hs)] if cls.cell_state else []) + [(G, 2), (G, Ho)]
    shapes += [(G,), (G,)] if bias else []
    shapes += [(P, Hs)] if proj else []
    rng = np.random.default_rng(2)
    finite_difference(lambda *ts: cls(bs, reverse, bias, proj)(*ts), *[rng.uniform(-1, 1, s) for s in shapes])


def error_of(fn):
    with pytest.raises(Exception) as e:
        fn()
    return e.value


ERRORS = [  # (name, constructor kwargs, input shape, state shapes or None)
    ("LSTM", {"num_layers": 2}, (5, 3, 7), None),
    ("LSTM", {"num_layers": 2}, (5, 3, I), [(1, 3, H), (2, 3, H)]),
    ("LSTM", {"num_layers": 2}, (5, 3, I), [(2, 3, H), (2, 3, 2)]),
    ("LSTM", {"num_layers": 2}, (5, 3, I), [(2, H), (2, H)]),
    ("LSTM", {"num_layers": 2}, (3, I), [(2, 3, H), (2, 3, H)]),
    ("LSTM", {}, (3, I, 1, 1), None),
    ("GRU", {"num_layers": 2}, (5, 3, I), [(1, 3, H)]),
    ("GRU", {"num_layers": 2}, (5, 3, I), [(2, H)]),
    ("GRU", {"num_layers": 2}, (3, I), [(2, 3, H)]),
    ("RNN", {}, (3, I, 1, 1), None),
    ("RNN", {"batch_first": True}, (3, 5, I), [(1, 5, H)]),
]


@pytest.mark.parametrize("name,kw,x,states", ERRORS)
def test_layer_errors_as_pytorch(name, kw, x, states):
    found = []
    for lib in (torch, baby):
        m = getattr(lib.nn, name)(I, H, **kw)
        hx = None if states is None else [lib.zeros(*s) for s in states]
        hx = tuple(hx) if name == "LSTM" and hx else hx[0] if hx else None
        found.append(error_of(lambda lib=lib, m=m, hx=hx: m(lib.zeros(*x), hx)))
    assert type(found[1]) is type(found[0])
    assert str(found[1]) == str(found[0])


CELL_ERRORS = [("LSTMCell", (3, 7), None), ("LSTMCell", (3, I), [(3, 7), (3, H)]),
               ("LSTMCell", (3, I), [(3, H), (3, 7)]), ("LSTMCell", (3, I), [(2, H), (3, H)]),
               ("LSTMCell", (3, I, 1), None), ("GRUCell", (3, 7), None), ("GRUCell", (3, I), [(3, 7)]),
               ("GRUCell", (3, I), [(2, H)]), ("GRUCell", (3, I, 1), None), ("RNNCell", (3, I), [(3, 7)])]


@pytest.mark.parametrize("name,x,states", CELL_ERRORS)
def test_cell_errors_as_pytorch(name, x, states):
    found = []
    for lib in (torch, baby):
        m = getattr(lib.nn, name)(I, H)
        hx = None if states is None else [lib.zeros(*s) for s in states]
        hx = tuple(hx) if name == "LSTMCell" and hx else hx[0] if hx else None
        found.append(error_of(lambda lib=lib, m=m, hx=hx: m(lib.zeros(*x), hx)))
    assert type(found[1]) is type(found[0])
    assert str(found[1]) == str(found[0])


@pytest.mark.parametrize("name,kw", [("RNN", {"nonlinearity": "sigmoid"}), ("GRU", {"proj_size": 2}),
                                     ("LSTM", {"proj_size": H}), ("LSTM", {"proj_size": -1}),
                                     ("LSTM", {"dropout": 2}), ("LSTM", {"num_layers": 0})])
def test_constructor_errors_as_pytorch(name, kw):
    theirs = error_of(lambda: getattr(torch.nn, name)(I, H, **kw))
    ours = error_of(lambda: getattr(baby.nn, name)(I, H, **kw))
    assert type(ours) is type(theirs)
    assert str(ours) == str(theirs)


def test_dtype_mismatch_and_dropout_warning():
    with pytest.raises(ValueError, match="input dtype .*float32.* does not match weight dtype .*float64"):
        baby.nn.LSTM(I, H).double()(baby.zeros(T, B, I))
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        baby.nn.GRU(I, H, dropout=0.5)


def test_pytorch_pth_state_dict_loads_as_is(tmp_path):
    theirs = torch.nn.LSTM(I, H, 2, bidirectional=True, proj_size=2)
    torch.save(theirs.state_dict(), tmp_path / "lstm.pth")
    ours = baby.nn.LSTM(I, H, 2, bidirectional=True, proj_size=2)
    ours.load_state_dict(baby.load(tmp_path / "lstm.pth"))
    x = np.random.default_rng(3).standard_normal((T, B, I)).astype(np.float32)
    out, (h, c) = ours(baby.tensor(x))
    t_out, (t_h, t_c) = theirs(torch.tensor(x))
    for a, b in ((out, t_out), (h, t_h), (c, t_c)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
