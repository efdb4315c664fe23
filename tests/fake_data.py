"""Synthetic dataset files in the real formats: MNIST IDX (plain or gzipped) and CIFAR-10 batches."""

import gzip
import io
import pickle
import struct

import numpy as np

RNG = np.random.default_rng(0)
SPLITS = {True: "train", False: "t10k"}


def idx_bytes(a, magic=None):
    """The IDX encoding of uint8 array `a` (magic 0x0800 | ndim unless given)."""
    magic = 0x0800 | a.ndim if magic is None else magic
    return struct.pack(f">I{a.ndim}I", magic, *a.shape) + a.astype(np.uint8).tobytes()


def write(path, data, gz=False):
    """Write bytes `data` to `path` (gzipped, with a .gz suffix, if `gz`); return the path."""
    path = path.with_name(path.name + ".gz") if gz else path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def make_mnist(folder, train=True, n=7, gz=False):
    """Write an MNIST-format split of `n` random images into `folder`; return (images, labels)."""
    x, y = RNG.integers(0, 256, (n, 28, 28), dtype=np.uint8), RNG.integers(0, 10, n, dtype=np.uint8)
    write(folder / f"{SPLITS[train]}-images-idx3-ubyte", idx_bytes(x), gz)
    write(folder / f"{SPLITS[train]}-labels-idx1-ubyte", idx_bytes(y), gz)
    return x, y


class Py2Pickler(pickle._Pickler):
    """Pickles bytes and str as Python 2 strings (SHORT_BINSTRING/BINSTRING), as in the real CIFAR batches."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        b = obj.encode("latin1") if isinstance(obj, str) else obj
        n = len(b)
        short = n < 256
        self.write(pickle.SHORT_BINSTRING + bytes([n]) if short else pickle.BINSTRING + struct.pack("<i", n))
        self.write(b)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def batch_bytes(data, labels, name="training batch 1 of 5"):
    """A CIFAR-10 python batch, protocol 2, referencing numpy.core.multiarray as the real files do."""
    names = [f"img_{i}.png" for i in range(len(labels))]
    d = {"batch_label": name, "labels": labels, "data": data, "filenames": names}
    f = io.BytesIO()
    Py2Pickler(f, protocol=2).dump(d)
    return f.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


def make_cifar(folder, n=4):
    """Write data_batch_1..5 and test_batch of `n` images each into `folder`; return {name: (x, y)}."""
    out = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = RNG.integers(0, 256, (n, 3072), dtype=np.uint8)
        y = [int(v) for v in RNG.integers(0, 10, n)]
        write(folder / name, batch_bytes(x, y))
        out[name] = (x, y)
    return out
