"""`mpiexec -n 2 baby train`: accuracy, rank-0-only output, kill -9 and --resume, a failing rank."""

import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from mpi_helpers import ENV, MPI, ROOT, mpirun

from baby import cli
from baby.train import load_checkpoint

pytestmark = pytest.mark.skipif(not MPI, reason='MPI is not installed (pip install "baby[mpi]")')
TRAIN = ("-m", "baby", "train", "--dataset", "digits", "--model", "cnn")


def rows(path):
    """metrics.csv without its seconds column (the only one a repeated run may change)."""
    with open(path) as f:
        return [r[:-1] for r in csv.reader(f)]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One uninterrupted two-process run of the cnn recipe on digits."""
    out = tmp_path_factory.mktemp("ddp") / "run"
    return out, mpirun(2, *TRAIN, "--out", str(out), timeout=300)


def test_two_processes_reach_the_single_process_band(run):
    out, r = run
    accuracy = float(r.stdout.rsplit("test accuracy:", 1)[1])
    assert accuracy >= cli.TESTED["cnn", "digits"]
    assert r.stdout.count("training cnn on digits") == 1 and r.stdout.count("epoch 4/4") == 1  # rank 0 only
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.npz", "curves.png", "metrics.csv"]
    ckpt = load_checkpoint(out / "checkpoint.npz")
    assert ckpt.world_size == 2 and len(ckpt.rank_rng) == 2 and ckpt.rank_rng[0] != ckpt.rank_rng[1]
    assert not any(k.startswith("module.") for k in ckpt.model)


def test_kill_9_mid_epoch_then_resume_repeats_the_run(run, tmp_path):
    out = tmp_path / "run"
    job = subprocess.Popen(["mpiexec", "-n", "2", sys.executable, *TRAIN, "--out", str(out)], cwd=ROOT,
                           env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "metrics.csv").exists():
        assert job.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)  # into epoch 2
    os.kill(job.pid, signal.SIGKILL)  # mpiexec: its proxies end the ranks
    job.wait(timeout=30)
    assert load_checkpoint(out / "checkpoint.npz").epoch >= 1  # never torn
    mpirun(2, "-m", "baby", "train", "--resume", str(out / "checkpoint.npz"), timeout=300)
    assert rows(out / "metrics.csv") == rows(run[0] / "metrics.csv")


@pytest.mark.parametrize("n", [1, 3])
def test_resume_under_another_process_count_is_refused(run, tmp_path, n):
    argv = ("-m", "baby", "train", "--resume", str(run[0] / "checkpoint.npz"), "--epochs", "5",
            "--out", str(tmp_path / "more"))
    if n == 1:
        r = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=60)
    else:
        r = mpirun(n, *argv, check=False)
    assert r.returncode == 2 and "resume it with mpiexec -n 2" in r.stderr
    assert f"written by 2 processes and this run has {n} process" in r.stderr


@pytest.mark.parametrize("n", [2, 3])
def test_a_failing_rank_ends_the_job_with_its_message(n):
    start = time.monotonic()
    r = mpirun(n, "tests/mpi/fail.py", timeout=60, check=False)
    assert r.returncode != 0 and time.monotonic() - start < 30
    assert f"[rank {n - 1}]" in r.stderr and "ValueError: rank failed on purpose" in r.stderr
    assert "the all-reduce completed" not in r.stdout


def test_pytorch_ddp_tutorial_runs_on_baby(tmp_path):
    r = mpirun(2, "tests/mpi/tutorial.py", str(tmp_path / "model.checkpoint"))
    first, last = (float(v) for v in r.stdout.split("mean loss ")[1].split(" -> "))
    assert r.stdout.count("Start running basic DDP example on rank") == 2 and last < first
    assert not (tmp_path / "model.checkpoint").exists()


def test_help_says_the_batch_is_per_process(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "samples per step and process: under mpiexec -n N each step takes N x this" in text


def test_checkpoint_of_one_process_has_no_rank_states(tmp_path, capsys):
    assert cli.main(["train", "--epochs", "1", "--out", str(tmp_path / "one")]) == 0
    ckpt = load_checkpoint(tmp_path / "one" / "checkpoint.npz")
    assert ckpt.world_size == 1 and ckpt.rank_rng is None
    assert np.isfinite(ckpt.history[0]["test_loss"])
