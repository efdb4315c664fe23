"""The README's snippets run as written: each python block alone in a fresh interpreter, then its `baby`
commands in order."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import run

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PYTHON = re.findall(r"```python\n(.*?)```", README, re.S)
BASH = re.findall(r"```bash\n(.*?)```", README, re.S)


def _baby_commands():
    """Every `baby ...` command in the README's bash blocks, in order (pip and pytest are not run)."""
    lines = (line.split("#")[0] for block in BASH for line in block.splitlines())
    return [part.strip() for line in lines for part in line.split("&&") if part.strip().startswith("baby ")]


@pytest.mark.parametrize("code", PYTHON, ids=[f"python-{i}" for i in range(len(PYTHON))])
def test_python_snippet_runs_alone(code, tmp_path):
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr


def test_baby_commands_run_in_order(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    commands = _baby_commands()
    assert commands[0] == "baby train" and len(commands) >= 4
    for command in commands:
        status, out, err = run(capsys, *shlex.split(command)[1:])
        assert status == 0, (command, err)
    assert len(list((tmp_path / "runs").glob("*/curves.png"))) == 2     # the main job's run and runs/cnn
