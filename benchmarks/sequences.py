"""Training throughput of sequence models: baby against the same models in PyTorch, in one process.

Rows (one step = forward, loss, backward, SGD; tokens/s = seq * batch / median step time):
  lstm-lm     word_language_model's shape: Embedding(V, 256) -> LSTM(256, 256, 2 layers) -> Linear(256, V),
              seq 35, batch 20, V = 10000 (PTB's vocabulary), cross-entropy over every token
  lstm        the 2-layer LSTM alone on (35, 20, 256) inputs, loss = sum of outputs * a fixed random array
  lstm-cells  baby only: the same LSTM run as LSTMCell steps composed of tensor ops (what the fused op saves)
  transformer a 2-layer nn.TransformerEncoder (d_model 128, 4 heads, feed-forward 512, no dropout) with a
              causal mask on (32, 64, 128) inputs (batch_first), loss = sum of outputs * a fixed array
Steps alternate between the libraries, each timed right after untimed ones of the same library
(`common.timed`); medians are reported. ratio = baby tokens/s / torch tokens/s (target >= 0.8).

    python benchmarks/sequences.py [--steps 5] [--rows lstm-lm,lstm,lstm-cells,transformer] [--threads N]

--threads sets both libraries' thread counts (default: each library's own, 2 on the 2-core machine); on a
machine loaded by other work, 1 each keeps PyTorch's OpenMP threads from waiting on descheduled peers.
"""

import argparse
import statistics

import numpy as np
import torch
from common import keep_freed_memory, timed

import baby

T, B, E, H, V = 35, 20, 256, 256, 10000
TT, TB, D, HEADS = 64, 32, 128, 4  # the transformer row: seq, batch, d_model, heads


def lstm_lm(lib):
    """word_language_model's RNNModel (LSTM, no dropout): embedding, 2-layer LSTM, decoder."""
    nn = lib.nn

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder, self.rnn, self.decoder = nn.Embedding(V, E), nn.LSTM(E, H, 2), nn.Linear(H, V)

        def forward(self, x, hidden):
            out, hidden = self.rnn(self.encoder(x), hidden)  # (T, B, H)
            return self.decoder(out).view(-1, V), hidden  # (T * B, V)

    return Model()


def copy_weights(ours, theirs):
    """Load the PyTorch model's weights into baby's (the same state-dict keys)."""
    ours.load_state_dict({k: baby.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()})


def lm_steps(rng):
    """One training step of the language model for each library."""
    torch.manual_seed(0)
    theirs, ours = lstm_lm(torch), lstm_lm(baby)
    copy_weights(ours, theirs)
    x, y = rng.integers(0, V, (T, B)), rng.integers(0, V, T * B)
    steps = []
    for lib, m, xs, ys in ((baby, ours, baby.tensor(x), baby.tensor(y)), (torch, theirs, torch.tensor(x),
                                                                          torch.tensor(y))):
        opt, loss_fn = lib.optim.SGD(m.parameters(), lr=0.1), lib.nn.CrossEntropyLoss()
        hidden = [lib.zeros(2, B, H), lib.zeros(2, B, H)]

        def step(lib=lib, m=m, xs=xs, ys=ys, opt=opt, loss_fn=loss_fn, hidden=hidden):
            out, h = m(xs, tuple(hidden))
            hidden[:] = [s.detach() for s in h]  # truncated BPTT, as word_language_model's repackage_hidden
            loss = loss_fn(out, ys)
            opt.zero_grad()
            loss.backward()
            opt.step()

        steps.append(step)
    return steps


def lstm_steps(rng, cells=False):
    """One step of the 2-layer LSTM alone, for each library (or baby's composed of LSTMCell steps)."""
    torch.manual_seed(0)
    theirs, ours = torch.nn.LSTM(E, H, 2), baby.nn.LSTM(E, H, 2)
    copy_weights(ours, theirs)
    x, w = rng.standard_normal((T, B, E), dtype=np.float32), rng.standard_normal((T, B, H), dtype=np.float32)
    steps = []
    for lib, m in ((baby, ours), (torch, theirs)):
        opt, xs, ws = lib.optim.SGD(m.parameters(), lr=0.01), lib.tensor(x), lib.tensor(w)

        def step(m=m, opt=opt, xs=xs, ws=ws):
            out = composed(m, xs) if cells else m(xs)[0]
            loss = (out * ws).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()

        steps.append(step)
    return steps[:1] if cells else steps


def composed(m, x):
    """baby's LSTM m run step by step through cells.lstm_cell (the tensor-op equations)."""
    from baby.nn.rnn import lstm_cell

    for layer in range(m.num_layers):
        w = m.all_weights[layer]
        h = c = x.new_zeros((x.shape[1], m.hidden_size))
        outs = []
        for t in range(x.shape[0]):
            h, c = lstm_cell(x[t], h, c, *w)
            outs.append(h)
        x = baby.stack(outs)  # (T, B, H)
    return x


def transformer_steps(rng):
    """One step of the 2-layer causal Transformer encoder, for each library."""
    torch.manual_seed(0)
    layers = [lib.nn.TransformerEncoderLayer(D, HEADS, 4 * D, 0.0, batch_first=True) for lib in (baby, torch)]
    models = [lib.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
              for lib, layer in zip((baby, torch), layers, strict=True)]
    copy_weights(*models)
    x, w = (rng.standard_normal((TB, TT, D), dtype=np.float32) for _ in range(2))
    steps = []
    for lib, m in zip((baby, torch), models, strict=True):
        opt, xs, ws = lib.optim.SGD(m.parameters(), lr=0.01), lib.tensor(x), lib.tensor(w)
        mask = lib.nn.Transformer.generate_square_subsequent_mask(TT)  # (T, T)

        def step(m=m, opt=opt, xs=xs, ws=ws, mask=mask):
            loss = (m(xs, mask=mask, is_causal=True) * ws).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()

        steps.append(step)
    return steps


ROWS = {"lstm-lm": lm_steps, "lstm": lstm_steps, "lstm-cells": lambda rng: lstm_steps(rng, cells=True),
        "transformer": transformer_steps}
TOKENS = {"transformer": TT * TB}


def main(argv=None):
    """Print tokens/s for both libraries and their ratio, per row."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--threads", type=int, default=0, help="threads for both libraries (0: their defaults)")
    ap.add_argument("--keep-freed-memory", action="store_true",
                    help="make glibc's malloc keep freed memory, a process-wide switch a user's script does "
                         "not make (by default none, as in the other benchmarks)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        baby.ops.set_num_threads(args.threads)
    kept = args.keep_freed_memory and keep_freed_memory()
    print(f"median of {args.steps} steps; torch {torch.__version__} with {torch.get_num_threads()} threads, "
          f"baby with {baby.parallel.num_threads()}; malloc keeps freed memory: {kept}")
    for row in args.rows.split(","):
        steps = ROWS[row](np.random.default_rng(0))
        times = [[] for _ in steps]
        for _ in range(args.steps):
            for k, fn in enumerate(steps):
                times[k].append(timed(fn))
        tps = [TOKENS.get(row, T * B) / statistics.median(v) for v in times]
        ratio = f"ratio baby/torch {tps[0] / tps[1]:.2f}" if len(tps) == 2 else ""
        theirs = f"torch {tps[1]:9.0f} tokens/s" if len(tps) == 2 else " " * 22
        print(f"{row:11s} baby {tps[0]:9.0f} tokens/s  {theirs}  {ratio}")


if __name__ == "__main__":
    main()
