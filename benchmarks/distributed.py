"""Data-parallel training on one machine: 1 process x 2 threads against `mpiexec -n 2` x 1 thread.

For LeNet-5 (1x28x28) and ResNet-9 (3x32x32) it trains on random batches of the same global size both ways
and prints images/s; for the two-process run also the seconds per step spent waiting on the gradient
all-reduces at the end of backward() (what did not overlap the backward: the wait of the rank that got
there last, as the others also wait for it), the cost of the same all-reduces
run alone after the step (blocking), the bytes each rank all-reduces per step, and that cost extrapolated to a
10 Gb/s and a 100 Gb/s link (a ring all-reduce sends 2(N-1)/N of the payload per rank, so at most twice
the payload; plus 50 us latency per bucket).

    python benchmarks/distributed.py [--steps 8] [--models lenet resnet9]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"lenet": ((1, 28, 28), 64), "resnet9": ((3, 32, 32), 32)}  # image shape, global batch
LINKS = {"10 Gb/s": 10e9 / 8, "100 Gb/s": 100e9 / 8}  # bytes per second
LATENCY = 50e-6  # seconds per all-reduce on a switched Ethernet link


def worker(model_name, threads, steps):
    """Train `steps` timed steps (after 2 untimed); print one JSON line of figures from rank 0."""
    import baby
    from baby import distributed as dist
    from baby import models, nn, optim, parallel
    from baby.distributed import launch

    parallel.set_num_threads(threads)
    size = launch.join()
    shape, batch = SHAPES[model_name]
    rng = np.random.default_rng(launch.rank())
    x = baby.from_numpy(rng.random((batch // size, *shape), dtype=np.float32))
    y = baby.from_numpy(rng.integers(0, 10, batch // size))
    baby.manual_seed(0)
    model = models.create(model_name, shape, 10)
    model = nn.parallel.DDP(model) if size > 1 else model
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(2):
        step()
    sent = model.sent_bytes if size > 1 else 0
    times, alone, waits = [], [], []
    for _ in range(steps):
        waited = model.wait_seconds if size > 1 else 0.0
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
        waits.append(model.wait_seconds - waited if size > 1 else 0.0)
        if size > 1:  # the same all-reduces, blocking, with nothing to overlap
            start = time.perf_counter()
            for b in model._buckets:
                dist.all_reduce(baby.from_numpy(b.flat))
            alone.append(time.perf_counter() - start)
    if size > 1:  # the last rank to reach the end of backward waits for the all-reduces alone, not the others
        every = [None] * size
        dist.all_gather_object(every, waits)
        waits = [min(w) for w in zip(*every, strict=True)]
    if launch.rank() == 0:
        out = {"images_per_s": batch / statistics.median(times), "step_s": statistics.median(times),
               "params": sum(p.numel() for p in model.parameters())}
        if size > 1:
            out.update(wait_s=statistics.median(waits),
                       sent_bytes=(model.sent_bytes - sent) / steps, alone_s=statistics.median(alone),
                       buckets=len(model._buckets))
        print(json.dumps(out), flush=True)


def launch_run(model_name, procs, threads, steps):
    """Run the worker in `procs` processes of `threads` threads each; its figures."""
    cmd = [sys.executable, __file__, "--worker", model_name, "--threads", str(threads), "--steps", str(steps)]
    cmd = ["mpiexec", "-n", str(procs), *cmd] if procs > 1 else cmd
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200, check=False)
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def report(model_name, one, two):
    """Print the comparison for one model."""
    payload = two["sent_bytes"]
    print(f"{model_name}: {one['params']:,} parameters, global batch {SHAPES[model_name][1]}")
    print(f"  1 process x 2 threads   {one['images_per_s']:8.1f} img/s  ({one['step_s'] * 1e3:.1f} ms/step)")
    print(f"  2 processes x 1 thread  {two['images_per_s']:8.1f} img/s  ({two['step_s'] * 1e3:.1f} ms/step)  "
          f"x{two['images_per_s'] / one['images_per_s']:.2f}")
    overlap = max(0.0, two["alone_s"] - two["wait_s"])
    print(f"  all-reduce: {payload / 1e6:.3f} MB per rank per step in {two['buckets']} bucket(s); alone "
          f"{two['alone_s'] * 1e3:.2f} ms, waited at the end of backward {two['wait_s'] * 1e3:.2f} ms "
          f"({overlap / max(two['alone_s'], 1e-12):.0%} overlapped)")
    for link, rate in LINKS.items():
        for n in (2, 16):
            t = 2 * (n - 1) / n * payload / rate + LATENCY * two["buckets"]
            print(f"  over {link}, {n:2d} ranks: ~{t * 1e3:.2f} ms per step "
                  f"({t / two['step_s']:.1%} of this machine's step time)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--models", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    ap.add_argument("--worker", choices=list(SHAPES), help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.threads, args.steps)
    if shutil.which("mpiexec") is None:
        raise SystemExit('mpiexec not found: pip install "baby[mpi]"')
    print(f"{os.cpu_count()} cores; {args.steps} timed steps each (medians)")
    for name in args.models:
        report(name, launch_run(name, 1, 2, args.steps), launch_run(name, 2, 1, args.steps))


if __name__ == "__main__":
    main()
