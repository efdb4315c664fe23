"""nn.RNN, nn.LSTM, nn.GRU: stacks of recurrent layers over padded or packed batches, PyTorch's parameter
names (weight_ih_l0, weight_hh_l0_reverse, weight_hr_l1, ...), init and errors."""

import math
import numbers
import warnings

from ... import init
from ..module import Module, Parameter
from ..utils.rnn import PackedSequence
from .functional import run

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the weights per layer and direction, the input and state checks, the
    packed / batch_first / unbatched layouts; the steps themselves are op.py's fused ops."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        for name, v in [("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers),
                        ("proj_size", proj_size)]:
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"{name} should be of type int, got: {type(v).__name__}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero "
                          f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", UserWarning, stacklevel=3)
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers = num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        D, G, Ho = 1 + bool(bidirectional), GATES[mode] * hidden_size, proj_size or hidden_size
        self._flat_weights_names, self._all_weights = [], []
        for layer in range(num_layers):
            for d in range(D):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                shapes = [("weight_ih", (G, input_size if layer == 0 else Ho * D)), ("weight_hh", (G, Ho))]
                shapes += [("bias_ih", (G,)), ("bias_hh", (G,))] if bias else []
                shapes += [("weight_hr", (proj_size, hidden_size))] if proj_size else []
                names = [n + suffix for n, _ in shapes]
                for n, (_, shape) in zip(names, shapes, strict=True):
                    self.register_parameter(n, Parameter(init.zeros(shape, dtype=dtype, device=device)))
                self._flat_weights_names += names
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        """Draw every weight from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        k = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    def flatten_parameters(self):
        """A no-op: baby's weights need no flat cuDNN buffer."""

    @property
    def all_weights(self):
        """The parameters per layer and direction: [[w_ih, w_hh, b_ih, b_hh, (w_hr)], ...]."""
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    def _input(self, input):
        """input as (x (N, I) flat, batch_sizes, B, sorted, unsorted, unbatched, T) with PyTorch's checks."""
        if isinstance(input, PackedSequence):
            x, bs, srt, uns = input
            return x, bs._data.tolist(), int(bs._data[0]), srt, uns, False, None
        if input.ndim not in (2, 3):
            kind = " tensor" if self.mode.startswith("RNN") else ""
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got {input.ndim}D{kind} "
                             "instead")
        unbatched = input.ndim == 2
        x = input.unsqueeze(0 if self.batch_first else 1) if unbatched else input  # (T, 1, I) or (1, T, I)
        x = x.transpose(0, 1) if self.batch_first else x  # (T, B, I)
        T, B = x.shape[0], x.shape[1]
        return x.reshape(T * B, x.shape[2]), [B] * T, B, None, None, unbatched, T  # (T * B, I)

    def _state(self, hx, k, B, size, unbatched, srt):
        """hx (L*D, B, size) checked against PyTorch's expectations; zeros when None."""
        L = self.num_layers * (1 + self.bidirectional)
        w = self.weight_ih_l0
        if hx is None:
            return w.new_zeros((L, B, size))
        if unbatched:
            hx = hx.unsqueeze(1)  # (L*D, 1, size)
        want = (L, B, size)
        if tuple(hx.shape) != want:
            name = "hidden size" if k is None else f"hidden[{k}] size"
            raise RuntimeError(f"Expected {name} {want}, got {list(hx.shape)}")
        if hx.dtype != w.dtype:
            raise ValueError(f"{type(self).__name__} hx dtype ({hx.dtype}) does not match weight dtype "
                             f"({w.dtype})")
        return hx if srt is None else hx.index_select(1, srt)

    def _check_dims(self, input, states, unbatched):
        """PyTorch's errors for states whose number of dims does not match the input's."""
        want = 2 if unbatched else 3
        got = [s.ndim for s in states if s is not None]
        if any(n != want for n in got):
            kind = "unbatched 2-D" if unbatched else "batched 3-D"
            if len(states) == 2:
                dims = ", ".join(f"{n}-D" for n in got)
                raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got ({dims}) "
                                   "tensors")
            raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got {got[0]}-D tensor")

    def forward(self, input, hx=None):
        x, bs, B, srt, uns, unbatched, T = self._input(input)
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                               f"{x.shape[-1]}")
        if x.dtype != self.weight_ih_l0.dtype:
            raise ValueError(f"RNN input dtype ({x.dtype}) does not match weight dtype "
                             f"({self.weight_ih_l0.dtype}). Convert input: input.to(weight dtype), or "
                             "convert model: model.to(input dtype)")
        lstm, Ho = self.mode == "LSTM", self.proj_size or self.hidden_size
        states = ([None, None] if hx is None else list(hx)) if lstm else [hx]
        self._check_dims(input, states, unbatched)
        h0 = self._state(states[0], 0 if lstm else None, B, Ho, unbatched, srt)
        c0 = self._state(states[1], 1, B, self.hidden_size, unbatched, srt) if lstm else None
        out, h, c = run(self.mode, x, bs, h0, c0, self.all_weights, self.num_layers, self.bidirectional,
                        self.dropout, self.training, self.bias, bool(self.proj_size))
        if uns is not None:
            h, c = h.index_select(1, uns), c.index_select(1, uns) if lstm else None
        if isinstance(input, PackedSequence):
            out = PackedSequence(out, input.batch_sizes, srt, uns)
        else:
            out = out.reshape(T, B, out.shape[1])  # (T, B, D*Ho)
            out = out.transpose(0, 1) if self.batch_first else out  # (B, T, D*Ho)
            if unbatched:
                out, h = out.squeeze(0 if self.batch_first else 1), h.squeeze(1)
                c = c.squeeze(1) if lstm else None
        return (out, (h, c)) if lstm else (out, h)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        s += f", proj_size={self.proj_size}" if self.proj_size else ""
        s += f", num_layers={self.num_layers}" if self.num_layers != 1 else ""
        s += f", bias={self.bias}" if self.bias is not True else ""
        s += f", batch_first={self.batch_first}" if self.batch_first is not False else ""
        s += f", dropout={self.dropout}" if self.dropout else ""
        return s + (f", bidirectional={self.bidirectional}" if self.bidirectional is not False else "")


class RNN(RNNBase):
    """Elman RNN layers: h_t = tanh or relu(x_t w_ih^T + b_ih + h_{t-1} w_hh^T + b_hh)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None, proj_size=0):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(f"RNN_{nonlinearity.upper()}", input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, proj_size, device, dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """LSTM layers (cells.lstm_cell at each step); returns output, (h_n, c_n); proj_size > 0 projects h."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """GRU layers (cells.gru_cell at each step); returns output, h_n."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, proj_size=0):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)
