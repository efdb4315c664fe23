"""Derivative rules of the fused recurrent ops (baby/nn/rnn/op.py): the layer recomputed from its inputs
step by step with the cells' equations written in baby's ops (baby/nn/rnn/cells.py) and differentiated
through that composition (`higher.through`), so RNN, LSTM and GRU are differentiable to any order while
the fused array backward stays the first-order path."""

from ...nn.rnn import cells
from ...nn.rnn import op as R
from ...ops import join as J
from ..higher import derivative, through

CELLS = {R.RNNTanh: cells.rnn_tanh_cell, R.RNNReLU: cells.rnn_relu_cell, R.GRU: cells.gru_cell}


def _steps(op, inputs):
    """The op's flat result (output (N, Ho), h_n (B, Ho), c_n (B, H) for the LSTM, flattened and joined)
    computed one step at a time from the Tensors `inputs`."""
    x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr = op._unpack(inputs)
    B, ys = h.shape[0], {}
    for t in op.order:
        n = op.bs[t]
        xt = x[op.off[t]:op.off[t] + n]  # (n, I): the rows still running at step t
        if op.cell_state:
            hn, cn = cells.lstm_cell(xt, h[:n], c[:n], w_ih, w_hh, b_ih, b_hh, w_hr)
            c = cn if n == B else J.cat([cn, c[n:]], 0)  # (B, H): finished rows keep their state
        else:
            hn = CELLS[type(op)](xt, h[:n], w_ih, w_hh, b_ih, b_hh)
        h = hn if n == B else J.cat([hn, h[n:]], 0)  # (B, Ho)
        ys[t] = hn
    y = J.cat([ys[t] for t in range(len(op.bs))], 0)  # (N, Ho): the rows in packed order
    parts = [y.reshape(-1), h.reshape(-1)] + ([c.reshape(-1)] if op.cell_state else [])
    return J.cat(parts, 0)  # (N * Ho + B * Ho [+ B * H],)


@derivative(R.RNNTanh, R.RNNReLU, R.LSTM, R.GRU)
def _recurrence(op, gy, node):
    return through(_steps(op, node.inputs), node.inputs, gy)
