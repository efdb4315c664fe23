"""The fused recurrent ops (nn.RNN / LSTM / GRU, one layer and direction each) as ONNX RNN / LSTM / GRU nodes,
and the runners that let baby.onnx.load run those nodes with the same fused ops.

A fused op returns one flat array (output, h_n[, c_n]) that the layer slices; the node's outputs Y
(T, 1, B, H), Y_h (1, B, H), Y_c flattened take the place of those slices. Gate order: PyTorch's LSTM
i, f, g, o is ONNX's i, o, f, c; its GRU r, z, n is ONNX's z, r, h (with linear_before_reset=1, as PyTorch's
n gate multiplies r by h w_hn^T + b_hn).
"""

import numpy as np

from .. import ops
from ..nn.rnn.op import GRU, LSTM, OPS, Recurrence, RNNReLU, RNNTanh
from ..ops import shape as S
from .convert import CONVERTERS, converts
from .graph import OnnxExporterError, _key

NODES = {RNNTanh: ("RNN", ["Tanh"]), RNNReLU: ("RNN", ["Relu"]), LSTM: ("LSTM", None), GRU: ("GRU", None)}
ORDER = {"RNN": [0], "LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2]}  # ONNX gate k is PyTorch's gate ORDER[k]
MODES = {("RNN", "Tanh"): "RNN_TANH", ("RNN", "Relu"): "RNN_RELU", ("LSTM", None): "LSTM",
         ("GRU", None): "GRU"}


def _gates(a, order):
    """The gate blocks of `a` (gates * H, ...) in `order`."""
    parts = np.split(a, len(order))
    return np.concatenate([parts[i] for i in order])


def _init(g, a, like, suffix):
    """An initializer of array `a`, named after the parameter `like` is (if any) and `suffix`."""
    base = g.params.get(_key(like._data))
    return g.const(a, name=f"{base}.onnx_{suffix}" if base else None)


def _state(g, t):
    """An initial state (B, H) as (1, B, H), or "" (ONNX's zeros) for a constant zero state."""
    if not g.traced(t):
        if not t._data.any():
            return ""
        return g.const(t._data[None])  # (1, B, H)
    return g.add("Reshape", [g.value(t), g.ints([1, -1, t.shape[1]])])  # (1, B, H)


@converts(Recurrence)
def recurrence(g, r, r2):
    """One ONNX RNN / LSTM / GRU node over the (T, B, I) sequence; returns the name of its Y."""
    op = r.op
    if type(op) not in NODES:
        raise OnnxExporterError(f"{type(op).__name__} has no ONNX recurrent node")
    if op.proj:
        raise OnnxExporterError("LSTM with proj_size > 0 has no ONNX conversion (ONNX's LSTM has no "
                                "projection)")
    if len(set(op.bs)) > 1 or (r2 is not None and len(set(r2.op.bs)) > 1):
        raise OnnxExporterError("a packed sequence (sequences of different lengths) has no ONNX conversion; "
                                "export the padded batch")
    x, h0, c0, w_ih, w_hh, b_ih, b_hh, _ = op._unpack(list(r.inputs))
    if any(g.traced(w) for w in (w_ih, w_hh, b_ih, b_hh) if w is not None):
        raise OnnxExporterError("recurrent weights computed from the inputs have no ONNX conversion")
    kind, acts = NODES[type(op)]
    order, T, B, H = ORDER[kind], len(op.bs), op.bs[0], w_hh.shape[0] // len(ORDER[kind])
    if r2 is None or len(r2.op.bs) == T:
        shape = [T, -1, x.shape[1]]  # (T, B, I) with B as it comes
    elif r2.op.bs[0] == B:
        shape = [-1, B, x.shape[1]]  # (T, B, I) with T as it comes
    else:
        raise OnnxExporterError("a recurrent layer whose batch and sequence length are both dynamic has no "
                                "ONNX conversion here; make only one of them dynamic")
    xs = g.add("Reshape", [g.value(x), g.ints(shape)])
    ins = [xs, _init(g, _gates(w_ih._data, order)[None], w_ih, "W"),  # (1, G, I)
           _init(g, _gates(w_hh._data, order)[None], w_hh, "R")]  # (1, G, H)
    b = None if b_ih is None else np.concatenate([_gates(b_ih._data, order), _gates(b_hh._data, order)])
    bias = "" if b is None else _init(g, b[None], b_ih, "B")  # (1, 2G)
    ins += [bias, "", _state(g, h0)] + ([_state(g, c0)] if c0 is not None else [])
    while ins[-1] == "":
        ins.pop()
    attrs = {"hidden_size": H, "direction": "reverse" if op.order.step < 0 else "forward"}
    if acts:
        attrs["activations"] = acts
    if kind == "GRU":
        attrs["linear_before_reset"] = 1
    return g.add(kind, ins, outputs=3 if kind == "LSTM" else 2, **attrs)[0]  # Y; the getitems find the rest


_getitem = CONVERTERS[S.GetItem]


@converts(S.GetItem)
def getitem(g, r, r2):
    """A slice of a fused recurrent op's flat result: the Y, Y_h or Y_c of its node, flattened."""
    src = g.made.get(id(r.inputs[0]))
    if src is None or not isinstance(src[0].op, Recurrence):
        return _getitem(g, r, r2)
    y = g.names[id(r.inputs[0])]
    node = next(n for n in g.nodes if n.outputs[0] == y)
    n, ho = src[0].inputs[0].shape[0], src[0].inputs[1].shape[1]
    B = src[0].inputs[1].shape[0]
    start = r.attrs["index"].start or 0
    part = {0: 0, n * ho: 1, (n + B) * ho: 2}[start]
    return g.add("Reshape", [node.outputs[part], g.ints([-1])])


def _split(w, order, H):
    """ONNX gate blocks of `w` (gates * H, ...) back in PyTorch's order."""
    back = np.argsort(order)
    return ops.cat([w[int(i) * H:(int(i) + 1) * H] for i in back], 0) if len(order) > 1 else w


def _runner(kind):
    """The load runner of the ONNX node `kind`: each direction one fused baby op."""
    def run(X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None, *, hidden_size,
            direction="forward", activations=None, linear_before_reset=0, layout=0, clip=None,
            input_forget=0, activation_alpha=None, activation_beta=None):
        act = None if kind != "RNN" else (activations or ["Tanh"])[0]
        act = act.decode() if isinstance(act, bytes) else act  # a list of strings arrives as bytes
        if sequence_lens is not None or P is not None or layout or clip is not None or input_forget or \
                (kind == "GRU" and not linear_before_reset) or (kind != "RNN" and activations) or \
                act not in (None, "Tanh", "Relu"):
            raise OnnxExporterError(f"baby.onnx.load: this {kind} node (sequence_lens, peepholes, layout, "
                                    "clip or other activations) is not one baby runs")
        T, N, H, order = X.shape[0], X.shape[1], hidden_size, ORDER[kind]
        D = 2 if direction == "bidirectional" else 1
        x = X.reshape(T * N, X.shape[2])  # (T * B, I)
        ys, hs, cs = [], [], []
        for d in range(D):
            h0 = initial_h[d] if initial_h is not None else X.new_zeros((N, H))
            states = [h0]
            if kind == "LSTM":
                states.append(initial_c[d] if initial_c is not None else X.new_zeros((N, H)))
            G = len(order) * H
            b = [] if B is None else [_split(B[d][:G], order, H), _split(B[d][G:], order, H)]
            op = OPS[MODES[kind, act]]([N] * T, reverse=direction == "reverse" or d == 1, bias=B is not None)
            flat = op(x, *states, _split(W[d], order, H), _split(R[d], order, H), *b)
            ys.append(flat[:T * N * H].reshape(T, 1, N, H))  # (T, 1, B, H)
            hs.append(flat[T * N * H:(T + 1) * N * H].reshape(1, N, H))  # (1, B, H)
            cs.append(flat[(T + 1) * N * H:].reshape(1, N, H) if kind == "LSTM" else None)
        out = (ops.cat(ys, 1), ops.cat(hs, 0))
        return out + (ops.cat(cs, 0),) if kind == "LSTM" else out
    run.__name__ = kind.lower()
    run.__doc__ = f"The ONNX {kind} node with baby's fused recurrent op per direction."
    return run


RUNNERS = {kind: _runner(kind) for kind in ORDER}
