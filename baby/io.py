"""Saving and loading: tensors, state dicts and nested containers as safetensors; PyTorch files read safely.

`save(obj, f)` writes one safetensors file (an 8-byte header length, a JSON header giving each tensor's
dtype, shape and byte range, then the raw little-endian data), built in memory and then written at once
(to a path through a temporary file and `os.replace`). Loading it parses JSON and copies bytes: nothing
in it can run code. The header's metadata holds
    "format": "pt"      the layout is PyTorch's (NCHW weights), as Hugging Face tools expect
    "baby":   JSON      the structure of `obj`, in which null, true/false, numbers and strings stand for
                        themselves; {"list": [...]}, {"tuple": [...]} and {"dict": [[key, value], ...]} are
                        containers (keys of any of these kinds, so an optimizer state's int keys stay ints);
                        {"tensor": name, "requires_grad": b}, {"parameter": name, "requires_grad": b},
                        {"array": name} and {"scalar": name} are a baby Tensor, an nn.Parameter, a NumPy
                        array and a NumPy scalar, stored as the safetensors tensor `name`.
A tensor's name is its path in `obj` joined with "/", so a flat state dict keeps its keys and
`safetensors.torch.load_file` reads a saved model as it is; an object that appears twice is stored once
(and loads as one object); dict subclasses load as dicts. A file from another tool (no "baby"
metadata) loads as {name: Tensor}, sorted by name, bfloat16 as float32.

`load` also reads what `torch.save` writes, without PyTorch: a zip archive of <name>/data.pkl (a pickle
whose tensors refer to raw storages <name>/data/<key>) and <name>/byteorder. The pickle goes through
`_TorchUnpickler`, whose `find_class` admits only the globals in `_GLOBALS` (collections.OrderedDict,
torch._utils._rebuild_tensor_v2 and _rebuild_parameter, the storage types torch.FloatStorage ...
BoolStorage, BFloat16Storage read as float32), each mapped to a function here that builds NumPy arrays
(handed out immutable, so a pickle's BUILD opcode cannot alter it); any other global is an
UnpicklingError before anything is called, and the result may hold only tensors, numbers, strings, None
and containers (a state dict stays an OrderedDict, without its `_metadata`). Views are checked to lie
inside their storage; tensors sharing a storage share memory, as in PyTorch. The legacy non-zip format
(torch < 1.6, or `_use_new_zipfile_serialization=False`) is refused with how to re-save it.
"""

import contextlib
import io
import json
import os
import pickle
import tempfile
import zipfile
from collections import OrderedDict, namedtuple
from pathlib import Path

import safetensors
import safetensors.numpy

from .backend import xp
from .device import as_device
from .nn.module import Module, Parameter
from .tensor import Tensor, _wrap

_SAFETENSORS_DTYPES = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "U16": "uint16",
                       "I32": "int32", "U32": "uint32", "I64": "int64", "U64": "uint64", "F16": "float16",
                       "F32": "float32", "F64": "float64", "BF16": "bfloat16"}
_SAVABLE = {xp.dtype(n) for n in _SAFETENSORS_DTYPES.values() if n != "bfloat16"}
_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"  # torch < 1.6: a pickled number
_WHAT = "tensors, arrays, numbers, strings, None and dicts, lists and tuples of them"


# ---- writing -------------------------------------------------------------------------------------------
def save(obj, f):
    """Write `obj` (a tensor, a state dict, nested dicts/lists/tuples) to a path or binary file atomically."""
    arrays = {}
    structure = _encode(obj, (), arrays, {})
    data = safetensors.numpy.save(arrays, metadata={"format": "pt", "baby": json.dumps(structure)})
    if isinstance(f, (str, os.PathLike)):
        write_atomic(f, lambda out: out.write(data))
    elif hasattr(f, "write"):
        f.write(data)
    else:
        raise TypeError(f"save: f must be a path or a writable binary file object, got {type(f).__name__}")


def write_atomic(path, write):
    """Call `write(file)` on a temporary file beside `path`, fsync it, then rename it over `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _at(path):
    """' at obj[...][...]' naming where in the saved object something is (empty at the top)."""
    return " at obj" + "".join(f"[{k!r}]" for k in path) if path else ""


def _encode(obj, path, arrays, stored):
    """`obj` as a JSON structure (see the module doc); its tensors go into `arrays` by name."""
    if isinstance(obj, (Tensor, xp.ndarray, xp.generic)):
        return _encode_tensor(obj, path, arrays, stored)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        return {"dict": [[_key(k, path), _encode(v, (*path, k), arrays, stored)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, (*path, i), arrays, stored) for i, v in enumerate(obj)]
        return {"tuple" if isinstance(obj, tuple) else "list": items}
    if isinstance(obj, Module):
        raise TypeError(f"save: got a Module ({type(obj).__name__}){_at(path)}; baby saves weights, not "
                        "modules: baby.save(model.state_dict(), f), then model.load_state_dict(baby.load(f))")
    raise TypeError(f"save: cannot store a {type(obj).__name__}{_at(path)}: baby.save stores {_WHAT} "
                    "(for a model or an optimizer, save its state_dict())")


def _key(k, path):
    """A dict key as JSON: None, a bool, number or string, or a tuple of those."""
    if k is None or isinstance(k, (bool, int, float, str)):
        return k
    if isinstance(k, tuple):
        return {"tuple": [_key(v, path) for v in k]}
    raise TypeError(f"save: cannot store a dict key of type {type(k).__name__}{_at(path)}: keys must be "
                    "strings, numbers, bools, None or tuples of them")


def _encode_tensor(obj, path, arrays, stored):
    """The node for a Tensor, array or NumPy scalar, storing its data under its path's name (once)."""
    if id(obj) in stored:
        return stored[id(obj)]
    a = obj._data if isinstance(obj, Tensor) else xp.asarray(obj)
    if a.dtype not in _SAVABLE:
        raise TypeError(f"save: cannot store dtype {a.dtype}{_at(path)}: safetensors holds bool, integer "
                        "and floating-point data")
    base = "/".join(str(k) for k in path) or "tensor"
    name, n = base, 1
    while name in arrays:
        name, n = f"{base}#{n}", n + 1
    arrays[name] = a if a.flags.c_contiguous else a.copy()
    if isinstance(obj, Tensor):
        node = {"parameter" if isinstance(obj, Parameter) else "tensor": name,
                "requires_grad": obj.requires_grad}
    else:
        node = {"array" if isinstance(obj, xp.ndarray) else "scalar": name}
    stored[id(obj)] = node
    return node


# ---- reading -------------------------------------------------------------------------------------------
def load(f, map_location=None, weights_only=None):
    """Read what `save` wrote, any safetensors file, or a `torch.save` file (a path or binary file object)."""
    if weights_only is False:
        raise ValueError("load: weights_only=False is not supported: it would unpickle arbitrary objects, "
                         "which can run code, and baby never does; baby.load always behaves as "
                         f"weights_only=True and reads {_WHAT}")
    if isinstance(map_location, dict):  # {saved location: new one}: baby's tensors were saved on the CPU
        map_location = map_location.get("cpu", "cpu")
    if callable(map_location):
        raise TypeError(f"load: map_location must be None, 'cpu', baby.device('cpu') or a dict (baby loads "
                        f"every tensor to the CPU), got {map_location!r:.60}")
    as_device(map_location)
    data, where = _read(f)
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return _load_torch(data, where)
    if data.startswith(_LEGACY_MAGIC):
        raise pickle.UnpicklingError(f"{where}: a PyTorch file in the legacy (pre-1.6, non-zip) format, "
                                     "which baby does not read; re-save it with a current torch: "
                                     "torch.save(torch.load(f), f)")
    return _load_safetensors(data, where)


def _read(f):
    """The bytes of `f` (a path or a binary file object) and a name for it in messages."""
    if isinstance(f, (str, os.PathLike)):
        return Path(f).read_bytes(), str(f)
    if not hasattr(f, "read"):
        raise TypeError(f"load: f must be a path or a readable binary file object, got {type(f).__name__}")
    if isinstance(f, io.TextIOBase):
        raise TypeError("load: the file object must be opened in binary mode ('rb')")
    return bytes(f.read()), str(getattr(f, "name", "the file object"))


def _from_bytes(buf, dtype, big=False):
    """A writable native-order array of `dtype` (a NumPy name, or 'bfloat16', read as float32) from bytes."""
    order = ">" if big else "<"
    if dtype == "bfloat16":
        return (xp.frombuffer(buf, order + "u2").astype(xp.uint32) << 16).view(xp.float32)
    a = xp.frombuffer(buf, xp.dtype(dtype).newbyteorder(order))
    return a.astype(a.dtype.newbyteorder("="))


def _load_safetensors(data, where):
    """A safetensors file: baby's structure when it has one, else {name: Tensor} sorted by name."""
    try:
        specs = dict(safetensors.deserialize(data))
    except safetensors.SafetensorError as e:
        if data[:1] == b"\x80":  # a pickle's PROTO opcode
            raise pickle.UnpicklingError(f"{where}: a bare pickle, which baby never unpickles (it can run "
                                         "code); baby reads safetensors files and torch.save zip archives") \
                from None
        raise ValueError(f"load: {where} is neither a safetensors file nor a PyTorch file ({e})") from None
    arrays = {}
    for name, spec in specs.items():
        if spec["dtype"] not in _SAFETENSORS_DTYPES:
            raise ValueError(f"load: {where}: tensor {name!r} has dtype {spec['dtype']}, which baby does not "
                             "support (it has bool, integer and floating-point tensors)")
        arrays[name] = _from_bytes(spec["data"], _SAFETENSORS_DTYPES[spec["dtype"]]).reshape(spec["shape"])
    size = int.from_bytes(data[:8], "little")
    meta = json.loads(data[8:8 + size]).get("__metadata__") or {}
    if "baby" not in meta:
        return {k: _wrap(arrays[k]) for k in sorted(arrays)}
    try:
        return _decode(json.loads(meta["baby"]), arrays, {})
    except (KeyError, TypeError, ValueError, AttributeError, StopIteration, RecursionError) as e:
        raise ValueError(f"load: {where}: damaged baby structure in the metadata ({type(e).__name__}: {e})") \
            from None


def _decode(node, arrays, made):
    """The object a JSON structure node stands for (see the module doc); `made` keeps shared ones shared."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    kind = next(iter(node))
    value = node[kind]
    if kind in ("list", "tuple"):
        items = [_decode(v, arrays, made) for v in value]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {_decode(k, arrays, made): _decode(v, arrays, made) for k, v in value}
    if kind not in ("tensor", "parameter", "array", "scalar"):
        raise ValueError(f"unknown node kind {kind!r}")
    if value not in made:
        a = arrays[value]
        if kind in ("tensor", "parameter"):
            t = _wrap(a)
            made[value] = Parameter(t, node["requires_grad"]) if kind == "parameter" else \
                t.requires_grad_(node["requires_grad"])
        else:
            made[value] = a if kind == "array" else a[()]
    return made[value]


# ---- reading PyTorch's files ---------------------------------------------------------------------------
_StorageType = namedtuple("_StorageType", ["name", "dtype"])  # a torch.*Storage, as find_class gives it
_Loaded = namedtuple("_Loaded", ["array", "requires_grad", "parameter"])  # a rebuilt tensor, before wrapping


def _dims(v):
    """Whether `v` is a tuple of non-negative ints (a size or a stride)."""
    return isinstance(v, tuple) and all(isinstance(n, int) and n >= 0 for n in v)


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks, *metadata):
    """torch._utils._rebuild_tensor_v2: the view (offset, size, stride) of `storage`, checked to fit in it."""
    if not (isinstance(storage, xp.ndarray) and isinstance(offset, int) and offset >= 0 and _dims(size)
            and _dims(stride) and len(size) == len(stride) and isinstance(requires_grad, bool)):
        raise pickle.UnpicklingError("malformed tensor in the PyTorch file (storage, offset, size, "
                                     f"stride {type(storage).__name__}, {offset!r:.20}, {size!r:.40}, "
                                     f"{stride!r:.40})")
    if 0 in size:
        return _Loaded(xp.zeros(size, storage.dtype), requires_grad, False)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if last >= storage.size:
        raise pickle.UnpicklingError(f"tensor of size {size}, stride {stride} and offset {offset} reaches "
                                     f"past its storage of {storage.size} elements")
    view = xp.lib.stride_tricks.as_strided(storage[offset:], size, [s * storage.itemsize for s in stride])
    return _Loaded(view, requires_grad, False)


def _rebuild_parameter(data, requires_grad, hooks, *state):
    """torch._utils._rebuild_parameter: the rebuilt tensor `data`, marked as an nn.Parameter."""
    if not (isinstance(data, _Loaded) and isinstance(requires_grad, bool)):
        raise pickle.UnpicklingError(f"malformed parameter in the PyTorch file (data {type(data).__name__})")
    return _Loaded(data.array, requires_grad, True)


_STORAGES = {"FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
             "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
             "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool"}


class _Sealed(tuple):
    """(function,), called as the function: what find_class hands out, so no BUILD opcode can alter it."""

    __slots__ = ()

    def __call__(self, *args):
        return self[0](*args)


_GLOBALS = {("collections", "OrderedDict"): OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2"): _Sealed((_rebuild_tensor_v2,)),
            ("torch._utils", "_rebuild_parameter"): _Sealed((_rebuild_parameter,)),
            **{("torch", name): _StorageType(name, dtype) for name, dtype in _STORAGES.items()}}


class _TorchUnpickler(pickle.Unpickler):
    """Unpickles a torch.save data.pkl, admitting only the globals in `_GLOBALS` (see the module doc)."""

    def __init__(self, archive, prefix, where):
        super().__init__(io.BytesIO(archive.read(prefix + "data.pkl")))
        self.archive, self.prefix, self.where, self.storages = archive, prefix, where, {}
        self.big = prefix + "byteorder" in archive.namelist() and archive.read(prefix + "byteorder") == b"big"

    def find_class(self, module, name):
        if (module, name) not in _GLOBALS:
            raise pickle.UnpicklingError(
                f"{self.where}: global '{module}.{name}' is not allowed: baby reads only {_WHAT} from "
                "PyTorch files (globals admitted: OrderedDict, torch._utils._rebuild_tensor_v2 and "
                "_rebuild_parameter, the torch.*Storage types) and never runs code from them")
        return _GLOBALS[module, name]

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str) and isinstance(pid[4], int)):
            raise pickle.UnpicklingError(f"{self.where}: unexpected persistent id {pid!r:.80}")
        _, kind, key, _location, numel = pid  # every storage loads to the CPU, wherever it was saved
        if (key, kind) not in self.storages:
            try:
                buf = self.archive.read(f"{self.prefix}data/{key}")
            except KeyError:
                raise pickle.UnpicklingError(f"{self.where}: storage {key!r} is missing") from None
            a = _from_bytes(buf, kind.dtype, self.big)
            if a.size != numel:
                raise pickle.UnpicklingError(f"{self.where}: storage {key!r} holds {a.size} elements of "
                                             f"{kind.dtype}, its header says {numel}")
            self.storages[key, kind] = a
        return self.storages[key, kind]


def _load_torch(data, where):
    """A torch.save zip archive, unpickled by _TorchUnpickler; tensors become baby Tensors."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        pickles = sorted((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), key=len)
        if not pickles:
            raise pickle.UnpicklingError(f"{where}: a zip archive without data.pkl, not a torch.save file (a "
                                         "`baby train` checkpoint is read by baby.train.load_checkpoint)")
        try:
            return _tensors(_TorchUnpickler(archive, pickles[0][:-len("data.pkl")], where).load(), where, {})
        except (EOFError, ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError) as e:
            raise pickle.UnpicklingError(f"{where}: damaged PyTorch file ({type(e).__name__}: {e})") from None


def _tensors(obj, where, made):
    """The unpickled object, each rebuilt tensor a baby Tensor (shared ones once); nothing else foreign."""
    if isinstance(obj, _Loaded):
        if id(obj) not in made:
            t = _wrap(obj.array)
            made[id(obj)] = Parameter(t, obj.requires_grad) if obj.parameter and t.dtype.kind == "f" else \
                t.requires_grad_(obj.requires_grad)
        return made[id(obj)]
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    if type(obj) in (dict, OrderedDict):
        return type(obj)((_tensors(k, where, made), _tensors(v, where, made)) for k, v in obj.items())
    if type(obj) in (list, tuple):
        return type(obj)(_tensors(v, where, made) for v in obj)
    raise pickle.UnpicklingError(f"{where}: holds a {type(obj).__name__} outside a tensor; baby reads "
                                 f"{_WHAT}")
