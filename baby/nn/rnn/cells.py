"""One time step of each recurrent cell, written as its equations with tensor ops, and the modules RNNCell,
LSTMCell, GRUCell. The fused layer ops (op.py) compute the same steps on arrays, all steps at once."""

import math

from ... import init
from .. import functional as F
from ..module import Module, Parameter


def rnn_tanh_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = tanh(x w_ih^T + b_ih + h w_hh^T + b_hh); x (B, I), h (B, H) -> (B, H)."""
    return (F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)).tanh()


def rnn_relu_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = relu(x w_ih^T + b_ih + h w_hh^T + b_hh); x (B, I), h (B, H) -> (B, H)."""
    return (F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)).relu()


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None):
    """One LSTM step; x (B, I), h (B, P or H), c (B, H) -> h', c'.

        i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of (x w_ih^T + b_ih + h w_hh^T + b_hh)  (4 x (B, H))
        c' = f * c + i * g
        h' = o * tanh(c')          (times w_hr^T with a projection: (B, P))
    """
    a = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)  # (B, 4H)
    i, f, g, o = a.chunk(4, dim=1)  # 4 x (B, H)
    i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
    c = f * c + i * g
    h = o * c.tanh()
    return (h if w_hr is None else F.linear(h, w_hr)), c


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step; x (B, I), h (B, H) -> h'.

        r, z, n_x = (x w_ih^T + b_ih) split in three;  r_h, z_h, n_h = (h w_hh^T + b_hh) split in three
        r = sigmoid(r_x + r_h);  z = sigmoid(z_x + z_h);  n = tanh(n_x + r * n_h)
        h' = (1 - z) * n + z * h
    """
    rx, zx, nx = F.linear(x, w_ih, b_ih).chunk(3, dim=1)  # 3 x (B, H)
    rh, zh, nh = F.linear(h, w_hh, b_hh).chunk(3, dim=1)  # 3 x (B, H)
    r, z = (rx + rh).sigmoid(), (zx + zh).sigmoid()
    n = (nx + r * nh).tanh()
    return (1 - z) * n + z * h


class RNNCellBase(Module):
    """The weights of a cell: weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H,), all drawn
    from U(-1/sqrt(H), 1/sqrt(H)) as PyTorch."""

    gates, name = 1, "RNNCell"

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        k = 1 / math.sqrt(hidden_size) if hidden_size else 0
        G = self.gates * hidden_size
        for name, shape in [("weight_ih", (G, input_size)), ("weight_hh", (G, hidden_size)),
                            ("bias_ih", (G,)), ("bias_hh", (G,))]:
            p = Parameter(init.uniform(shape, -k, k, dtype=dtype, device=device)) \
                if bias or name.startswith("weight") else None
            self.register_parameter(name, p)

    def reset_parameters(self):
        """Draw every weight again from U(-1/sqrt(H), 1/sqrt(H))."""
        k = 1 / math.sqrt(self.hidden_size) if self.hidden_size else 0
        for p in self.parameters():
            init.uniform_(p, -k, k)

    def _check(self, x, states):
        """x as (B, I) and each state as (B, H), with PyTorch's errors; also whether x was unbatched."""
        if x.ndim not in (1, 2):
            raise ValueError(f"{self.name}: Expected input to be 1D or 2D, got {x.ndim}D instead")
        if x.dtype != self.weight_ih.dtype:
            raise ValueError(f"{self.name} input dtype ({x.dtype}) does not match weight dtype "
                             f"({self.weight_ih.dtype})")
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {x.shape[-1]} expected "
                               f"{self.input_size}")
        unbatched = x.ndim == 1
        x = x.unsqueeze(0) if unbatched else x  # (1, I)
        out = []
        for k, s in enumerate(states):
            if s is None:
                s = x.new_zeros((x.shape[0], self.hidden_size))
            elif s.ndim != 2 - unbatched:
                raise RuntimeError(f"{self.name}: Expected hidden{k} to be {2 - unbatched}D for "
                                   f"{2 - unbatched}D input, got {s.ndim}D")
            else:
                s = s.unsqueeze(0) if unbatched else s  # (1, H)
                if s.shape[0] != x.shape[0]:
                    raise RuntimeError(f"Input batch size {x.shape[0]} doesn't match hidden{k} batch size "
                                       f"{s.shape[0]}")
                if s.shape[1] != self.hidden_size:
                    raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {s.shape[1]}, expected "
                                       f"{self.hidden_size}")
            out.append(s)
        return x, out, unbatched

    def _weights(self):
        return (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        s += "" if self.bias else ", bias=False"
        nl = getattr(self, "nonlinearity", "tanh")
        return s + ("" if nl == "tanh" else f", nonlinearity={nl}")


class RNNCell(RNNCellBase):
    """An Elman cell: h' = tanh or relu(x w_ih^T + b_ih + h w_hh^T + b_hh)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        x, (h,), unbatched = self._check(input, [hx])
        cell = rnn_tanh_cell if self.nonlinearity == "tanh" else rnn_relu_cell
        h = cell(x, h, *self._weights())
        return h.squeeze(0) if unbatched else h


class LSTMCell(RNNCellBase):
    """One LSTM step (lstm_cell): input (B, I), (h, c) (B, H) each -> (h', c')."""

    gates, name = 4, "LSTMCell"

    def forward(self, input, hx=None):
        x, (h, c), unbatched = self._check(input, [None, None] if hx is None else list(hx))
        h, c = lstm_cell(x, h, c, *self._weights())
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One GRU step (gru_cell): input (B, I), h (B, H) -> h'."""

    gates, name = 3, "GRUCell"

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._check(input, [hx])
        h = gru_cell(x, h, *self._weights())
        return h.squeeze(0) if unbatched else h
