"""Bytes in and out: atomic writes, one bounded read per load, safetensors and zip entries as views.

Every size a file declares is checked against the bytes that are really there before anything is
allocated or read; arrays are views into the one buffer a load reads (or, for a compressed .npz member,
one array of the size its header declares, checked against the member's compressed size), so loading
peaks at about the file's size. `error` arguments are the exception type a caller wants damaged files
reported as (pickle.UnpicklingError for PyTorch files, ValueError for safetensors).
"""

import contextlib
import io
import json
import math
import os
import secrets
import stat
import struct
import zipfile
import zlib
from pathlib import Path

from ..backend import xp

SAFETENSORS_DTYPES = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "U16": "uint16",
                      "I32": "int32", "U32": "uint32", "I64": "int64", "U64": "uint64", "F16": "float16",
                      "F32": "float32", "F64": "float64", "BF16": "bfloat16"}
HEADER_LIMIT = 100_000_000  # the largest safetensors JSON header read (the safetensors library's limit)
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
DEFLATE_RATIO = 1032  # deflate expands at most ~1032:1, so a member's size is bounded by its compressed size
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, struct.error, ValueError, OverflowError, EOFError,
               NotImplementedError, zlib.error, KeyError, OSError)


# ---- writing -------------------------------------------------------------------------------------------
def write_atomic(path, write):
    """Call `write(file)` on a new file beside `path` (mode 0o666 & ~umask, as open() gives), fsync it, then
    rename it over `path`: a crash leaves the old file or the new one, never a part."""
    path = Path(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the kernel applies the umask
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
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


# ---- reading -------------------------------------------------------------------------------------------
def kind_of(head):
    """'zip', 'safetensors', 'pickle' or None, from a file's first 9 bytes."""
    if head[:4] in ZIP_MAGIC:
        return "zip"
    n = int.from_bytes(head[:8], "little")
    if len(head) >= 9 and head[8:9] == b"{" and 2 <= n <= HEADER_LIMIT:
        return "safetensors"
    return "pickle" if head[:1] == b"\x80" else None


def read_all(f, where, refuse):
    """The whole of the open binary file `f` in one writable bytearray, its first bytes checked first:
    `refuse(head)` raises for a file that can be nothing baby reads (so /dev/zero is never read through)."""
    try:
        start = f.tell()
        size = f.seek(0, os.SEEK_END) - start
        f.seek(start)
    except (OSError, ValueError, AttributeError):
        raise io.UnsupportedOperation(f"{where}: baby.load needs a seekable file; read it into a buffer "
                                      "first: baby.load(io.BytesIO(f.read()))") from None
    head = f.read(16)
    if not isinstance(head, bytes | bytearray):
        raise TypeError(f"{where}: the file object must be opened in binary mode ('rb')")
    refuse(bytes(head), size)
    buf = bytearray(max(size, len(head)))
    buf[:len(head)] = head
    view, got = memoryview(buf), len(head)
    while got < size:
        n = f.readinto(view[got:])
        if not n:
            break
        got += n
    view.release()
    del buf[got:]
    return buf


def open_and_read(f, refuse):
    """(bytearray of the file's bytes, a name for it in messages) for a path or a binary file object."""
    if isinstance(f, str | os.PathLike):
        where = str(f)
        with open(f, "rb") as g:
            if not stat.S_ISREG(os.fstat(g.fileno()).st_mode):
                refuse(bytes(g.read(16)), None)  # a device, a pipe: only its first bytes are read
            return read_all(g, where, refuse), where
    if not hasattr(f, "read"):
        raise TypeError(f"load: f must be a path or a readable binary file object, got {type(f).__name__}")
    if isinstance(f, io.TextIOBase):
        raise TypeError("load: the file object must be opened in binary mode ('rb')")
    where = str(getattr(f, "name", "the file object"))
    return read_all(f, where, refuse), where


def as_array(view, dtype, count=None, big=False):
    """A writable native-order array of `dtype` (a NumPy name, or 'bfloat16', read as float32) over `view`:
    a view where it can be, a copy only to convert (bfloat16, the other byte order) or to align."""
    if dtype == "bfloat16":
        u = xp.frombuffer(view, ">u2" if big else "<u2", count=-1 if count is None else count)
        return (u.astype(xp.uint32) << 16).view(xp.float32)
    d = xp.dtype(dtype).newbyteorder(">" if big else "<")
    a = xp.frombuffer(view, d, count=-1 if count is None else count)
    if not a.flags.aligned or not a.flags.writeable:
        a = a.copy()
    return a.astype(d.newbyteorder("="), copy=False)


def itemsize(dtype):
    """Bytes per element of a NumPy dtype name or 'bfloat16'."""
    return 2 if dtype == "bfloat16" else xp.dtype(dtype).itemsize


# ---- safetensors ---------------------------------------------------------------------------------------
def read_safetensors(buf, where):
    """({name: array}, metadata) of a safetensors file in `buf`, every entry checked against the buffer."""
    n = int.from_bytes(buf[:8], "little")
    if len(buf) < 10 or not 2 <= n <= min(HEADER_LIMIT, len(buf) - 8):
        raise ValueError(f"load: {where}: truncated safetensors file (a {n}-byte header declared, the file "
                         f"has {len(buf)} bytes)")
    try:
        header = json.loads(bytes(buf[8:8 + n]))
    except (ValueError, RecursionError) as e:
        raise ValueError(f"load: {where}: damaged safetensors header ({e})") from None
    if not isinstance(header, dict):
        raise ValueError(f"load: {where}: damaged safetensors header (not a JSON object)")
    meta = header.pop("__metadata__", None) or {}
    data = memoryview(buf)[8 + n:]
    spans, arrays = [], {}
    for name, spec in header.items():
        dtype, shape, span = _entry(name, spec, where)
        b, e = span
        if not 0 <= b <= e <= len(data) or e - b != math.prod(shape) * itemsize(dtype):
            raise ValueError(f"load: {where}: tensor {name!r} of {dtype} {shape} claims bytes [{b}, {e}) of "
                             f"a {len(data)}-byte data section")
        spans.append((b, e))
        a = as_array(data[b:e], dtype) if e > b else xp.empty(0, xp.float32 if dtype == "bfloat16" else dtype)
        arrays[name] = a.reshape(shape)
    spans = sorted(spans) or [(0, 0)]
    if [b for b, _ in spans] != [0, *(e for _, e in spans[:-1])] or spans[-1][1] != len(data):
        raise ValueError(f"load: {where}: damaged safetensors file (its tensors overlap or leave gaps)")
    if not isinstance(meta, dict):
        raise ValueError(f"load: {where}: damaged safetensors header (__metadata__ is not an object)")
    return arrays, meta


def _entry(name, spec, where):
    """(dtype name, shape, [begin, end]) of one safetensors header entry, checked to be well formed."""
    ok = (isinstance(spec, dict) and isinstance(spec.get("shape"), list)
          and all(type(d) is int and 0 <= d < 2 ** 62 for d in spec["shape"])
          and isinstance(spec.get("data_offsets"), list) and len(spec["data_offsets"]) == 2
          and all(type(o) is int for o in spec["data_offsets"]))
    if not ok:
        raise ValueError(f"load: {where}: damaged safetensors entry {name!r}: {str(spec)[:80]}")
    if spec.get("dtype") not in SAFETENSORS_DTYPES:
        raise ValueError(f"load: {where}: tensor {name!r} has dtype {spec.get('dtype')}, which baby does not "
                         "support (it has bool, integer and floating-point tensors)")
    return SAFETENSORS_DTYPES[spec["dtype"]], spec["shape"], spec["data_offsets"]


# ---- zip archives --------------------------------------------------------------------------------------
class _BufferFile(io.RawIOBase):
    """A read-only seekable file over a buffer, not copying it (zipfile reads its directory through it)."""

    def __init__(self, buf):
        self.view, self.pos = memoryview(buf), 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, pos, whence=0):
        self.pos = max(0, (0, self.pos, len(self.view))[whence] + pos)
        return self.pos

    def readinto(self, b):
        n = len(self.view[self.pos:self.pos + len(b)])
        b[:n] = self.view[self.pos:self.pos + n]
        self.pos += n
        return n


class Archive:
    """The entries of a zip archive held in `buf`, read as views after checking their sizes and CRCs."""

    def __init__(self, buf, where, error):
        self.buf, self.where, self.error = buf, where, error
        try:
            self.zip = zipfile.ZipFile(_BufferFile(buf))  # its directory parsed once
            self.infos = {i.filename: i for i in self.zip.infolist()}
        except _ZIP_ERRORS as e:
            raise error(f"{where}: damaged or truncated zip archive ({type(e).__name__}: {e})") from None

    def names(self):
        """The entry names, in the archive's order."""
        return list(self.infos)

    def __contains__(self, name):
        return name in self.infos

    def size(self, name):
        """The uncompressed size entry `name` declares."""
        return self.infos[name].file_size

    def _span(self, info):
        """(start, end) of an entry's stored bytes in the buffer, checked to lie inside it."""
        off = info.header_offset
        local = bytes(self.buf[off:off + 30])
        if len(local) < 30 or local[:4] != b"PK\x03\x04":
            raise self.error(f"{self.where}: damaged zip archive (entry {info.filename!r} has no local "
                             "header)")
        start = off + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little")
        end = start + info.compress_size
        if end > len(self.buf):
            raise self.error(f"{self.where}: truncated zip archive (entry {info.filename!r} claims "
                             f"{info.compress_size} bytes past the end of the file)")
        return start, end

    def view(self, name):
        """The bytes of stored (uncompressed) entry `name` as a memoryview into the buffer, CRC checked."""
        info = self.infos[name]
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
            raise self.error(f"{self.where}: entry {name!r} is compressed; PyTorch stores its entries as "
                             "they are")
        start, end = self._span(info)
        view = memoryview(self.buf)[start:end]
        if zlib.crc32(view) != info.CRC:
            raise self.error(f"{self.where}: damaged zip archive (entry {name!r} fails its CRC check)")
        return view

    def open(self, name):
        """A file object reading entry `name` (decompressing it), after checking its declared sizes."""
        info = self.infos[name]
        start, end = self._span(info)
        limit = info.compress_size * (1 if info.compress_type == zipfile.ZIP_STORED else DEFLATE_RATIO)
        if info.file_size > limit + 64:
            raise self.error(f"{self.where}: entry {name!r} declares {info.file_size} bytes from "
                             f"{info.compress_size} compressed ones, more than deflate can give")
        try:
            return self.zip.open(info)
        except _ZIP_ERRORS as e:
            raise self.error(f"{self.where}: damaged zip archive ({type(e).__name__}: {e})") from None


def read_npz(buf, where, error):
    """{name: array} of the .npz archive in `buf`, with allow_pickle=False's guarantee: each member's npy
    header is checked (no object dtype; its shape against the member's size) before its data is read."""
    archive, arrays = Archive(buf, where, error), {}
    for name in archive.names():
        try:
            arrays[name.removesuffix(".npy")] = _npy(archive, name)
        except error:
            raise
        except _ZIP_ERRORS as e:
            raise error(f"{where}: damaged member {name!r} ({type(e).__name__}: {e})") from None
    return arrays


def _npy(archive, name):
    """One .npz member as an array: a view into the buffer when stored (np.savez does not align members;
    a checkpoint's arrays are copied into the model and optimizer), else decompressed into one array."""
    with archive.open(name) as f:
        version = xp.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"npy format version {version}, which baby does not write")
        header = xp.lib.format.read_array_header_1_0 if version == (1, 0) else \
            xp.lib.format.read_array_header_2_0
        shape, fortran, dtype = header(f)
        start = f.tell()
    if dtype.hasobject:
        raise archive.error(f"{archive.where}: member {name!r} holds Python objects, which are read only by "
                            "unpickling (allow_pickle=False refuses them); a checkpoint never does")
    count = math.prod(shape)
    if count * dtype.itemsize != archive.size(name) - start:
        raise archive.error(f"{archive.where}: member {name!r} declares shape {shape} of {dtype} "
                            f"({count * dtype.itemsize} bytes) in {archive.size(name) - start} bytes of data")
    if archive.infos[name].compress_type == zipfile.ZIP_STORED:
        a = xp.frombuffer(archive.view(name)[start:], dtype, count)  # maybe unaligned
    else:
        a = xp.empty(count, dtype)
        out, got = memoryview(a).cast("B"), 0
        with archive.open(name) as f:
            f.read(start)
            while got < a.nbytes:
                chunk = f.read(min(1 << 20, a.nbytes - got))
                if not chunk:
                    raise ValueError("truncated data")
                out[got:got + len(chunk)] = chunk
                got += len(chunk)
    return a.reshape(shape[::-1]).T if fortran else a.reshape(shape)  # Fortran order: the transposed C array
