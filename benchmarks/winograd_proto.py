"""Winograd F(4x4, 3x3) vs PyTorch's CPU conv2d: forward, input gradient and weight gradient, per layer.

Run: python benchmarks/winograd_proto.py [--reps 7] [--layout nhwc|nchw]. Prints medians (ms) of interleaved
runs and torch_time / baby_time ratios (> 1 means baby is faster).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from baby.ops.winograd import winograd_conv3x3, winograd_input_grad, winograd_weight_grad  # noqa: E402

LAYERS = [(32, 3, 32, 64), (32, 64, 32, 64), (32, 128, 16, 128), (32, 256, 8, 256)]  # (N, Cin, H=W, Cout)


def interleaved(fns, reps, stat, warm):
    """Median (or min) milliseconds of each function, the functions run in turn `reps` times.

    Each timed call follows `warm` untimed calls of the same function: PyTorch's OpenMP threads spin for
    milliseconds after each call, so a baby call timed right after a torch call shares the cores with them.
    """
    times = {k: [] for k in fns}
    for _ in range(reps):
        for k, f in fns.items():
            for _ in range(warm):
                f()
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return {k: 1e3 * float(getattr(np, stat)(v)) for k, v in times.items()}


def foreign_cpu():
    """CPU seconds used so far by other processes on this machine (Linux), to flag noisy measurements."""
    try:
        total = sum(int(v) for v in open("/proc/stat").readline().split()[1:9]) - int(open(
            "/proc/stat").readline().split()[4])
        own = sum(int(v) for v in open("/proc/self/stat").read().rsplit(")", 1)[1].split()[11:13])
        return (total - own) / 100
    except OSError:
        return 0.0


def layer(N, C, H, K, reps, layout, stat, warm):
    """Time the three pieces of one same-padded 3x3 conv layer in torch and in baby."""
    xt, wt = torch.randn(N, C, H, H), torch.randn(K, C, 3, 3)  # NCHW, (Cout, Cin, kh, kw)
    gyt = torch.randn(N, K, H, H)
    x = xt.numpy().transpose(0, 2, 3, 1)  # (N, H, W, C) view
    gy = gyt.numpy().transpose(0, 2, 3, 1)  # (N, H, W, K) view
    if layout == "nhwc":
        x, gy = np.ascontiguousarray(x), np.ascontiguousarray(gy)
    w = wt.numpy().transpose(2, 3, 1, 0)  # (3, 3, C, K) view
    bwd = torch.ops.aten.convolution_backward
    args = ([1, 1], [1, 1], [1, 1], False, [0, 0], 1)
    fns = {
        "t_fwd": lambda: F.conv2d(xt, wt, padding=1),
        "b_fwd": lambda: winograd_conv3x3(x, w, padding=1),
        "t_gx": lambda: bwd(gyt, xt, wt, None, *args, [True, False, False]),
        "b_gx": lambda: winograd_input_grad(gy, w, padding=1),
        "t_gw": lambda: bwd(gyt, xt, wt, None, *args, [False, True, False]),
        "b_gw": lambda: winograd_weight_grad(x, gy, padding=1),
    }
    for f in fns.values():
        f()
    return interleaved(fns, reps, stat, warm)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--layout", default="nhwc", choices=["nhwc", "nchw"])
    p.add_argument("--stat", default="median", choices=["median", "min"])
    p.add_argument("--warm", type=int, default=1, help="untimed calls before each timed call")
    a = p.parse_args()
    print(f"torch threads {torch.get_num_threads()}, layout {a.layout}, {a.stat} of {a.reps} (ms) torch/baby, "
          f"{a.warm} untimed call(s) before each")
    ratios, t0, c0 = [], time.perf_counter(), foreign_cpu()
    for N, C, H, K in LAYERS:
        t = layer(N, C, H, K, a.reps, a.layout, a.stat, a.warm)
        r = {k: t[f"t_{k}"] / t[f"b_{k}"] for k in ("fwd", "gx", "gw")}
        fb = (t["t_fwd"] + t["t_gx"] + t["t_gw"]) / (t["b_fwd"] + t["b_gx"] + t["b_gw"])
        ratios.append(fb)
        print(f"{(N, C, H, K)!s:18} " + "  ".join(f"{k} {t[f't_{k}']:6.2f}/{t[f'b_{k}']:6.2f} x{r[k]:.2f}"
                                                   for k in ("fwd", "gx", "gw")) + f"  fwd+bwd x{fb:.2f}")
    print(f"geometric mean fwd+bwd ratio {np.exp(np.mean(np.log(ratios))):.2f}; other processes used "
          f"{(foreign_cpu() - c0) / (time.perf_counter() - t0):.2f} cores meanwhile")


if __name__ == "__main__":
    main()
