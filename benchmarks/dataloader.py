"""DataLoader workers: samples/s for num_workers 0, 1, 2 on a dataset whose __getitem__ does real work.

Each sample is a CIFAR-shaped image (3, 32, 32) put through a per-sample pipeline, as torchvision datasets
apply one: random crop with padding 4, random horizontal flip, normalise (baby.data.transforms), then
`--extra` rounds of a NumPy-heavy step (a 3x3 box blur), standing in for decoding and heavier augmentation.
The configurations read the same shuffled epochs, taking turns; the first pass (which starts the workers)
is untimed, and each reports its best epoch. speed-up = samples/s over num_workers=0. "cores free" first
measures how much faster two processes read the dataset side by side than one alone: the most two workers
can give on this machine at this moment (other programs running on it take their share).

    python benchmarks/dataloader.py [--samples 4096] [--batch-size 128] [--extra 2] [--epochs 5]
"""

import argparse
import multiprocessing
import time

import numpy as np

import baby
from baby.data import transforms
from baby.utils.data import DataLoader, Dataset


def blur(x):
    """A 3x3 box blur of (C, H, W), edges replicated."""
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")  # (C, H+2, W+2)
    H, W = x.shape[1:]
    return sum(p[:, i:i + H, j:j + W] for i in range(3) for j in range(3)) / np.float32(9)  # (C, H, W)


class Augmented(Dataset):
    """Random images, each transformed on every read."""

    def __init__(self, n, extra):
        self.images = np.random.default_rng(0).random((n, 3, 32, 32), dtype=np.float32)  # (N, 3, 32, 32)
        self.labels = np.arange(n) % 10
        self.transform = transforms.Compose([transforms.RandomCrop(32, padding=4),
                                             transforms.RandomHorizontalFlip(),
                                             transforms.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))])
        self.extra = extra

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        x = self.transform(self.images[i])
        for _ in range(self.extra):
            x = blur(x)
        return x, self.labels[i]


def epoch_rate(loader):
    """Samples/s of one pass over `loader`."""
    t = time.perf_counter()
    n = sum(len(y) for _, y in loader)
    return n / (time.perf_counter() - t)


def read_all(ds):
    """Seconds to read every sample of `ds` once in this process."""
    t = time.perf_counter()
    for i in range(len(ds)):
        ds[i]
    return time.perf_counter() - t


def cores_free(ds):
    """2 x (one process's time) / (time of two processes reading side by side): 2.0 on two idle cores."""
    one = read_all(ds)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        t = time.perf_counter()
        pool.map(read_all, [ds, ds])
        return 2 * one / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=4096)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--extra", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    ds = Augmented(args.samples, args.extra)
    print(f"{args.samples} samples (3, 32, 32), batch {args.batch_size}, "
          f"crop+flip+normalise+{args.extra} blurs per sample")
    print(f"cores free: {cores_free(Augmented(args.samples // 4, args.extra)):.2f} of 2")
    loaders = {w: DataLoader(ds, batch_size=args.batch_size, shuffle=True, num_workers=w,
                             generator=baby.Generator().manual_seed(0), persistent_workers=w > 0)
               for w in (0, 1, 2)}
    best = dict.fromkeys(loaders, 0.0)
    for epoch in range(args.epochs + 1):  # the configurations take turns, so a change in load hits them all
        for w, loader in loaders.items():
            r = epoch_rate(loader)
            best[w] = max(best[w], r) if epoch else 0.0  # epoch 0 starts the workers: untimed
    for w, r in best.items():
        print(f"num_workers={w}: {r:8.0f} samples/s   speed-up {r / best[0]:.2f}x")

if __name__ == "__main__":
    main()
