"""torch.serialization for baby: save and load without pickle, and the allow-list of classes a load may build.

`save(obj, f)` writes one safetensors file (an 8-byte header length, a JSON header giving each tensor's
dtype, shape and byte range, then the raw little-endian data), built in memory and then written at once
(to a path through a temporary file and `os.replace`; the file gets mode 0o666 & ~umask, as PyTorch's).
`obj` may be a tensor, a state dict, nested containers, a whole Module, an optimizer, a scheduler: the
header's metadata holds "format": "pt" (PyTorch's layout, as Hugging Face tools expect) and "baby": the
structure of `obj` as JSON data (see baby/serialization/structure.py): containers, tensors by name, and
objects as their class name and attributes. A tensor's name is its path in `obj` joined with "/", so a
flat state dict keeps its keys and `safetensors.torch.load_file` reads it as it is.

`load(f)` reads what `save` wrote, any safetensors file (as {name: Tensor}, sorted by name, bfloat16 as
float32) or a `torch.save` file holding tensors and containers (see torchfile.py), never unpickling
anything. Objects are built as pickle would build them, without running their code: a bare instance of
the class (no __init__, __new__ or __setstate__) gets the saved attributes. Only allowed classes are built:
baby's own, and those allowed with `add_safe_globals([...])` or `with safe_globals([...]):`, as PyTorch
2.6's weights_only load; a file naming any other is refused before anything is built, with the name to
allow. `weights_only=False` (PyTorch's way to load a whole model) also admits subclasses of nn.Module from
modules the program has already imported (nothing is imported for a file). Every size a file declares is
checked before it is read, arrays are views into the file's one read, and a damaged PyTorch file is an
UnpicklingError naming it (a damaged safetensors file a ValueError).
"""

import json
import pickle
import pickletools

import safetensors.numpy

from ..device import as_device
from ..tensor import _wrap
from . import structure
from .files import Archive, kind_of, open_and_read, read_safetensors, write_atomic
from .torchfile import GLOBALS, LEGACY_MAGIC, load_torch, scan

__all__ = ["add_safe_globals", "clear_safe_globals", "get_safe_globals", "get_unsafe_globals_in_checkpoint",
           "load", "safe_globals", "save", "write_atomic"]
DEFAULT_PROTOCOL = 2


def save(obj, f, pickle_module=None, pickle_protocol=DEFAULT_PROTOCOL, _use_new_zipfile_serialization=True):
    """Write `obj` (tensors, containers, Modules, optimizers ...) to a path or binary file, atomically.

    `pickle_module`, `pickle_protocol` and `_use_new_zipfile_serialization` are accepted for PyTorch's
    signature: the file is always safetensors."""
    encode = structure.Encoder()
    node = encode(obj)
    data = safetensors.numpy.save(encode.arrays, metadata={"format": "pt", "baby": json.dumps(node)})
    if isinstance(f, str) or hasattr(f, "__fspath__"):
        write_atomic(f, lambda out: out.write(data))
    elif hasattr(f, "write"):
        f.write(data)
    else:
        raise TypeError(f"save: f must be a path or a writable binary file object, got {type(f).__name__}")


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None):
    """Read what `save` wrote, any safetensors file, or a `torch.save` file (a path or binary file object).

    `pickle_module` and `mmap` are accepted for PyTorch's signature: nothing is unpickled, and the file is
    read once into memory that the tensors are views of."""
    if isinstance(map_location, dict):  # {saved location: new one}: baby's tensors were saved on the CPU
        map_location = map_location.get("cpu", "cpu")
    if callable(map_location):
        raise TypeError(f"load: map_location must be None, 'cpu', baby.device('cpu') or a dict (baby loads "
                        f"every tensor to the CPU), got {map_location!r:.60}")
    as_device(map_location)
    buf, where = open_and_read(f, _refuse)
    if kind_of(buf[:9]) == "zip":
        return load_torch(buf, where)
    return _load_safetensors(buf, where, weights_only is False)


def _refuse(head, size):
    """Raise unless a file starting with `head`, `size` bytes long (None: not a regular file), may be read."""
    kind = kind_of(head)
    if head.startswith(LEGACY_MAGIC):
        raise pickle.UnpicklingError("a PyTorch file in the legacy (pre-1.6, non-zip) format, which baby "
                                     "does not read; re-save it with a current torch: "
                                     "torch.save(torch.load(f), f)")
    if kind == "pickle":
        raise pickle.UnpicklingError("a bare pickle, which baby never unpickles (it can run code); baby "
                                     "reads safetensors files and torch.save zip archives")
    if kind is None:
        raise ValueError(f"load: neither a safetensors file nor a PyTorch file (it starts with {head[:9]!r})")
    if size is None:
        raise ValueError("load: not a regular file")
    if kind == "safetensors" and int.from_bytes(head[:8], "little") > size - 8:
        raise ValueError(f"load: a truncated safetensors file (its header declares "
                         f"{int.from_bytes(head[:8], 'little')} bytes, the file has {size})")


def _load_safetensors(buf, where, lenient):
    """A safetensors file: baby's structure when it has one, else {name: Tensor} sorted by name."""
    arrays, meta = read_safetensors(buf, where)
    if "baby" not in meta:
        return {k: _wrap(arrays[k]) for k in sorted(arrays)}
    try:
        node = json.loads(meta["baby"])
        classes = {n: structure.resolve(n, lenient) for n in structure.names(node)}
    except (TypeError, ValueError, RecursionError) as e:
        raise ValueError(f"load: {where}: damaged baby structure in the metadata ({type(e).__name__}: {e})") \
            from None
    refused = sorted(n.replace(":", ".") for n, c in classes.items() if c is None)
    if refused:
        raise pickle.UnpicklingError(
            f"{where}: weights only load failed: the file names {', '.join(refused)}, which "
            f"{'is' if len(refused) == 1 else 'are'} not an allowed global: baby builds only its own classes "
            "and allow-listed ones, and nothing was built. If you trust the file, allow the class with "
            f"baby.serialization.add_safe_globals([{refused[0].rpartition('.')[2]}]) or the "
            "baby.serialization.safe_globals([...]) context manager")
    try:
        return structure.Decoder(arrays, classes)(node)
    except (KeyError, TypeError, ValueError, AttributeError, StopIteration, RecursionError, IndexError) as e:
        raise ValueError(f"load: {where}: damaged baby structure in the metadata ({type(e).__name__}: {e})") \
            from None


def add_safe_globals(safe_globals):
    """Allow these classes and functions (or (obj, 'module.name') pairs) in every later load."""
    structure.add(safe_globals)


def clear_safe_globals():
    """Forget the globals added with add_safe_globals."""
    structure.clear()


def get_safe_globals():
    """The classes and functions allowed now (beyond baby's own)."""
    return list(structure.allowed().values())


class safe_globals:
    """Context manager: allow these classes and functions in loads inside the `with` block (this thread)."""

    def __init__(self, safe_globals):
        self.entries = dict(structure._entry(g) for g in safe_globals)

    def __enter__(self):
        structure.scoped().append(self.entries)
        return self

    def __exit__(self, *exc):
        structure.scoped().remove(self.entries)


def get_unsafe_globals_in_checkpoint(f):
    """The 'module.qualname' of every class or function a file names that a load would refuse now."""
    buf, where = open_and_read(f, _refuse)
    if kind_of(buf[:9]) == "zip":
        archive = Archive(buf, where, pickle.UnpicklingError)
        found = set()
        for name in archive.names():
            if name.endswith("data.pkl"):
                data = bytes(archive.view(name))
                scan(data, where)
                found |= {tuple(arg.split(" ", 1)) for op, arg, _ in pickletools.genops(data)
                          if op.name == "GLOBAL"}
        return sorted(".".join(g) for g in found if g not in GLOBALS)
    _, meta = read_safetensors(buf, where)
    node = json.loads(meta.get("baby", "null"))
    return sorted(n.replace(":", ".") for n in structure.names(node) if structure.resolve(n) is None)
