"""`baby train` / `baby eval` without network: each missing file named with its folder and URL, nothing
created, files on disk used as they are, the run's --data-dir remembered, eval reading only the test split."""

import tarfile

import pytest
from cli_helpers import files, go_offline, run
from fake_data import make_cifar, make_mnist

from baby import train
from baby.data import CIFAR10, MNIST, FashionMNIST
from baby.data.download import md5sum

NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte"]


def _mnist(raw, present=4):
    """Fake gzipped MNIST files in `raw`, keeping only the first `present` of NAMES."""
    make_mnist(raw, train=True, n=64, gz=True)
    make_mnist(raw, train=False, n=16, gz=True)
    for name in NAMES[present:]:
        (raw / f"{name}.gz").unlink()


@pytest.mark.parametrize("present", [0, 3, 4])
def test_mnist_offline_with_0_3_or_4_files(tmp_path, monkeypatch, capsys, present):
    monkeypatch.chdir(tmp_path)
    tried = go_offline(monkeypatch)
    if present:
        _mnist(tmp_path / "data" / "MNIST" / "raw", present)
    before = files(tmp_path)
    status, out, err = run(capsys, "train", "--dataset", "mnist", "--epochs", "1", "--out", "run")
    if present == 4:
        assert status == 0 and tried == [] and out[-1].startswith("test accuracy: ")
        assert train.load_checkpoint(tmp_path / "run" / "checkpoint.npz").epoch == 1
        return
    missing, base = NAMES[present:], MNIST.mirror
    assert (status, out, len(err)) == (2, [], 1)
    assert err[0] == (
        f"baby train: error: MNIST: {', '.join(n + '.gz' for n in missing)} (gzipped or not) not found in "
        f"data or data/MNIST/raw, and could not download {base}{missing[0]}.gz: [Errno -2] Name or service "
        f"not known; fetch {', '.join(base + n + '.gz' for n in missing)} by hand into data/MNIST/raw")
    assert files(tmp_path) == before                      # no data/MNIST/raw, no run directory


@pytest.mark.parametrize("dataset, start, url", [
    ("fashion-mnist", f"FashionMNIST: {', '.join(n + '.gz' for n in NAMES)} (gzipped or not) not found in "
                      "data or data/FashionMNIST/raw", FashionMNIST.mirror + NAMES[0] + ".gz"),
    ("cifar10", "CIFAR10: data_batch_1, data_batch_2, data_batch_3, data_batch_4, data_batch_5, test_batch "
                "not found in data or data/cifar-10-batches-py", CIFAR10.mirror + CIFAR10.filename),
])
def test_other_datasets_offline(tmp_path, monkeypatch, capsys, dataset, start, url):
    monkeypatch.chdir(tmp_path)
    go_offline(monkeypatch)
    status, out, err = run(capsys, "train", "--dataset", dataset)
    assert (status, out, len(err)) == (2, [], 1)
    assert err[0].startswith(f"baby train: error: {start}, and could not download {url}: ")
    assert f"; fetch {url}" in err[0] and " by hand into data" in err[0] and list(tmp_path.iterdir()) == []


def test_cifar10_from_a_local_archive_offline(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    go_offline(monkeypatch)
    make_cifar(tmp_path / "src" / "cifar-10-batches-py", n=8)
    (tmp_path / "data").mkdir()
    with tarfile.open(tmp_path / "data" / CIFAR10.filename, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    monkeypatch.setattr(CIFAR10, "md5", md5sum(tmp_path / "data" / CIFAR10.filename))
    status, out, _ = run(capsys, "train", "--dataset", "cifar10", "--model", "cnn", "--epochs", "1")
    assert status == 0 and out[-1].startswith("test accuracy: ")


def test_eval_and_resume_find_the_runs_data_dir_and_eval_reads_only_the_test_split(tmp_path, monkeypatch,
                                                                                      capsys):
    tried = go_offline(monkeypatch)
    _mnist(tmp_path / "store" / "MNIST" / "raw")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    status, *_ = run(capsys, "train", "--dataset", "mnist", "--epochs", "1", "--data-dir", "../store",
                     "--out", "run")
    assert status == 0
    monkeypatch.chdir(tmp_path / "b")                     # elsewhere, without --data-dir
    status, out, _ = run(capsys, "train", "--resume", "../a/run/checkpoint.npz", "--epochs", "2")
    assert status == 0 and out[0] == "resuming lenet on mnist after epoch 1 of 2 (was 1)"
    for name in NAMES[:2]:
        (tmp_path / "store" / "MNIST" / "raw" / f"{name}.gz").unlink()   # eval needs only the test split
    status, out, err = run(capsys, "eval", "--checkpoint", "../a/run/checkpoint.npz")
    assert (status, err) == (0, []) and out[0].startswith("test accuracy: ")
    assert tried == [] and list((tmp_path / "b").iterdir()) == []
    config = train.load_checkpoint(tmp_path / "a" / "run" / "checkpoint.npz").config
    assert config["data_dir"] == str(tmp_path / "store")


def test_eval_offline_names_only_the_test_files(tmp_path, monkeypatch, capsys):
    go_offline(monkeypatch)
    _mnist(tmp_path / "data" / "MNIST" / "raw")
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "train", "--dataset", "mnist", "--epochs", "1", "--out", "run")[0] == 0
    for name in NAMES:
        (tmp_path / "data" / "MNIST" / "raw" / f"{name}.gz").unlink()
    status, out, err = run(capsys, "eval", "--checkpoint", "run/checkpoint.npz")
    assert (status, out, len(err)) == (2, [], 1)
    data = tmp_path / "data"                              # the run's --data-dir, stored as an absolute path
    assert f"MNIST: {NAMES[2]}.gz, {NAMES[3]}.gz (gzipped or not) not found in {data} or" in err[0]


def test_help_gives_each_datasets_layout_and_url(capsys):
    status, out, _ = run(capsys, "train", "--help")
    text = "\n".join(out)
    assert status == 0
    for needle in ("DIR/MNIST/raw/", "DIR/FashionMNIST/raw/", "DIR/cifar-10-batches-py/", *NAMES,
                   "test_batch", MNIST.mirror, FashionMNIST.mirror, CIFAR10.mirror + CIFAR10.filename,
                   "each .gz or not"):
        assert needle in text, needle
