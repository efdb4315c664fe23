"""MNIST and Fashion-MNIST from the standard IDX files (plain or gzipped), parsed with numpy.frombuffer."""

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from .collate import Batch
from .dataset import TensorDataset
from .download import DatasetError, download_url, gather

IDX_UBYTE = 0x08
DEFLATE_RATIO = 1032  # gzip expands at most ~1032:1


def read_idx(path, ndim):
    """The uint8 array stored in IDX file `path` (plain or .gz), checked to have `ndim` dimensions.

    The header's dimensions are checked against what the file can hold before the data is read, so a
    forged header (dimensions whose product overflows, a gzip bomb) is a DatasetError, not a MemoryError."""
    path = Path(path)
    magic, header = (IDX_UBYTE << 8) | ndim, 4 + 4 * ndim
    try:
        with open(path, "rb") as f:
            packed, size = f.read(2) == b"\x1f\x8b", os.fstat(f.fileno()).st_size
        with gzip.open(path, "rb") if packed else open(path, "rb") as f:
            raw = f.read(header)
            got = int.from_bytes(raw[:4], "big")
            if len(raw) >= 4 and got != magic:
                raise DatasetError(f"{path}: wrong magic number 0x{got:08x}, expected 0x{magic:08x} "
                                   f"({ndim}-d uint8)")
            if len(raw) < header:
                raise DatasetError(f"{path}: truncated IDX header ({len(raw)} bytes, need {header})")
            dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
            need, most = math.prod(dims), size * DEFLATE_RATIO if packed else size - header
            fits = need <= most or not packed  # a plain file's bytes are read (what it has), a gzip's not
            data = f.read(min(need, most) + 1) if fits else b""
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"{path}: corrupt or truncated gzip data ({e})") from e
    if len(data) != need:
        has = (f"file has {len(data) if packed else size - header}" if fits else
               f"the {size}-byte gzip file cannot hold them")
        raise DatasetError(f"{path}: truncated or corrupt IDX data: header dims {dims} need {need} bytes, "
                           f"{has}")
    return np.frombuffer(data, np.uint8).reshape(dims)  # dims


class ImageDataset(TensorDataset):
    """In-memory images float32 (N, C, H, W) and labels int64 (N,); `transform` maps one image or a batch.

    `ds[i]` transforms one image (C, H, W); `ds.__getitems__(indices)`, the DataLoader's path, takes the
    images with one fancy index and transforms the whole batch (N, C, H, W) in one call, as the transforms
    in `baby.data.transforms` do (random ones with one vectorised draw per batch).
    """

    def __init__(self, images, labels, transform=None):
        super().__init__(images, labels)
        self.transform = transform

    images = property(lambda self: self.arrays[0], doc="All images, float32 (N, C, H, W) in [0, 1].")
    labels = property(lambda self: self.arrays[1], doc="All labels, int64 (N,).")

    def __getitem__(self, i):
        x = self.images[i]
        return (x if self.transform is None else self.transform(x)), self.labels[i]

    def __getitems__(self, indices):
        """The images (transformed as one batch) and labels at `indices`, as a Batch."""
        x = self.images[indices]  # (B, C, H, W)
        return Batch(x if self.transform is None else self.transform(x), self.labels[indices])


class MNIST(ImageDataset):
    """The MNIST digits: images float32 (N, 1, 28, 28) in [0, 1], labels int64 (N,)."""

    mirror = "https://ossci-datasets.s3.amazonaws.com/mnist/"
    resources = {  # file -> MD5, as torchvision's datasets/mnist.py lists them
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root, train=True, transform=None, download=False, mirror=None):
        self.root, self.train = Path(root), train
        found = self.files(root, (train,), download, mirror)
        image_path, label_path = found.values()
        x, y = read_idx(image_path, 3), read_idx(label_path, 1)
        if len(x) != len(y):
            raise DatasetError(f"{image_path} holds {len(x)} images but {label_path} holds {len(y)} labels")
        if len(y) and y.max() >= len(self.classes):
            raise DatasetError(f"{label_path}: label {y.max()} is outside 0..{len(self.classes) - 1}")
        images = np.divide(x[:, None], np.float32(255), dtype=np.float32)  # (N, 1, H, W)
        super().__init__(images, y.astype(np.int64), transform)

    @classmethod
    def files(cls, root, splits=(True, False), download=False, mirror=None):
        """{name: path} of the IDX files of `splits` in `root` or root/<Name>/raw (fetching missing ones).

        Files on disk win; with `download`, only the missing ones are fetched (MD5-checked). MissingData
        names what is still missing, the folders searched and the URLs to fetch by hand.
        """
        root, base = Path(root), (mirror or cls.mirror).rstrip("/")
        raw = root / cls.__name__ / "raw"
        names = [f"{'train' if s else 't10k'}-{kind}-ubyte"
                 for s in splits for kind in ("images-idx3", "labels-idx1")]

        def fetch(missing):
            for n in missing:
                download_url(f"{base}/{n}.gz", raw / f"{n}.gz", cls.resources[f"{n}.gz"])

        def hint(missing):
            return f"fetch {', '.join(f'{base}/{n}.gz' for n in missing)} by hand into {raw}"

        return gather(cls.__name__, [root, raw], names, ("", ".gz"), download, fetch, hint)

    def download(self, mirror=None):
        """Fetch the missing files of both splits into root/<Name>/raw, verifying each MD5."""
        self.files(self.root, (True, False), True, mirror)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST in the MNIST format: images float32 (N, 1, 28, 28), labels int64 (N,)."""

    mirror = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    resources = {  # file -> MD5, as torchvision's datasets/mnist.py lists them
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
