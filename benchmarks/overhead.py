"""The fixed cost of a training step: what one step calls, and its time at batch 1 against PyTorch's.

Per model (an MLP 784-256-10 with SGD, LeNet-5 with Adam, MobileNet and ResNet-9 with SGD momentum): the
number of baby ops (`Function.__call__`), Python function calls and NumPy C calls in one training step
(forward, cross-entropy, backward, optimizer step), counted with `sys.setprofile`; then the step time at
batch 1 (where the fixed cost is almost all of it) and at the benchmark batch, both libraries side by
side in one process (`common.timed`), medians. "numpy C calls" are the calls the profiler sees: ndarray
methods and NumPy's builtin functions (`empty`, `dot`, `copyto`, ...); ufuncs and operators (`a + b`,
`np.add`) do not reach a profiler and are not counted, so it is a lower bound. No process-wide switch is
made for either library (allocator settings included): both run as a user's script runs them.

    python benchmarks/overhead.py [--steps 7] [--only mlp,lenet,mobilenet,resnet9]
"""

import argparse
import collections
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from common import timed
from models import t_mlp

import baby
from baby import models

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import t_lenet5, t_mobilenet, t_resnet9  # noqa: E402  (the twins the tests check against)

NETS = {  # name: (baby model, torch twin, input shape, benchmark batch, optimizer)
    "mlp": (lambda: models.MLP(784, (256,), 10), t_mlp, (1, 28, 28), 128, "sgd"),
    "lenet": (models.LeNet5, t_lenet5, (1, 28, 28), 64, "adam"),
    "mobilenet": (models.MobileNet, t_mobilenet, (3, 32, 32), 64, "sgd-momentum"),
    "resnet9": (models.ResNet9, t_resnet9, (3, 32, 32), 32, "sgd-momentum"),
}


def _optimizer(lib, params, kind):
    if kind == "adam":
        return lib.optim.Adam(params, lr=1e-3)
    return lib.optim.SGD(params, lr=0.01, momentum=0.9 if kind == "sgd-momentum" else 0)


def _train_steps(name, batch):
    """{library name: a training-step function} on one random batch of `batch` images."""
    make, twin, shape, _, kind = NETS[name]
    rng = np.random.default_rng(0)
    x, y = rng.random((batch, *shape), dtype=np.float32), rng.integers(0, 10, batch)
    baby.manual_seed(0)
    steps = {}
    for lib, net, xb, yb in ((baby, make(), baby.tensor(x), baby.tensor(y)),
                             (torch, twin(), torch.from_numpy(x), torch.from_numpy(y))):
        opt, loss_fn = _optimizer(lib, net.parameters(), kind), lib.nn.CrossEntropyLoss()

        def step(net=net, opt=opt, loss_fn=loss_fn, xb=xb, yb=yb):
            loss = loss_fn(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()

        net.train()
        steps[lib.__name__] = step
    return steps


def counts(step):
    """(baby ops, Python calls, NumPy C calls, the 5 commonest NumPy C calls) in one call of `step`."""
    step()  # warm: lazily built state (optimizer moments, workspaces) is not the per-step cost
    tally = collections.Counter()

    def profile(frame, event, arg):
        if event == "call":
            tally["python"] += 1
            code = frame.f_code
            if code.co_name == "__call__" and code.co_filename.endswith("baby/tensor.py"):
                tally["ops"] += 1
        elif event == "c_call" and _is_numpy(arg):
            tally["numpy"] += 1
            tally["numpy:" + getattr(arg, "__qualname__", getattr(arg, "__name__", "?"))] += 1

    sys.setprofile(profile)
    try:
        step()
    finally:
        sys.setprofile(None)
    top = sorted(((n, k[6:]) for k, n in tally.items() if k.startswith("numpy:")), reverse=True)[:5]
    return tally["ops"], tally["python"], tally["numpy"], top


def _is_numpy(fn):
    """Whether a builtin the profiler reports belongs to NumPy (a module function or an ndarray method)."""
    owner = getattr(fn, "__self__", None)
    module = getattr(fn, "__module__", None) or type(owner).__module__
    return isinstance(owner, np.ndarray) or (module or "").startswith("numpy")


def step_ms(steps, rounds):
    """Median ms per step of each library, rounds interleaved."""
    times = {lib: [] for lib in steps}
    for _ in range(rounds):
        for lib, fn in steps.items():
            times[lib].append(timed(fn))
    return {lib: 1e3 * statistics.median(t) for lib, t in times.items()}


def main(argv=None):
    """Print the counts of one step and the step times at batch 1 and at the benchmark batch."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=7)
    ap.add_argument("--only", default=",".join(NETS), help="comma-separated subset of " + ", ".join(NETS))
    args = ap.parse_args(argv)
    print(f"torch {torch.__version__} with {torch.get_num_threads()} threads; numpy {np.__version__}; "
          f"medians of {args.steps} steps; ratio = torch ms / baby ms (above 1 baby is faster)")
    print(f"{'model':>10} | {'ops':>5} {'py calls':>8} {'np calls':>8} | {'batch':>5} {'baby ms':>8} "
          f"{'torch ms':>8} {'ratio':>5} | {'batch':>5} {'baby ms':>8} {'torch ms':>8} {'ratio':>5}")
    tops = {}
    for name in args.only.split(","):
        batch = NETS[name][3]
        ops, py, npc, tops[name] = counts(_train_steps(name, batch)["baby"])
        cells = []
        for b in (1, batch):
            ms = step_ms(_train_steps(name, b), args.steps)
            cells.append(f"{b:5d} {ms['baby']:8.2f} {ms['torch']:8.2f} {ms['torch'] / ms['baby']:5.2f}")
        print(f"{name:>10} | {ops:5d} {py:8d} {npc:8d} | " + " | ".join(cells))
    print("commonest NumPy C calls per step:")
    for name, top in tops.items():
        print(f"{name:>10}: " + ", ".join(f"{fn} {n}" for n, fn in top))


if __name__ == "__main__":
    main()
