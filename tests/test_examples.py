"""The example scripts run as a user runs them (`python examples/NAME.py`), with tiny settings."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(script, *args, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, str(ROOT / "examples" / script), *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_char_lm_lstm(tmp_path):
    text = tmp_path / "abc.txt"
    text.write_text("abcabcabd " * 60)
    out = run("char_lm.py", "--text", str(text), "--steps", "30", "--log-every", "10", "--hidden", "32",
              "--layers", "2", "--seq-len", "12", "--batch-size", "8", "--sample-len", "40", "--lr", "0.02")
    lines = out.splitlines()
    assert lines[0].startswith("abc.txt: 600 characters, 5 distinct; lstm with")
    losses = [float(line.split()[3]) for line in lines if line.startswith("step")]
    assert len(losses) == 3 and losses[-1] < min(losses[0], 0.6)  # it learns the repeating text (ln 5 = 1.6)
    assert "held-out loss" in out and "perplexity" in out
    sample = out.split("sample:\n")[1].rstrip("\n")
    assert len(sample) == 41 and set(sample) <= set("abcd ")


def test_char_lm_default_text_is_the_readme():
    out = run("char_lm.py", "--steps", "2", "--log-every", "1", "--hidden", "8", "--layers", "1",
              "--seq-len", "8", "--batch-size", "2", "--sample-len", "5")
    assert out.startswith("README.md: ")


def test_seq_classifier_on_digits(tmp_path):
    out = run("seq_classifier.py", "--data-dir", str(tmp_path), "--epochs", "3", "--hidden", "32",
              cwd=tmp_path)
    assert out.startswith("digits 8x8 (no MNIST files found): 1438 training images, 359 held out")
    assert out.count("epoch ") == 3
    assert float(out.split("held-out accuracy ")[1]) > 0.6


def test_char_lm_transformer(tmp_path):
    text = tmp_path / "abc.txt"
    text.write_text("abcabcabd " * 60)
    out = run("char_lm.py", "--text", str(text), "--model", "transformer", "--steps", "30",
              "--log-every", "10", "--hidden", "32", "--heads", "2", "--layers", "2", "--seq-len", "12",
              "--batch-size", "8", "--sample-len", "30", "--lr", "0.01", "--dropout", "0")
    losses = [float(line.split()[3]) for line in out.splitlines() if line.startswith("step")]
    assert "transformer with" in out.splitlines()[0] and losses[-1] < min(losses[0], 1.0)
    sample = out.split("sample:\n")[1].rstrip("\n")
    assert len(sample) == 31 and set(sample) <= set("abcd ")
