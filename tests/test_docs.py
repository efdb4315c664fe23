"""The docs run as written: docs/convolution.md prints what it says, its statements about which algorithm
runs hold for the calls it names, every python block of the other docs runs in order (printing the text
block after it, where there is one), and every python snippet of the README runs."""

import contextlib
import dataclasses
import io
import re
from pathlib import Path

import numpy as np
import pytest

import baby
from baby import ops, parallel
from baby.ops.conv import registry, which_algorithm
from baby.ops.conv.fast import memory

ROOT = Path(__file__).resolve().parents[1]
PAIR = r"```python\n(.*?)```\n\n```text\n(.*?)```"


def doc_namespace():
    """docs/convolution.md's python blocks run in order: their namespace, [(code, expected, printed)]."""
    doc = (ROOT / "docs" / "convolution.md").read_text()
    namespace, runs = {}, []
    for code, expected in re.findall(PAIR, doc, flags=re.S):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, "docs/convolution.md", "exec"), namespace)
        runs.append((code, expected, printed.getvalue()))
    assert len(runs) == len(re.findall(r"```python\n", doc)) >= 10
    return namespace, runs


def test_convolution_doc_prints_what_it_says():
    """Every python block of docs/convolution.md, run in order, prints exactly the text block after it."""
    for code, expected, printed in doc_namespace()[1]:
        assert printed == expected, code


@pytest.fixture
def ran(monkeypatch):
    """The (algorithm, function) pairs that run, in order: every registered function wrapped to log."""
    log = []

    def spy(name, role, fn):
        def logged(*args):
            log.append((name, role))
            return fn(*args)
        return logged

    spied = {name: dataclasses.replace(a, **{r: spy(name, r, getattr(a, r))
                                           for r in ("forward", "input_grad", "weight_grad")})
             for name, a in registry.ALGORITHMS.items()}
    monkeypatch.setattr(registry, "ALGORITHMS", spied)
    return log


def test_the_docs_examples_run_the_algorithm_the_registry_names(ran):
    """For each conv docs/convolution.md lists, forward and backward run the named algorithm's functions
    (first of each: the book's gradients would run convolutions of their own after them)."""
    expected = {"im2col": 3, "rows": 2, "winograd": 2, "pointwise": 1, "depthwise": 1}
    names = []
    for xs, ws, kw in doc_namespace()[0]["nhwc"]:
        name = which_algorithm(xs, ws, **kw)
        names.append(name)
        x = baby.randn(min(xs[0], 2), *xs[1:], requires_grad=True)  # two images at most: the same choice
        w = baby.randn(*ws, requires_grad=True)
        ran.clear()
        ops.conv(x, w, **kw).sum().backward()
        firsts = {role: next(n for n, r in ran if r == role) for role in ("forward", "input_grad",
                                                                           "weight_grad")}
        assert set(firsts.values()) == {name}, (xs, ws, kw, ran)
    assert {n: names.count(n) for n in set(names)} == expected


def test_the_book_is_what_runs_when_forced(ran):
    x = baby.randn(2, 6, 6, 3, requires_grad=True)
    w = baby.randn(3, 3, 3, 4, requires_grad=True)
    with ops.conv_algorithm("book"):
        ops.conv(x, w, stride=2).sum().backward()
    assert {n for n, _ in ran} == {"book"} and ran[:3] == [("book", "forward"), ("book", "input_grad"),
                                                          ("book", "forward")]


def test_readme_snippets_run():
    """Every python block of the README runs, in order, in one namespace (settings restored after)."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert len(blocks) >= 3
    namespace, budget, threads = {}, memory.workspace_budget(), parallel.num_threads()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            for code in blocks:
                exec(compile(code, "README.md", "exec"), namespace)
    finally:
        ops.set_conv_algorithm(None)
        ops.set_workspace_budget(budget)
        ops.set_num_threads(threads)
    assert np.isfinite(namespace["loss"].item())


def test_autograd_doc_prints_what_it_says():
    """docs/autograd.md's python blocks, run in order in one namespace, print exactly the text after each."""
    doc = (ROOT / "docs" / "autograd.md").read_text()
    pairs, namespace = re.findall(PAIR, doc, flags=re.S), {}
    assert len(pairs) == len(re.findall(r"```python\n", doc)) >= 6
    for code, expected in pairs:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed), np.errstate(all="ignore"):
            exec(compile(code, "docs/autograd.md", "exec"), namespace)
        assert printed.getvalue() == expected, code


def test_sequences_doc_prints_what_it_says():
    """Every python block of docs/sequences.md, run in order in one namespace, prints the text block after
    it."""
    doc = (ROOT / "docs" / "sequences.md").read_text()
    pairs, namespace = re.findall(PAIR, doc, flags=re.S), {}
    assert len(pairs) == len(re.findall(r"```python\n", doc)) >= 3
    for code, expected in pairs:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, "docs/sequences.md", "exec"), namespace)
        assert printed.getvalue() == expected, code


BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```\n(?:\n\1```text\n(.*?)^\1```\n)?", flags=re.S | re.M)


@pytest.mark.parametrize("doc", sorted(p.name for p in (ROOT / "docs").glob("*.md")  # but those above
                                 if p.name not in ("convolution.md", "autograd.md", "sequences.md")))
def test_every_docs_python_block_runs(doc, tmp_path, monkeypatch):
    """Every python block of docs/<doc> (indented ones too) runs in order in one namespace, in a scratch
    directory; a text block right after one is what it prints."""
    text = (ROOT / "docs" / doc).read_text()
    blocks = BLOCK.findall(text)
    assert len(blocks) == text.count("```python\n")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    for indent, code, expected in blocks:
        code, expected = (re.sub(f"^{indent}", "", b, flags=re.M) for b in (code, expected))
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, f"docs/{doc}", "exec"), namespace)
        assert not expected or printed.getvalue() == expected, code
