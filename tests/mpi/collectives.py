"""Run under mpiexec: every collective of baby.distributed against NumPy; rank 0 prints {case: error}."""

import json
import traceback

import numpy as np

import baby
import baby.distributed as dist

dist.init_process_group(backend="mpi")
R, N = dist.get_rank(), dist.get_world_size()
DTYPES = (np.float32, np.float64, np.int64)


def data(r, dtype=np.float64, shape=(2, 3)):
    """Rank r's input: distinct, exactly representable values."""
    return (np.arange(np.prod(shape)).reshape(shape) % 5 + 2 * r + 1).astype(dtype)


ALL = [data(r) for r in range(N)]
REDUCE = {"SUM": np.sum, "PRODUCT": np.prod, "MIN": np.min, "MAX": np.max, "AVG": np.mean}


def check(got, want):
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def all_reduce(op, dtype):
    t = baby.from_numpy(data(R, dtype))
    assert dist.all_reduce(t, op=getattr(dist.ReduceOp, op)) is None
    check(t.numpy(), REDUCE[op](np.stack([data(r, dtype) for r in range(N)]), axis=0).astype(dtype))


def all_reduce_async():
    t = baby.from_numpy(data(R))
    work = dist.all_reduce(t, async_op=True)
    assert work.wait() is True and work.is_completed()
    check(t.numpy(), sum(ALL))


def all_reduce_strided():
    base = baby.from_numpy(np.stack([data(R), -data(R)], axis=2))  # (2, 3, 2)
    view = base[:, :, 0]  # not contiguous
    dist.all_reduce(view)
    check(base.numpy()[:, :, 0], sum(ALL))
    check(base.numpy()[:, :, 1], -data(R))


def broadcast():
    t = baby.from_numpy(data(R))
    dist.broadcast(t, src=N - 1)
    check(t.numpy(), ALL[N - 1])


def all_gather():
    out = [baby.zeros(2, 3, dtype=baby.float64) for _ in range(N)]
    dist.all_gather(out, baby.from_numpy(data(R)))
    for r in range(N):
        check(out[r].numpy(), ALL[r])


def all_gather_into_tensor():
    out = baby.zeros(2 * N, 3, dtype=baby.float64)
    dist.all_gather_into_tensor(out, baby.from_numpy(data(R)))
    check(out.numpy(), np.concatenate(ALL))


def reduce():
    t = baby.from_numpy(data(R))
    dist.reduce(t, dst=1, op=dist.ReduceOp.MAX)
    check(t.numpy(), np.max(ALL, axis=0) if R == 1 else data(R))


def gather():
    out = [baby.zeros(2, 3, dtype=baby.float64) for _ in range(N)] if R == N - 1 else None
    dist.gather(baby.from_numpy(data(R)), out, dst=N - 1)
    for r in range(N if R == N - 1 else 0):
        check(out[r].numpy(), ALL[r])


def scatter():
    t = baby.zeros(2, 3, dtype=baby.float64)
    parts = [baby.from_numpy(data(10 + r)) for r in range(N)] if R == 1 else None
    dist.scatter(t, parts, src=1)
    check(t.numpy(), data(10 + R))


def barrier():
    assert dist.barrier() is None
    dist.barrier(async_op=True).wait()


def objects():
    got = [None] * N
    dist.all_gather_object(got, {"rank": R, "name": f"r{R}", "list": [R, 1.5]})
    assert got == [{"rank": r, "name": f"r{r}", "list": [r, 1.5]} for r in range(N)], got
    box = [{"epoch": 3}, "text", 7] if R == 0 else [None, None, None]
    dist.broadcast_object_list(box, src=0)
    assert box == [{"epoch": 3}, "text", 7], box


def objects_refuse_pickle():
    try:
        dist.all_gather_object([None] * N, {1, 2})
    except TypeError as e:
        assert "JSON" in str(e) and "pickle" in str(e), e
    else:
        raise AssertionError("a set was sent")


def new_group():
    ranks = [0, N - 1]
    g = dist.new_group(ranks)
    if R in ranks:
        assert dist.get_rank(g) == ranks.index(R) and dist.get_world_size(g) == 2
        t = baby.from_numpy(data(R))
        dist.all_reduce(t, group=g)
        check(t.numpy(), ALL[0] + ALL[N - 1])
        t = baby.from_numpy(data(R))
        dist.broadcast(t, src=N - 1, group=g)
        check(t.numpy(), ALL[N - 1])
    else:
        assert dist.get_rank(g) == -1 and dist.all_reduce(baby.zeros(1), group=g) is None


def bad_arguments():
    for call, kind in ((lambda: dist.all_gather([baby.zeros(2, 3)], baby.zeros(2, 3)), ValueError),
                       (lambda: dist.all_reduce(np.zeros(3)), TypeError),
                       (lambda: dist.broadcast(baby.zeros(1), src=N), ValueError),
                       (lambda: dist.all_reduce(baby.zeros(1, dtype=baby.int64), op=dist.ReduceOp.AVG),
                        TypeError)):
        try:
            call()
        except kind:
            continue
        raise AssertionError(f"no {kind.__name__}")


CASES = {f"all_reduce_{op}_{np.dtype(d).name}": (lambda op=op, d=d: all_reduce(op, d))
         for op in REDUCE for d in DTYPES if not (op == "AVG" and d is np.int64)}
CASES.update((f.__name__, f) for f in (all_reduce_async, all_reduce_strided, broadcast, all_gather,
                                       all_gather_into_tensor, reduce, gather, scatter, barrier, objects,
                                       objects_refuse_pickle, new_group, bad_arguments))
results = {}
for name, case in CASES.items():
    try:
        case()
        results[name] = ""
    except Exception:  # noqa: BLE001 (reported per case)
        results[name] = traceback.format_exc(limit=3)
every = [None] * N
dist.all_gather_object(every, results)
if R == 0:
    print(json.dumps({k: "".join(f"rank {r}: {e[k]}" for r, e in enumerate(every) if e[k]) for k in CASES}))
dist.destroy_process_group()
