"""baby.distributed and DistributedDataParallel under `mpiexec -n 2` and `-n 3` (scripts in tests/mpi/)."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import baby
import baby.distributed as dist

ROOT = Path(__file__).resolve().parent.parent
MPI = shutil.which("mpiexec") is not None and importlib.util.find_spec("mpi4py") is not None
needs_mpi = pytest.mark.skipif(not MPI, reason='MPI is not installed (pip install "baby[mpi]")')


def mpirun(n, *argv, timeout=120, check=True, cwd=ROOT):
    """Run `mpiexec -n n python *argv` from `cwd`; the CompletedProcess (rc 0 asserted when `check`)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    r = subprocess.run(["mpiexec", "-n", str(n), sys.executable, *argv], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=timeout)
    assert not check or r.returncode == 0, r.stderr[-3000:]
    return r


@pytest.fixture(scope="module", params=[2, 3])
def collectives(request):
    return request.param, json.loads(mpirun(request.param, "tests/mpi/collectives.py").stdout)


COLLECTIVES = [f"all_reduce_{op}_{d}" for op in ("SUM", "PRODUCT", "MIN", "MAX", "AVG")
               for d in ("float32", "float64", "int64") if (op, d) != ("AVG", "int64")] + [
    "all_reduce_async", "all_reduce_strided", "broadcast", "all_gather", "all_gather_into_tensor", "reduce",
    "gather", "scatter", "barrier", "objects", "objects_refuse_pickle", "new_group", "bad_arguments"]


@needs_mpi
@pytest.mark.parametrize("case", COLLECTIVES)
def test_collective_against_numpy(collectives, case):
    n, results = collectives
    assert results[case] == "", f"{n} ranks:\n{results[case]}"


@pytest.fixture(scope="module", params=[2, 3])
def ddp(request):
    return request.param, json.loads(mpirun(request.param, "tests/mpi/ddp.py").stdout)


@needs_mpi
@pytest.mark.parametrize("case, tol", [
    ("mlp_float64", 1e-10), ("mlp_float32", 1e-5), ("cnn_syncbn_float64", 1e-10),
    ("cnn_syncbn_float32", 1e-5),
    ("cnn_bn_per_rank_float64", 1e-10), ("no_sync_float64", 1e-10), ("small_buckets_float64", 1e-10),
    ("unused_parameters", 0), ("surface", 0),
])
def test_ddp_equals_one_process_on_the_global_batch(ddp, case, tol):
    n, results = ddp
    diff, error = results[case]
    assert error == "", f"{n} ranks:\n{error}"
    assert diff <= tol, f"{n} ranks: parameters differ by {diff}"


@pytest.mark.parametrize("backend", ["nccl", "gloo", "cpu:gloo,cuda:nccl"])
def test_backends_baby_cannot_serve(backend):
    with pytest.raises(RuntimeError, match=r"mpiexec.*baby\[mpi\]"):
        dist.init_process_group(backend)


@pytest.mark.parametrize("call", [dist.get_rank, dist.get_world_size, dist.barrier,
                                  lambda: dist.all_reduce(baby.zeros(1))])
def test_no_process_group_yet(call):
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="init_process_group"):
        call()


def test_import_baby_needs_no_mpi():
    code = "import sys, baby, baby.distributed, baby.nn.parallel; print('mpi4py' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "False", r.stderr
