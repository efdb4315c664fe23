"""Run under mpiexec: DistributedDataParallel against one process training on the global batch.

Every rank trains its shard of a global batch through DDP and, on the side, a plain copy of the model on
the whole global batch; rank 0 prints {case: [largest parameter difference, error or ""]}.
"""

import json
import traceback

import numpy as np

import baby
import baby.distributed as dist
import baby.nn as nn
import baby.nn.functional as F
from baby.nn.parallel import DDP, DistributedDataParallel

dist.init_process_group(backend="mpi")
R, N = dist.get_rank(), dist.get_world_size()
B, K = 4, 3  # per-rank batch, steps


def mlp():
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


def cnn():
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3),
                         nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))


def batches(shape, dtype, steps=K, n=N * B):
    """The same global batches on every rank."""
    rng = np.random.default_rng(7)
    return [(baby.from_numpy(rng.standard_normal((n, *shape)).astype(dtype)),
             baby.from_numpy(rng.integers(0, 3, n))) for _ in range(steps)]


def shard(x):
    return x[R * B:(R + 1) * B]


def pair(make, dtype, sync=False, seed=0):
    """(DDP model, reference model): the same start on every rank (rank 0's, by DDP's broadcast)."""
    baby.manual_seed(seed + R)  # different on each rank: DDP must broadcast rank 0's
    model = make().to(dtype)
    model = nn.SyncBatchNorm.convert_sync_batchnorm(model) if sync else model
    ddp = DDP(model)
    ref = make().to(dtype)
    ref.load_state_dict(model.state_dict())  # BatchNorm's keys are the same in SyncBatchNorm
    return ddp, ref


def diff(a, b):
    """Largest absolute difference between two models' parameters and buffers."""
    sa, sb = a.state_dict(), b.state_dict()
    return max(float(np.abs(np.asarray(sa[k], np.float64) - np.asarray(sb[k], np.float64)).max()) for k in sa)


def train(make, dtype, shape, sync=False, per_rank_ref=False):
    ddp, ref = pair(make, dtype, sync)
    opt = baby.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    ref_opt = baby.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    for x, y in batches(shape, dtype):
        opt.zero_grad()
        F.cross_entropy(ddp(shard(x)), shard(y)).backward()
        opt.step()
        ref_opt.zero_grad()
        if per_rank_ref:  # BatchNorm's statistics per rank: the mean of the ranks' losses
            loss = sum(F.cross_entropy(ref(x[r * B:(r + 1) * B]), y[r * B:(r + 1) * B]) for r in range(N)) / N
        else:
            loss = F.cross_entropy(ref(x), y)
        loss.backward()
        ref_opt.step()
    if per_rank_ref:  # DDP broadcasts rank 0's buffers before each forward; compare the parameters
        return max(float(np.abs(p.detach().numpy() - q.detach().numpy()).max())
                   for p, q in zip(ddp.module.parameters(), ref.parameters(), strict=True))
    return diff(ddp.module, ref)


def no_sync(dtype=np.float64):
    ddp, ref = pair(mlp, dtype)
    (x, y), = batches((6,), dtype, steps=1, n=2 * N * B)
    with ddp.no_sync():
        (F.cross_entropy(ddp(x[R * B:(R + 1) * B]), y[R * B:(R + 1) * B]) / 2).backward()
    local = [p.grad.numpy().copy() for p in ddp.parameters()]
    lo = (N + R) * B
    (F.cross_entropy(ddp(x[lo:lo + B]), y[lo:lo + B]) / 2).backward()
    F.cross_entropy(ref(x), y).backward()
    others = [None] * N
    dist.all_gather_object(others, float(local[0].sum()))
    assert len(set(others)) == N, "no_sync all-reduced"
    return max(float(np.abs(p.grad.numpy() - q.grad.numpy()).max())
               for p, q in zip(ddp.parameters(), ref.parameters(), strict=True))


class Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(4, 2), nn.Linear(4, 2), nn.Linear(4, 2)

    def forward(self, x):
        return self.a(x) + (self.b(x) if R == 0 else 0)  # c never, b on rank 0 only


def unused():
    ddp = DistributedDataParallel(Branches().double(), find_unused_parameters=True)
    x = baby.ones(3, 4, dtype=baby.float64)
    for _ in range(2):  # a second iteration: the reduction finished
        ddp.zero_grad()
        ddp(x).sum().backward()
    m = ddp.module
    assert m.c.weight.grad is None, "a parameter no rank used got a gradient"
    np.testing.assert_allclose(m.b.weight.grad.numpy(), np.full((2, 4), 3.0) / N)
    np.testing.assert_allclose(m.a.weight.grad.numpy(), np.full((2, 4), 3.0))
    plain = DistributedDataParallel(Branches().double())
    plain(x).sum().backward()
    try:
        plain(x)
    except RuntimeError as e:
        assert "find_unused_parameters=True" in str(e), e
    else:
        raise AssertionError("no error for a parameter without a gradient")
    return 0.0


def surface():
    model = mlp()
    ddp = DDP(model, bucket_cap_mb=0.0001)
    assert ddp.module is model and isinstance(ddp, baby.nn.Module)
    assert list(ddp.state_dict()) == [f"module.{k}" for k in model.state_dict()]
    assert len(ddp._buckets) > 2
    try:
        DDP(model, device_ids=[0])
    except ValueError as e:
        assert "device_ids" in str(e)
    else:
        raise AssertionError("device_ids accepted")
    return 0.0


def early_start():
    """With small buckets the first all-reduce starts while backward() still has gradients to compute."""
    ddp = DDP(mlp(), bucket_cap_mb=0.0001)
    ready_when_started, start = [], ddp._start

    def spy(bucket):
        ready_when_started.append(sum(len(b.ready) for b in ddp._buckets))
        start(bucket)

    ddp._start = spy
    (x, y), = batches((6,), np.float32, steps=1)
    F.cross_entropy(ddp(shard(x)), shard(y)).backward()
    assert len(ready_when_started) == len(ddp._buckets) > 2, ready_when_started
    assert ready_when_started[0] < len(ddp._params) == ready_when_started[-1], ready_when_started
    assert all(p.grad is not None for p in ddp.parameters())
    return 0.0


def small_buckets():
    """Many buckets, in float64: the same as one process."""
    ddp, ref = pair(mlp, np.float64)
    ddp = DDP(ddp.module, bucket_cap_mb=0.0005)
    for x, y in batches((6,), np.float64):
        for model in (ddp, ref):
            model.zero_grad()
        F.cross_entropy(ddp(shard(x)), shard(y)).backward()
        F.cross_entropy(ref(x), y).backward()
        with baby.no_grad():
            for p, q in zip(ddp.parameters(), ref.parameters(), strict=True):
                p -= 0.1 * p.grad
                q -= 0.1 * q.grad
    return diff(ddp.module, ref)


CASES = {
    "mlp_float64": lambda: train(mlp, np.float64, (6,)),
    "mlp_float32": lambda: train(mlp, np.float32, (6,)),
    "cnn_syncbn_float64": lambda: train(cnn, np.float64, (2, 8, 8), sync=True),
    "cnn_syncbn_float32": lambda: train(cnn, np.float32, (2, 8, 8), sync=True),
    "cnn_bn_per_rank_float64": lambda: train(cnn, np.float64, (2, 8, 8), per_rank_ref=True),
    "no_sync_float64": no_sync,
    "unused_parameters": unused,
    "surface": surface,
    "early_start": early_start,
    "small_buckets_float64": small_buckets,
}
results = {}
for name, case in CASES.items():
    try:
        results[name] = [case(), ""]
    except Exception:  # noqa: BLE001 (reported per case)
        results[name] = [None, traceback.format_exc(limit=4)]
every = [None] * N
dist.all_gather_object(every, results)
if R == 0:
    print(json.dumps({k: [max((e[k][0] or 0) for e in every), "".join(e[k][1] for e in every)]
                      for k in CASES}))
