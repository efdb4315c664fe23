"""`baby export`: a checkpoint's model as ONNX that ONNX Runtime runs with baby's outputs; one-line errors."""

import sys

import numpy as np
import onnxruntime as ort
import pytest
from cli_helpers import run

from baby import cli, data, models, no_grad, tensor, train

ATOL = 2e-5


def _logits(path, model, x):
    """(ONNX Runtime's, baby's) logits for images x."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with no_grad():
        return session.run(None, {"image": x})[0], model(tensor(x)).numpy()


def _checkpoint(path, name, dataset):
    """A `baby train` checkpoint of an untrained `name` for `dataset` (what train writes after an epoch)."""
    config = cli.train.resolve({"model": name, "dataset": dataset})
    config.update(input_shape=list(cli.DATASETS[dataset][1]), num_classes=10)
    model = models.create(name, config["input_shape"], 10)
    train.save_checkpoint(path, model, epoch=1, config=config)
    return model


def test_export_a_trained_run(tmp_path, capsys):
    assert run(capsys, "train", "--epochs", "1", "--out", str(tmp_path / "run"))[0] == 0
    status, out, err = run(capsys, "export", "--checkpoint", str(tmp_path / "run" / "checkpoint.npz"),
                           "--out", str(tmp_path / "mlp.onnx"))
    assert (status, err) == (0, [])
    assert out == [f"exported mlp to {tmp_path / 'mlp.onnx'} (opset 18): image (batch, 1, 8, 8) -> logits "
                   "(batch, 10); it takes digits images scaled to [0, 1], as in training"]
    model = models.create("mlp", [1, 8, 8], 10)
    train.restore(train.load_checkpoint(tmp_path / "run" / "checkpoint.npz"), model)
    model.eval()
    x = data.Digits(train=False).images[:7]
    ours, theirs = _logits(tmp_path / "mlp.onnx", model, x)
    np.testing.assert_allclose(ours, theirs, atol=ATOL)


@pytest.mark.parametrize("name, dataset, flags", [
    ("cnn", "digits", []),
    ("lenet", "mnist", ["--opset", "17", "--batch-size", "3"]),
    ("resnet9", "digits", []),
    ("mobilenet", "cifar10", ["--opset", "21"]),
])
def test_export_each_model(tmp_path, capsys, name, dataset, flags):
    model = _checkpoint(tmp_path / "c.npz", name, dataset).eval()
    status, out, _ = run(capsys, "export", "--checkpoint", str(tmp_path / "c.npz"), "--out",
                         str(tmp_path / "m.onnx"), *flags)
    assert status == 0 and out[0].startswith(f"exported {name} to ")
    x = np.random.default_rng(0).standard_normal((2, *cli.DATASETS[dataset][1])).astype(np.float32)
    ours, theirs = _logits(tmp_path / "m.onnx", model, x)
    np.testing.assert_allclose(ours, theirs, atol=ATOL)


def test_export_a_fit_checkpoint_finds_its_model(tmp_path, capsys):
    model = models.SmallCNN().eval()
    train.save_checkpoint(tmp_path / "c.npz", model, epoch=1)
    status, out, _ = run(capsys, "export", "--checkpoint", str(tmp_path / "c.npz"), "--out",
                         str(tmp_path / "m.onnx"))
    assert status == 0 and out[0].startswith("exported SmallCNN to ")
    x = np.random.default_rng(0).standard_normal((3, 1, 8, 8)).astype(np.float32)
    ours, theirs = _logits(tmp_path / "m.onnx", model, x)
    np.testing.assert_allclose(ours, theirs, atol=ATOL)


def test_errors_are_one_line_with_status_2(tmp_path, capsys, monkeypatch):
    _checkpoint(tmp_path / "c.npz", "mlp", "digits")
    (tmp_path / "taken.onnx").write_bytes(b"x")
    (tmp_path / "dir").mkdir()
    ckpt = ["--checkpoint", str(tmp_path / "c.npz")]
    cases = [
        (["--checkpoint", str(tmp_path / "none.npz"), "--out", str(tmp_path / "a.onnx")],
         f"{tmp_path / 'none.npz'}: no such checkpoint file"),
        ([*ckpt, "--out", str(tmp_path / "dir")], f"--out {tmp_path / 'dir'}: is a directory; name the .onnx "
                                                  "file to write"),
        ([*ckpt, "--out", str(tmp_path / "no" / "a.onnx")], f"--out {tmp_path / 'no' / 'a.onnx'}: "
                                                            f"{tmp_path / 'no'} is not a directory"),
        ([*ckpt, "--out", str(tmp_path / "taken.onnx")],
         f"--out {tmp_path / 'taken.onnx'} exists: replace it with --force"),
    ]
    for argv, message in cases:
        assert run(capsys, "export", *argv) == (2, [], [f"baby export: error: {message}"])
    assert (tmp_path / "taken.onnx").read_bytes() == b"x"
    assert run(capsys, "export", *ckpt, "--out", str(tmp_path / "taken.onnx"), "--force")[0] == 0
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert run(capsys, "export", *ckpt, "--out", str(tmp_path / "b.onnx")) == (
        2, [], ["baby export: error: baby.onnx needs the onnx package: pip install 'baby[onnx]'"])
    assert not (tmp_path / "b.onnx").exists()
