"""Winograd F(4x4, 3x3) vs PyTorch's CPU conv2d: forward, input gradient and weight gradient, per layer.

Run: python benchmarks/winograd_proto.py [--reps 9] [--stat median|min] [--layout nhwc|nchw] [--errors]
[--im2col]. Prints times (ms) of interleaved runs and torch_time / baby_time ratios (> 1: baby is faster).
--errors prints max |error| / max |output| against float64 for Cin in 3, 64, 256; --im2col times an
im2col-GEMM weight gradient for comparison with the Winograd one.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import as_strided

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from baby.ops.winograd import winograd_conv3x3, winograd_input_grad, winograd_weight_grad  # noqa: E402

LAYERS = [(32, 64, 32, 128), (32, 128, 16, 128), (32, 128, 16, 256), (32, 256, 8, 512),
          (32, 512, 4, 512)]  # (N, Cin, H=W, Cout): ResNet9's Winograd convs at batch 32


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
        fields = [int(v) for v in open("/proc/stat").readline().split()[1:9]]
        own = sum(int(v) for v in open("/proc/self/stat").read().rsplit(")", 1)[1].split()[11:13])
        return (sum(fields) - fields[3] - fields[4] - own) / 100
    except OSError:
        return 0.0


def layer(N, C, H, K, layout):
    """torch and baby functions for the three pieces of one same-padded 3x3 conv layer."""
    xt, wt, gyt = torch.randn(N, C, H, H), torch.randn(K, C, 3, 3), torch.randn(N, K, H, H)  # NCHW
    x, gy = xt.numpy().transpose(0, 2, 3, 1), gyt.numpy().transpose(0, 2, 3, 1)  # NHWC views
    if layout == "nhwc":
        x, gy = np.ascontiguousarray(x), np.ascontiguousarray(gy)
    w = wt.numpy().transpose(2, 3, 1, 0)  # (3, 3, C, K) view of the PyTorch layout
    bwd = torch.ops.aten.convolution_backward
    args = ([1, 1], [1, 1], [1, 1], False, [0, 0], 1)
    return {
        "t_fwd": lambda: F.conv2d(xt, wt, padding=1),
        "b_fwd": lambda: winograd_conv3x3(x, w, padding=1),
        "t_gx": lambda: bwd(gyt, xt, wt, None, *args, [True, False, False]),
        "b_gx": lambda: winograd_input_grad(gy, w, padding=1),
        "t_gw": lambda: bwd(gyt, xt, wt, None, *args, [False, True, False]),
        "b_gw": lambda: winograd_weight_grad(x, gy, padding=1),
    }


def im2col_weight_grad(x, gy, images=4):
    """gw by im2col + GEMM, `images` at a time: the baseline the Winograd weight gradient replaces."""
    N, H, W, C = x.shape
    xp_ = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))  # (N, H+2, W+2, C)
    gw = np.zeros((9 * C, gy.shape[3]), np.float32)
    for n in range(0, N, images):
        s = xp_.strides
        cols = as_strided(xp_[n:], (min(images, N - n), H, W, 3, 3, C), s[:3] + s[1:])  # (n, H, W, 3, 3, C)
        gw += cols.reshape(-1, 9 * C).T @ gy[n: n + images].reshape(-1, gy.shape[3])
    return gw.reshape(3, 3, C, -1)


def weight_grads(N, C, H, K):
    """The im2col and the Winograd weight gradient of one layer (NHWC, padding 1)."""
    rng = np.random.default_rng(0)
    x, gy = rng.standard_normal((N, H, H, C), np.float32), rng.standard_normal((N, H, H, K), np.float32)
    return {"im2col": lambda: im2col_weight_grad(x, gy), "winograd": lambda: winograd_weight_grad(x, gy, 1)}


def errors():
    """max |error| / max |output| of the three pieces against float64 torch, unit-scale normal data."""
    rng = np.random.default_rng(0)
    for C in (3, 64, 256):
        x = rng.standard_normal((8, 16, 16, C)).astype(np.float32)
        w = rng.standard_normal((3, 3, C, 64)).astype(np.float32)
        gy = rng.standard_normal((8, 16, 16, 64)).astype(np.float32)
        xt = torch.tensor(x, dtype=torch.float64).permute(0, 3, 1, 2).requires_grad_()
        wt = torch.tensor(w, dtype=torch.float64).permute(3, 2, 0, 1).requires_grad_()
        y = F.conv2d(xt, wt, padding=1)
        y.backward(torch.tensor(gy, dtype=torch.float64).permute(0, 3, 1, 2))
        refs = [y.detach().permute(0, 2, 3, 1), xt.grad.permute(0, 2, 3, 1), wt.grad.permute(2, 3, 1, 0)]
        ours = [winograd_conv3x3(x, w, 1), winograd_input_grad(gy, w, 1), winograd_weight_grad(x, gy, 1)]
        rel = [np.abs(o - r.numpy()).max() / np.abs(r.numpy()).max() for o, r in zip(ours, refs, strict=True)]
        print(f"Cin {C:3}: max|err|/max|out|  fwd {rel[0]:.1e}  gx {rel[1]:.1e}  gw {rel[2]:.1e}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=9)
    p.add_argument("--stat", default="median", choices=["median", "min"])
    p.add_argument("--layout", default="nhwc", choices=["nhwc", "nchw"])
    p.add_argument("--warm", type=int, default=1, help="untimed calls before each timed call")
    p.add_argument("--errors", action="store_true")
    p.add_argument("--im2col", action="store_true")
    a = p.parse_args()
    if a.errors:
        errors()
    print(f"torch threads {torch.get_num_threads()}, {a.layout}, {a.stat} of {a.reps} (ms) torch/baby, "
          f"{a.warm} untimed call(s) before each")
    ratios, t0, c0 = [], time.perf_counter(), foreign_cpu()
    for N, C, H, K in LAYERS:
        t = interleaved(layer(N, C, H, K, a.layout), a.reps, a.stat, a.warm)
        r = {k: t[f"t_{k}"] / t[f"b_{k}"] for k in ("fwd", "gx", "gw")}
        fb = (t["t_fwd"] + t["t_gx"] + t["t_gw"]) / (t["b_fwd"] + t["b_gx"] + t["b_gw"])
        ratios.append(fb)
        print(f"{(N, C, H, K)!s:18} " + "  ".join(f"{k} {t[f't_{k}']:6.2f}/{t[f'b_{k}']:6.2f} x{r[k]:.2f}"
                                                   for k in ("fwd", "gx", "gw")) + f"  fwd+bwd x{fb:.2f}")
    print(f"geometric mean fwd+bwd ratio {np.exp(np.mean(np.log(ratios))):.2f}; other processes used "
          f"{(foreign_cpu() - c0) / (time.perf_counter() - t0):.2f} cores meanwhile")
    for N, C, H, K in LAYERS if a.im2col else []:  # blocks: OpenBLAS's idle threads spin ~0.1 s after a call
        t = {k: (time.sleep(0.3), interleaved({k: f}, a.reps, a.stat, a.warm)[k])[1]
             for k, f in weight_grads(N, C, H, K).items()}
        print(f"{(N, C, H, K)!s:18} gw im2col+GEMM {t['im2col']:6.2f}  winograd {t['winograd']:6.2f}")


if __name__ == "__main__":
    main()
