"""PyTorch's import paths as real baby modules; DataParallel; cudnn flags; shared memory (Hogwild)."""

import importlib
import multiprocessing

import numpy as np
import pytest
import torch

import baby

PATHS = [
    ("nn.init", ["xavier_uniform_", "kaiming_normal_", "zeros_", "calculate_gain"]),
    ("nn.parallel", ["DataParallel"]),
    ("backends.cudnn", ["is_available", "flags"]),
    ("backends", ["cudnn", "mps", "cuda"]),
    ("utils.data", ["DataLoader", "Dataset", "TensorDataset", "Sampler"]),
    ("utils.data.sampler", ["Sampler", "RandomSampler", "SequentialSampler", "BatchSampler",
                            "SubsetRandomSampler", "WeightedRandomSampler"]),
    ("utils.data.dataset", ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split"]),
    ("utils.data.dataloader", ["DataLoader", "default_collate", "get_worker_info"]),
    ("nn.modules", ["Module", "Linear", "Conv2d", "Sequential"]),
    ("nn.modules.module", ["Module"]),
    ("nn.modules.loss", ["_Loss", "_WeightedLoss", "MSELoss", "CrossEntropyLoss"]),
    ("nn.modules.batchnorm", ["_BatchNorm", "BatchNorm2d"]),
    ("nn.modules.conv", ["_ConvNd", "Conv2d", "ConvTranspose2d"]),
    ("nn.modules.linear", ["Linear", "Identity"]),
    ("nn.modules.activation", ["ReLU", "GELU", "Softmax"]),
    ("nn.modules.container", ["Sequential", "ModuleList", "ModuleDict"]),
    ("nn.modules.pooling", ["MaxPool2d", "AdaptiveAvgPool2d"]),
    ("nn.modules.normalization", ["LayerNorm", "GroupNorm"]),
    ("nn.modules.dropout", ["Dropout"]),
    ("nn.modules.utils", ["_pair", "_single", "_triple", "_ntuple"]),
    ("nn.modules.pixelshuffle", ["PixelShuffle", "PixelUnshuffle"]),
    ("nn.modules.fold", ["Fold", "Unfold"]),
    ("nn.modules.distance", ["CosineSimilarity", "PairwiseDistance"]),
    ("nn.modules.loss", ["TripletMarginLoss", "MarginRankingLoss", "CosineEmbeddingLoss"]),
    ("nn.modules.upsampling", ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]),
    ("nn.utils.parametrize", ["register_parametrization", "remove_parametrizations", "is_parametrized"]),
    ("nn.utils.parametrizations", ["weight_norm", "spectral_norm"]),
    ("multiprocessing", ["Process", "Queue", "get_context", "set_start_method", "spawn", "cpu_count"]),
]


@pytest.mark.parametrize("path, names", PATHS, ids=[p for p, _ in PATHS])
def test_import_path(path, names):
    b, t = importlib.import_module(f"baby.{path}"), importlib.import_module(f"torch.{path}")
    for n in names:
        assert hasattr(t, n) and hasattr(b, n), n


def test_nn_init_is_baby_init_and_pair_as_pytorch():
    from torch.nn.modules.utils import _pair as tpair

    import baby.nn.init as init
    from baby.nn.modules.utils import _pair

    assert init is baby.init and baby.nn.init is baby.init
    assert _pair(3) == tpair(3) and _pair([1, 2]) == tpair([1, 2])


def test_data_parallel_is_the_module_on_one_device():
    baby.manual_seed(0)
    m = baby.nn.Linear(3, 2)
    dp, tdp = baby.nn.DataParallel(m, device_ids=[0, 1]), torch.nn.DataParallel(torch.nn.Linear(3, 2))
    x = baby.randn(4, 3)
    np.testing.assert_array_equal(dp(x).numpy(), m(x).numpy())
    assert list(dp.state_dict()) == list(tdp.state_dict()) and dp.device_ids == tdp.device_ids == []
    assert baby.nn.parallel.DataParallel is baby.nn.DataParallel


def test_cudnn_flags_accepted():
    import baby.backends.cudnn as cudnn

    for name in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(cudnn, name) == getattr(torch.backends.cudnn, name), name
    assert cudnn.is_available() is torch.backends.cudnn.is_available() is False
    with cudnn.flags(enabled=False, deterministic=True):
        assert not cudnn.enabled and cudnn.deterministic
    assert cudnn.enabled and not cudnn.deterministic
    cudnn.benchmark = True
    cudnn.benchmark = False


def test_share_memory_in_place_and_is_shared():
    m = baby.nn.Linear(3, 2)
    w = m.weight
    before = w.detach().clone()
    assert not w.is_shared() and m.share_memory() is m
    assert w.is_shared() and m.weight is w and m.bias.is_shared()
    np.testing.assert_array_equal(w.numpy(), before.numpy())
    assert baby.zeros(2).share_memory_().is_shared()


def _constant_grad_steps(model, steps):
    opt = baby.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(steps):
        opt.zero_grad()
        model.weight.sum().backward()  # d/dw = 1: each step subtracts exactly 0.5
        opt.step()


def _hogwild(rank, model, steps):
    baby.manual_seed(rank)
    w_true = baby.tensor([[2.0, -1.0, 0.5]])
    opt = baby.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(steps):
        x = baby.randn(16, 3)
        loss = ((model(x) - x @ w_true.T) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def _run(target, args, one_after_other):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=target, args=(rank, *args)) for rank in range(2)]
    for p in procs:
        p.start()
        if one_after_other:
            p.join(60)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0, "a training process failed or timed out"


def test_two_processes_update_one_shared_model():
    model = baby.nn.Linear(3, 1).share_memory()
    w0 = model.weight.detach().clone()
    _run(lambda rank, m: _constant_grad_steps(m, 3), (model,), one_after_other=True)
    np.testing.assert_allclose(model.weight.numpy(), w0.numpy() - 2 * 3 * 0.5)  # both processes' steps


def test_hogwild_training_in_two_processes():
    baby.manual_seed(0)
    model = baby.nn.Linear(3, 1).share_memory()
    _run(_hogwild, (model, 100), one_after_other=False)
    np.testing.assert_allclose(model.weight.numpy(), [[2.0, -1.0, 0.5]], atol=0.05)


def _put(rank, queue):
    queue.put(rank * 10)


def _fail(rank):
    raise SystemExit(3 if rank == 1 else 0)


def test_multiprocessing_spawn():
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    assert baby.multiprocessing.spawn(_put, args=(q,), nprocs=2, start_method="fork") is None
    assert sorted(q.get(timeout=30) for _ in range(2)) == [0, 10]
    pc = baby.multiprocessing.spawn(_put, args=(q,), nprocs=1, join=False, start_method="fork")
    assert isinstance(pc, baby.multiprocessing.ProcessContext) and len(pc.pids()) == 1
    assert pc.join(60) is True and q.get(timeout=30) == 0
    with pytest.raises(RuntimeError, match="process 1 terminated with exit code 3"):
        baby.multiprocessing.spawn(_fail, nprocs=2, start_method="fork")
