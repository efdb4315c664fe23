"""Training and inference throughput of everyday networks: an MLP 784-256-10 and LeNet-5 (MNIST), MobileNet
and ResNet-9 (CIFAR).

Each network is built from each library's `nn` the same way (baby.models and their PyTorch twins in
tests/helpers.py). A training step = forward, cross-entropy, backward, optimizer step (Adam for LeNet-5,
plain SGD for the MLP, SGD with momentum for the others); inference = forward under no_grad in eval mode.
Steps alternate between the libraries in one process, each timed right after an untimed one of the same
library (`common.timed`); medians are reported. ratio = baby images/s / torch images/s (targets in training:
MLP and LeNet-5 >= 0.9, MobileNet >= 0.8, ResNet-9 >= 1.1, geometric mean >= 1.0).

    python benchmarks/models.py [--steps 5] [--only mlp,lenet,mobilenet,resnet9]
"""

import argparse
import math
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from common import keep_freed_memory, timed

import baby
from baby import models

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import t_lenet5, t_mobilenet, t_resnet9  # noqa: E402  (the twins the tests check against)


def t_mlp():
    """PyTorch's twin of models.MLP(784, (256,), 10)."""
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 256), torch.nn.ReLU(),
                               torch.nn.Linear(256, 10))


NETS = {  # name: (baby model, torch twin, input shape, batch, optimizer)
    "mlp": (lambda: models.MLP(784, (256,), 10), t_mlp, (1, 28, 28), 128, "sgd"),
    "lenet": (models.LeNet5, t_lenet5, (1, 28, 28), 64, "adam"),
    "mobilenet": (models.MobileNet, t_mobilenet, (3, 32, 32), 64, "sgd-momentum"),
    "resnet9": (models.ResNet9, t_resnet9, (3, 32, 32), 32, "sgd-momentum"),
}


def _optimizer(lib, params, kind):
    if kind == "adam":
        return lib.optim.Adam(params, lr=1e-3)
    return lib.optim.SGD(params, lr=0.01, momentum=0.9 if kind == "sgd-momentum" else 0)


def _steps(name):
    """(train, infer) step functions for baby and for torch on one random batch."""
    make, twin, shape, batch, kind = NETS[name]
    rng = np.random.default_rng(0)
    x = rng.random((batch, *shape), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    baby.manual_seed(0)
    ours, theirs = make(), twin()
    nets = {}
    for lib, net, xb, yb in ((baby, ours, baby.tensor(x), baby.tensor(y)),
                             (torch, theirs, torch.from_numpy(x), torch.from_numpy(y))):
        opt, loss_fn = _optimizer(lib, net.parameters(), kind), lib.nn.CrossEntropyLoss()

        def train(net=net, opt=opt, loss_fn=loss_fn, xb=xb, yb=yb):
            net.train()
            loss = loss_fn(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()

        def infer(net=net, xb=xb, lib=lib):
            net.eval()
            with lib.no_grad():
                net(xb)

        nets[lib.__name__] = (train, infer)
    return nets, batch


def main(argv=None):
    """Print images/s for both libraries, their ratio per model, and the geometric means."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--only", default=",".join(NETS), help="comma-separated subset of " + ", ".join(NETS))
    ap.add_argument("--keep-freed-memory", action="store_true",
                    help="make glibc's malloc keep freed memory, a process-wide switch a user's script does "
                         "not make (by default none: baby's arena keeps its large arrays' memory itself)")
    args = ap.parse_args(argv)
    kept = args.keep_freed_memory and keep_freed_memory()
    print(f"torch {torch.__version__} with {torch.get_num_threads()} threads; numpy {np.__version__}; "
          f"medians of {args.steps} steps; malloc keeps freed memory: {kept}")
    print(f"{'model':>10} {'mode':>6} | {'baby img/s':>10} {'torch img/s':>11} | ratio")
    ratios = {"train": [], "infer": []}
    for name in args.only.split(","):
        nets, batch = _steps(name)
        for k, mode in enumerate(("train", "infer")):
            times = {lib: [] for lib in nets}
            for _ in range(args.steps):
                for lib, fns in nets.items():
                    times[lib].append(timed(fns[k]))
            ips = {lib: batch / statistics.median(t) for lib, t in times.items()}
            r = ips["baby"] / ips["torch"]
            ratios[mode].append(r)
            print(f"{name:>10} {mode:>6} | {ips['baby']:10.1f} {ips['torch']:11.1f} | {r:5.2f}")
    for mode, rs in ratios.items():
        print(f"geometric mean baby/torch, {mode}: {math.exp(sum(map(math.log, rs)) / len(rs)):.2f}")


if __name__ == "__main__":
    main()
