"""Reading what `torch.save` writes, without PyTorch and without running anything from the file.

A torch.save file is a zip archive of <name>/data.pkl (a pickle whose tensors refer to raw storages
<name>/data/<key>) and <name>/byteorder. Before unpickling, `scan` walks data.pkl's opcodes (pure Python,
nothing built): memo indices must stay below the opcode count (a 10-byte pickle naming memo slot 2**31
would make the C unpickler allocate gigabytes) and no opcode may declare more bytes than the pickle holds.
The pickle then goes through `_TorchUnpickler`, whose `find_class` admits only the globals in `GLOBALS`
(collections.OrderedDict, torch._utils._rebuild_tensor_v2 and _rebuild_parameter, the storage types
torch.FloatStorage ... BoolStorage, BFloat16Storage read as float32), each mapped to a function here that
builds NumPy arrays (handed out sealed, so a pickle's BUILD opcode cannot alter it); any other global is an
UnpicklingError before anything is called. The pickle's memo shares objects, and `_tensors` converts each
shared object once, so a 'billion laughs' pickle of nested shared lists loads in linear time. The result
may hold only tensors, numbers, strings, None and containers (a state dict stays an OrderedDict, without its
`_metadata`). A storage's declared element count is checked against its entry's size before it is read;
storages are views into the file's one buffer; views are checked to lie inside their storage; tensors
sharing a storage share memory, as in PyTorch. Anything damaged is an UnpicklingError naming the file.
"""

import io
import math
import pickle
import pickletools
from collections import OrderedDict, namedtuple

from ..backend import xp
from ..nn.module import Parameter
from ..tensor import _wrap
from .files import Archive, as_array, itemsize

WHAT = "tensors, arrays, numbers, strings, None and dicts, lists and tuples of them"
LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"  # torch < 1.6: a pickled number
StorageType = namedtuple("StorageType", ["name", "dtype"])  # a torch.*Storage, as find_class gives it
Loaded = namedtuple("Loaded", ["array", "requires_grad", "parameter"])  # a rebuilt tensor, before wrapping


def _dims(v):
    """Whether `v` is a tuple of non-negative ints below 2**62 (a size or a stride)."""
    return isinstance(v, tuple) and all(type(n) is int and 0 <= n < 2 ** 62 for n in v)


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks, *metadata):
    """torch._utils._rebuild_tensor_v2: the view (offset, size, stride) of `storage`, checked to fit in it."""
    if not (isinstance(storage, xp.ndarray) and type(offset) is int and offset >= 0 and _dims(size)
            and _dims(stride) and len(size) == len(stride) <= 64 and isinstance(requires_grad, bool)):
        raise pickle.UnpicklingError("malformed tensor in the PyTorch file (storage, offset, size, "
                                     f"stride {type(storage).__name__}, {offset!r:.20}, {size!r:.40}, "
                                     f"{stride!r:.40})")
    if math.prod(n for n in size if n) * storage.itemsize >= 2 ** 62:
        raise pickle.UnpicklingError(f"tensor of absurd size {size}")
    if 0 in size:
        return Loaded(xp.zeros(size, storage.dtype), requires_grad, False)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if last >= storage.size:
        raise pickle.UnpicklingError(f"tensor of size {size}, stride {stride} and offset {offset} reaches "
                                     f"past its storage of {storage.size} elements")
    steps = [s * storage.itemsize if n > 1 else 0 for n, s in zip(size, stride, strict=True)]  # bytes
    view = xp.lib.stride_tricks.as_strided(storage[offset:], size, steps)
    return Loaded(view, requires_grad, False)


def _rebuild_parameter(data, requires_grad, hooks, *state):
    """torch._utils._rebuild_parameter: the rebuilt tensor `data`, marked as an nn.Parameter."""
    if not (isinstance(data, Loaded) and isinstance(requires_grad, bool)):
        raise pickle.UnpicklingError(f"malformed parameter in the PyTorch file (data {type(data).__name__})")
    return Loaded(data.array, requires_grad, True)


_STORAGES = {"FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
             "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
             "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool"}


class _Sealed(tuple):
    """(function,), called as the function: what find_class hands out, so no BUILD opcode can alter it."""

    __slots__ = ()

    def __call__(self, *args):
        return self[0](*args)


GLOBALS = {("collections", "OrderedDict"): OrderedDict,
           ("torch._utils", "_rebuild_tensor_v2"): _Sealed((_rebuild_tensor_v2,)),
           ("torch._utils", "_rebuild_parameter"): _Sealed((_rebuild_parameter,)),
           **{("torch", name): StorageType(name, dtype) for name, dtype in _STORAGES.items()}}
_MEMO_OPS = {"PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET"}


def scan(data, where):
    """Walk the pickle's opcodes without building anything: declared lengths and memo indices must fit."""
    try:
        for count, (op, arg, _) in enumerate(pickletools.genops(data)):
            if op.name in _MEMO_OPS and not (isinstance(arg, int) and 0 <= arg <= count):
                raise ValueError(f"{op.name} names memo slot {arg} after {count} opcodes")
    except ValueError as e:  # genops' own errors: a length past the end, an unknown opcode, no STOP
        raise pickle.UnpicklingError(f"{where}: damaged pickle in the PyTorch file ({e})") from None


class _TorchUnpickler(pickle.Unpickler):
    """Unpickles a torch.save data.pkl, admitting only the globals in `GLOBALS` (see the module doc)."""

    def __init__(self, archive, prefix, where):
        data = bytes(archive.view(prefix + "data.pkl"))
        scan(data, where)
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix, self.where, self.storages = archive, prefix, where, {}
        order = prefix + "byteorder"
        self.big = order in archive and bytes(archive.view(order)) == b"big"

    def find_class(self, module, name):
        if (module, name) not in GLOBALS:
            raise pickle.UnpicklingError(
                f"{self.where}: global '{module}.{name}' is not allowed: baby reads only {WHAT} from "
                "PyTorch files (globals admitted: OrderedDict, torch._utils._rebuild_tensor_v2 and "
                "_rebuild_parameter, the torch.*Storage types) and never runs code from them")
        return GLOBALS[module, name]

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], StorageType) and isinstance(pid[2], str) and type(pid[4]) is int):
            raise pickle.UnpicklingError(f"{self.where}: unexpected persistent id {pid!r:.80}")
        _, kind, key, _location, numel = pid  # every storage loads to the CPU, wherever it was saved
        if (key, kind) not in self.storages:
            name = f"{self.prefix}data/{key}"
            if name not in self.archive:
                raise pickle.UnpicklingError(f"{self.where}: storage {key!r} is missing")
            size = self.archive.size(name)
            if size != numel * itemsize(kind.dtype):
                raise pickle.UnpicklingError(f"{self.where}: storage {key!r} holds "
                                             f"{size // itemsize(kind.dtype)} elements of {kind.dtype}, its "
                                             f"header says {numel}")
            self.storages[key, kind] = as_array(self.archive.view(name), kind.dtype, big=self.big)
        return self.storages[key, kind]


def load_torch(buf, where):
    """A torch.save zip archive in `buf`, unpickled by _TorchUnpickler; tensors become baby Tensors."""
    archive = Archive(buf, where, pickle.UnpicklingError)
    pickles = sorted((n for n in archive.names() if n.endswith("/data.pkl") or n == "data.pkl"), key=len)
    if not pickles:
        raise pickle.UnpicklingError(f"{where}: a zip archive without data.pkl, not a torch.save file (a "
                                     "`baby train` checkpoint is read by baby.train.load_checkpoint)")
    try:
        obj = _TorchUnpickler(archive, pickles[0][:-len("data.pkl")], where).load()
        return _tensors(obj, where, {})
    except (EOFError, ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError,
            OverflowError, MemoryError) as e:
        raise pickle.UnpicklingError(f"{where}: damaged PyTorch file ({type(e).__name__}: {e})") from None


def _tensors(obj, where, made):
    """The unpickled object, each rebuilt tensor a baby Tensor; each shared object converted once (`made`),
    so shared structure stays shared and costs nothing more; nothing else foreign."""
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    if id(obj) in made:
        return made[id(obj)][0]
    if isinstance(obj, Loaded):
        t = _wrap(obj.array)
        out = Parameter(t, obj.requires_grad) if obj.parameter and t.dtype.kind == "f" else \
            t.requires_grad_(obj.requires_grad)
    elif type(obj) in (dict, OrderedDict, list):
        out = type(obj)()
        made[id(obj)] = out, obj  # before the items: a container that holds itself stays finite
        items = obj.items() if isinstance(obj, dict) else enumerate(obj)
        for k, v in items:
            if isinstance(out, list):
                out.append(_tensors(v, where, made))
            else:
                out[_tensors(k, where, made)] = _tensors(v, where, made)
        return out
    elif type(obj) is tuple:
        out = tuple(_tensors(v, where, made) for v in obj)
    else:
        raise pickle.UnpicklingError(f"{where}: holds a {type(obj).__name__} outside a tensor; baby reads "
                                     f"{WHAT}")
    made[id(obj)] = out, obj
    return out
