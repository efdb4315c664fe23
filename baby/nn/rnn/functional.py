"""A stack of recurrent layers over a flat (packed or padded) sequence: each layer and direction one fused
op (op.py), the directions' outputs side by side, dropout between layers."""

from ... import ops
from .. import functional as F
from .op import OPS


def run(mode, x, batch_sizes, hx, cx, weights, num_layers, bidirectional, dropout, training, bias, proj):
    """x (N, I) flat, steps of batch_sizes[t] rows; hx (L*D, B, Ho), cx (L*D, B, H) or None; weights one
    tuple (w_ih, w_hh[, b_ih, b_hh][, w_hr]) per layer and direction -> out (N, D*Ho), h_n, c_n or None."""
    D = 2 if bidirectional else 1
    B, Ho = hx.shape[1], hx.shape[2]
    hs, cs = [], []
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            k = layer * D + d
            op = OPS[mode](batch_sizes, reverse=d == 1, bias=bias, proj=proj)
            states = [hx[k]] if cx is None else [hx[k], cx[k]]
            flat = op(x, *states, *weights[k])
            N = x.shape[0]
            outs.append(flat[:N * Ho].reshape(N, Ho))  # (N, Ho)
            hs.append(flat[N * Ho:(N + B) * Ho].reshape(B, Ho))  # (B, Ho)
            if cx is not None:
                cs.append(flat[(N + B) * Ho:].reshape(B, cx.shape[2]))  # (B, H)
        x = outs[0] if D == 1 else ops.cat(outs, dim=1)  # (N, D*Ho)
        if dropout and training and layer < num_layers - 1:
            x = F.dropout(x, dropout, True)
    return x, ops.stack(hs), ops.stack(cs) if cx is not None else None
