"""MNIST / FashionMNIST / CIFAR10 readers and downloads, on synthetic files in the real formats."""

import functools
import hashlib
import http.server
import io
import os
import pickle
import struct
import tarfile
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
from fake_data import Py2Pickler, batch_bytes, idx_bytes, make_cifar, make_mnist, write

from baby import Tensor
from baby.data import DataLoader
from baby.data.cifar import CIFAR10, read_batch
from baby.data.download import DatasetError, MissingData, extract_tar
from baby.data.mnist import MNIST, FashionMNIST, read_idx
from baby.data.transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip

RNG = np.random.default_rng(0)


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


# ---- MNIST ----

@pytest.mark.parametrize("cls,layout", [
    (MNIST, ""), (MNIST, "MNIST/raw"), (FashionMNIST, ""), (FashionMNIST, "FashionMNIST/raw"),
])
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("train", [True, False])
def test_mnist_reads_idx(tmp_path, cls, layout, gz, train):
    x, y = make_mnist(tmp_path / layout, train=train, gz=gz)
    ds = cls(tmp_path, train=train)
    assert ds.images.shape == (len(x), 1, 28, 28) and ds.images.dtype == np.float32
    assert ds.labels.shape == (len(x),) and ds.labels.dtype == np.int64
    np.testing.assert_array_equal(ds.images[:, 0], x / np.float32(255))
    np.testing.assert_array_equal(ds.labels, y)
    assert len(ds) == len(x) and 0 <= ds.images.min() and ds.images.max() <= 1
    image, label = ds[3]
    assert image.shape == (1, 28, 28) and label == y[3]


def test_mnist_transform_applied(tmp_path):
    x, y = make_mnist(tmp_path)
    image, label = MNIST(tmp_path, transform=lambda im: im * 2)[1]
    np.testing.assert_allclose(image[0], x[1] / 255 * 2, rtol=1e-6)
    assert label == y[1]


def test_mnist_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte.*MNIST/raw.*download=True"):
        MNIST(tmp_path)


X7, Y7 = RNG.integers(0, 256, (7, 28, 28), dtype=np.uint8), RNG.integers(0, 10, 7, dtype=np.uint8)
GOOD_X, GOOD_Y = idx_bytes(X7), idx_bytes(Y7)


@pytest.mark.parametrize("images,labels,pattern", [
    (idx_bytes(X7, magic=0x0801), GOOD_Y, r"images-idx3-ubyte: wrong magic number 0x00000801"),
    (GOOD_Y, GOOD_X, r"images-idx3-ubyte: wrong magic number 0x00000801, expected 0x00000803"),
    (GOOD_X[:9], GOOD_Y, r"images-idx3-ubyte: truncated IDX header \(9 bytes, need 16\)"),
    (GOOD_X[:2], GOOD_Y, r"images-idx3-ubyte: truncated IDX header"),
    (GOOD_X[:-5], GOOD_Y, r"images-idx3-ubyte: truncated .* need 5488 bytes, file has 5483"),
    (GOOD_X, GOOD_Y[:-1], r"labels-idx1-ubyte: truncated .* need 7 bytes, file has 6"),
    (GOOD_X, idx_bytes(Y7[:-1]), r"images-idx3-ubyte holds 7 images but .*labels-idx1-ubyte holds 6 labels"),
    (GOOD_X, idx_bytes(np.full(7, 10, np.uint8)), r"labels-idx1-ubyte: label 10 is outside 0..9"),
], ids=["magic", "swapped", "header", "no-magic", "truncated", "labels-truncated", "counts", "label-range"])
def test_mnist_corrupt_files(tmp_path, images, labels, pattern):
    write(tmp_path / "train-images-idx3-ubyte", images)
    write(tmp_path / "train-labels-idx1-ubyte", labels)
    with pytest.raises(DatasetError, match=pattern):
        MNIST(tmp_path)


@pytest.mark.parametrize("damage", ["truncate", "garble"])
def test_mnist_corrupt_gzip(tmp_path, damage):
    make_mnist(tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2] if damage == "truncate" else raw[:10] + b"\xff" * 40 + raw[50:])
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte.gz: corrupt or truncated gzip"):
        MNIST(tmp_path)


def test_read_idx(tmp_path):
    y = np.arange(10, dtype=np.uint8)
    a = read_idx(write(tmp_path / "y", idx_bytes(y)), 1)
    np.testing.assert_array_equal(a, y)


# ---- CIFAR-10 ----

@pytest.mark.parametrize("layout", ["", "cifar-10-batches-py"])
@pytest.mark.parametrize("train", [True, False])
def test_cifar_reads_batches(tmp_path, layout, train):
    batches = make_cifar(tmp_path / layout)
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    x = np.concatenate([batches[n][0] for n in names]).reshape(-1, 3, 32, 32)
    y = sum((batches[n][1] for n in names), [])
    ds = CIFAR10(tmp_path, train=train)
    assert ds.images.shape == (len(y), 3, 32, 32) and ds.images.dtype == np.float32
    assert ds.labels.dtype == np.int64 and len(ds) == len(y)
    np.testing.assert_array_equal(ds.images, x / np.float32(255))
    np.testing.assert_array_equal(ds.labels, y)
    image, label = ds[2]
    assert image.shape == (3, 32, 32) and label == y[2]


def test_dataloader_batches_transformed_cifar(tmp_path):
    make_cifar(tmp_path, n=6)
    aug = Compose([RandomCrop(32, padding=4, rng=0), RandomHorizontalFlip(rng=0), Normalize((0.5,), (0.25,))])
    ds = CIFAR10(tmp_path, transform=aug)
    batches = list(DataLoader(ds, batch_size=8, shuffle=True, seed=0))
    assert [len(y.numpy()) for _, y in batches] == [8, 8, 8, 6]
    x, y = batches[0]
    assert isinstance(x, Tensor) and x.shape == (8, 3, 32, 32)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert sorted(np.concatenate([y.numpy() for _, y in batches])) == sorted(ds.labels)
    plain = CIFAR10(tmp_path)
    xs, ys = plain.__getitems__(np.array([3, 1])).fields
    np.testing.assert_array_equal(xs, plain.images[[3, 1]])
    np.testing.assert_array_equal(ys, plain.labels[[3, 1]])


def test_cifar_reads_python3_pickles(tmp_path):
    x = RNG.integers(0, 256, (3, 3072), dtype=np.uint8)
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": x, b"labels": [0, 1, 2]}, protocol=4))
    np.testing.assert_array_equal(read_batch(tmp_path / "test_batch")[0], x)


def test_cifar_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"test_batch.*cifar-10-batches-py.*download=True"):
        CIFAR10(tmp_path, train=False)


def payload(fn, *args):
    """An object whose unpickling calls fn(*args)."""
    return type("Payload", (), {"__reduce__": lambda self: (fn, args)})()


@pytest.mark.parametrize("fn,args,name", [
    (os.system, ("touch {marker}",), r"(posix|os)\.system"),
    (eval, ("open({marker!r}, 'w')",), r"(__builtin__|builtins)\.eval"),
    (np.load, ("{marker}",), r"numpy\.load"),
])
def test_cifar_malicious_pickle_rejected_without_running(tmp_path, fn, args, name):
    marker = str(tmp_path / "pwned")
    evil = payload(fn, *(a.format(marker=marker) for a in args))
    f = io.BytesIO()
    Py2Pickler(f, protocol=2).dump({"data": np.zeros((1, 3072), np.uint8), "labels": [0], "filenames": evil})
    (tmp_path / "test_batch").write_bytes(f.getvalue())
    with pytest.raises(DatasetError, match=rf"test_batch: refusing to unpickle the global {name}"):
        CIFAR10(tmp_path, train=False)
    assert not os.path.exists(marker)


XB, YB = RNG.integers(0, 256, (4, 3072), dtype=np.uint8), [1, 2, 3, 4]
GOOD_BATCH = batch_bytes(XB, YB)


@pytest.mark.parametrize("raw,pattern", [
    (GOOD_BATCH[: len(GOOD_BATCH) // 2], r"corrupt or truncated CIFAR batch"),
    (b"", r"corrupt or truncated CIFAR batch \(EOFError"),
    (b"\x80\x02not a pickle", r"corrupt or truncated CIFAR batch"),
    (pickle.dumps([1, 2], protocol=2), r"a CIFAR batch is a dict, got list"),
    (batch_bytes(XB, YB[:3]), r"'labels' must be a list of 4 ints .* got 3"),
    (batch_bytes(XB[:, :100], YB), r"'data' must be a uint8 array \(n, 3072\), got uint8 \(4, 100\)"),
    (batch_bytes(XB.astype(np.int16), YB), r"'data' must be a uint8 array \(n, 3072\), got int16"),
    (batch_bytes(XB, [1, 2, 3, 10]), r"labels must be in 0..9, got 1..10"),
    (batch_bytes(XB, [1, 2, 3, "4"]), r"'labels' must be ints"),
], ids=["truncated", "empty", "garbage", "not-dict", "counts", "width", "dtype", "label-range", "label-type"])
def test_cifar_corrupt_batches(tmp_path, raw, pattern):
    (tmp_path / "test_batch").write_bytes(raw)
    with pytest.raises(DatasetError, match="test_batch: " + pattern):
        CIFAR10(tmp_path, train=False)


# ---- downloads from a local server ----

class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder and records the requested paths, without logging."""

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """(served folder, base URL, list of requested paths) of an HTTP server on 127.0.0.1, shut down after."""
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    served = tmp_path / "served"
    served.mkdir()
    requests = []
    handler = type("Handler", (QuietHandler,), {"requests": requests})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=served))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}/", requests
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def serve_mnist(served):
    """Write both gzipped splits into `served`; return (resources {name: md5}, train (x, y))."""
    train = make_mnist(served, train=True, gz=True)
    make_mnist(served, train=False, n=5, gz=True)
    return {p.name: md5(p) for p in sorted(served.glob("*.gz"))}, train


@pytest.mark.parametrize("cls", [MNIST, FashionMNIST])
def test_mnist_download(tmp_path, server, monkeypatch, cls):
    served, url, requests = server
    resources, (x, y) = serve_mnist(served)
    monkeypatch.setattr(cls, "resources", resources)
    monkeypatch.setattr(cls, "mirror", url)
    ds = cls(tmp_path / "data", download=True)
    np.testing.assert_array_equal(ds.labels, y)
    np.testing.assert_array_equal(ds.images[:, 0], x / np.float32(255))
    assert requests == ["/train-images-idx3-ubyte.gz", "/train-labels-idx1-ubyte.gz"]   # only its split
    assert len(cls(tmp_path / "data", train=False, download=True)) == 5
    raw = tmp_path / "data" / cls.__name__ / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(resources) and len(requests) == 4


def test_local_files_win_over_a_download(tmp_path, server, monkeypatch):
    served, url, requests = server
    resources, _ = serve_mnist(served)
    monkeypatch.setattr(MNIST, "resources", resources)
    x, _ = make_mnist(tmp_path / "data", train=True, n=3)                 # plain files, in root itself
    (tmp_path / "data" / "t10k-labels-idx1-ubyte.gz").write_bytes((served / "t10k-labels-idx1-ubyte.gz")
                                                                  .read_bytes())
    assert len(MNIST(tmp_path / "data", download=True, mirror=url)) == 3 and requests == []
    assert len(MNIST(tmp_path / "data", train=False, download=True, mirror=url)) == 5
    assert requests == ["/t10k-images-idx3-ubyte.gz"]


def test_download_mirror_argument(tmp_path, server, monkeypatch):
    served, url, requests = server
    resources, _ = serve_mnist(served)
    monkeypatch.setattr(MNIST, "resources", resources)
    assert len(MNIST(tmp_path / "data", train=False, download=True, mirror=url.rstrip("/"))) == 5
    assert requests == ["/t10k-images-idx3-ubyte.gz", "/t10k-labels-idx1-ubyte.gz"]


def test_download_checksum_mismatch(tmp_path, server, monkeypatch):
    served, url, _ = server
    resources, _ = serve_mnist(served)
    resources["train-images-idx3-ubyte.gz"] = "0" * 32
    monkeypatch.setattr(MNIST, "resources", resources)
    with pytest.raises(DatasetError, match=r"mismatch for .*train-images-idx3-ubyte.gz.* expected 0{32}"):
        MNIST(tmp_path / "data", download=True, mirror=url)
    assert not (tmp_path / "data").exists()     # the first file failed: no partial file, no folders


def test_download_http_error_leaves_nothing(tmp_path, server, monkeypatch):
    _, url, _ = server
    with pytest.raises(MissingData, match=r"could not download http://127.0.0.1:\d+/train-images-idx3-ubyte.gz.*404"):
        MNIST(tmp_path / "data", download=True, mirror=url)
    assert not (tmp_path / "data").exists()


def _offline(*args, **kwargs):
    raise urllib.error.URLError(OSError(-2, "Name or service not known"))


@pytest.mark.parametrize("present", [0, 1, 3])
def test_mnist_offline_names_each_missing_file_and_its_url(tmp_path, monkeypatch, present):
    monkeypatch.setattr(urllib.request, "urlopen", _offline)
    make_mnist(tmp_path / "MNIST" / "raw", train=False, gz=True)
    make_mnist(tmp_path / "MNIST" / "raw", train=True, gz=True)
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte"]
    for n in names[present:]:
        (tmp_path / "MNIST" / "raw" / f"{n}.gz").unlink()
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(MissingData) as e:
        MNIST.files(tmp_path, download=True)
    raw, base = tmp_path / "MNIST" / "raw", MNIST.mirror.rstrip("/")
    missing = ", ".join(f"{n}.gz" for n in names[present:])
    assert str(e.value) == (
        f"MNIST: {missing} (gzipped or not) not found in {tmp_path} or {raw}, and could not download "
        f"{base}/{names[present]}.gz: [Errno -2] Name or service not known; fetch "
        f"{', '.join(f'{base}/{n}.gz' for n in names[present:])} by hand into {raw}")
    assert sorted(tmp_path.rglob("*")) == before


def test_cifar_offline_names_the_archive_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", _offline)
    with pytest.raises(MissingData) as e:
        CIFAR10(tmp_path / "data", train=False, download=True)
    data, url = tmp_path / "data", CIFAR10.mirror + CIFAR10.filename
    assert str(e.value) == (
        f"CIFAR10: test_batch not found in {data} or {data}/cifar-10-batches-py, and could not download "
        f"{url}: [Errno -2] Name or service not known; fetch {url} by hand into {data} (it is extracted "
        "there)")
    assert not data.exists()


@pytest.mark.parametrize("download", [True, False])
def test_cifar_local_archive_wins_over_a_download(tmp_path, monkeypatch, download):
    monkeypatch.setattr(urllib.request, "urlopen", _offline)
    batches = make_cifar(tmp_path / "src" / "cifar-10-batches-py")
    archive = tmp_path / "data" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    monkeypatch.setattr(CIFAR10, "md5", md5(archive))
    ds = CIFAR10(tmp_path / "data", train=False, download=download)
    np.testing.assert_array_equal(ds.labels, batches["test_batch"][1])
    monkeypatch.setattr(CIFAR10, "md5", "0" * 32)
    (tmp_path / "data" / "cifar-10-batches-py" / "data_batch_2").unlink()
    with pytest.raises(DatasetError if not download else MissingData,       # a damaged archive is refetched
                       match="tar.gz: MD5 .*, expected 0{32}" if not download else "could not download"):
        CIFAR10(tmp_path / "data", download=download)


def test_cifar_download(tmp_path, server, monkeypatch):
    served, url, requests = server
    batches = make_cifar(tmp_path / "src" / "cifar-10-batches-py")
    archive = served / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    monkeypatch.setattr(CIFAR10, "md5", md5(archive))
    monkeypatch.setattr(CIFAR10, "mirror", url)
    ds = CIFAR10(tmp_path / "data", train=False, download=True)
    np.testing.assert_array_equal(ds.labels, batches["test_batch"][1])
    assert len(CIFAR10(tmp_path / "data", download=True)) == 20
    assert requests == ["/cifar-10-python.tar.gz"]


def test_cifar_download_checksum_mismatch(tmp_path, server, monkeypatch):
    served, url, _ = server
    (served / "cifar-10-python.tar.gz").write_bytes(b"not the archive")
    with pytest.raises(DatasetError, match=f"checksum mismatch .*cifar-10-python.tar.gz.*{CIFAR10.md5}"):
        CIFAR10(tmp_path / "data", download=True, mirror=url)
    assert not (tmp_path / "data").exists()


def tar_with(path, member, data=b"x"):
    """A tar.gz at `path` holding one member `member` (a TarInfo or a name)."""
    info = member if isinstance(member, tarfile.TarInfo) else tarfile.TarInfo(member)
    info.size = len(data) if info.isfile() else 0
    with tarfile.open(path, "w:gz") as tar:
        tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def symlink(name, target):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.mark.parametrize("member,pattern", [
    ("../evil", r"unsafe member '../evil'"),
    ("cifar-10-batches-py/../../evil", r"unsafe member"),
    ("/tmp/evil_baby_test", r"unsafe member '/tmp/evil_baby_test'"),
    (symlink("cifar-10-batches-py/l", "/etc/passwd"), r"'cifar-10-batches-py/l' is not a regular file"),
])
def test_extract_tar_refuses_unsafe_members(tmp_path, member, pattern):
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(DatasetError, match=pattern):
        extract_tar(tar_with(tmp_path / "a.tar.gz", member), dest)
    assert list(dest.iterdir()) == [] and not (tmp_path / "evil").exists()


def test_extract_tar_corrupt_archive(tmp_path):
    (tmp_path / "a.tar.gz").write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(DatasetError, match="a.tar.gz: could not extract the tar archive"):
        extract_tar(tmp_path / "a.tar.gz", tmp_path)


@pytest.mark.parametrize("dims, gz, pattern", [
    ((2 ** 16, 2 ** 16, 2 ** 32 - 1), False,
     r"header dims \(65536, 65536, 4294967295\) need 18446744069414584320 bytes, file has 5488"),
    ((2 ** 32 - 1,) * 3, True, r"need 79228162458924105385300197375 bytes, the \d+-byte gzip file cannot"),
    ((7, 28, 2 ** 20), True, r"need 205520896 bytes, the \d+-byte gzip file cannot hold them"),
], ids=["overflow", "overflow-gz", "gzip-bomb"])
def test_mnist_idx_dims_that_overflow_are_one_line_errors(tmp_path, dims, gz, pattern):
    images = struct.pack(">4I", 0x0803, *dims) + GOOD_X[16:]
    write(tmp_path / "train-images-idx3-ubyte", images, gz=gz)
    write(tmp_path / "train-labels-idx1-ubyte", GOOD_Y, gz=gz)
    with pytest.raises(DatasetError, match=pattern) as e:
        MNIST(tmp_path)
    assert "\n" not in str(e.value)
