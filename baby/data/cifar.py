"""CIFAR-10 from the standard python batches, read by an unpickler that admits only numpy arrays."""

import pickle
from pathlib import Path

import numpy as np

from .download import DatasetError, download_url, extract_tar, gather, md5sum
from .mnist import ImageDataset

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy < 2
    from numpy.core.multiarray import _reconstruct

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _BatchUnpickler(pickle.Unpickler):
    """An Unpickler whose only importable globals are the ones a pickled numpy array needs."""

    def __init__(self, file, path):
        super().__init__(file, encoding="bytes")
        self.path = path

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return _ALLOWED[module, name]
        raise DatasetError(
            f"{self.path}: refusing to unpickle the global {module}.{name}; a CIFAR batch may only "
            f"reference {', '.join(sorted(f'{m}.{n}' for m, n in _ALLOWED))}"
        )


def read_batch(path):
    """(data uint8 (n, 3072), labels int64 (n,)) from one CIFAR-10 batch, without running pickled code."""
    with open(path, "rb") as f:
        try:
            d = _BatchUnpickler(f, path).load()
        except DatasetError:
            raise
        except Exception as e:
            raise DatasetError(f"{path}: corrupt or truncated CIFAR batch ({type(e).__name__}: {e})") from e
    if not isinstance(d, dict):
        raise DatasetError(f"{path}: a CIFAR batch is a dict, got {type(d).__name__}")
    d = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in d.items()}
    x, y = d.get("data"), d.get("labels")
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3 * 32 * 32:
        got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, np.ndarray) else type(x).__name__
        raise DatasetError(f"{path}: 'data' must be a uint8 array (n, 3072), got {got}")
    if not isinstance(y, list) or len(y) != len(x):
        n = len(y) if isinstance(y, list) else type(y).__name__
        raise DatasetError(f"{path}: 'labels' must be a list of {len(x)} ints (one per image), got {n}")
    if not all(isinstance(v, int) for v in y):
        raise DatasetError(f"{path}: 'labels' must be ints, got {sorted({type(v).__name__ for v in y})}")
    y = np.array(y, dtype=np.int64)
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise DatasetError(f"{path}: labels must be in 0..9, got {y.min()}..{y.max()}")
    return x, y


class CIFAR10(ImageDataset):
    """CIFAR-10: images float32 (N, 3, 32, 32) in [0, 1], labels int64 (N,)."""

    mirror = "https://www.cs.toronto.edu/~kriz/"
    filename = "cifar-10-python.tar.gz"
    md5 = "c58f30108f718f92721af3b95e74349a"  # as torchvision's datasets/cifar.py lists it
    folder = "cifar-10-batches-py"
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def __init__(self, root, train=True, transform=None, download=False, mirror=None):
        self.root, self.train = Path(root), train
        paths = self.files(root, (train,), download, mirror).values()
        xs, ys = zip(*(read_batch(p) for p in paths), strict=True)
        x = np.concatenate(xs).reshape(-1, 3, 32, 32)  # (N, 3072) -> (N, 3, 32, 32)
        super().__init__(np.divide(x, np.float32(255), dtype=np.float32), np.concatenate(ys), transform)

    @classmethod
    def files(cls, root, splits=(True, False), download=False, mirror=None):
        """{name: path} of the batches of `splits` in root/cifar-10-batches-py (or root).

        Files on disk win: a missing batch is extracted (safely) from the archive in root when it is there
        with the right MD5, else with `download` from the mirror. MissingData names what is still missing.
        """
        root = Path(root)
        archive, url = root / cls.filename, f"{(mirror or cls.mirror).rstrip('/')}/{cls.filename}"
        split = {True: [f"data_batch_{i}" for i in range(1, 6)], False: ["test_batch"]}
        names = [n for s in splits for n in split[s]]

        def fetch(missing):
            if not download and md5sum(archive) != cls.md5:
                raise DatasetError(f"{archive}: MD5 {md5sum(archive)}, expected {cls.md5}: not the CIFAR-10 "
                                   "archive, or damaged")
            extract_tar(download_url(url, archive, cls.md5), root)

        def hint(missing):
            return f"fetch {url} by hand into {root} (it is extracted there)"

        local = download or archive.is_file()
        return gather(cls.__name__, [root, root / cls.folder], names, ("",), local, fetch, hint)

    def download(self, mirror=None):
        """Fetch the archive into root (unless it is there), verify its MD5 and extract it safely."""
        self.files(self.root, (True, False), True, mirror)
