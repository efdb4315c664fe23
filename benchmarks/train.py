"""Training throughput of ResNet9 on CIFAR-shaped batches: baby against the same network in PyTorch.

One step = forward, cross-entropy, backward, SGD with momentum. Steps alternate between the libraries in one
process, each timed step right after an untimed one of the same library (`common.timed`); medians are
reported. ratio = baby images/s / torch images/s (target >= 0.8).

    python benchmarks/train.py [--batch-size 32] [--steps 5]
"""

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from common import keep_freed_memory, timed

import baby
from baby import models, nn, optim

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import t_resnet9  # noqa: E402  (the PyTorch twin the tests check baby.models.ResNet9 against)


def main(argv=None):
    """Print images/s for both libraries and their ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--keep-freed-memory", action="store_true",
                    help="make glibc's malloc keep freed memory, a process-wide switch a user's script does "
                         "not make (by default none: baby's arena keeps its large arrays' memory itself)")
    args = ap.parse_args(argv)
    kept = args.keep_freed_memory and keep_freed_memory()
    rng = np.random.default_rng(0)
    x = rng.random((args.batch_size, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, args.batch_size)
    baby.manual_seed(0)
    ours, theirs = models.ResNet9(), t_resnet9()
    opt = optim.SGD(ours.parameters(), lr=0.01, momentum=0.9)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.01, momentum=0.9)
    loss_fn, tloss_fn = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    xb, yb = baby.Tensor(x), baby.Tensor(y, dtype=baby.int64)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def ours_step():
        loss = loss_fn(ours(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def theirs_step():
        loss = tloss_fn(theirs(xt), yt)
        topt.zero_grad()
        loss.backward()
        topt.step()

    times = {ours_step: [], theirs_step: []}
    for _ in range(args.steps):
        for fn in times:
            times[fn].append(timed(fn))
    ips = {fn: args.batch_size / statistics.median(v) for fn, v in times.items()}
    print(f"ResNet9, batch {args.batch_size}x3x32x32, SGD momentum, median of {args.steps} steps; "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads; "
          f"malloc keeps freed memory: {kept}")
    print(f"baby  {ips[ours_step]:8.1f} images/s")
    print(f"torch {ips[theirs_step]:8.1f} images/s")
    print(f"ratio baby/torch: {ips[ours_step] / ips[theirs_step]:.2f}")


if __name__ == "__main__":
    main()
