"""baby.distributed and DistributedDataParallel under `mpiexec -n 2` and `-n 3` (scripts in tests/mpi/)."""

import json
import subprocess
import sys

import pytest
from mpi_helpers import ROOT, mpirun, needs_mpi

import baby
import baby.distributed as dist


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
    ("unused_parameters", 0), ("surface", 0), ("early_start", 0),
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


@pytest.mark.parametrize("steps", [1, 2])
def test_post_accumulate_grad_hook_as_torch(steps):
    import numpy as np
    import torch

    seen = {"baby": [], "torch": []}
    for lib, name in ((baby, "baby"), (torch, "torch")):
        w = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        w.register_post_accumulate_grad_hook(lambda t, name=name: seen[name].append(t.grad.tolist()))
        for k in range(steps):
            ((w * (k + 2)) ** 2).sum().backward()
    assert np.allclose(seen["baby"], seen["torch"]) and len(seen["baby"]) == steps


def test_post_accumulate_grad_hook_only_on_leaves():
    w = baby.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(print)


def test_sync_batchnorm_without_a_group_is_batchnorm_as_torch():
    import numpy as np
    import torch

    x = np.random.default_rng(0).standard_normal((4, 3, 5, 5))
    ours = baby.nn.SyncBatchNorm.convert_sync_batchnorm(
        baby.nn.Sequential(baby.nn.Conv2d(3, 3, 1), baby.nn.BatchNorm2d(3)).double())
    theirs = torch.nn.SyncBatchNorm.convert_sync_batchnorm(
        torch.nn.Sequential(torch.nn.Conv2d(3, 3, 1), torch.nn.BatchNorm2d(3)).double())
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    grads = []
    for lib, model in ((baby, ours), (torch, theirs)):
        xt = lib.tensor(x, requires_grad=True)
        model(xt).square().sum().backward()
        grads.append(xt.grad.numpy())
    assert type(ours[1]).__name__ == type(theirs[1]).__name__ == "SyncBatchNorm"
    assert list(ours.state_dict()) == list(theirs.state_dict())
    np.testing.assert_allclose(grads[0], grads[1], atol=1e-10)
    np.testing.assert_allclose(ours[1].running_var.numpy(), theirs[1].running_var.numpy(), atol=1e-12)
