"""baby.save / baby.load: round trips, safetensors interop, torch.save files read without torch, attacks."""

import io
import os
import pickle
import subprocess
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

import baby
from baby import models, train

DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.bool_]


def _round_trip(obj):
    """What baby.load gives back for baby.save(obj) through memory."""
    f = io.BytesIO()
    baby.save(obj, f)
    f.seek(0)
    return baby.load(f)


def _same(a, b):
    """Equal structure, types, dtypes and values (tensors and arrays compared elementwise)."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, baby.Tensor | np.ndarray | np.generic):
        a_, b_ = np.asarray(a), np.asarray(b)
        assert a_.dtype == b_.dtype and a_.shape == b_.shape
        np.testing.assert_array_equal(a_, b_)
        assert getattr(a, "requires_grad", False) == getattr(b, "requires_grad", False)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    else:
        assert a == b


# ---- baby's own files ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0, 3), (2, 3, 4)])
def test_tensor_round_trip_keeps_dtype_shape_values(dtype, shape):
    a = np.asarray(np.arange(int(np.prod(shape))).reshape(shape) % 7).astype(dtype)
    _same(_round_trip(baby.from_numpy(a)), baby.from_numpy(a))
    _same(_round_trip(a), a)


def test_non_contiguous_and_grad_tensors_round_trip():
    a = np.arange(24.0).reshape(4, 6)
    t = baby.tensor(a[::2, ::-3].T)
    _same(_round_trip(t), t)
    w = baby.randn(3, requires_grad=True)
    p = baby.nn.Parameter(baby.randn(2))
    back = _round_trip({"w": w, "p": p})
    _same(back["w"], w)
    assert isinstance(back["p"], baby.nn.Parameter) and back["p"].requires_grad


def test_nested_structures_round_trip_exactly():
    shared = baby.ones(2)
    obj = {"a": [1, 2.5, "s", None, True, (1, (2, 3))], 3: baby.tensor([1, 2]), (1, "x"): np.float32(2),
           "nested": {"t": shared, "again": shared, "arr": np.eye(2)}, "empty": {}, "nan": float("inf")}
    back = _round_trip(obj)
    _same(back, obj)
    assert back["nested"]["t"] is back["nested"]["again"]  # one object saved once loads as one object
    assert _round_trip(7) == 7 and _round_trip("x") == "x" and _round_trip(None) is None


def test_model_state_dict_round_trip_and_module_save_load(tmp_path):
    model, other = models.SmallCNN(), models.SmallCNN()
    model.train()(baby.randn(4, 1, 8, 8))  # running statistics move
    path = tmp_path / "weights.safetensors"
    baby.save(model.state_dict(), path)
    other.load_state_dict(baby.load(path))
    _same(other.state_dict(), model.state_dict())
    book = tmp_path / "model.pkl"  # the book names its file .pkl; the content is still safetensors
    model.save(book)
    assert sorted(os.listdir(tmp_path)) == ["model.pkl", "weights.safetensors"]
    assert not book.read_bytes().startswith(b"\x80")
    assert set(safetensors.numpy.load_file(book)) == set(model.state_dict())
    fresh = models.SmallCNN()
    assert fresh.load(book) == ([], [])
    x = baby.randn(2, 1, 8, 8)
    np.testing.assert_array_equal(fresh.eval()(x).numpy(), model.eval()(x).numpy())


def _adam_steps(model, opt, n):
    for _ in range(n):
        opt.zero_grad()
        model(baby.randn(3, 64)).square().mean().backward()
        opt.step()


def test_optimizer_state_dict_round_trip_resumes_exactly():
    baby.manual_seed(0)
    model = models.MLP()
    opt = baby.optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9))
    _adam_steps(model, opt, 2)
    state, weights = _round_trip(opt.state_dict()), _round_trip(model.state_dict())
    _same(state, opt.state_dict())  # int keys stay ints, betas stay a tuple, "step" stays an int
    clone = models.MLP()
    clone.load_state_dict(weights)
    opt2 = baby.optim.Adam(clone.parameters(), lr=0.5)
    opt2.load_state_dict(state)
    rng = baby.get_rng_state()
    _adam_steps(model, opt, 2)
    baby.set_rng_state(rng)
    _adam_steps(clone, opt2, 2)
    _same(clone.state_dict(), model.state_dict())


def test_files_and_file_objects(tmp_path):
    t = baby.arange(5)
    with open(tmp_path / "t.bin", "wb") as f:
        baby.save(t, f)
    with open(tmp_path / "t.bin", "rb") as f:
        _same(baby.load(f), t)
    _same(baby.load(str(tmp_path / "t.bin"), map_location="cpu"), t)
    _same(baby.load(tmp_path / "t.bin", map_location=baby.device("cpu"), weights_only=True), t)
    with open(tmp_path / "t.bin") as f, pytest.raises(TypeError, match="binary mode"):
        baby.load(f)


def test_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    baby.save({"w": baby.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"cannot store a object at obj\['w'\]\[1\]"):
        baby.save({"w": [baby.zeros(3), object()]}, path)

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        baby.save({"w": baby.zeros(3)}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["w.safetensors"]


@pytest.mark.parametrize("call, error, match", [
    (lambda: baby.save({"f": lambda x: x}, io.BytesIO()), TypeError, r"<lambda> at obj\['f'\].*found again"),
    (lambda: baby.save(np.ones(2, complex), io.BytesIO()), TypeError, "dtype complex128"),
    (lambda: baby.save({object(): 1}, io.BytesIO()), TypeError, "cannot store a object"),
    (lambda: baby.save(1, 5), TypeError, "f must be a path or a writable binary file"),
    (lambda: baby.load(io.BytesIO(), map_location="cuda:0"), RuntimeError, "CPU only"),
    (lambda: baby.load(io.BytesIO(), map_location=lambda s, loc: s), TypeError, "map_location must be"),
    (lambda: baby.load(io.BytesIO(b"hello, world")), ValueError, "neither a safetensors file nor"),
])
def test_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---- interop with safetensors and PyTorch --------------------------------------------------------------
def _torch_twin():
    """SmallCNN as PyTorch builds it: the same names, so the state dicts share their keys."""
    def conv_bn(c_in, c_out):
        return torch.nn.Sequential(OrderedDict(conv=torch.nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                                               bn=torch.nn.BatchNorm2d(c_out), relu=torch.nn.ReLU()))
    return torch.nn.Sequential(OrderedDict(conv1=conv_bn(1, 32), conv2=conv_bn(32, 64),
                                           pool=torch.nn.MaxPool2d(2), flatten=torch.nn.Flatten(),
                                           fc=torch.nn.Linear(64 * 4 * 4, 10))).eval()


def test_weights_move_to_torch_and_back_with_identical_outputs(tmp_path):
    model = models.SmallCNN()
    model.train()(baby.randn(4, 1, 8, 8))
    model.eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    baby.save(model.state_dict(), tmp_path / "baby.safetensors")
    twin = _torch_twin()
    twin.load_state_dict(safetensors.torch.load_file(tmp_path / "baby.safetensors"))
    with torch.no_grad():
        theirs = twin(torch.tensor(x)).numpy()
    np.testing.assert_allclose(theirs, model(baby.tensor(x)).numpy(), rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        for p in twin.parameters():
            p.mul_(0.5)
        theirs = twin(torch.tensor(x)).numpy()
    for name, save in (("t.safetensors", safetensors.torch.save_file), ("t.pth", torch.save)):
        save(twin.state_dict(), tmp_path / name)
        back = models.SmallCNN().eval()
        back.load_state_dict(baby.load(tmp_path / name))
        np.testing.assert_allclose(back(baby.tensor(x)).numpy(), theirs, rtol=1e-5, atol=1e-5)


def test_foreign_safetensors_load_sorted_with_bfloat16_as_float32(tmp_path):
    safetensors.torch.save_file({"b": torch.tensor([1.5, -2.0], dtype=torch.bfloat16), "a": torch.arange(3)},
                                tmp_path / "f.safetensors")
    got = baby.load(tmp_path / "f.safetensors")
    assert list(got) == ["a", "b"] and got["b"].dtype == np.float32
    np.testing.assert_array_equal(got["b"].numpy(), [1.5, -2.0])
    _same(got["a"], baby.arange(3))


def _torch_files(tmp_path):
    """Files real torch.save wrote, with what baby should read from each (as NumPy)."""
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    dtypes = [torch.float16, torch.float32, torch.float64, torch.int8, torch.int16, torch.int32, torch.int64,
              torch.uint8, torch.bool]
    typed = {str(d): (torch.arange(6) % 3).to(d).reshape(2, 3) for d in dtypes}
    obj = {"typed": typed, "nested": {"list": [base.t(), base[1:, ::2], (torch.tensor(3.5), 7)], "s": "x"},
           "shared": [base, base[2], base], "zero_d": torch.tensor(5), "empty": torch.zeros(0, 4),
           "param": torch.nn.Parameter(torch.ones(2)), "bf16": torch.tensor([1.25], dtype=torch.bfloat16)}
    linear = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(linear.parameters(), lr=0.1)
    linear(torch.ones(1, 3)).sum().backward()
    opt.step()
    files = {"obj.pth": obj, "linear.pth": linear.state_dict(), "adam.pth": opt.state_dict()}
    for name, value in files.items():
        torch.save(value, tmp_path / name)
    return files


def _like_numpy(value):
    """A torch object with its tensors as NumPy arrays (bfloat16 as float32)."""
    if isinstance(value, torch.Tensor):
        t = value.detach()
        return (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    if isinstance(value, dict):
        return {k: _like_numpy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_like_numpy(v) for v in value)
    return value


def _check_read(got, expected):
    """baby's read of a torch file equals torch's own object: structure, dtypes, values."""
    if isinstance(expected, np.ndarray):
        assert isinstance(got, baby.Tensor) and got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got.numpy(), expected)
    elif isinstance(expected, dict):
        assert list(got) == list(expected)
        for k in expected:
            _check_read(got[k], expected[k])
    elif isinstance(expected, list | tuple):
        assert type(got) is type(expected) and len(got) == len(expected)
        for g, e in zip(got, expected, strict=True):
            _check_read(g, e)
    else:
        assert got == expected and type(got) is type(expected)


def test_torch_save_files_load_with_torch_blocked(tmp_path, monkeypatch):
    files = _torch_files(tmp_path)
    expected = {name: _like_numpy(v) for name, v in files.items()}
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    with pytest.raises(ImportError):
        import torch as _  # noqa: F401
    got = {name: baby.load(tmp_path / name) for name in files}
    for name in files:
        _check_read(got[name], expected[name])
    obj = got["obj.pth"]
    assert isinstance(got["linear.pth"], OrderedDict) and isinstance(obj["param"], baby.nn.Parameter)
    a, row, again = obj["shared"]
    assert a is again and np.shares_memory(a.numpy(), row.numpy())  # one storage, as in torch
    row.numpy()[0] = -1.0
    assert a[2, 0].item() == -1.0
    assert obj["zero_d"].shape == () and obj["zero_d"].dtype == np.int64
    model = baby.nn.Linear(3, 2)
    model.load_state_dict(got["linear.pth"])


def test_torch_files_load_in_a_process_without_torch(tmp_path):
    torch.save({"w": torch.arange(6.0).reshape(2, 3).t()}, tmp_path / "w.pth")
    code = ("import sys\n"
            "class NoTorch:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'torch': raise ImportError('torch is blocked')\n"
            "sys.meta_path.insert(0, NoTorch())\n"
            "import baby\n"
            f"w = baby.load({str(tmp_path / 'w.pth')!r})['w']\n"
            "assert not any(m.split('.')[0] == 'torch' for m in sys.modules), 'torch was imported'\n"
            "print(w.tolist())\n")
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(baby.__file__))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]"


def test_legacy_torch_format_is_refused_with_how_to_resave(tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "old.pth", _use_new_zipfile_serialization=False)
    with pytest.raises(pickle.UnpicklingError, match=r"legacy .*re-save it with a current torch"):
        baby.load(tmp_path / "old.pth")


# ---- hostile files -----------------------------------------------------------------------------------
class _System:
    """Unpickling this runs a shell command (os.system) that creates the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _Eval:
    """Unpickling this calls builtins.eval on code that creates the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return eval, (f"open({str(self.marker)!r}, 'w')",)


def _pth_with(tmp_path, payload=None, **edits):
    """torch.save({"w": tensor([1., 2., 3.])}) with data.pkl replaced by `payload` and other entries edited
    (entry name with "/" as "_" -> function of its bytes)."""
    torch.save({"w": torch.tensor([1.0, 2.0, 3.0])}, tmp_path / "good.pth")
    if payload is not None:
        edits["data.pkl"] = lambda _: payload
    with zipfile.ZipFile(tmp_path / "good.pth") as src, zipfile.ZipFile(tmp_path / "edited.pth", "w") as dst:
        for item in src.infolist():
            edit = edits.get(item.filename.split("/", 1)[1].replace("/", "_"), lambda b: b)
            dst.writestr(item.filename, edit(src.read(item)))
    return tmp_path / "edited.pth"


def _storage_pickle(offset, size, stride, numel=3, storage_type="FloatStorage"):
    """data.pkl for one tensor over storage '0' with the given geometry, written opcode by opcode."""
    def tup(v):
        return b"(" + b"".join(b"K" + bytes([n]) for n in v) + b"t"
    return (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"
            + b"ctorch\n" + storage_type.encode() + b"\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK"
            + bytes([numel]) + b"tQ" + b"K" + bytes([offset]) + tup(size) + tup(stride)
            + b"\x89ccollections\nOrderedDict\n)RtR.")


@pytest.mark.parametrize("payload, match", [
    (lambda m: pickle.dumps(_System(m), protocol=2), r"global 'posix.system' is not allowed"),
    (lambda m: pickle.dumps({"w": [_Eval(m)]}, protocol=4), r"global 'builtins.eval' is not allowed"),
    (lambda m: pickle.dumps(OrderedDict(w=_System(m)), protocol=2), r"global 'posix.system' is not allowed"),
    (lambda m: f"cbuiltins\nexec\n(Vopen({str(m)!r}, 'w')\ntR.".encode(), "'builtins.exec' is not allowed"),
])
def test_hostile_pickles_in_a_pth_never_run(tmp_path, payload, match):
    marker = tmp_path / "pwned"
    path = _pth_with(tmp_path, payload(marker))
    with pytest.raises(pickle.UnpicklingError, match=match):
        baby.load(path)
    assert not marker.exists()
    with pytest.raises((pickle.UnpicklingError, ValueError), match="bare pickle|neither"):  # nor bare
        baby.load(io.BytesIO(payload(marker)))
    assert not marker.exists()


def test_the_forged_tensor_pickle_reads_when_well_formed(tmp_path):
    got = baby.load(_pth_with(tmp_path, _storage_pickle(1, (2,), (1,))))
    np.testing.assert_array_equal(got.numpy(), [2.0, 3.0])


def test_big_endian_files_read_in_native_order(tmp_path):
    path = _pth_with(tmp_path, byteorder=lambda _: b"big",
                     data_0=lambda b: np.frombuffer(b, "<f4").astype(">f4").tobytes())
    np.testing.assert_array_equal(baby.load(path)["w"].numpy(), [1.0, 2.0, 3.0])


def test_a_pickle_cannot_alter_the_admitted_globals(tmp_path):
    build = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(N}X\x0c\x00\x00\x00__defaults__(K\x01tstb."
    with pytest.raises(pickle.UnpicklingError, match="damaged PyTorch file"):
        baby.load(_pth_with(tmp_path, build))
    assert baby.serialization.torchfile._rebuild_tensor_v2.__defaults__ is None
    np.testing.assert_array_equal(baby.load(_pth_with(tmp_path))["w"].numpy(), [1.0, 2.0, 3.0])


@pytest.mark.parametrize("payload, match", [
    (_storage_pickle(0, (4,), (1,)), "reaches past its storage of 3 elements"),
    (_storage_pickle(2, (2, 2), (0, 1)), "reaches past its storage"),
    (_storage_pickle(0, (3,), (1,), numel=5), "holds 3 elements of float32, its header says 5"),
    (_storage_pickle(0, (3,), (1,), storage_type="ComplexFloatStorage"), "'torch.ComplexFloatStorage' is"),
    (b"\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x03tQ.",
     "holds a ndarray outside a tensor"),
    (b"\x80\x02X\x01\x00\x00\x00xQ.", "unexpected persistent id"),
])
def test_malformed_tensors_are_clear_errors(tmp_path, payload, match):
    with pytest.raises(pickle.UnpicklingError, match=match):
        baby.load(_pth_with(tmp_path, payload))


def test_a_zip_that_is_not_a_torch_file(tmp_path):
    train.save_checkpoint(tmp_path / "checkpoint.npz", models.MLP())
    with pytest.raises(pickle.UnpicklingError, match="without data.pkl.*load_checkpoint"):
        baby.load(tmp_path / "checkpoint.npz")


def test_train_checkpoints_never_unpickle(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint.npz"
    np.savez(path, format=np.array(train.FORMAT), epoch=np.array(1),
             evil=np.array([_System(marker)], dtype=object))
    with pytest.raises(train.CheckpointError, match="allow_pickle=False"):
        train.load_checkpoint(path)
    assert not marker.exists()
