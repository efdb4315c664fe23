"""baby's nn.functional.conv2d against PyTorch's, side by side in one process.

Each run wraps the arrays, convolves, sums and (for forward+backward) backpropagates. Runs alternate between
the two libraries, each timed run after 0.2 s of untimed runs of the same library (`common.timed`: the
other library's idle threads spin meanwhile); the table shows medians. ratio = torch_time / baby_time
(> 1: baby is faster).

    python benchmarks/conv.py [--algo auto|winograd|pointwise|depthwise|im2col|book] [--repeat 7]
                               [--layers 0,3]
"""

import argparse
import math
import statistics
import tracemalloc

import numpy as np
import torch
from common import keep_freed_memory, timed

import baby
from baby import arena
from baby.nn import functional as F
from baby.ops.conv import registry
from baby.ops.conv.fast import memory

# (N, Cin, H=W, Cout, k, stride, padding, groups)
SUITE = [
    (32, 3, 32, 64, 3, 1, 1, 1),
    (32, 64, 32, 64, 3, 1, 1, 1),
    (32, 64, 32, 128, 3, 2, 1, 1),
    (32, 128, 16, 128, 3, 1, 1, 1),
    (32, 256, 8, 256, 3, 1, 1, 1),
    (32, 64, 32, 128, 1, 2, 0, 1),
    (32, 128, 16, 128, 3, 1, 1, 128),
    (64, 32, 28, 64, 5, 1, 2, 1),
]


def baby_run(x, w, s, p, g, backward):
    """One baby conv2d (+ sum and backward)."""
    xt, wt = baby.Tensor(x, requires_grad=backward), baby.Tensor(w, requires_grad=backward)
    y = F.conv2d(xt, wt, stride=s, padding=p, groups=g)
    if backward:
        y.sum().backward()
    return y


def torch_run(x, w, s, p, g, backward):
    """One PyTorch conv2d (+ sum and backward)."""
    xt, wt = torch.from_numpy(x).requires_grad_(backward), torch.from_numpy(w).requires_grad_(backward)
    y = torch.nn.functional.conv2d(xt, wt, stride=s, padding=p, groups=g)
    if backward:
        y.sum().backward()
    return y


def peak_mib(fn, *args):
    """Peak bytes of live arrays (tracemalloc) during one call, in MiB, the buffers a forward keeps for the
    backward included (their cache emptied first). The arena keeps no freed block meanwhile: otherwise every
    block freed during the call would count as live (in a training loop the arena also holds the freed
    blocks it hands out again, up to baby.arena.CAP, as PyTorch's caching allocators do)."""
    memory.empty_cache()
    cap, arena.CAP = arena.CAP, 0
    tracemalloc.start()
    try:
        fn(*args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        arena.CAP = cap
    return peak / 2**20


def bench(layer, repeat):
    """Medians of forward and forward+backward times for both libraries, GFLOP/s and baby's peak memory."""
    N, C, H, Co, k, s, p, g = layer
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, H), dtype=np.float32)
    w = rng.standard_normal((Co, C // g, k, k), dtype=np.float32) / math.sqrt(C // g * k * k)
    times = {key: [] for key in ("baby_f", "torch_f", "baby_fb", "torch_fb")}
    for backward, tag in ((False, "f"), (True, "fb")):
        for fn in (baby_run, torch_run):
            fn(x, w, s, p, g, backward)  # warm-up
        for _ in range(repeat):
            times[f"baby_{tag}"].append(timed(baby_run, x, w, s, p, g, backward))
            times[f"torch_{tag}"].append(timed(torch_run, x, w, s, p, g, backward))
    med = {key: statistics.median(v) for key, v in times.items()}
    O = (H + 2 * p - k) // s + 1
    flops = 2 * N * Co * O * O * (C // g) * k * k
    return med, flops, peak_mib(baby_run, x, w, s, p, g, True)


def geomean(r):
    """The geometric mean of positive numbers."""
    return math.exp(sum(map(math.log, r)) / len(r))


def main(argv=None):
    """Print the table and the geometric means of the ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--algo", default="auto", choices=registry.names())
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--layers", default=None, help="comma-separated indices into the suite")
    ap.add_argument("--keep-freed-memory", action="store_true",
                    help="make glibc's malloc keep freed memory, a process-wide switch a user's script does "
                         "not make (by default none: baby's arena keeps its large arrays' memory itself)")
    args = ap.parse_args(argv)
    kept = args.keep_freed_memory and keep_freed_memory()
    baby.ops.set_conv_algorithm(args.algo)
    layers = SUITE if args.layers is None else [SUITE[int(i)] for i in args.layers.split(",")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; numpy {np.__version__}; "
          f"algo={args.algo}; medians of {args.repeat}; malloc keeps freed memory: {kept}")
    head = (f"{'N,Cin,H,Cout,k,s,p,g':>26} | {'fwd ms':>7} {'torch':>7} {'ratio':>5} {'GF/s':>5} | "
            f"{'f+b ms':>7} {'torch':>7} {'ratio':>5} {'GF/s':>5} | {'peak MiB':>8}")
    print(head)
    print("-" * len(head))
    ratios_f, ratios_fb = [], []
    for layer in layers:
        med, flops, peak = bench(layer, args.repeat)
        rf, rfb = med["torch_f"] / med["baby_f"], med["torch_fb"] / med["baby_fb"]
        ratios_f.append(rf)
        ratios_fb.append(rfb)
        print(f"{','.join(map(str, layer)):>26} | {med['baby_f'] * 1e3:7.2f} {med['torch_f'] * 1e3:7.2f} "
              f"{rf:5.2f} {flops / med['baby_f'] / 1e9:5.0f} | {med['baby_fb'] * 1e3:7.2f} "
              f"{med['torch_fb'] * 1e3:7.2f} {rfb:5.2f} {3 * flops / med['baby_fb'] / 1e9:5.0f} | "
              f"{peak:8.1f}")
    print(f"geometric mean torch/baby: forward {geomean(ratios_f):.2f}, "
          f"forward+backward {geomean(ratios_fb):.2f}")


if __name__ == "__main__":
    main()
