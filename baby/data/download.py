"""Fetching dataset files: verified downloads, safe tar extraction, and finding files on disk."""

import contextlib
import hashlib
import os
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path


class DatasetError(ValueError):
    """A dataset file that is corrupt, truncated, unsafe or inconsistent."""


class MissingData(FileNotFoundError):
    """Dataset files neither on disk nor downloaded; the message names them, the folders and the URLs."""


def md5sum(path, chunk=1 << 20):
    """The MD5 hex digest of the file at `path`."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def download_url(url, path, md5, timeout=60.0):
    """Fetch `url` to `path` unless a file with the right MD5 is already there; verify before renaming.

    On failure the partial file and any folder this call created are removed.
    """
    path = Path(path)
    if path.is_file() and md5sum(path) == md5:
        return path
    created = [d for d in path.parents if not d.exists()]  # deepest first
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _fetch(url, path, md5, timeout)
    except BaseException:
        for d in created:
            with contextlib.suppress(OSError):
                d.rmdir()
        raise
    return path


def _fetch(url, path, md5, timeout):
    """Stream `url` into a temporary file beside `path`, check its MD5, then rename it to `path`."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    try:
        h = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as f:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as r:
                    print(f"Downloading {url} to {path}", file=sys.stderr)
                    for block in iter(lambda: r.read(1 << 20), b""):
                        h.update(block)
                        f.write(block)
            except OSError as e:
                reason = e.reason if type(e) is urllib.error.URLError else e
                raise OSError(f"could not download {url}: {reason}") from e
        if h.hexdigest() != md5:
            raise DatasetError(
                f"checksum mismatch for {url}: MD5 {h.hexdigest()}, expected {md5}; partial file deleted"
            )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _check_member(archive, m, dest):
    """Raise unless tar member `m` is a plain file or directory that lands inside `dest`."""
    target = (dest / m.name).resolve()
    if Path(m.name).is_absolute() or ".." in Path(m.name).parts or not target.is_relative_to(dest):
        raise DatasetError(f"{archive}: unsafe member {m.name!r} would be written outside {dest}")
    if not (m.isfile() or m.isdir()):
        raise DatasetError(f"{archive}: member {m.name!r} is not a regular file or directory")


def extract_tar(archive, dest):
    """Extract `archive` into `dest`, refusing absolute paths, `..`, links and devices."""
    dest = Path(dest).resolve()
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for m in members:
                _check_member(archive, m, dest)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, members, filter="data")
            else:
                tar.extractall(dest, members)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DatasetError(f"{archive}: could not extract the tar archive ({e})") from e


def find(dirs, names, exts=("", ".gz")):
    """{name: the first `dir/name+ext` that is a file (dirs, then exts, in order), or None} per name."""
    return {n: next((p for d in dirs for e in exts if (p := Path(d) / (n + e)).is_file()), None)
            for n in names}


def gather(owner, dirs, names, exts, download, fetch, hint):
    """{name: path} of every file in `names`, found in `dirs`; `fetch(missing)` first when `download`.

    Files on disk always win: only missing ones are fetched. What is still missing raises MissingData, one
    line naming the files, the folders searched and `hint` (where to put which URL by hand).
    """
    found = find(dirs, names, exts)
    missing, failure = [n for n, p in found.items() if p is None], None
    if missing and download:
        try:
            fetch(missing)
        except OSError as e:
            failure = e
        found = find(dirs, names, exts)
        missing = [n for n, p in found.items() if p is None]
    if missing:
        files = ", ".join(n + exts[-1] for n in missing) + (" (gzipped or not)" if ".gz" in exts else "")
        where = " or ".join(str(d) for d in dirs)
        why = f", and {failure}" if failure else ""
        advice = hint(missing) + ("" if download else ", or pass download=True")
        raise MissingData(f"{owner}: {files} not found in {where}{why}; {advice}")
    return found
