"""The training loop: checkpoints (round trip, atomic, pickle-free, checked), exact resume, divergence."""

import csv
import zipfile

import numpy as np
import pytest

import baby
from baby import models, nn, optim, train
from baby.data import DataLoader, ImageDataset, transforms
from baby.train import CheckpointError, Diverged


def _setup(seed=0, dropout=0.5):
    """A small random image task with augmentation, dropout and BatchNorm: every kind of random draw."""
    baby.manual_seed(seed)
    rng = np.random.default_rng(1)
    tf = transforms.Compose([transforms.RandomCrop(6, padding=1), transforms.RandomHorizontalFlip()])
    train_set = ImageDataset(rng.random((40, 1, 6, 6), dtype=np.float32), rng.integers(0, 3, 40), tf)
    test_set = ImageDataset(rng.random((16, 1, 6, 6), dtype=np.float32), rng.integers(0, 3, 16))
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          models.MLP(4 * 6 * 6, (16,), 3, dropout=dropout))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    sched = optim.CosineAnnealingLR(opt, T_max=4)
    return model, opt, sched, DataLoader(train_set, 8, shuffle=True), DataLoader(test_set, 8)


def _fit(out, epochs=4, loss_fn=None, **kw):
    model, opt, sched, tr, te = _setup()
    return train.fit(model, tr, te, opt, loss_fn or nn.CrossEntropyLoss(), epochs, sched, out=out,
                     progress=False, log=lambda s: None, **kw)


def _rows(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


class _FailAt:
    """A cross-entropy loss that raises (or returns `value`) at its `n`-th call."""

    def __init__(self, n, value=None):
        self.n, self.value, self.calls = n, value, 0

    def __call__(self, logits, y):
        self.calls += 1
        loss = nn.functional.cross_entropy(logits, y)
        if self.calls == self.n:
            if self.value is None:
                raise KeyboardInterrupt
            return loss * self.value
        return loss


def test_fit_writes_metrics_checkpoint_and_curves(tmp_path):
    history = _fit(tmp_path, epochs=2)
    assert [r["epoch"] for r in history] == [1, 2]
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines[0] == "epoch,train_loss,train_acc,test_loss,test_acc,seconds" and len(lines) == 3
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz", "curves.png", "metrics.csv"]


def test_checkpoint_round_trip_is_pickle_free(tmp_path):
    model, opt, sched, tr, te = _setup()
    train.fit(model, tr, te, opt, nn.CrossEntropyLoss(), 2, sched, out=tmp_path, config={"seed": 0},
              progress=False, log=lambda s: None)
    rng = baby.get_rng_state()
    with np.load(tmp_path / "checkpoint.npz", allow_pickle=False) as f:
        assert all(f[k].dtype != object for k in f.files)
        keys = {"optim/state/0/exp_avg", "optim/state/0/step", "model/1.running_mean", "sched", "rng"}
        assert keys <= set(f.files)
    ckpt = train.load_checkpoint(tmp_path / "checkpoint.npz")
    assert (ckpt.epoch, ckpt.config, len(ckpt.history)) == (2, {"seed": 0}, 2)
    model2, opt2, sched2, tr2, _ = _setup(seed=5)
    train.restore(ckpt, model2, opt2, sched2, tr2)
    for (k, a), b in zip(model.state_dict().items(), model2.state_dict().values(), strict=True):
        np.testing.assert_array_equal(a, b, err_msg=k)
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"] and s1["state"].keys() == s2["state"].keys()
    for i, s in s1["state"].items():
        assert s["step"] == s2["state"][i]["step"]
        np.testing.assert_array_equal(s["exp_avg_sq"], s2["state"][i]["exp_avg_sq"])
    assert sched2.state_dict() == sched.state_dict() and baby.get_rng_state() == rng


def test_loader_generator_state_is_saved_and_restored(tmp_path):
    model, opt, sched, tr, te = _setup()
    tr = DataLoader(tr.dataset, 8, shuffle=True, seed=3)
    next(iter(tr))
    train.save_checkpoint(tmp_path / "c.npz", model, opt, sched, 1, {}, [], tr)
    order = tr._generator.permutation(40)
    tr2 = DataLoader(tr.dataset, 8, shuffle=True, seed=3)
    train.restore(train.load_checkpoint(tmp_path / "c.npz"), model, opt, sched, tr2)
    np.testing.assert_array_equal(tr2._generator.permutation(40), order)


def test_resume_after_interruption_repeats_the_uninterrupted_run(tmp_path):
    _fit(tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):     # 5 steps + 2 test batches per epoch: dies in epoch 3, step 2
        _fit(tmp_path / "b", loss_fn=_FailAt(16))
    assert len(_rows(tmp_path / "b" / "metrics.csv")) == 2
    ckpt = train.load_checkpoint(tmp_path / "b" / "checkpoint.npz")
    model, opt, sched, tr, te = _setup(seed=9)               # another seed: everything must come from ckpt
    train.restore(ckpt, model, opt, sched, tr)
    train.fit(model, tr, te, opt, nn.CrossEntropyLoss(), 4, sched, out=tmp_path / "b", progress=False,
              log=lambda s: None, start_epoch=ckpt.epoch, history=ckpt.history)
    assert _rows(tmp_path / "b" / "metrics.csv") == _rows(tmp_path / "a" / "metrics.csv")


@pytest.mark.parametrize("value, shown", [(float("nan"), "nan"), (float("inf"), "inf")])
def test_divergence_names_epoch_and_step_and_keeps_last_checkpoint(tmp_path, value, shown):
    _fit(tmp_path / "good", epochs=1)
    with pytest.raises(Diverged, match=rf"loss is {shown} at epoch 2, step 3; the last good checkpoint "
                                       rf".*checkpoint.npz \(epoch 1\) is kept"):
        _fit(tmp_path / "bad", loss_fn=_FailAt(10, value))         # 5 steps + 2 test batches per epoch
    assert train.load_checkpoint(tmp_path / "bad" / "checkpoint.npz").epoch == 1
    assert _rows(tmp_path / "bad" / "metrics.csv") == _rows(tmp_path / "good" / "metrics.csv")
    with pytest.raises(Diverged, match="epoch 1, step 1; no checkpoint was written"):
        _fit(None, loss_fn=_FailAt(1, value))


def test_a_failed_write_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    model, opt, sched, tr, te = _setup()
    path = tmp_path / "checkpoint.npz"
    train.save_checkpoint(path, model, opt, sched, 1)
    before = path.read_bytes()

    def crash(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        train.save_checkpoint(path, model, opt, sched, 2)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["checkpoint.npz"]


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("make, match", [
    (lambda p: p / "missing.npz", "no such checkpoint file"),
    (lambda p: (p / "c.npz").write_bytes(b"not a zip") and p / "c.npz", "not a baby checkpoint .*zip"),
    (lambda p: _write(p / "c.npz", x=np.zeros(2)), "not a baby checkpoint"),
    (lambda p: _write(p / "c.npz", format=np.array(train.FORMAT), code=np.array([print], dtype=object)),
     "holds Python objects.*allow_pickle=False"),
    (lambda p: _write(p / "c.npz", format=np.array(train.FORMAT), epoch=np.array(1)), "incomplete"),
])
def test_unreadable_checkpoints(tmp_path, make, match):
    with pytest.raises(CheckpointError, match=match):
        train.load_checkpoint(make(tmp_path))


def test_truncated_checkpoint(tmp_path):
    model, opt, sched, *_ = _setup()
    train.save_checkpoint(tmp_path / "c.npz", model, opt, sched, 1)
    data = (tmp_path / "c.npz").read_bytes()
    (tmp_path / "c.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="damaged or truncated zip archive"):
        train.load_checkpoint(tmp_path / "c.npz")
    assert zipfile.is_zipfile(tmp_path / "c.npz") is False


@pytest.mark.parametrize("other, match", [
    (lambda: models.LeNet5(), "holds another model than LeNet5: 10 missing keys"),
    (lambda: models.SmallCNN(num_classes=5), r"'fc.weight' has shape \(10, 1024\) in the checkpoint, but "
                                             r"\(5, 1024\)"),
])
def test_checkpoint_for_another_model(tmp_path, other, match):
    train.save_checkpoint(tmp_path / "c.npz", models.SmallCNN())
    with pytest.raises(CheckpointError, match=match):
        train.restore(train.load_checkpoint(tmp_path / "c.npz"), other())


def test_checkpoint_for_another_optimizer(tmp_path):
    model = models.MLP()
    train.save_checkpoint(tmp_path / "c.npz", model, optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(CheckpointError, match="optimizer state for SGD, not Adam"):
        train.restore(train.load_checkpoint(tmp_path / "c.npz"), model, optim.Adam(model.parameters()))


def test_without_matplotlib_says_so_and_goes_on(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "matplotlib.figure", None)
    _fit(tmp_path, epochs=1)
    assert "matplotlib is not installed" in capsys.readouterr().err
    assert not (tmp_path / "curves.png").exists() and (tmp_path / "checkpoint.npz").exists()
