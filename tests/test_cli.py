"""The `baby` command line end to end on the digits: accuracy, files, resume after kill -9, errors."""

import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fake_data import make_cifar, make_mnist

from baby import cli, models, nn, train

ROOT = Path(__file__).resolve().parents[1]
LAST = re.compile(r"test accuracy: (\d\.\d{4})")
HEADER = "epoch,train_loss,train_acc,test_loss,test_acc,seconds"


def _train(capsys, *flags):
    assert cli.main(["train", *flags]) == 0
    out = capsys.readouterr().out.splitlines()
    m = LAST.fullmatch(out[-1])
    assert m, f"last line {out[-1]!r} is not 'test accuracy: 0.xxxx'"
    return out, float(m.group(1))


def _rows(path):
    """metrics.csv rows without the wall-clock `seconds` column."""
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


def _error(capsys, argv, code=2):
    """Run the CLI expecting failure: returns its one stderr line."""
    try:
        status = cli.main(argv)
    except SystemExit as e:
        status = e.code
    assert status == code
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in captured.err, captured.err
    return lines[0]


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    """`baby train --model cnn` with its defaults, run once: (out dir, exit status)."""
    out = tmp_path_factory.mktemp("cnn")
    return out, cli.main(["train", "--model", "cnn", "--out", str(out)])


def test_defaults_reach_95_percent(capsys, tmp_path):
    out, accuracy = _train(capsys, "--out", str(tmp_path))
    assert accuracy >= 0.95
    assert sum(line.startswith("epoch ") for line in out) == 10
    assert (tmp_path / "metrics.csv").read_text().splitlines()[0] == HEADER


def test_cnn_reaches_97_percent_and_writes_its_files(cnn_run, capsys):
    out, status = cnn_run
    assert status == 0
    rows = _rows(out / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4"]
    assert float(rows[-1]["test_acc"]) >= 0.97
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert train.load_checkpoint(out / "checkpoint.npz").epoch == 4
    assert cli.main(["eval", "--checkpoint", str(out / "checkpoint.npz")]) == 0
    assert capsys.readouterr().out == f"test accuracy: {float(rows[-1]['test_acc']):.4f}\n"


def test_same_seed_same_run(capsys, tmp_path):
    strip = re.compile(r"\(\d+ img/s\)|in \d+\.\ds|writing to .*")
    flags = ["--epochs", "2", "--seed", "3", "--batch-size", "64", "--lr", "0.005"]
    a, _ = _train(capsys, *flags, "--out", str(tmp_path / "a"))
    b, _ = _train(capsys, *flags, "--out", str(tmp_path / "b"))
    assert [strip.sub("", line) for line in a] == [strip.sub("", line) for line in b]
    assert _rows(tmp_path / "a" / "metrics.csv") == _rows(tmp_path / "b" / "metrics.csv")


def test_resume_after_kill_9_reproduces_the_uninterrupted_run(cnn_run, tmp_path, capsys):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "baby", "train", "--model", "cnn", "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    metrics, deadline = out / "metrics.csv", time.monotonic() + 60
    while not (metrics.exists() and len(metrics.read_text().splitlines()) >= 3):   # 2 finished epochs
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)                                                # in epoch 3
    assert proc.wait() == -signal.SIGKILL
    assert len(_rows(metrics)) <= train.load_checkpoint(out / "checkpoint.npz").epoch < 4
    _, accuracy = _train(capsys, "--resume", str(out / "checkpoint.npz"))
    assert _rows(metrics) == _rows(cnn_run[0] / "metrics.csv")
    assert accuracy == round(float(_rows(metrics)[-1]["test_acc"]), 4)


@pytest.mark.parametrize("argv, match", [
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--epochs", "1.5"], "--epochs"),
    (["train", "--batch-size", "0"], "--batch-size"),
    (["train", "--lr", "-0.1"], "--lr"),
    (["train", "--lr", "inf"], "--lr"),
    (["train", "--lr", "fast"], "--lr"),
    (["train", "--weight-decay", "-1"], "--weight-decay"),
    (["train", "--seed", "-1"], "--seed"),
    (["train", "--dataset", "imagenet"], "--dataset"),
    (["train", "--model", "vgg"], "--model"),
    (["train", "--optimizer", "rmsprop"], "--optimizer"),
    (["train", "--bogus"], "--bogus"),
    (["eval"], "--checkpoint"),
    (["frobnicate"], "frobnicate"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, match):
    assert match in _error(capsys, argv)
    assert capsys.readouterr().out == ""


def test_no_command_prints_usage_and_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([])
    assert e.value.code == 2
    assert capsys.readouterr().err.startswith("usage: baby")


def test_mnist_and_cifar10_from_files_on_disk(capsys, tmp_path):
    make_mnist(tmp_path / "data" / "MNIST" / "raw", train=True, n=64)
    make_mnist(tmp_path / "data" / "MNIST" / "raw", train=False, n=16)
    make_cifar(tmp_path / "data" / "cifar-10-batches-py", n=8)
    data = ["--data-dir", str(tmp_path / "data")]
    out, _ = _train(capsys, "--dataset", "mnist", "--epochs", "1", "--out", str(tmp_path / "m"), *data)
    assert out[0].startswith("training lenet on mnist: 1 epoch, adam lr 0.002, batch 64")
    out, _ = _train(capsys, "--dataset", "cifar10", "--model", "cnn", "--optimizer", "adamw", "--epochs", "2",
                    "--out", str(tmp_path / "c"), *data)
    assert out[0].startswith("training cnn on cifar10: 2 epochs, adamw lr 0.001, batch 32")
    ckpt = str(tmp_path / "m" / "checkpoint.npz")
    assert cli.main(["eval", "--checkpoint", ckpt, *data]) == 0
    assert LAST.fullmatch(capsys.readouterr().out.strip())
    line = _error(capsys, ["eval", "--checkpoint", ckpt, "--dataset", "digits"])
    assert "its lenet takes inputs [1, 28, 28] with 10 classes; --dataset digits has [1, 8, 8]" in line


def test_model_that_does_not_fit_the_dataset(capsys, tmp_path):
    line = _error(capsys, ["train", "--model", "lenet", "--out", str(tmp_path)])
    assert "--model lenet does not fit --dataset digits" in line and "at least 12x12" in line


def _mlp_checkpoint(tmp_path, capsys):
    _train(capsys, "--epochs", "1", "--out", str(tmp_path / "mlp"))
    return tmp_path / "mlp" / "checkpoint.npz"


def test_bad_checkpoints_exit_2_with_one_line(capsys, tmp_path):
    good = _mlp_checkpoint(tmp_path, capsys)
    (tmp_path / "junk.npz").write_bytes(b"\x00" * 100)
    (tmp_path / "half.npz").write_bytes(good.read_bytes()[:5000])
    other = tmp_path / "other.npz"   # a cnn's weights under an mlp's settings
    config = train.load_checkpoint(good).config
    train.save_checkpoint(other, models.SmallCNN(), config=config)
    train.save_checkpoint(tmp_path / "bare.npz", models.MLP())
    train.save_checkpoint(tmp_path / "vgg.npz", models.MLP(), config={**config, "model": "vgg"})
    train.save_checkpoint(tmp_path / "no_optim.npz", models.MLP(), config=config)
    cases = [
        (["eval", "--checkpoint", str(tmp_path / "nope.npz")], "no such checkpoint file"),
        (["eval", "--checkpoint", str(tmp_path / "junk.npz")], "not a baby checkpoint (a checkpoint is a"),
        (["train", "--resume", str(tmp_path / "half.npz")], "damaged or truncated zip archive"),
        (["eval", "--checkpoint", str(other)], "holds another model than MLP"),
        (["train", "--resume", str(other)], "holds another model than MLP"),
        (["train", "--resume", str(tmp_path / "bare.npz")], "not a `baby train` checkpoint"),
        (["train", "--resume", str(tmp_path / "vgg.npz")], "damaged run settings: model='vgg'"),
        (["train", "--resume", str(tmp_path / "no_optim.npz")], "holds no optimizer state"),
        (["train", "--resume", str(good), "--model", "cnn"], "--model cnn conflicts with the checkpoint's "
                                                             "--model mlp"),
        (["train", "--resume", str(good), "--lr", "0.5"], "--lr 0.5 conflicts"),
    ]
    for argv, match in cases:
        assert match in _error(capsys, argv), argv


def test_resume_a_finished_run_only_reports(capsys, tmp_path):
    good = _mlp_checkpoint(tmp_path, capsys)
    before = _rows(good.parent / "metrics.csv")
    _, accuracy = _train(capsys, "--resume", str(good))
    assert _rows(good.parent / "metrics.csv") == before and accuracy == round(float(before[0]["test_acc"]), 4)


def test_huge_lr_diverges_in_the_first_epoch(capsys, tmp_path):
    line = _error(capsys, ["train", "--lr", "1e30", "--out", str(tmp_path)], code=1)
    assert re.search(r"training diverged: loss is nan at epoch 1, step \d+; no checkpoint was written", line)
    assert not (tmp_path / "checkpoint.npz").exists()


def test_divergence_keeps_the_last_good_checkpoint(capsys, tmp_path, monkeypatch):
    forward, calls = nn.CrossEntropyLoss.forward, []

    def blow_up(self, x, y):         # 45 steps and 12 test batches per epoch: step 5 of epoch 2 returns inf
        calls.append(1)
        return forward(self, x, y) * (np.inf if len(calls) == 62 else 1)

    monkeypatch.setattr(nn.CrossEntropyLoss, "forward", blow_up)
    line = _error(capsys, ["train", "--out", str(tmp_path)], code=1)
    assert line == (f"baby train: error: training diverged: loss is inf at epoch 2, step 5; the last good "
                    f"checkpoint {tmp_path / 'checkpoint.npz'} (epoch 1) is kept")
    ckpt = train.load_checkpoint(tmp_path / "checkpoint.npz")
    assert ckpt.epoch == 1 and all(np.isfinite(v).all() for v in ckpt.model.values())
    assert len(_rows(tmp_path / "metrics.csv")) == 1


def test_without_matplotlib_the_run_goes_on(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert cli.main(["train", "--epochs", "1", "--out", str(tmp_path)]) == 0
    assert "matplotlib is not installed" in capsys.readouterr().err
    assert not (tmp_path / "curves.png").exists() and (tmp_path / "metrics.csv").exists()


def test_python_m_baby_cli_bad_flag():
    r = subprocess.run([sys.executable, "-m", "baby.cli", "train", "--epochs", "0"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr
