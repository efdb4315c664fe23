"""baby.onnx exports nn.RNN / LSTM / GRU (eval) as ONNX RNN / LSTM / GRU nodes: onnx.checker passes, ONNX
Runtime's output and final states equal baby's at the export batch and another, and baby.onnx.load runs
them."""

import io

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import baby
from baby import nn
from baby.onnx import OnnxExporterError, export, load

ATOL = 1e-5
I, H, T, B = 3, 4, 5, 2


class Wrap(nn.Module):
    """A recurrent layer returning (output, h_n[, c_n]), with the initial states as inputs when `states`."""

    def __init__(self, rnn, states):
        super().__init__()
        self.rnn, self.states = rnn, states

    def forward(self, x, *hc):
        lstm = isinstance(self.rnn, nn.LSTM)
        out, h = self.rnn(x, (tuple(hc) if lstm else hc[0]) if hc else None)
        return (out, *h) if lstm else (out, h)


def _run(cls, layers, bidir, batch_first, states, dynamic, **kw):
    """Export, check and compare with ORT and baby.onnx.load; the largest difference."""
    rnn = cls(I, H, num_layers=layers, bidirectional=bidir, batch_first=batch_first, **kw)
    lstm = cls is nn.LSTM
    model = Wrap(rnn, states).eval()
    rng = np.random.default_rng(0)
    L = layers * (1 + bidir)

    def inputs(b):
        x = rng.standard_normal((b, T, I) if batch_first else (T, b, I)).astype(np.float32)
        hc = [rng.standard_normal((L, b, H)).astype(np.float32) for _ in range(1 + lstm)] if states else []
        return [x, *hc]

    xs = inputs(B)
    names = [f"x{i}" for i in range(len(xs))]
    outs = ["y", "h", "c"][:2 + lstm]
    axes = None
    if dynamic:
        axes = {n: {0 if batch_first and n == "x0" else 1: "batch"} for n in names}
        axes |= {o: {0 if batch_first and o == "y" else 1: "batch"} for o in outs}
    f = io.BytesIO()
    proto = export(model, tuple(baby.tensor(x) for x in xs), f, input_names=names, output_names=outs,
                   dynamic_axes=axes).model_proto
    onnx.checker.check_model(proto, full_check=True)
    ops = {n.op_type for n in proto.graph.node}
    assert ops & {"RNN", "LSTM", "GRU"} == {"LSTM" if lstm else "GRU" if cls is nn.GRU else "RNN"}
    session = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    program = load(io.BytesIO(f.getvalue()))
    worst = 0.0
    for b in ([B, B + 3] if dynamic else [B]):
        xs = inputs(b)
        with baby.no_grad():
            want = [t.numpy() for t in model(*(baby.tensor(x) for x in xs))]
        got = session.run(None, dict(zip(names, xs, strict=True)))
        back = program(*(baby.tensor(x) for x in xs))
        for w, o, p in zip(want, got, back, strict=True):
            assert o.shape == w.shape
            np.testing.assert_allclose(o, w, atol=ATOL, rtol=1e-5)
            np.testing.assert_allclose(p.numpy(), w, atol=ATOL, rtol=1e-5)
            worst = max(worst, float(np.abs(o - w).max()))
    return worst


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidir", [False, True])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_recurrent_exports(cls, layers, bidir, batch_first):
    assert _run(cls, layers, bidir, batch_first, states=False, dynamic=True) < ATOL


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
@pytest.mark.parametrize("bidir", [False, True])
def test_recurrent_exports_with_states(cls, bidir):
    assert _run(cls, 2, bidir, False, states=True, dynamic=True) < ATOL


@pytest.mark.parametrize("kw", [{"nonlinearity": "relu"}, {"bias": False}])
def test_rnn_variants(kw):
    assert _run(nn.RNN, 1, True, True, states=False, dynamic=False, **kw) < ATOL


def test_proj_size_and_packed_are_clear_errors():
    with pytest.raises(OnnxExporterError, match="proj_size"):
        export(Wrap(nn.LSTM(I, H, proj_size=2), False).eval(), (baby.randn(T, B, I),), io.BytesIO())

    class Packed(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(I, H)

        def forward(self, x):
            p = nn.utils.rnn.pack_padded_sequence(x, [T, T - 2], enforce_sorted=True)
            return self.rnn(p)[1]

    with pytest.raises(OnnxExporterError, match="packed sequence"):
        export(Packed().eval(), (baby.randn(T, B, I),), io.BytesIO())


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_dynamic_sequence_length(cls):
    model = Wrap(cls(I, H, num_layers=2, bidirectional=True, batch_first=True), False).eval()
    f = io.BytesIO()
    outs = ["y", "h", "c"][:2 + (cls is nn.LSTM)]
    export(model, (baby.randn(B, T, I),), f, input_names=["x"], output_names=outs,
           dynamic_axes={"x": {1: "time"}, "y": {1: "time"}})
    session = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).standard_normal((B, T + 4, I)).astype(np.float32)
    with baby.no_grad():
        want = [t.numpy() for t in model(baby.tensor(x))]
    back = load(io.BytesIO(f.getvalue()))(baby.tensor(x))
    for w, o, p in zip(want, session.run(None, {"x": x}), back, strict=True):
        np.testing.assert_allclose(o, w, atol=ATOL, rtol=1e-5)
        np.testing.assert_allclose(p.numpy(), w, atol=ATOL, rtol=1e-5)


def test_int_index_drops_the_axis():
    """h[k] (how a layer picks its initial state) is a Gather with a 0-d index: ONNX drops the axis too."""
    f = io.BytesIO()
    export(lambda h: h[1] * 2, (baby.randn(3, B, H),), f, input_names=["h"])
    h = np.random.default_rng(2).standard_normal((3, B, H)).astype(np.float32)
    y = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"]).run(None, {"h": h})[0]
    np.testing.assert_allclose(y, h[1] * 2)
