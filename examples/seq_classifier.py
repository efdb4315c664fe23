"""A sequence classifier: an LSTM reads a digit image one row at a time and names the digit from its last
hidden state (the classic MNIST-rows tutorial), written for PyTorch and run on baby.

    python examples/seq_classifier.py                     # MNIST from --data-dir if its files are there,
    python examples/seq_classifier.py --data-dir ~/data   # else the bundled 8x8 digits (8 rows of 8)

MNIST is 28 steps of 28 pixels; the digits are 8 steps of 8. Prints the training loss per epoch and the
held-out accuracy.
"""

import argparse
import time
from pathlib import Path

import baby as torch
from baby import nn
from baby.data import MNIST, DataLoader, Digits, MissingData


class RowLSTM(nn.Module):
    """LSTM over the rows of an image (B, 1, H, W) -> logits (B, classes) from the last step's output."""

    def __init__(self, width, hidden, layers, classes=10):
        super().__init__()
        self.rnn = nn.LSTM(width, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        out, _ = self.rnn(x.squeeze(1))  # (B, H rows, W) -> (B, H, hidden)
        return self.head(out[:, -1])  # (B, classes)


def datasets(data_dir, limit):
    """(train, test, name): MNIST when its files are in data_dir, else the bundled digits."""
    try:
        train, test, name = MNIST(data_dir, train=True), MNIST(data_dir, train=False), "MNIST"
    except MissingData:
        train, test, name = Digits(train=True), Digits(train=False), "digits 8x8 (no MNIST files found)"
    if limit:
        train = torch.utils.data.Subset(train, range(min(limit, len(train))))
    return train, test, name


def accuracy(model, loader):
    """The fraction of correctly named digits."""
    model.eval()
    right = total = 0
    with torch.no_grad():
        for x, y in loader:
            right += (model(x).argmax(dim=1) == y).sum().item()
            total += len(y)
    model.train()
    return right / total


def main(argv=None):
    """Train, print the loss per epoch and the held-out accuracy; returns the accuracy."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path("data"))
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--limit", type=int, default=0, help="train on at most this many images (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    train, test, name = datasets(args.data_dir, args.limit)
    width = test[0][0].shape[-1]
    model = RowLSTM(width, args.hidden, args.layers)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True)
    print(f"{name}: {len(train)} training images, {len(test)} held out; sequences of {width} rows of {width}")
    for epoch in range(1, args.epochs + 1):
        t0, total, n = time.perf_counter(), 0.0, 0
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, n = total + loss.item() * len(y), n + len(y)
        print(f"epoch {epoch}  loss {total / n:.4f}  {n / (time.perf_counter() - t0):.0f} images/s")
    acc = accuracy(model, DataLoader(test, batch_size=256))
    print(f"held-out accuracy {acc:.4f}")
    return acc


if __name__ == "__main__":
    main()
