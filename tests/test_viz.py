"""baby.viz.make_dot: the DOT of small graphs checked node by node and edge by edge, and rendering."""

import re

import pytest

import baby
from baby import cli, nn
from baby.viz import make_dot


def _parse(dot):
    """({node id: label}, {(from id, to id)}, {cluster label}) of a graphviz.Digraph's source."""
    src = dot.source
    nodes = {m[0]: m[1].replace("\\n", "\n") for m in re.findall(r'^\s*(\S+) \[label="([^"]*)"', src, re.M)}
    edges = set(re.findall(r"^\s*(\S+) -> (\S+)", src, re.M))
    clusters = set(re.findall(r'label=(\w[\w.]*)\s', src))
    return nodes, edges, clusters


def test_make_dot_of_a_small_expression():
    x = baby.tensor([1.0, 2.0], requires_grad=True)
    w = baby.tensor([[1.0, 0.5], [0.0, 1.0]], requires_grad=True)
    y = ((x @ w).tanh() * x).sum()
    nodes, edges, _ = _parse(make_dot(y, params={"x": x, "w": w}))
    by_label = {label.split("\n")[0]: key for key, label in nodes.items()}
    assert set(by_label) == {"x", "w", "MatMulBackward0", "TanhBackward0", "MulBackward0", "SumBackward0",
                             "() float32"}
    assert nodes[by_label["x"]] == "x\n(2) float32" and nodes[by_label["w"]] == "w\n(2, 2) float32"
    assert nodes[by_label["TanhBackward0"]] == "TanhBackward0\n(2)"
    k = by_label
    assert edges == {(k["x"], k["MatMulBackward0"]), (k["w"], k["MatMulBackward0"]),
                     (k["MatMulBackward0"], k["TanhBackward0"]), (k["TanhBackward0"], k["MulBackward0"]),
                     (k["x"], k["MulBackward0"]), (k["MulBackward0"], k["SumBackward0"]),
                     (k["SumBackward0"], k["() float32"])}


def test_make_dot_of_a_module_clusters_layers_and_uses_pytorch_names():
    baby.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(2, 3))
    y = model(baby.randn(1, 1, 4, 4))
    nodes, edges, clusters = _parse(make_dot(y, params=dict(model.named_parameters())))
    labels = sorted(label for label in nodes.values())
    assert labels == sorted([
        "weight\n(2, 1, 3, 3) float32", "bias\n(2) float32", "weight\n(2) float32", "bias\n(2) float32",
        "weight\n(3, 2) float32", "bias\n(3) float32", "ConvolutionBackward0\n(1, 2, 2, 2)",
        "NativeBatchNormBackward0\n(1, 2, 2, 2)", "ReluBackward0\n(1, 2, 2, 2)",
        "MaxPool2DWithIndicesBackward0\n(1, 2, 1, 1)", "ViewBackward0\n(1, 2)", "AddmmBackward0\n(1, 3)",
        "(1, 3) float32"])  # the conv and the pool are one node each, as in PyTorch
    assert clusters == {"0", "1", "5"}
    assert len(edges) == 12  # 6 parameters into their ops, 5 between the 6 ops, the last into the output


def test_make_dot_keeps_a_users_own_permute_after_a_conv():
    x, w = baby.randn(1, 1, 4, 4), baby.randn(2, 1, 3, 3, requires_grad=True)
    y = baby.nn.functional.conv2d(x, w).permute(0, 2, 3, 1)
    assert y.grad_fn.name() == "PermuteBackward0" and y.grad_fn.next_functions[0][0].nchw
    labels = set(_parse(make_dot(y))[0].values())
    assert {"ConvolutionBackward0\n(1, 2, 2, 2)", "PermuteBackward0\n(1, 2, 2, 2)"} <= labels


def test_make_dot_attrs_and_saved():
    x = baby.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    y = baby.nn.functional.layer_norm(x, (2,)).relu().sum()
    nodes, _, _ = _parse(make_dot(y, show_attrs=True, show_saved=True))
    labels = set(nodes.values())
    assert any(label.startswith("NativeLayerNormBackward0\n(2, 2)\nk: 1\neps: 1e-05") for label in labels)
    assert "invstd\n(2, 1) float32" in labels


def test_render_svg(tmp_path):
    x = baby.tensor([1.0, 2.0], requires_grad=True)
    path = make_dot((x * x).sum(), params={"x": x}).render(tmp_path / "graph", format="svg")
    assert "MulBackward0" in open(path).read()


def test_render_without_dot_names_the_debian_package(monkeypatch):
    monkeypatch.setenv("PATH", "")
    x = baby.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="Debian package graphviz"):
        make_dot((x * x).sum()).pipe(format="svg")


def test_baby_train_graph_writes_graph_svg(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--epochs", "1", "--out", "run", "--graph"]) == 0
    assert "wrote run/graph.svg" in capsys.readouterr().out
    svg = (tmp_path / "run" / "graph.svg").read_text()
    assert svg.startswith("<?xml") and "AddmmBackward0" in svg and "(128, 64) float32" in svg
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted([*cli.RUN_FILES, "graph.svg"])
