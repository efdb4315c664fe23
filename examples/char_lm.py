"""A character-level language model on any text file, written for PyTorch and run on baby.

    python examples/char_lm.py                        # an LSTM on the project's README
    python examples/char_lm.py --model transformer    # a small causal Transformer
    python examples/char_lm.py --text book.txt --steps 2000 --hidden 256

It learns to predict each next character of random windows of the text (90% of it; the last 10% is held
out), printing the training loss and perplexity (exp of the loss: how many characters the model is, in
effect, choosing between), then the held-out loss, and samples new text one character at a time.
"""

import argparse
import math
import time
from pathlib import Path

import baby as torch
from baby import nn

README = Path(__file__).resolve().parents[1] / "README.md"


class CharLSTM(nn.Module):
    """Embedding -> LSTM -> Linear: logits of the next character at every position."""

    def __init__(self, vocab, hidden, layers, dropout):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.rnn = nn.LSTM(hidden, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        """x (B, T) character ids -> logits (B, T, vocab), the LSTM's final (h, c)."""
        out, state = self.rnn(self.embed(x), state)  # (B, T, hidden)
        return self.head(out), state


class CharTransformer(nn.Module):
    """Token and position embeddings -> causal Transformer encoder layers (pre-norm) -> Linear."""

    def __init__(self, vocab, d_model, heads, layers, context, dropout):
        super().__init__()
        self.embed, self.pos = nn.Embedding(vocab, d_model), nn.Embedding(context, d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout, batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model),
                                            enable_nested_tensor=False)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, x, state=None):
        """x (B, T) character ids, T <= context -> logits (B, T, vocab); each position sees only those
        before it (the causal mask)."""
        T = x.shape[1]
        h = self.embed(x) + self.pos(torch.arange(T))  # (B, T, d_model)
        mask = nn.Transformer.generate_square_subsequent_mask(T)  # (T, T): -inf above the diagonal
        return self.head(self.blocks(h, mask=mask, is_causal=True)), None


def build(args, vocab):
    """The model the arguments ask for."""
    if args.model == "transformer":
        return CharTransformer(vocab, args.hidden, args.heads, args.layers, args.seq_len, args.dropout)
    return CharLSTM(vocab, args.hidden, args.layers, args.dropout)


def batches(data, batch_size, seq_len):
    """Random windows: inputs (B, T) and the same windows one character on as targets (B, T)."""
    starts = torch.randint(0, len(data) - seq_len - 1, (batch_size,))
    idx = starts[:, None] + torch.arange(seq_len + 1)[None, :]  # (B, T + 1)
    w = data[idx]
    return w[:, :-1], w[:, 1:]


def evaluate(model, data, seq_len, batch_size):
    """Mean cross-entropy over consecutive windows of `data`."""
    model.eval()
    losses = []
    with torch.no_grad():
        n = (len(data) - 1) // seq_len
        for k in range(0, n, batch_size):
            idx = torch.arange(k, min(k + batch_size, n))[:, None] * seq_len + torch.arange(seq_len + 1)[None]
            w = data[idx.clamp(max=len(data) - 1)]  # (B, T + 1)
            logits, _ = model(w[:, :-1])
            losses.append(nn.functional.cross_entropy(logits.flatten(0, 1), w[:, 1:].flatten()).item())
    model.train()
    return sum(losses) / max(len(losses), 1)


def sample(model, prompt, length, temperature, context):
    """Characters drawn one at a time from softmax(logits / temperature), after the prompt's ids."""
    model.eval()
    ids, state = list(prompt), None
    with torch.no_grad():
        x = torch.tensor([ids])
        for _ in range(length):
            if isinstance(model, CharLSTM):  # the LSTM carries its state: feed only the new character
                logits, state = model(x, state)
            else:  # attention sees the last `context` characters again
                logits, _ = model(torch.tensor([ids[-context:]]))
            p = (logits[0, -1] / temperature).softmax(dim=-1)
            nxt = torch.multinomial(p, 1).item()
            ids.append(nxt)
            x = torch.tensor([[nxt]])
    model.train()
    return ids[len(prompt):]


def main(argv=None):
    """Train, report losses and perplexities, print a sample; returns the final held-out loss."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--text", type=Path, default=README, help="a UTF-8 text file (default: the README)")
    ap.add_argument("--model", choices=["lstm", "transformer"], default="lstm")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--sample-len", type=int, default=300)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    text = args.text.read_text(encoding="utf-8")
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([index[c] for c in text])  # (n,) int64
    split = int(len(data) * 0.9)
    if split < args.seq_len + 2:
        ap.error(f"--text {args.text} has {len(text)} characters: too few for --seq-len {args.seq_len}")
    train, held_out = data[:split], data[split:]
    torch.manual_seed(args.seed)
    model = build(args, len(chars))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{args.text.name}: {len(text)} characters, {len(chars)} distinct; {args.model} with {n_params} "
          "parameters")
    t0, seen = time.perf_counter(), 0
    for step in range(1, args.steps + 1):
        x, y = batches(train, args.batch_size, args.seq_len)
        logits, _ = model(x)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())  # (B*T, vocab) vs (B*T,)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seen += x.numel()
        if step % args.log_every == 0 or step == args.steps:
            rate = seen / (time.perf_counter() - t0)
            print(f"step {step:5d}  loss {loss.item():.3f}  perplexity {math.exp(loss.item()):7.2f}  "
                  f"{rate:7.0f} characters/s")
    val = evaluate(model, held_out, args.seq_len, args.batch_size) if len(held_out) > args.seq_len + 1 else \
        float("nan")
    print(f"held-out loss {val:.3f}  perplexity {math.exp(val):.2f}")
    out = sample(model, [index[text[0]]], args.sample_len, args.temperature, args.seq_len)
    print("sample:\n" + text[0] + "".join(chars[i] for i in out))
    return val


if __name__ == "__main__":
    main()
