"""Running `baby` in-process for the CLI tests: exit status, stdout and stderr lines, and files on disk."""

import csv
import urllib.error
import urllib.request

from baby import cli


def run(capsys, *argv):
    """(exit status, stdout lines, stderr lines) of `baby *argv`."""
    try:
        status = cli.main(list(argv))
    except SystemExit as e:
        status = e.code
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err.splitlines()


def files(root):
    """Every path under `root` with its bytes (None for a directory), to compare before and after."""
    return {p: None if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


def rows(path):
    """metrics.csv rows without the wall-clock `seconds` column."""
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


def go_offline(monkeypatch):
    """Make every download fail as on a machine without network; returns the list of URLs tried."""
    tried = []

    def urlopen(url, *args, **kwargs):
        tried.append(url)
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return tried
