"""Hostile and damaged files: baby.load, .pth, safetensors, checkpoints and `baby eval` refuse them cleanly.

Files that could exhaust memory or hang are loaded in a child Python whose address space is capped
(resource.setrlimit) and whose run is bounded by a timeout; payloads that would run code create a canary
file, asserted absent afterwards.
"""

import io
import json
import os
import pickle
import re
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
import torch

import baby
from baby import cli, models, train

ROOT = Path(__file__).resolve().parents[1]


def _pth(path, data_pkl=None, storage=None):
    """A torch.save file of {"w": tensor([1., 2., 3.])} with data.pkl and/or the storage bytes replaced."""
    buf = io.BytesIO()
    torch.save({"w": torch.tensor([1.0, 2.0, 3.0])}, buf)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("data.pkl") and data_pkl is not None:
                data = data_pkl
            if item.filename.endswith("data/0") and storage is not None:
                data = storage
            dst.writestr(item.filename, data)
    return path


def _tensor_pickle(size, stride, numel=3, offset=0):
    """data.pkl of one float tensor over storage '0': any size, stride and element count (BININT/LONG)."""
    def num(n):
        return b"L" + str(n).encode() + b"L\n"
    tup = lambda v: b"(" + b"".join(num(n) for n in v) + b"t"  # noqa: E731
    return (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
            b"X\x01\x00\x00\x000X\x03\x00\x00\x00cpu" + num(numel) + b"tQ" + num(offset) + tup(size)
            + tup(stride) + b"\x89ccollections\nOrderedDict\n)RtR.")


def _laughs(depth=30, width=10):
    """Nested lists, each level `width` references to the one below: 10**30 leaves, shared."""
    x = [1.0]
    for _ in range(depth):
        x = [x] * width
    return x


def _capped(code, mem_mb=1536, timeout=60):
    """Run `code` in a fresh Python with at most `mem_mb` of address space; its stdout."""
    cap = f"import resource\nresource.setrlimit(resource.RLIMIT_AS, ({mem_mb} << 20, {mem_mb} << 20))\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", cap + code], capture_output=True, text=True, timeout=timeout,
                         env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def _patch_sizes(path, name, size):
    """Declare `size` uncompressed bytes for zip entry `name` (local and central headers), data unchanged."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(name)
    struct.pack_into("<I", data, info.header_offset + 22, size)
    central = data.index(b"PK\x01\x02")
    while bytes(data[central + 46:central + 46 + len(name)]) != name.encode():  # the central entry of `name`
        central = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, central + 24, size)
    path.write_bytes(bytes(data))
    return path


def _npz(path, arrays, compress=False):
    (np.savez_compressed if compress else np.savez)(path, **arrays)
    return path


def _npy_lying(path, shape):
    """A checkpoint-like .npz whose member's npy header declares `shape` over 8 bytes of data."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("format.npy", _npy_bytes(np.array(train.FORMAT)))
        z.writestr("model/w.npy", b"\x93NUMPY\x01\x00" + header.getvalue()[8:] + b"\x00" * 8)
    return path


def _npy_bytes(a):
    f = io.BytesIO()
    np.save(f, a)
    return f.getvalue()


def _structure_file(path, node, arrays=None):
    """A baby save file whose structure metadata is `node` (forged)."""
    meta = {"format": "pt", "baby": json.dumps(node)}
    path.write_bytes(safetensors.numpy.save(arrays or {}, metadata=meta))
    return path


# ---- files that would exhaust memory or never end: loaded under a memory cap and a timeout -------------
def test_memory_and_time_bombs_are_bounded(tmp_path):
    node = {"list": [1.0], "id": 0}
    for i in range(1, 31):  # 30 levels of 10 references: 10**30 paths through 300 nodes
        node = {"list": [node] + [{"ref": i - 1}] * 9, "id": i}
    deflated = _npz(tmp_path / "deflated.npz", {"format": np.array(train.FORMAT), "model/w": np.zeros(1000)},
                    compress=True)
    files = {
        "laughs.pth": _pth(tmp_path / "laughs.pth", pickle.dumps(_laughs(), protocol=2)),
        "memo.pth": _pth(tmp_path / "memo.pth", b"\x80\x02]r\xff\xff\xff\x7f."),
        "bytes8.pth": _pth(tmp_path / "bytes8.pth", b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little") + b"."),
        "numel.pth": _pth(tmp_path / "numel.pth", _tensor_pickle((3,), (1,), numel=1 << 40)),
        "empty.pth": _pth(tmp_path / "empty.pth", _tensor_pickle((0, 1 << 61), (1, 1))),
        "claims.pth": _patch_sizes(_pth(tmp_path / "claims.pth"), "archive/data/0", 1 << 31),
        "huge.safetensors": tmp_path.joinpath("huge.safetensors"),
        "laughs.safetensors": _structure_file(tmp_path / "laughs.safetensors", node),
        "/dev/zero": Path("/dev/zero"),
    }
    header = json.dumps({"w": {"dtype": "F32", "shape": [1 << 40], "data_offsets": [0, 1 << 42]}}).encode()
    files["huge.safetensors"].write_bytes(len(header).to_bytes(8, "little") + header + b"\x00" * 16)
    many = {f"model/{i}": np.zeros(1) for i in range(3000)}  # one directory parse per member: over a minute
    checkpoints = {"many.npz": _npz(tmp_path / "many.npz", {"format": np.array(train.FORMAT), **many}),
                   "shape.npz": _npy_lying(tmp_path / "shape.npz", (1 << 40,)),
                   "bomb.npz": _patch_sizes(deflated, "model/w.npy", 1 << 31)}
    code = ("import baby, pickle\nfrom baby import train\n"
            f"files, checkpoints = {({k: str(v) for k, v in files.items()})!r}, "
            f"{({k: str(v) for k, v in checkpoints.items()})!r}\n"
            "for name, path in [*files.items(), *checkpoints.items()]:\n"
            "    try:\n"
            "        got = (train.load_checkpoint if name in checkpoints else baby.load)(path)\n"
            "        print(name, 'loaded', 'shared' if got[0] is got[1] else 'copied')\n"
            "    except Exception as e:\n"
            "        print(name, type(e).__name__, str(e).replace(chr(10), ' '))\n")
    got = dict(line.split(" ", 1) for line in _capped(code).splitlines())
    expected = {
        "laughs.pth": "loaded shared", "laughs.safetensors": "loaded shared",
        "memo.pth": "UnpicklingError .*memo slot 2147483647",
        "bytes8.pth": "UnpicklingError .*damaged pickle",
        "numel.pth": "UnpicklingError .*storage '0' holds 3 elements of float32, its header says 1099511",
        "empty.pth": "UnpicklingError .*absurd size",
        "claims.pth": "UnpicklingError .*storage '0' holds 536870912 elements",
        "huge.safetensors": "ValueError .*claims bytes \\[0, 4398046511104\\)",
        "/dev/zero": r"ValueError load: neither a safetensors file nor .*\(it starts with b'\\x00",
        "many.npz": "CheckpointError .*incomplete or damaged checkpoint \\(KeyError",
        "shape.npz": "CheckpointError .*declares shape \\(1099511627776,\\) of float64",
        "bomb.npz": "CheckpointError .*declares 2147483648 bytes from .* compressed ones",
    }
    for name, pattern in expected.items():
        assert re.match(pattern, got[name]), (name, got[name])


# ---- damaged PyTorch files: one UnpicklingError naming the file ----------------------------------------
def _cut(n):
    return lambda b: b[:n]


def _flip(at):
    return lambda b: b[:at] + bytes([b[at] ^ 0xFF]) + b[at + 1:]


@pytest.mark.parametrize("damage, match", [
    (_cut(0), "neither a safetensors file"),
    (_cut(3), "neither a safetensors file"),
    (_cut(100), "damaged or truncated zip archive"),
    (lambda b: b[:len(b) // 2], "damaged or truncated zip archive"),
    (lambda b: b[:-1], "damaged or truncated zip archive"),
    (lambda b: b[:-30], "damaged or truncated zip archive"),
    (lambda b: b[:b.index(b"PK\x01\x02")] + b"\x00" * (len(b) - b.index(b"PK\x01\x02")),
     "damaged or truncated zip archive"),
    (lambda b: _flip(b.index(b"\x00\x00\x80?"))(b), "fails its CRC check"),  # the storage's 1.0
    (lambda b: _flip(b.index(b"_rebuild_tensor_v2"))(b), "fails its CRC check"),
])
def test_damaged_pth_is_one_unpickling_error_naming_the_file(tmp_path, damage, match):
    good = _pth(tmp_path / "good.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(damage(good.read_bytes()))
    with pytest.raises((pickle.UnpicklingError, ValueError), match=match) as e:
        baby.load(bad)
    assert str(bad) in str(e.value) or "neither" in str(e.value)
    assert type(e.value) in (pickle.UnpicklingError, ValueError)  # never BadZipFile, OverflowError ...


@pytest.mark.parametrize("size, stride, numel, match", [
    ((3,), (1 << 62,), 3, "malformed tensor"),
    ((2,), (1 << 40,), 3, "reaches past its storage"),
    ((1 << 61, 1 << 61), (0, 0), 3, "absurd size"),
    ((1,) * 65, (1,) * 65, 3, "malformed tensor"),
    ((3,), (1,), -1, "header says -1"),
])
def test_absurd_strides_and_lengths(tmp_path, size, stride, numel, match):
    with pytest.raises(pickle.UnpicklingError, match=match):
        baby.load(_pth(tmp_path / "t.pth", _tensor_pickle(size, stride, numel)))


def test_a_size_one_dim_with_any_stride_still_loads(tmp_path):
    got = baby.load(_pth(tmp_path / "t.pth", _tensor_pickle((1, 3), (1 << 61, 1))))
    np.testing.assert_array_equal(got.numpy(), [[1.0, 2.0, 3.0]])


def test_safetensors_entries_are_checked_against_the_file(tmp_path):
    def forge(entries, data=b"\x00" * 12):
        header = json.dumps(entries).encode()
        path = tmp_path / "f.safetensors"
        path.write_bytes(len(header).to_bytes(8, "little") + header + data)
        return path
    cases = [
        ({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}, "claims bytes"),
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, "overlap or leave gaps"),
        ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]},
          "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, "overlap or leave gaps"),
        ({"w": {"dtype": "F32", "shape": [-3], "data_offsets": [0, 12]}}, "damaged safetensors entry"),
        ({"w": {"dtype": "C64", "shape": [3], "data_offsets": [0, 12]}}, "dtype C64"),
        ([1, 2], "neither a safetensors file"),
    ]
    for entries, match in cases:
        with pytest.raises(ValueError, match=match):
            baby.load(forge(entries))
    path = tmp_path / "short.safetensors"
    path.write_bytes((1000).to_bytes(8, "little") + b'{"w": 1}')
    with pytest.raises(ValueError, match="truncated safetensors file"):
        baby.load(path)


# ---- whole-model files: classes not allowed are refused before anything is built -------------------------
class Canary:
    """Creates the marker file from any of the methods a loader might call."""

    marker = None

    def __new__(cls, *args):
        Path(cls.marker).touch()
        return super().__new__(cls)

    def __init__(self):
        Path(self.marker).touch()

    def __setstate__(self, state):
        Path(self.marker).touch()

    def __del__(self):
        if self.marker:
            Path(self.marker).touch()


@pytest.mark.parametrize("name", ["posix:system", "builtins:eval", "subprocess:Popen", "os:remove",
                                  f"{__name__}:Canary", "baby.data.worker:MultiProcessIter",
                                  "baby.data.worker:os.system", "baby:<lambda>",
                                  "baby.__main__:main", "baby.nope:X", "baby.cli:main.__globals__"])
def test_a_class_or_function_not_allowed_is_refused_before_anything_runs(tmp_path, name):
    marker = tmp_path / "pwned"
    Canary.marker = None
    for node in ({"object": name, "state": {"marker": str(marker)}},
                 {"list": [{"global": name}, {"object": name, "state": {}}]}):
        path = _structure_file(tmp_path / "m.bin", node)
        with pytest.raises(pickle.UnpicklingError, match=r"not an allowed global.*nothing was built"):
            baby.load(path)
        with pytest.raises(pickle.UnpicklingError, match="not an allowed global"):
            baby.load(path, weights_only=False)
    assert not marker.exists()


def test_an_allowed_class_is_built_without_running_its_code(tmp_path):
    marker = tmp_path / "pwned"
    Canary.marker = str(marker)
    path = _structure_file(tmp_path / "m.bin", {"object": f"{__name__}:Canary", "state": {"x": 1}})
    with baby.serialization.safe_globals([Canary]):
        obj = baby.load(path)
    assert type(obj) is Canary and obj.x == 1 and not marker.exists()
    Canary.marker = None  # its __del__ stays quiet
    del obj


@pytest.mark.parametrize("node, match", [
    ({"list": [{"ref": 5}]}, "KeyError"),
    ({"list": [1], "id": "x"}, "bad or repeated object id"),
    ({"dict": [[{"list": []}, 1]]}, "a dict key or set item of type list"),
    ({"object": "baby.nn.layers:Linear", "state": [1]}, "not a JSON object"),
    ({"object": "baby.tensor:Tensor", "state": {}}, "not built from attributes"),
    ({"bogus": 1}, "unknown node kind"),
    ({"tensor": "missing", "requires_grad": False}, "KeyError"),
    ([[1]], "not a structure node"),
])
def test_damaged_structures_are_value_errors(tmp_path, node, match):
    with pytest.raises(ValueError, match=f"damaged baby structure.*{match}"):
        baby.load(_structure_file(tmp_path / "m.bin", node))


def test_a_module_that_keys_a_dict_cannot_run_its_hash(tmp_path):
    node = {"dict": [[{"object": "baby.nn.layers:Linear", "state": {}}, 1]]}
    baby.load(_structure_file(tmp_path / "m.bin", node))  # Module keeps object.__hash__: allowed
    node = {"set": [{"object": "baby.tensor:Size", "items": [1, 2]}]}
    assert baby.load(_structure_file(tmp_path / "m.bin", node)) == {baby.Size([1, 2])}


# ---- memory: loading peaks at about the file's size ------------------------------------------------------
def _peak(fn, *args):
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kind", ["pth", "safetensors", "model", "checkpoint"])
def test_loading_peaks_at_about_the_file_size(tmp_path, kind):
    model = models.create("mlp", [1, 32, 32], 10)
    path = tmp_path / kind
    if kind == "pth":
        torch.save({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()}, path)
    elif kind == "safetensors":
        baby.save(model.state_dict(), path)
    elif kind == "model":
        baby.save(model, path)
    else:
        train.save_checkpoint(path, model, baby.optim.Adam(model.parameters()))
    load = train.load_checkpoint if kind == "checkpoint" else baby.load
    assert _peak(load, path) < 1.1 * path.stat().st_size + (1 << 20)


# ---- checkpoints: `baby eval` and `--resume` print one line and exit 2 ----------------------------------
def _digits_checkpoint(path, **config):
    model = models.create("mlp", [1, 8, 8], 10)
    settings = dict(dataset="digits", model="mlp", optimizer="adam", epochs=2, batch_size=32, lr=0.01,
                    weight_decay=0.0, seed=0, input_shape=[1, 8, 8], num_classes=10,
                    data_dir=str(path.parent / "data"))
    train.save_checkpoint(path, model, baby.optim.Adam(model.parameters(), lr=0.01), None, 1,
                          {**settings, **config})
    return path


@pytest.mark.parametrize("config, match", [
    (dict(batch_size=0), "damaged run settings: batch_size=0 out of range"),
    (dict(lr="x"), "lr='x'"),
    (dict(lr=float("nan")), "lr=nan"),
    (dict(num_classes=10 ** 9), "num_classes=1000000000"),
    (dict(input_shape=[1, 8, 10 ** 9]), "input_shape"),
    (dict(epochs=-1), "epochs=-1"),
    (dict(seed=True), "seed=True"),
    (dict(dataset=["digits"]), "dataset=\\['digits'\\]"),
])
@pytest.mark.parametrize("command", ["eval", "resume"])
def test_out_of_range_run_settings_exit_2_with_one_line(capsys, tmp_path, config, match, command):
    (tmp_path / "run").mkdir()
    path = _digits_checkpoint(tmp_path / "run" / "checkpoint.npz", **config)
    argv = ["eval", "--checkpoint", str(path)] if command == "eval" else ["train", "--resume", str(path)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and re.search(match, err[0]), err


@pytest.mark.parametrize("damage", [
    lambda p: p.write_bytes(p.read_bytes()[:-7]),
    lambda p: p.write_bytes(_flip(len(p.read_bytes()) // 2)(p.read_bytes())),
    lambda p: _npy_lying(p, (1 << 40,)),
    lambda p: _npz(p, {"format": np.array(train.FORMAT), "epoch": np.array(1),
                      "model/w": np.array(["a"]), "config": np.array("{}")}),
    lambda p: _npz(p, {"format": np.array(train.FORMAT), "epoch": np.array(-3), "config": np.array("{}")}),
    lambda p: _patch_sizes(p, "rng.npy", 1 << 31),
])
@pytest.mark.parametrize("command", ["eval", "resume"])
def test_damaged_checkpoints_exit_2_with_one_line(capsys, tmp_path, damage, command):
    (tmp_path / "run").mkdir()
    path = _digits_checkpoint(tmp_path / "run" / "checkpoint.npz")
    damage(path)
    argv = ["eval", "--checkpoint", str(path)] if command == "eval" else ["train", "--resume", str(path)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and str(path) in err[0], err


@pytest.mark.parametrize("shape, classes", [([1, 16, 16], 10), ([1, 8, 8], 5)])
@pytest.mark.parametrize("command", ["eval", "resume"])
def test_a_consistent_checkpoint_for_other_inputs_exits_2(capsys, tmp_path, shape, classes, command):
    (tmp_path / "run").mkdir()
    path = tmp_path / "run" / "checkpoint.npz"
    model = models.create("mlp", shape, classes)
    settings = dict(dataset="digits", model="mlp", optimizer="adam", epochs=2, batch_size=32, lr=0.01,
                    weight_decay=0.0, seed=0, input_shape=shape, num_classes=classes, data_dir=str(tmp_path))
    train.save_checkpoint(path, model, baby.optim.Adam(model.parameters(), lr=0.01), None, 1, settings)
    argv = ["eval", "--checkpoint", str(path)] if command == "eval" else ["train", "--resume", str(path)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and f"takes inputs {shape} with {classes} classes; --dataset digits has" in err[0]
