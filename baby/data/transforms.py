"""Image transforms on float arrays: one image (C, H, W) or a batch (N, C, H, W), vectorized."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..random import generator


def _as_rng(rng):
    """None (use the library's generator at call time), or a Generator from an int seed or a Generator."""
    if rng is None or isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be None, an int seed or a numpy Generator, got {type(rng).__name__}")


def _check_image(x, name):
    """Raise unless `x` is an array of shape (C, H, W) or (N, C, H, W)."""
    if not isinstance(x, np.ndarray) or x.ndim not in (3, 4):
        shape = getattr(x, "shape", type(x).__name__)
        raise ValueError(f"{name} expects an image (C, H, W) or a batch (N, C, H, W) array, got {shape}")


def _pair(v, name):
    """An (h, w) pair from an int or a pair of ints."""
    hw = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(hw) != 2 or any(not isinstance(n, (int, np.integer)) or n < 0 for n in hw):
        raise ValueError(f"{name} must be a non-negative int or a pair of them, got {v!r}")
    return hw


class Compose:
    """Apply `transforms` one after another."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self):
        return f"Compose({self.transforms!r})"


class Normalize:
    """(x - mean) / std per channel."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)  # (C, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)  # (C, 1, 1)
        if (self.std == 0).any():
            raise ValueError(f"Normalize std must be non-zero, got {std!r}")

    def __call__(self, x):
        _check_image(x, "Normalize")
        if x.dtype.kind != "f":
            raise TypeError(f"Normalize expects a floating image, got {x.dtype} (scale integer pixels to "
                            f"[0, 1] first, e.g. x / 255)")
        C = x.shape[-3]
        if len(self.mean) not in (1, C) or len(self.std) not in (1, C):
            raise ValueError(
                f"Normalize has {len(self.mean)} means and {len(self.std)} stds for an input of shape "
                f"{tuple(x.shape)} ({C} channels); expected 1 or {C} of each"
            )
        out = x - self.mean
        out /= self.std  # in place: one temporary, the values of (x - mean) / std
        return out.astype(x.dtype, copy=False)

    def __repr__(self):
        return f"Normalize(mean={self.mean.ravel().tolist()}, std={self.std.ravel().tolist()})"


class RandomCrop:
    """Crop a random `size` window after zero-padding each side by `padding`; offsets drawn per image."""

    def __init__(self, size, padding=0, rng=None):
        self.size = _pair(size, "RandomCrop size")
        p = (padding,) * 4 if isinstance(padding, (int, np.integer)) else tuple(padding)
        if len(p) == 2:
            p = p * 2
        if len(p) != 4 or any(not isinstance(n, (int, np.integer)) or n < 0 for n in p):
            raise ValueError(f"RandomCrop padding must be an int, (lr, tb) or (l, t, r, b), got {padding!r}")
        self.padding = p  # (left, top, right, bottom) as in torchvision
        self.rng = _as_rng(rng)

    def __call__(self, x):
        _check_image(x, "RandomCrop")
        batch = x if x.ndim == 4 else x[None]  # (N, C, H, W)
        l, t, r, b = self.padding
        if any(self.padding):
            batch = np.pad(batch, ((0, 0), (0, 0), (t, b), (l, r)))  # (N, C, H+t+b, W+l+r)
        N, _, H, W = batch.shape
        h, w = self.size
        if h > H or w > W:
            raise ValueError(
                f"RandomCrop size {self.size} exceeds the padded image {(H, W)} (input shape "
                f"{tuple(x.shape)})"
            )
        g = generator() if self.rng is None else self.rng
        top, left = g.integers(0, H - h + 1, size=N), g.integers(0, W - w + 1, size=N)
        windows = sliding_window_view(batch, (h, w), axis=(2, 3))  # (N, C, H-h+1, W-w+1, h, w), a view
        out = windows[np.arange(N), :, top, left]  # (N, C, h, w)
        return out if x.ndim == 4 else out[0]

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror each image left-right with probability `p`."""

    def __init__(self, p=0.5, rng=None):
        if not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip p must be in [0, 1], got {p}")
        self.p, self.rng = p, _as_rng(rng)

    def __call__(self, x):
        _check_image(x, "RandomHorizontalFlip")
        g = generator() if self.rng is None else self.rng
        flip = g.random(x.shape[0] if x.ndim == 4 else None) < self.p
        if x.ndim == 3:
            return x[..., ::-1] if flip else x  # (C, H, W) view
        return np.where(flip[:, None, None, None], x[..., ::-1], x)  # (N, C, H, W)

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"
