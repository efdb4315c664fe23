"""Sparse @ dense, forward and backward (the GCN layer's spmm): baby (scipy.sparse CSR) against a NumPy
index-add, the dense product, and PyTorch's sparse.mm, in one process. Graphs: random, Cora-sized and
larger. Prints milliseconds per call (the median of a few timed calls, each after WARM_S of warm-up).

    python benchmarks/sparse.py
"""

import statistics
import warnings

import numpy as np
import torch
from common import keep_freed_memory, timed

import baby

warnings.filterwarnings("ignore", message="Sparse invariant checks")
CASES = [(2708, 13264, 16), (2708, 13264, 64), (20000, 200000, 64)]


def index_add(r, c, v, x, n):
    """The hand-written kernel: rows sorted, each row's products summed by reduceat."""
    out = np.zeros((n, x.shape[1]), x.dtype)
    starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
    out[r[starts]] = np.add.reduceat(v[:, None] * x[c], starts, axis=0)
    return out


def ms(fn, rounds=3):
    return 1e3 * statistics.median(timed(fn) for _ in range(rounds))


def case(n, nnz, k, rng):
    """One graph's timings: baby forward, forward + backward, index-add, dense, PyTorch's two."""
    keys = np.unique(rng.integers(0, n * n, nnz))
    r, c = keys // n, keys % n
    v = rng.random(len(keys)).astype(np.float32)
    x = rng.standard_normal((n, k)).astype(np.float32)
    A = baby.sparse_coo_tensor(np.stack([r, c]), baby.tensor(v), (n, n)).coalesce()
    xb = baby.tensor(x, requires_grad=True)
    tA = torch.sparse_coo_tensor(np.stack([r, c]), v, (n, n)).coalesce()
    xt = torch.tensor(x, requires_grad=True)
    dense = A.to_dense().numpy() if n <= 5000 else None
    return len(keys), [
        ms(lambda: baby.sparse.mm(A, xb)), ms(lambda: baby.sparse.mm(A, xb).sum().backward()),
        ms(lambda: index_add(r, c, v, x, n)), ms(lambda: dense @ x) if dense is not None else float("nan"),
        ms(lambda: torch.sparse.mm(tA, xt)), ms(lambda: torch.sparse.mm(tA, xt).sum().backward())]


def main():
    keep_freed_memory()
    rng = np.random.default_rng(0)
    print(f"{'n':>6} {'nnz':>7} {'k':>3} | {'baby fwd':>8} {'baby f+b':>8} {'index-add':>9} {'dense':>8} "
          f"{'torch fwd':>9} {'torch f+b':>9}  (ms)")
    for n, nnz, k in CASES:
        m, row = case(n, nnz, k, rng)
        print(f"{n:>6} {m:>7} {k:>3} | " + " ".join(f"{t:>8.2f}" for t in row))


if __name__ == "__main__":
    main()
