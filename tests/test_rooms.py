"""The rooms import one way: each module uses only the rooms below it (function-level imports included)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "baby"


def _imports(path):
    """The baby modules `path` imports anywhere in it, as dotted names relative to baby ('ops.shape')."""
    package = path.relative_to(ROOT).parent.parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - node.level + 1]
            mod = ".".join((*base, *(node.module.split(".") if node.module else ())))
            found.update([mod] if node.module else [".".join((*base, a.name)) for a in node.names])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("baby."):
            found.add(node.module[5:])
    return found


@pytest.mark.parametrize("module, above", [
    ("tensor.py", ("autograd", "ops", "nn", "io")),
    ("dims.py", ("tensor", "autograd", "ops", "nn")),
    ("autograd/engine.py", ("ops", "nn", "io")),
    ("nn/module.py", ("io", "autograd")),
    *[(str(p.relative_to(ROOT)), ("autograd", "nn", "io", "viz"))
      for p in sorted((ROOT / "ops").rglob("*.py"))],
])
def test_a_room_imports_only_rooms_below_it(module, above):
    bad = sorted(m for m in _imports(ROOT / module) if m.split(".")[0] in above)
    assert not bad, f"baby/{module} imports {bad}, a room above it"
