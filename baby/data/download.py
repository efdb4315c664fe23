"""Fetching dataset files: verified downloads, safe tar extraction, and finding files on disk."""

import hashlib
import os
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path


class DatasetError(ValueError):
    """A dataset file that is corrupt, truncated, unsafe or inconsistent."""


def md5sum(path, chunk=1 << 20):
    """The MD5 hex digest of the file at `path`."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def download_url(url, path, md5, timeout=60.0):
    """Fetch `url` to `path` unless a file with the right MD5 is already there; verify before renaming."""
    path = Path(path)
    if path.is_file() and md5sum(path) == md5:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"Downloading {url} to {path}", file=sys.stderr)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    try:
        h = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as f:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as r:
                    for block in iter(lambda: r.read(1 << 20), b""):
                        h.update(block)
                        f.write(block)
            except OSError as e:
                raise OSError(f"could not download {url}: {e}") from e
        if h.hexdigest() != md5:
            raise DatasetError(
                f"checksum mismatch for {url}: MD5 {h.hexdigest()}, expected {md5}; partial file deleted"
            )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


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


def locate(root, folders, names, exts=("", ".gz")):
    """Paths of `names` (each with one of `exts`) in `root` or a sub`folder`; FileNotFoundError if missing."""
    dirs = [Path(root)] + [Path(root) / d for d in folders]
    found = {n: next((p for d in dirs for e in exts if (p := d / (n + e)).is_file()), None) for n in names}
    missing = [n for n, p in found.items() if p is None]
    if missing:
        raise FileNotFoundError(
            f"dataset files not found: {', '.join(' or '.join(n + e for e in exts) for n in missing)} "
            f"in {' or '.join(str(d) for d in dirs)}. Pass download=True to fetch them."
        )
    return [found[n] for n in names]
