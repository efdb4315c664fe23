"""Running scripts under mpiexec for the distributed tests; skipped where MPI is not installed."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MPI = shutil.which("mpiexec") is not None and importlib.util.find_spec("mpi4py") is not None
needs_mpi = pytest.mark.skipif(not MPI, reason='MPI is not installed (pip install "baby[mpi]")')
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def mpirun(n, *argv, timeout=120, check=True):
    """Run `mpiexec -n n python *argv` from the repository root; the CompletedProcess (rc 0 when `check`)."""
    r = subprocess.run(["mpiexec", "-n", str(n), sys.executable, *argv], cwd=ROOT, env=ENV,
                       capture_output=True, text=True, timeout=timeout)
    assert not check or r.returncode == 0, r.stderr[-3000:]
    return r
