"""The training loop of `baby train --dataset mnist --model lenet`, data path included: baby against PyTorch.

Both libraries read the same MNIST-shaped images (random float32 (N, 1, 28, 28) in [0, 1], int64 labels) in
shuffled batches of the lenet recipe's size (64) and train LeNet-5 (baby.models.LeNet5 and its twin in
tests/helpers.py) with the recipe's optimizer (Adam, lr 2e-3). baby's loader is what `baby train` builds:
DataLoader(shuffle=True) over an ImageDataset with the MNIST Normalize, so each batch is one fancy index and
one transform; its epoch is `baby.train.train_epoch`. PyTorch's is the same loop by hand over
torch.utils.data.DataLoader(TensorDataset, shuffle=True), the batch normalized in the loop. "data" times
the loaders alone (every batch as the model would get it, no model). Epochs alternate between the libraries;
each timed one follows WARM_S of untimed steps of its own library (see common.py); medians are reported.
ratio = baby images/s / torch images/s.

    python benchmarks/data.py [--samples 8192] [--rounds 3]
    python benchmarks/data.py --cli [--samples 8192]   # `baby train ... --epochs 1` on fake MNIST files
"""

import argparse
import contextlib
import io
import math
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import WARM_S, keep_freed_memory, timed

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's baby; the twins and fake files of the tests
from fake_data import make_mnist  # noqa: E402
from helpers import t_lenet5  # noqa: E402

import baby  # noqa: E402
from baby import cli, models  # noqa: E402
from baby.data import DataLoader, ImageDataset, transforms  # noqa: E402
from baby.train import train_epoch  # noqa: E402

CONFIG = cli.train.resolve({"dataset": "mnist", "model": "lenet"})  # the recipe's optimizer, lr, batch size
MEAN, STD = cli.DATASETS["mnist"][2]


def t_optimizer(config, params):
    """cli.train.make_optimizer in PyTorch."""
    lr, wd = config["lr"], config["weight_decay"]
    if config["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=wd)
    return (torch.optim.Adam if config["optimizer"] == "adam" else torch.optim.AdamW)(params, lr=lr,
                                                                                       weight_decay=wd)


def t_train_epoch(model, loader, optimizer, loss_fn, mean, std):
    """baby.train.train_epoch in PyTorch, the batch normalized as it comes: (mean loss, accuracy)."""
    model.train()
    total, correct, seen = 0.0, 0, 0
    for step, (x, y) in enumerate(loader, 1):
        logits = model((x - mean) / std)
        loss = loss_fn(logits, y)
        value = loss.item()
        if not math.isfinite(value):
            raise RuntimeError(f"loss is {value} at step {step}")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        correct += int((logits.argmax(1) == y).sum())
        total, seen = total + value * len(y), seen + len(y)
    return total / seen, correct / seen


def _loops(n):
    """{(library, "train" or "data"): one epoch}, and {library: an untimed training step}."""
    rng = np.random.default_rng(0)
    x = rng.random((n, 1, 28, 28), dtype=np.float32)  # (N, 1, 28, 28)
    y = rng.integers(0, 10, n)
    baby.manual_seed(0)
    torch.manual_seed(0)
    ours, theirs = models.LeNet5(), t_lenet5()
    opt, topt = cli.train.make_optimizer(CONFIG, ours.parameters()), t_optimizer(CONFIG, theirs.parameters())
    loss_fn, tloss_fn = baby.nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    batch = CONFIG["batch_size"]
    loader = DataLoader(ImageDataset(x, y, transforms.Normalize(MEAN, STD)), batch_size=batch, shuffle=True)
    tloader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x),
                                                                         torch.from_numpy(y)),
                                          batch_size=batch, shuffle=True)
    mean, std = torch.tensor(MEAN).view(1, -1, 1, 1), torch.tensor(STD).view(1, -1, 1, 1)  # (1, C, 1, 1)
    xb, yb = next(iter(loader))
    txb, tyb = next(iter(tloader))

    def step(net, opt, loss_fn, x, y):
        loss = loss_fn(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    epochs = {
        ("baby", "train"): lambda: train_epoch(ours, loader, opt, loss_fn, progress=False),
        ("torch", "train"): lambda: t_train_epoch(theirs, tloader, topt, tloss_fn, mean, std),
        ("baby", "data"): lambda: sum(len(y) for _, y in loader),
        ("torch", "data"): lambda: sum(len((x - mean) / std) for x, _ in tloader),
    }
    warm = {"baby": lambda: step(ours, opt, loss_fn, xb, yb),
            "torch": lambda: step(theirs, topt, tloss_fn, (txb - mean) / std, tyb)}
    return epochs, warm


def _warm_then_time(warm, epoch):
    """Seconds of one `epoch`, right after untimed calls of `warm` for at least WARM_S."""
    t = time.perf_counter()
    while time.perf_counter() - t < WARM_S:
        warm()
    t = time.perf_counter()
    epoch()
    return time.perf_counter() - t


def compare(n, rounds):
    """Print images/s of the training loop and of the data path alone, for both libraries, and the ratios."""
    epochs, warm = _loops(n)
    times = {k: [] for k in epochs}
    for _ in range(rounds):
        for (lib, mode), epoch in epochs.items():
            times[lib, mode].append(_warm_then_time(warm[lib], epoch) if mode == "train" else timed(epoch))
    print(f"{'':>6} | {'baby img/s':>10} {'torch img/s':>11} | ratio | per round: baby, torch img/s")
    for mode in ("train", "data"):
        ips = {lib: [n / t for t in times[lib, mode]] for lib in ("baby", "torch")}
        med = {lib: n / statistics.median(times[lib, mode]) for lib in ips}
        runs = "  ".join(f"{a:.0f},{b:.0f}" for a, b in zip(ips["baby"], ips["torch"], strict=True))
        ratio = med["baby"] / med["torch"]
        print(f"{mode:>6} | {med['baby']:10.0f} {med['torch']:11.0f} | {ratio:5.2f} | {runs}")


def end_to_end(n):
    """Run `baby train --dataset mnist --model lenet --epochs 1` on `n` fake MNIST training images."""
    with tempfile.TemporaryDirectory() as d:
        make_mnist(Path(d), train=True, n=n)
        make_mnist(Path(d), train=False, n=1000)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = cli.main(["train", "--dataset", "mnist", "--model", "lenet", "--epochs", "1",
                               "--data-dir", d, "--out", str(Path(d) / "run")])
    print(out.getvalue().rstrip())
    rate = re.search(r"\((\d+) img/s\)", out.getvalue())
    print(f"baby train (exit status {status}): {rate[1] if rate else '?'} images/s in its training epoch")


def main(argv=None):
    """Compare the training loops (default) or time `baby train` end to end (--cli)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=8192, help="training images per epoch")
    ap.add_argument("--rounds", type=int, default=3, help="timed epochs per library and mode")
    ap.add_argument("--cli", action="store_true", help="run `baby train` once on fake MNIST files instead")
    ap.add_argument("--keep-freed-memory", action="store_true",
                    help="make glibc's malloc keep freed memory, a process-wide switch a user's script does "
                         "not make (by default none: baby's arena keeps its large arrays' memory itself)")
    args = ap.parse_args(argv)
    kept = args.keep_freed_memory and keep_freed_memory()
    print(f"baby {baby.__file__}; torch {torch.__version__} with {torch.get_num_threads()} threads; "
          f"numpy {np.__version__}; malloc keeps freed memory: {kept}")
    print(f"LeNet-5 on {args.samples} MNIST-shaped images, batch {CONFIG['batch_size']}, shuffled, "
          f"{CONFIG['optimizer']} lr {CONFIG['lr']:g}" + ("" if args.cli else f"; medians of {args.rounds}"))
    if args.cli:
        end_to_end(args.samples)
    else:
        compare(args.samples, args.rounds)


if __name__ == "__main__":
    main()
