"""Recurrent layers: cells.py (one step of each cell, as equations), op.py (one layer and direction over all
steps, fused, with its backward through time), functional.py (stacking), layers.py (RNN, LSTM, GRU)."""

from .cells import GRUCell, LSTMCell, RNNCell, RNNCellBase, gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell
from .layers import GRU, LSTM, RNN, RNNBase

__all__ = ["GRU", "LSTM", "RNN", "RNNBase", "GRUCell", "LSTMCell", "RNNCell", "RNNCellBase", "gru_cell",
           "lstm_cell", "rnn_relu_cell", "rnn_tanh_cell"]
