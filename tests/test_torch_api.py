"""The rest of the torch-like namespace: devices, repr, Size, NumPy interop, Python protocols, the default
dtype, factories' keywords, and PyTorch's exception types for bad input."""

import numpy as np
import pytest
import torch

import baby


def test_devices_answer_cpu():
    device = "cuda" if baby.cuda.is_available() else "mps" if baby.backends.mps.is_available() else "cpu"
    assert device == "cpu" and not baby.accelerator.is_available() and baby.cuda.device_count() == 0
    assert baby.accelerator.current_accelerator() is None
    d = baby.device(device)
    x = baby.ones(2, device=d).to(d)
    assert x.device == d == "cpu" and str(x.device) == "cpu" and repr(d) == "device(type='cpu')"
    assert baby.tensor([1.0], device="cpu").cpu().device.type == "cpu"
    for bad in ("cuda", "mps", "cuda:0"):
        with pytest.raises(RuntimeError, match="baby runs on the CPU"):
            baby.zeros(2, device=bad)
    with pytest.raises(RuntimeError, match="CPU"):
        baby.ones(2).to("cuda")
    with pytest.raises(RuntimeError, match="CPU"):
        baby.ones(2).cuda()
    assert baby.device("cuda").index is None and str(baby.device("cuda:1")) == "cuda:1"  # names are fine
    baby.set_default_device("cpu")
    assert baby.get_default_device() == "cpu"
    with pytest.raises(RuntimeError, match="invalid device"):
        baby.device("gpu")


def test_torch_function_keywords_and_out():
    def run(m):
        t = m.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))
        y, z, s = m.empty(2, 2), m.empty(0), m.zeros(2, 3)
        r = m.matmul(t, t.T, out=y)
        m.mul(t, t, out=z)
        m.add(input=t, other=t, out=s)
        return [r is y, y, z, s, m.matmul(input=t, other=t.T), m.mm(t, mat2=t.T), m.sum(input=t)]

    ours, theirs = run(baby), run(torch)
    assert ours[0] and theirs[0]
    for o, t in zip(ours[1:], theirs[1:], strict=True):
        np.testing.assert_array_equal(o.numpy(), t.numpy())
    with pytest.raises(RuntimeError, match="out=.*automatic differentiation"):
        baby.mul(baby.ones(2, requires_grad=True), 2, out=baby.empty(2))


def test_grad_fn_next_functions_and_grad_assignment():
    w = baby.ones(3, requires_grad=True)
    loss = (w * 2).sum()
    (mul, _), = loss.grad_fn.next_functions
    (acc, _), (const, _) = mul.next_functions
    assert mul.name() == "MulBackward0" and acc.name() == "AccumulateGrad" and acc.variable is w
    assert const is None
    with pytest.raises(TypeError, match="Tensor or None"):
        w.grad = 0.0
    with pytest.raises(RuntimeError, match=r"\(2,\).*\(3,\)"):
        w.grad = baby.zeros(2)
    w.grad = np.ones(3)  # the book assigns arrays: kept as a Tensor of w's dtype
    assert isinstance(w.grad, baby.Tensor) and w.grad.dtype == np.float32
    a = baby.tensor(1.0, requires_grad=True)
    (a * 2).backward()
    (a * 3).backward()
    a.grad.zero_()  # a 0-d gradient accumulated twice stays a writable tensor
    assert a.grad.item() == 0


def test_t_in_place():
    x = baby.arange(6.0).reshape(2, 3)
    assert x.t_() is x and x.shape == (3, 2) and x[2, 1].item() == 5
    h = baby.ones(2, 3, requires_grad=True) * baby.tensor([[1.0], [2.0]])
    h.t_()
    (h * baby.arange(6.0).reshape(3, 2)).sum().backward()


REPRS = [
    (lambda m: m.tensor([[1.0, 2.0]], requires_grad=True), None),
    (lambda m: m.tensor([1.5, 2.25, 3.0]), None),
    (lambda m: m.tensor([1, 2]), None),
    (lambda m: m.tensor([True, False]), None),
    (lambda m: m.tensor(3.5), None),
    (lambda m: m.tensor(2), None),
    (lambda m: m.zeros(0), None),
    (lambda m: m.tensor([float("nan"), float("inf"), 1.5]), None),
    (lambda m: m.arange(12.0).reshape(3, 4), None),
    (lambda m: m.tensor([1, 2], dtype=m.int32), "int32"),
    (lambda m: m.tensor([1.0, 2.0], dtype=m.float64), "float64"),
    (lambda m: m.tensor([1.0, 2.0], requires_grad=True) * 2, "grad_fn"),
]


@pytest.mark.parametrize("make, differs", REPRS)
def test_repr_as_pytorch_prints_it(make, differs):
    ours, theirs = repr(make(baby)), repr(make(torch))
    if differs is None:
        assert ours == theirs
    else:  # baby names its dtypes baby.*, its graph nodes after baby's ops
        assert ours.replace("baby.", "torch.").split("grad_fn")[0] == theirs.split("grad_fn")[0]


def test_large_tensors_are_summarised():
    r = repr(baby.zeros(40, 40))
    assert "..." in r and r.count("\n") < 10
    assert repr(baby.zeros(40, 40)) == repr(torch.zeros(40, 40))


def test_size():
    x = baby.zeros(2, 3, 4)
    assert x.size() == (2, 3, 4) == x.shape and x.size(1) == 3 and x.size(-1) == 4
    assert isinstance(x.shape, baby.Size) and x.shape.numel() == 24 and isinstance(x.shape[1:], baby.Size)
    assert repr(x.shape) == "baby.Size([2, 3, 4])" and f"{x.shape}" == "baby.Size([2, 3, 4])"
    with pytest.raises(IndexError, match="dim"):
        x.size(3)


def test_numpy_interop():
    t = baby.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    a = np.asarray(t)
    assert a is t.numpy() and np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.array(t, copy=True) is not t.numpy()
    np.testing.assert_allclose(t, [[1, 2], [3, 4]])
    assert np.allclose(t, t.numpy()) and isinstance(np.exp(t), np.ndarray)
    assert isinstance(np.ones(2) + t[0], baby.Tensor)
    shared = baby.from_numpy(np.zeros(3))
    shared.numpy()[0] = 5
    assert shared.dtype == np.float64 and shared[0].item() == 5
    a = np.zeros(2, np.float32)
    assert baby.as_tensor(a).numpy() is a and baby.tensor(a).numpy() is not a


def test_python_protocols():
    i = baby.tensor(1)
    assert [10, 20, 30][i] == 20 and f"{baby.tensor(3.14159):.2f}" == "3.14" and int(baby.tensor(2.7)) == 2
    assert [r.tolist() for r in baby.tensor([[1, 2], [3, 4]])] == [[1, 2], [3, 4]]
    assert baby.tensor([[1, 2]]).tolist() == [[1, 2]] and baby.tensor(5).item() == 5
    assert baby.is_tensor(i) and not baby.is_tensor(1) and baby.numel(baby.zeros(2, 3)) == 6
    with pytest.raises(TypeError, match="integer"):
        [1, 2][baby.tensor(1.0)]
    with pytest.raises(TypeError):
        iter(baby.tensor(1.0))


def test_data_is_a_detached_alias():
    w = baby.ones(3, requires_grad=True)
    d = w.data
    assert isinstance(d, baby.Tensor) and not d.requires_grad and d.numpy() is w.numpy()
    w.data.add_(1)
    w.data = baby.zeros(3)
    assert w.requires_grad and w.numpy().tolist() == [0, 0, 0]
    x = w.detach()
    assert x.numpy() is w.numpy() and not x.requires_grad


def test_default_dtype():
    baby.set_default_dtype(baby.float64)
    try:
        assert baby.tensor([1.5]).dtype == np.float64 and baby.zeros(2).dtype == np.float64
        assert baby.get_default_dtype() == baby.float64 and baby.arange(1.0, 3).dtype == np.float64
    finally:
        baby.set_default_dtype(baby.float32)
    assert baby.tensor([1.5]).dtype == np.float32
    with pytest.raises(TypeError):
        baby.set_default_dtype(baby.int64)


def test_dtype_names_match_pytorch():
    for name in ("float", "double", "half", "long", "int", "short", "uint8", "int8", "bool", "float16",
                 "float32", "float64", "int16", "int32", "int64"):
        assert str(getattr(baby, name)) == str(getattr(torch, name)).replace("torch.", "")


def test_random_factories():
    baby.manual_seed(0)
    assert baby.randint(3, 7, (200,)).min() >= 3 and baby.randint(5, (3, 2)).shape == (3, 2)
    assert sorted(baby.randperm(6).tolist()) == list(range(6))
    x = baby.randn(2, 3)
    assert baby.randn_like(x).shape == (2, 3) and baby.rand_like(x, dtype=baby.float64).dtype == np.float64
    n = baby.normal(2.0, 0.5, size=(4000,))
    assert abs(n.mean().item() - 2) < 0.05 and abs(n.std().item() - 0.5) < 0.05
    n = baby.normal(baby.zeros(3), baby.ones(3))
    assert n.shape == (3,)
    e = baby.empty(2, 3)
    assert e.shape == (2, 3) and e.dtype == np.float32 and baby.empty_like(e).shape == (2, 3)


ERRORS = [
    pytest.param(lambda: baby.ones(2, 3).sum(dim=2), IndexError, r"dim=2.*\(2, 3\)", id="dim-out-of-range"),
    pytest.param(lambda: baby.ones(2, 3).softmax(dim=-3), IndexError, r"-3", id="softmax-dim"),
    pytest.param(lambda: baby.ones(2, 3).unsqueeze(4), IndexError, "dim", id="unsqueeze-dim"),
    pytest.param(lambda: baby.cat([baby.ones(2, 3), baby.ones(3, 3)], dim=1), ValueError,
                 r"\(2, 3\).*\(3, 3\)", id="cat-shapes"),
    pytest.param(lambda: baby.ones(2, 3) + baby.ones(4), ValueError, r"\(2, 3\).*\(4,\)", id="broadcast"),
    pytest.param(lambda: baby.ones(2, 3).view(4, 2), ValueError, r"\(2, 3\)", id="view"),
    pytest.param(lambda: baby.ones(2, 3).expand(3, 3), ValueError, r"\(2, 3\)", id="expand"),
    pytest.param(lambda: baby.ones(2, 3).gather(1, baby.tensor([[3]])), IndexError, "gather", id="gather"),
    pytest.param(lambda: baby.ones(2, 3).gather(1, baby.tensor([[0.5]])), TypeError, "integer", id="gather2"),
    pytest.param(lambda: baby.ones(2, 3).topk(4), RuntimeError, "k=4", id="topk"),
    pytest.param(lambda: baby.ones(2, 3).mm(baby.ones(2, 3)), ValueError, r"\(2, 3\)", id="mm"),
    pytest.param(lambda: baby.ones(2).masked_fill(baby.ones(2), 0), TypeError, "bool", id="masked_fill"),
    pytest.param(lambda: baby.einsum("ij,jk", baby.ones(2, 3)), ValueError, "operands", id="einsum"),
    pytest.param(lambda: baby.ones(2).clamp(), ValueError, "min and max", id="clamp"),
    pytest.param(lambda: baby.ones(2).to("float33"), RuntimeError, "device", id="to-bad-string"),
    pytest.param(lambda: baby.ones(2).to(object), TypeError, "dtype", id="to-bad-dtype"),
    pytest.param(lambda: baby.ones(2).div(1, rounding_mode="up"), ValueError, "rounding_mode", id="div-mode"),
    pytest.param(lambda: baby.tensor([1, 2], requires_grad=True), RuntimeError, "floating", id="int-grad"),
    pytest.param(lambda: (baby.ones(2, requires_grad=True) * 2).requires_grad_(False), RuntimeError, "leaf",
                 id="non-leaf-requires-grad"),
    pytest.param(lambda: baby.zeros(2, 3).split([1, 2]), ValueError, "2", id="split-sizes"),
]


@pytest.mark.parametrize("fn, exc, match", ERRORS)
def test_errors(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()
