"""`baby train` runs as a person uses them: recipes that train, runs never clobbered, extended by --resume
--epochs, clear failures for --out and checkpoints, Ctrl-C with the exact resume command, plots, --version."""

import math
import os
import shlex
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import files, rows, run

import baby
from baby import cli, data, models, nn, optim, train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Every test runs in its own empty directory (runs/ and data/ land there)."""
    monkeypatch.chdir(tmp_path)


def _accuracy(out):
    """The accuracy of the last line 'test accuracy: 0.xxxx'."""
    assert out[-1].startswith("test accuracy: "), out
    return float(out[-1].split()[-1])


# ---- 3: every pair --help states an accuracy for reaches it; pairs that cannot work are refused ----

@pytest.mark.parametrize("model, dataset", list(cli.TESTED))
def test_each_tested_pair_reaches_the_accuracy_help_states(capsys, model, dataset):
    status, out, _ = run(capsys, "train", "--model", model, "--dataset", dataset, "--out", "run")
    assert status == 0 and _accuracy(out) >= cli.TESTED[model, dataset]
    assert f"{cli.TESTED[model, dataset]:.2f}+ on {dataset}" in "\n".join(run(capsys, "train", "--help")[1])


def test_a_model_that_does_not_fit_names_pairs_that_work(tmp_path, capsys):
    status, out, err = run(capsys, "train", "--model", "lenet", "--out", "run")
    assert (status, out) == (2, [])
    assert err == ["baby train: error: --model lenet does not fit --dataset digits (lenet needs images of at "
                   "least 12x12): use --model mlp or cnn or resnet9 or mobilenet, or --dataset mnist or "
                   "fashion-mnist or cifar10"]
    assert list(tmp_path.iterdir()) == []


# ---- 4: --resume --epochs N extends a run ----

def test_resume_from_epoch_1_with_more_epochs_equals_a_run_started_with_them(tmp_path, capsys):
    assert run(capsys, "train", "--model", "cnn", "--epochs", "1", "--out", "short")[0] == 0
    status, out, _ = run(capsys, "train", "--resume", "short/checkpoint.npz", "--epochs", "3")
    assert status == 0 and out[0] == "resuming cnn on digits after epoch 1 of 3 (was 1)"
    assert run(capsys, "train", "--model", "cnn", "--epochs", "3", "--out", "long")[0] == 0
    assert rows(tmp_path / "short" / "metrics.csv") == rows(tmp_path / "long" / "metrics.csv")
    assert train.load_checkpoint(tmp_path / "short" / "checkpoint.npz").config["epochs"] == 3


def test_resume_a_finished_run_with_more_epochs_anneals_over_the_new_total(tmp_path, capsys, monkeypatch):
    assert run(capsys, "train", "--model", "cnn", "--epochs", "2", "--out", "run")[0] == 0
    before, lrs, fit = rows(tmp_path / "run" / "metrics.csv"), [], cli.train.fit

    def spy(model, train_loader, test_loader, optimizer, *args, **kwargs):
        lrs.append(optimizer.param_groups[0]["lr"])
        return fit(model, train_loader, test_loader, optimizer, *args, **kwargs)

    monkeypatch.setattr(cli.train, "fit", spy)
    status, out, _ = run(capsys, "train", "--resume", "run/checkpoint.npz", "--epochs", "4")
    assert status == 0 and out[0] == "resuming cnn on digits after epoch 2 of 4 (was 2)"
    assert lrs == [pytest.approx(0.01 * (1 + math.cos(math.pi * 2 / 4)) / 2)]    # epoch 3 of a 4-epoch cosine
    after = rows(tmp_path / "run" / "metrics.csv")
    assert after[:2] == before and [r["epoch"] for r in after] == ["1", "2", "3", "4"]
    ckpt = train.load_checkpoint(tmp_path / "run" / "checkpoint.npz")
    assert (ckpt.epoch, ckpt.config["epochs"], ckpt.sched["T_max"]) == (4, 4, 4)
    status, out, err = run(capsys, "train", "--resume", "run/checkpoint.npz", "--epochs", "3")
    assert (status, out) == (2, []) and err == ["baby train: error: --epochs 3 is fewer than the 4 epochs "
                                                "run/checkpoint.npz has already trained"]


# ---- 5: an existing run is never clobbered ----

def test_an_existing_run_is_refused_and_left_as_it_was(tmp_path, capsys):
    assert run(capsys, "train", "--epochs", "1", "--out", "run")[0] == 0
    before = files(tmp_path)
    status, out, err = run(capsys, "train", "--epochs", "2", "--out", "run")
    assert (status, out) == (2, [])
    assert err == ["baby train: error: --out run already holds a run (checkpoint.npz, metrics.csv, "
                   "curves.png): continue it with --resume run/checkpoint.npz, or start it over with --force"]
    assert files(tmp_path) == before
    status, out, _ = run(capsys, "train", "--epochs", "2", "--out", "run", "--force")
    assert status == 0 and len(rows(tmp_path / "run" / "metrics.csv")) == 2
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted(cli.RUN_FILES)


def test_an_empty_or_foreign_directory_takes_a_run(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    for out in ("empty", "other"):
        assert run(capsys, "train", "--epochs", "1", "--out", out)[0] == 0
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


# ---- 6: an unusable --out fails first, in one line ----

@pytest.mark.parametrize("out, reason", [
    ("afile", "--out afile: exists and is not a directory"),
    ("afile/run", "--out afile/run: afile is a file, not a directory"),
    ("afile/deeper/run", "--out afile/deeper/run: afile is a file, not a directory"),
])
def test_an_out_that_cannot_be_a_directory(tmp_path, capsys, monkeypatch, out, reason):
    (tmp_path / "afile").write_text("x")
    monkeypatch.setattr(cli.train, "load_dataset", None)     # checked before any data is read
    before = files(tmp_path)
    assert run(capsys, "train", "--out", out) == (2, [], [f"baby train: error: {reason}"])
    assert files(tmp_path) == before


def _denied(dir):
    raise PermissionError(13, "Permission denied")


def test_an_out_in_a_read_only_directory(tmp_path, capsys, monkeypatch):
    (tmp_path / "ro").mkdir(mode=0o555)
    if os.geteuid() == 0:                                      # root may write there: fail as for anyone else
        monkeypatch.setattr(cli.common.tempfile, "TemporaryFile", _denied)
    assert run(capsys, "train", "--out", "ro/run") == (
        2, [], ["baby train: error: --out ro/run: cannot write in ro (Permission denied)"])


# ---- 7: a file that is not a checkpoint ----

@pytest.mark.parametrize("command", [["eval", "--checkpoint"], ["train", "--resume"]])
def test_a_text_file_is_not_a_checkpoint(tmp_path, capsys, command):
    (tmp_path / "notes.npz").write_text("epoch 3 was good\n")
    status, out, err = run(capsys, *command, "notes.npz")
    assert (status, out) == (2, [])
    assert err == [f"baby {command[0]}: error: notes.npz: not a baby checkpoint (a checkpoint is a .npz zip "
                   "archive; this file starts with b'epoc')"]
    assert "pickle" not in err[0]


# ---- 8: Ctrl-C ----

def _interrupt_at(monkeypatch, n):
    """Make the n-th loss computed (train steps and test batches alike) raise KeyboardInterrupt."""
    forward, calls = nn.CrossEntropyLoss.forward, []

    def loss(self, x, y):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return forward(self, x, y)

    monkeypatch.setattr(nn.CrossEntropyLoss, "forward", loss)


def test_ctrl_c_names_the_kept_epoch_and_the_command_that_continues(tmp_path, capsys, monkeypatch):
    with monkeypatch.context() as m:
        _interrupt_at(m, 45 + 12 + 3)                          # digits: 45 steps, 12 test batches per epoch
        status, _, err = run(capsys, "train", "--out", "run")
    assert status == 130
    assert err == ["baby train: interrupted; run/checkpoint.npz keeps epoch 1 of 10; continue with: "
                   "baby train --resume run/checkpoint.npz"]
    command = err[0].split("continue with: ")[1]
    status, out, _ = run(capsys, *shlex.split(command)[1:])
    assert status == 0 and out[0] == "resuming mlp on digits after epoch 1 of 10"
    assert run(capsys, "train", "--out", "whole")[0] == 0
    assert rows(tmp_path / "run" / "metrics.csv") == rows(tmp_path / "whole" / "metrics.csv")


def test_ctrl_c_in_the_first_epoch_or_in_an_extension(tmp_path, capsys, monkeypatch):
    with monkeypatch.context() as m:
        _interrupt_at(m, 3)
        assert run(capsys, "train", "--out", "run")[::2] == (
            130, ["baby train: interrupted; no epoch finished, so there is no checkpoint to resume"])
    assert list((tmp_path / "run").iterdir()) == []            # the same command can run again
    assert run(capsys, "train", "--epochs", "1", "--out", "run")[0] == 0
    with monkeypatch.context() as m:
        _interrupt_at(m, 3)
        status, _, err = run(capsys, "train", "--resume", "run/checkpoint.npz", "--epochs", "2")
    assert (status, err) == (130, ["baby train: interrupted; run/checkpoint.npz keeps epoch 1 of 2; continue "
                                   "with: baby train --resume run/checkpoint.npz --epochs 2"])
    with monkeypatch.context() as m:
        _interrupt_at(m, 3)
        status, _, err = run(capsys, "train", "--resume", "run/checkpoint.npz", "--epochs", "2", "--out", "b")
    assert (status, err) == (130, ["baby train: interrupted; no epoch finished; run/checkpoint.npz is as it "
                                   "was"])


def test_sigint_to_a_running_baby_train(tmp_path):
    cmd = [sys.executable, "-m", "baby", "train", "--epochs", "200", "--out", str(tmp_path / "run")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "run" / "checkpoint.npz").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    epoch = train.load_checkpoint(tmp_path / "run" / "checkpoint.npz").epoch
    path = tmp_path / "run" / "checkpoint.npz"
    assert proc.returncode == 130
    assert err.splitlines()[-1] == (f"baby train: interrupted; {path} keeps epoch {epoch} of 200; continue "
                                    f"with: baby train --resume {path}")


# ---- 9: plots by default ----

def test_curves_png_metrics_and_title(tmp_path, capsys, monkeypatch):
    titles, plot = [], train.plot_curves
    monkeypatch.setattr(train, "plot_curves", lambda path, history, title: titles.append(title) or
                        plot(path, history, title))
    assert run(capsys, "train", "--model", "cnn", "--epochs", "2", "--out", "run")[0] == 0
    png = (tmp_path / "run" / "curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (900, 380)
    assert len(png) > 20_000 and titles == ["cnn on digits, 2 epochs"]
    metrics = rows(tmp_path / "run" / "metrics.csv")
    assert list(metrics[0]) == ["epoch", "train_loss", "train_acc", "test_loss", "test_acc"]
    assert all(0 < float(r["test_loss"]) < 1 for r in metrics)
    deps = next(line for line in (ROOT / "pyproject.toml").read_text().splitlines()
                if line.startswith("dependencies = "))
    assert '"matplotlib>=' in deps


# ---- 10: baby eval takes checkpoints from fit() ----

def test_eval_takes_a_checkpoint_from_fit(tmp_path, capsys):
    baby.manual_seed(0)
    model = models.SmallCNN()
    test = data.DataLoader(data.Digits(train=False), batch_size=256)
    history = train.fit(model, data.DataLoader(data.Digits(train=True), batch_size=32, shuffle=True), test,
                        optim.Adam(model.parameters(), lr=1e-2), nn.CrossEntropyLoss(), 1, out="fit",
                        progress=False, log=lambda s: None)
    assert run(capsys, "eval", "--checkpoint", "fit/checkpoint.npz") == (
        0, [f"test accuracy: {history[-1]['test_acc']:.4f}"], [])
    train.save_checkpoint(tmp_path / "own.npz", nn.Sequential(nn.Flatten(), nn.Linear(64, 10)))
    status, out, err = run(capsys, "eval", "--checkpoint", "own.npz")
    assert (status, out) == (2, []) and err == [
        "baby eval: error: own.npz: its weights are none of baby's models (mlp, cnn, lenet, resnet9, "
        "mobilenet) for --dataset digits (inputs [1, 8, 8], 10 classes)"]


# ---- 11: --version and a readable --help ----

def test_version(capsys):
    status, out, _ = run(capsys, "--version")
    assert status == 0 and out[0].startswith("baby 0.1.0 (numpy ")


def test_help_for_lr_and_weight_decay_and_the_recipes(capsys):
    text = "\n".join(run(capsys, "train", "--help")[1])
    assert "--lr LR               learning rate of the first epoch, annealed to 0 by a" in text
    assert "--weight-decay WD     weight decay: an L2 term for sgd and adam, decoupled" in text
    assert "  resnet9    digits   adam       0.001  0       64     3       0.97+ on digits" in text
    assert "  mobilenet  digits   adam       0.002  0       64     3       0.97+ on digits" in text
    assert "--force" in text and "refused" in text
