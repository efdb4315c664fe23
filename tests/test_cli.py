"""The `baby` command line: `baby train` end to end, and one-line errors with exit status 2."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from baby import cli

ROOT = Path(__file__).resolve().parents[1]
LAST = re.compile(r"test accuracy: (\d\.\d{4})")


def _train(capsys, *flags):
    assert cli.main(["train", *flags]) == 0
    out = capsys.readouterr().out.splitlines()
    m = LAST.fullmatch(out[-1])
    assert m, f"last line {out[-1]!r} is not 'test accuracy: 0.xxxx'"
    return out, float(m.group(1))


def test_defaults_reach_95_percent(capsys):
    out, accuracy = _train(capsys)
    assert accuracy >= 0.95
    assert sum(line.startswith("epoch ") for line in out) == 10


def test_same_seed_same_run(capsys):
    strip = re.compile(r"\(\d+ img/s\)|in \d+\.\ds")
    a, _ = _train(capsys, "--epochs", "2", "--seed", "3", "--batch-size", "64", "--lr", "0.005")
    b, _ = _train(capsys, "--epochs", "2", "--seed", "3", "--batch-size", "64", "--lr", "0.005")
    assert [strip.sub("", line) for line in a] == [strip.sub("", line) for line in b]
    assert sum(line.startswith("epoch ") for line in a) == 2


@pytest.mark.parametrize("argv, match", [
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--epochs", "1.5"], "--epochs"),
    (["train", "--batch-size", "0"], "--batch-size"),
    (["train", "--lr", "-0.1"], "--lr"),
    (["train", "--lr", "inf"], "--lr"),
    (["train", "--lr", "fast"], "--lr"),
    (["train", "--seed", "-1"], "--seed"),
    (["train", "--bogus"], "--bogus"),
    (["frobnicate"], "frobnicate"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, match):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and match in lines[0] and "error" in lines[0], captured.err
    assert captured.out == ""


def test_no_command_prints_usage_and_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([])
    assert e.value.code == 2
    assert capsys.readouterr().err.startswith("usage: baby")


def _run(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_python_m_baby_train():
    r = _run("-m", "baby", "train", "--epochs", "1")
    assert r.returncode == 0, r.stderr
    assert LAST.fullmatch(r.stdout.splitlines()[-1])


def test_python_m_baby_cli_bad_flag():
    r = _run("-m", "baby.cli", "train", "--epochs", "0")
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr
