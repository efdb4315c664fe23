"""Every conv algorithm against PyTorch (forward and all gradients), the settings that steer them, and the
bounded workspace of a large convolution."""

import tracemalloc
from dataclasses import replace

import numpy as np
import pytest
import torch.nn.functional as TF
from helpers import CONV_CASES, CONV_SWEEP, TRANSPOSE_CASES, check, nchw, nhwc, torch_conv

import baby
from baby import parallel
from baby.nn import functional as F
from baby.ops.conv import op, registry
from baby.ops.conv.book import im2col as book
from baby.ops.conv.fast import depthwise, im2col, memory
from baby.ops.conv.geometry import ConvGeometry, conv_args

ALGOS = registry.names()
TOL = dict(atol=1e-4, rtol=1e-4)
WIDE = dict(atol=1e-3, rtol=1e-3)  # sums over 16 channels x 9 taps of uniform(-2, 2) products (Winograd too)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


@pytest.fixture(autouse=True)
def _restore_settings():
    """Leave the algorithm, workspace budget and thread count as they were."""
    budget, threads = memory.workspace_budget(), parallel.num_threads()
    yield
    registry.set_conv_algorithm(None)
    memory.set_workspace_budget(budget)
    parallel.set_num_threads(threads)


def path_case(id, N, Cin, Cout, S, k, bias=False, **kw):
    """One row: shapes and arguments of an NCHW conv, sized to reach the paths the suite's layers take."""
    k = (k,) * len(S) if isinstance(k, int) else k
    shapes = [(N, Cin, *S), (Cout, Cin // kw.get("groups", 1), *k)] + ([(Cout,)] if bias else [])
    return pytest.param(shapes, kw, id=id)


PATH_CASES = [  # shapes that take each algorithm's own paths (channel counts, strides, tiles, chunks)
    path_case("stem-few-channels", 3, 2, 20, (9, 8), 3, padding=1),
    path_case("stride2", 3, 5, 7, (9, 10), 3, stride=2, padding=1),
    path_case("5x5", 3, 4, 6, (8, 7), 5, padding=2, bias=True),
    path_case("winograd-16ch", 2, 16, 16, (9, 7), 3, padding=1),
    path_case("winograd-asym-pad", 2, 16, 16, (7, 8), 3, padding=((1, 0), (2, 1))),
    path_case("winograd-5x5", 3, 16, 17, (24, 21), 5, bias=True, padding=2),
    path_case("winograd-5x5-few-tiles", 1, 40, 36, (5, 6), 5, padding=2),
    path_case("winograd-5x5-asym-pad", 2, 16, 16, (8, 9), 5, padding=((2, 1), (0, 3))),
    path_case("1x1-stride2-pad", 2, 6, 5, (7, 8), 1, stride=2, padding=1),
    path_case("1x1-stride3", 2, 6, 5, (8, 7), 1, stride=3),
    path_case("depthwise-wide-tiles", 2, 3, 3, (5, 37), 3, padding=1, groups=3),
    path_case("depthwise-x2-stride2", 2, 3, 6, (9, 21), 3, stride=2, padding=1, groups=3),
    path_case("depthwise-dilated", 2, 4, 4, (9, 19), 3, padding=2, dilation=2, groups=4),
    path_case("depthwise-1d", 2, 3, 3, (40,), 5, stride=2, padding=1, groups=3),
    path_case("depthwise-3d", 1, 2, 4, (4, 5, 18), 3, stride=(1, 2, 1), padding=1, groups=2),
    path_case("groups-stride", 2, 6, 4, (8, 9), 3, stride=(2, 1), padding=1, groups=2),
    path_case("3d-stride", 2, 2, 3, (5, 6, 7), 3, stride=2, padding=1),
]
SWEEP_SUBSET = [pytest.param(*c, id=f"sweep{i}") for i, c in enumerate(CONV_SWEEP) if i % 10 == 0]


def geometry(k, cin, cout, groups=1, stride=None, dilation=None, S=None, pads=None, n=0):
    """The ConvGeometry of a conv with kernel k, cin -> cout channels (unit stride and dilation, no padding
    by default, input 8 per dim, n images: 0 when not known)."""
    nd = len(k)
    ones = (1,) * nd
    return ConvGeometry(tuple(k), stride or ones, pads or ((0, 0),) * nd, dilation or ones, groups,
                        tuple(S or (8,) * nd), cin, cout, n)


def applies(algo, shapes, kw):
    """Whether forcing `algo` runs it for this case: where it fits the shape (elsewhere the call falls back
    to 'im2col', which the other rows cover); 'im2col' and 'book' fit every shape."""
    (_, cin, *S), (cout, _, *k) = shapes[:2]
    stride, pads, dilation = conv_args(k, kw.get("stride", 1), kw.get("padding", 0), kw.get("dilation", 1))
    g = geometry(k, cin, cout, kw.get("groups", 1), stride, dilation, S, pads)
    with baby.ops.conv_algorithm(algo):
        return registry.choose(g).name == algo


def forced(cases, algos=ALGOS[1:]):
    """(algo, shapes, kw) rows: each case under every algorithm that applies to it."""
    return [pytest.param(a, *c.values, id=f"{c.id}-{a}")
            for c in cases for a in algos if applies(a, *c.values)]


@pytest.mark.parametrize("algo, shapes, kw", forced(CONV_CASES + SWEEP_SUBSET) + forced(PATH_CASES, ALGOS))
def test_conv_every_algorithm(algo, shapes, kw):
    fn = getattr(F, f"conv{len(shapes[0]) - 2}d")
    with baby.ops.conv_algorithm(algo):
        check(lambda *t: fn(*t, **kw), lambda *t: torch_conv(*t, **kw), shapes,
              **WIDE if shapes[0][1] >= 16 else TOL)


@pytest.mark.parametrize("algo, shapes, kw", forced(TRANSPOSE_CASES))
def test_conv_transpose_every_algorithm(algo, shapes, kw):
    nd = len(shapes[0]) - 2
    ours, theirs = getattr(F, f"conv_transpose{nd}d"), getattr(TF, f"conv_transpose{nd}d")
    with baby.ops.conv_algorithm(algo):
        check(lambda *t: ours(*t, **kw), lambda *t: theirs(*t, **kw), shapes, **TOL)


@pytest.mark.parametrize("path", ["banded", "direct"])
@pytest.mark.parametrize("algo, shapes, kw", forced(CONV_CASES + SWEEP_SUBSET + PATH_CASES, ["depthwise"]))
def test_depthwise_banded_and_direct_paths(path, algo, shapes, kw, monkeypatch):
    """Depthwise runs small problems directly (tap by tap), larger ones by banded GEMMs: both, everywhere."""
    monkeypatch.setattr(depthwise, "DIRECT_OUTPUTS", -1 if path == "banded" else 1 << 40)
    fn = getattr(F, f"conv{len(shapes[0]) - 2}d")
    with baby.ops.conv_algorithm(algo):
        check(lambda *t: fn(*t, **kw), lambda *t: torch_conv(*t, **kw), shapes, **TOL)


@pytest.mark.parametrize("path", ["banded", "direct"])
@pytest.mark.parametrize("algo, shapes, kw", forced(TRANSPOSE_CASES, ["depthwise"]))
def test_depthwise_transpose_banded_and_direct_paths(path, algo, shapes, kw, monkeypatch):
    monkeypatch.setattr(depthwise, "DIRECT_OUTPUTS", -1 if path == "banded" else 1 << 40)
    nd = len(shapes[0]) - 2
    ours, theirs = getattr(F, f"conv_transpose{nd}d"), getattr(TF, f"conv_transpose{nd}d")
    with baby.ops.conv_algorithm(algo):
        check(lambda *t: ours(*t, **kw), lambda *t: theirs(*t, **kw), shapes, **TOL)


NHWC_CASES = [  # ops.conv's own layout: x (N, *S, C), w (*k, Cin/G, Cout)
    pytest.param((2, 9, 8, 16), (3, 3, 16, 16), dict(padding=1), id="winograd"),
    pytest.param((2, 9, 8, 3), (3, 3, 3, 20), dict(padding=1), id="stem"),
    pytest.param((2, 9, 10, 4), (3, 3, 4, 6), dict(stride=2, padding=1), id="stride2"),
    pytest.param((2, 8, 7, 4), (5, 5, 4, 6), dict(padding=2), id="5x5"),
    pytest.param((2, 7, 8, 6), (1, 1, 6, 5), dict(stride=2, padding=1), id="1x1-stride2"),
    pytest.param((2, 6, 19, 3), (3, 3, 1, 6), dict(stride=(1, 2), padding=1, groups=3), id="depthwise-x2"),
    pytest.param((2, 8, 9, 6), (3, 3, 3, 4), dict(stride=(2, 1), padding=1, groups=2), id="groups"),
]


@pytest.mark.parametrize("algo, x, w, kw", [
    pytest.param(a, *c.values, id=f"{c.id}-{a}") for c in NHWC_CASES for a in ALGOS
    if applies(a, [(c.values[0][0], c.values[0][-1]), (c.values[1][-1], c.values[1][-2], *c.values[1][:-2])],
               dict(dict(padding=1), **c.values[2]))])
def test_ops_conv_channels_last_every_algorithm(algo, x, w, kw):
    """ops.conv on NHWC memory: the channels-last code of every algorithm."""
    full = dict(dict(stride=1, dilation=1, groups=1), **kw)
    with baby.ops.conv_algorithm(algo):
        check(lambda x, w: baby.ops.conv(x, w, **kw),
              lambda x, w: nhwc(torch_conv(nchw(x), w.permute(3, 2, 0, 1), **full)), [x, w], **WIDE)


CHUNK_CASES = [
    pytest.param([(7, 3, 10, 9), (8, 3, 3, 3)], dict(stride=2, padding=1), id="stride2"),
    pytest.param([(7, 4, 9, 10), (6, 4, 5, 5)], dict(padding=2), id="5x5"),
    pytest.param([(5, 16, 9, 8), (16, 16, 3, 3)], dict(padding=1), id="winograd"),
    pytest.param([(5, 8, 9, 8), (8, 1, 3, 3)], dict(padding=1, groups=8), id="depthwise"),
    pytest.param([(5, 8, 9, 8), (6, 8, 1, 1)], dict(stride=2), id="1x1"),
]


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("algo, shapes, kw", forced(CHUNK_CASES, ALGOS))
def test_small_workspace_chunks_and_threads(threads, algo, shapes, kw):
    """The smallest budget cuts the work into one-image chunks, shared between any number of threads."""
    memory.set_workspace_budget(2**16)
    parallel.set_num_threads(threads)
    with baby.ops.conv_algorithm(algo):
        check(lambda *t: F.conv2d(*t, **kw), lambda *t: TF.conv2d(*t, **kw), shapes, **WIDE)


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("w, kw", [((4, 3, 3, 3), dict(padding=1)), ((4, 3, 3, 3), dict(stride=2)),
                                   ((6, 1, 3, 3), dict(padding=1, groups=3)), ((4, 3, 1, 1), dict(stride=2)),
                                   ((16, 16, 3, 3), dict(padding=1))])
def test_empty_batch(algo, w, kw):
    cin = w[1] * kw.get("groups", 1)
    with baby.ops.conv_algorithm(algo):
        check(lambda x, w: F.conv2d(x, w, **kw), lambda x, w: TF.conv2d(x, w, **kw), [(0, cin, 8, 8), w])


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(algo, dtype):
    x = baby.Tensor(np.ones((2, 16, 6, 6)), dtype=dtype, requires_grad=True)
    for w in [(16, 16, 3, 3), (16, 1, 3, 3), (8, 16, 1, 1), (8, 16, 5, 5)]:
        wt = baby.Tensor(np.ones(w), dtype=dtype, requires_grad=True)
        with baby.ops.conv_algorithm(algo):
            y = F.conv2d(x, wt, padding=w[-1] // 2, groups=16 // w[1])
            y.sum().backward()
        assert y.dtype == x.grad.dtype == wt.grad.dtype == dtype


def test_weight_gradient_in_pytorch_layout():
    """For NCHW inputs the weight gradient comes out in PyTorch's (Cout, Cin/G, *k) memory layout."""
    x = np.random.default_rng(0).standard_normal((2, 6, 9, 9)).astype(np.float32)
    for k, groups, stride in [(3, 1, 2), (5, 1, 1), (3, 6, 1), (1, 1, 2)]:
        xv = x.transpose(0, 2, 3, 1)  # (N, H, W, C) view of NCHW memory
        O = (9 + 2 * (k // 2) - k) // stride + 1
        gy = np.ones((2, 6, O, O), np.float32).transpose(0, 2, 3, 1)  # (N, Ho, Wo, Cout) view
        pads = ((k // 2, k // 2),) * 2
        g = ConvGeometry.of((9, 9), (k, k, 6 // groups, 6), (stride,) * 2, pads, (1, 1), groups)
        gw = registry.choose(g).weight_grad(xv, gy, g)
        assert gw.transpose(3, 2, 0, 1).flags.c_contiguous, (k, groups, stride)


FEW_ROW_CASES = [  # one image, fewer outputs (per group) than output channels (ResNet-9's 4x4s at batch 1)
    pytest.param((1, 8, 3, 4), (40, 8, 3, 3), dict(padding=1), id="2d"),
    pytest.param((1, 8, 5, 6), (40, 4, 3, 3), dict(stride=2, padding=1, groups=2), id="groups-stride2"),
    pytest.param((1, 6, 7), (16, 6, 3), dict(padding=1), id="1d"),
    pytest.param((1, 4, 1, 2, 2), (64, 4, 3, 3, 3), dict(padding=1), id="3d"),
]


@pytest.mark.parametrize("path", ["few-rows", "per-layout"])
@pytest.mark.parametrize("x_memory", ["NCHW", "NHWC"])
@pytest.mark.parametrize("w_memory", ["pytorch", "taps-first"])
@pytest.mark.parametrize("xs, ws, kw", FEW_ROW_CASES)
def test_im2col_few_rows_either_layout(path, x_memory, w_memory, xs, ws, kw, monkeypatch):
    """Few rows run im2col's GEMMs channels-first (the weight read as it lies, in PyTorch's layout) whatever
    x's memory; both that and the per-layout GEMMs against PyTorch, on NCHW and NHWC x, PyTorch-layout and
    tap-major w memory (which keeps the per-layout GEMMs)."""
    taken, few = [], im2col.few_rows

    def spy(*a):  # what few_rows says, recorded; the per-layout path runs as if it said no
        taken.append(few(*a))
        return taken[-1] and path == "few-rows"

    monkeypatch.setattr(im2col, "few_rows", spy)
    nd = len(xs) - 2
    to_x = (lambda x: x) if x_memory == "NCHW" else (lambda x: x.permute(0, nd + 1, *range(1, nd + 1)))
    to_w = (lambda w: w) if w_memory == "pytorch" else (lambda w: w.permute(nd + 1, nd, *range(nd)))
    xs = xs if x_memory == "NCHW" else (xs[0], *xs[2:], xs[1])
    ws = ws if w_memory == "pytorch" else (*ws[2:], ws[1], ws[0])
    fn, theirs = getattr(F, f"conv{nd}d"), getattr(TF, f"conv{nd}d")
    with baby.ops.conv_algorithm("im2col"):
        check(lambda x, w: fn(to_x(x), to_w(w), **kw), lambda x, w: theirs(to_x(x), to_w(w), **kw), [xs, ws],
              **TOL)
    assert any(taken)


@pytest.mark.parametrize("path", ["few-rows", "per-layout"])
@pytest.mark.parametrize("x_memory", ["NCHW", "NHWC"])
@pytest.mark.parametrize("xs, ws, kw", [
    pytest.param((1, 40, 3, 4), (40, 8, 3, 3), dict(padding=1), id="2d"),
    pytest.param((1, 40, 2, 3), (40, 4, 3, 3), dict(stride=2, groups=2, output_padding=1), id="groups"),
])
def test_im2col_few_rows_conv_transpose(path, x_memory, xs, ws, kw, monkeypatch):
    """A transposed conv is im2col's input gradient as a forward: its few-rows path too, against PyTorch."""
    taken, few = [], im2col.few_rows

    def spy(*a):
        taken.append(few(*a))
        return taken[-1] and path == "few-rows"

    monkeypatch.setattr(im2col, "few_rows", spy)
    to_x = (lambda x: x) if x_memory == "NCHW" else (lambda x: x.permute(0, 3, 1, 2))
    xs = xs if x_memory == "NCHW" else (xs[0], *xs[2:], xs[1])
    with baby.ops.conv_algorithm("im2col"):
        check(lambda x, w: F.conv_transpose2d(to_x(x), w, **kw),
              lambda x, w: TF.conv_transpose2d(to_x(x), w, **kw), [xs, ws], **TOL)
    assert any(taken)


@pytest.mark.parametrize("algo", ["auto", "im2col", "book"])
def test_large_conv_workspace_is_bounded(algo):
    """Forward and backward of a 3x3 conv on (8, 64, 224, 224): unchunked, im2col would hold 9x the input."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 64, 224, 224), dtype=np.float32)
    w = (rng.standard_normal((64, 64, 3, 3), dtype=np.float32) / 24).astype(np.float32)
    memory.set_workspace_budget(128 << 20)
    xt, wt = baby.Tensor(x, requires_grad=True), baby.Tensor(w, requires_grad=True)
    tracemalloc.start()
    try:
        with baby.ops.conv_algorithm(algo):
            F.conv2d(xt, wt, padding=1).sum().backward()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 6 * x.nbytes, f"peak {peak / x.nbytes:.1f}x the input"
    assert xt.grad.shape == x.shape and wt.grad.shape == w.shape


def chosen(k, cin, cout, groups=1, stride=None):
    """The name of the algorithm chosen now for a conv (unit dilation, input 8 per dim)."""
    return registry.choose(geometry(k, cin, cout, groups, stride)).name


def test_choose_rule_table():
    assert chosen((3, 3), 64, 64) == "winograd"
    assert chosen((3, 3), 3, 64) == "im2col"
    assert chosen((3, 3), 64, 64, stride=(2, 2)) == "im2col"
    assert chosen((1, 1), 64, 128, stride=(2, 2)) == "pointwise"
    assert chosen([1, 1], 64, 128, stride=(2, 2)) == "pointwise"  # the kernel size as a list too
    assert chosen((3, 3), 128, 128, 128) == "depthwise"
    assert chosen((5, 5), 32, 64) == "winograd"
    assert chosen((5, 5), 4, 64) == "im2col"
    assert chosen((7, 7), 64, 64) == "im2col"
    algo = registry.choose(geometry((3, 3), 3, 64))  # im2col's gradients: col2im and GEMMs
    assert (algo.input_grad, algo.weight_grad) == (im2col.input_grad, im2col.weight_grad)
    with baby.ops.conv_algorithm("im2col"):
        assert chosen((3, 3), 64, 64) == "im2col"
    with baby.ops.conv_algorithm("book"):  # the book's gradients: convolutions
        algo = registry.choose(geometry((3, 3), 3, 64, stride=(2, 2)))
        assert (algo.name, algo.input_grad, algo.weight_grad) == ("book", book.input_grad, book.weight_grad)
    with baby.ops.conv_algorithm("winograd"):
        assert chosen((3, 3), 3, 5) == "winograd"
        assert chosen((3, 3), 3, 5, stride=(2, 2)) == "im2col"  # falls back where it does not apply


def test_few_outputs_skip_winograd():
    """Below WINOGRAD_MIN_PIXELS outputs (images x pixels) the filter transforms cost more than they save."""
    few = geometry((3, 3), 512, 512, S=(4, 4), pads=((1, 1), (1, 1)), n=1)  # 16 outputs
    assert registry.choose(few).name == "im2col"
    assert registry.choose(replace(few, n=4)).name == "winograd"  # 64 outputs
    assert op.which_algorithm((1, 4, 4, 512), (3, 3, 512, 512)) == "im2col"
    assert op.which_algorithm((8, 4, 4, 512), (3, 3, 512, 512)) == "winograd"
    # one image of 64-127 outputs: im2col's per-image GEMM beats Winograd's 4-7 row ones
    assert op.which_algorithm((1, 8, 8, 256), (3, 3, 256, 512)) == "im2col"
    assert op.which_algorithm((2, 8, 8, 256), (3, 3, 256, 512)) == "winograd"
    assert op.which_algorithm((1, 16, 16, 128), (3, 3, 128, 128)) == "winograd"


def test_conv_algorithm_context_and_setter():
    assert registry.requested() == "auto"
    with baby.ops.conv_algorithm("im2col"):
        assert registry.requested() == "im2col"
        with baby.ops.conv_algorithm("depthwise"):
            assert registry.requested() == "depthwise"
        assert registry.requested() == "im2col"
    assert registry.requested() == "auto"
    baby.ops.set_conv_algorithm("pointwise")
    assert registry.requested() == "pointwise"
    baby.ops.set_conv_algorithm(None)
    assert registry.requested() == "auto"


def test_baby_conv_environment_is_read_at_call_time(monkeypatch):
    monkeypatch.setenv("BABY_CONV", "im2col")
    assert registry.requested() == "im2col"
    assert chosen((3, 3), 64, 64) == "im2col"
    with baby.ops.conv_algorithm("winograd"):  # the setter wins over the environment
        assert registry.requested() == "winograd"
    monkeypatch.setenv("BABY_CONV", "winograd")
    assert registry.requested() == "winograd"
    monkeypatch.setenv("BABY_CONV", "fastest")
    with pytest.raises(ValueError, match="BABY_CONV"):
        F.conv2d(np.ones((1, 1, 3, 3), np.float32), np.ones((1, 1, 3, 3), np.float32))


@pytest.mark.parametrize("call", [
    lambda: baby.ops.set_conv_algorithm("fft"),
    lambda: baby.ops.conv_algorithm("Im2col").__enter__(),
    lambda: baby.ops.set_workspace_budget(1024),
    lambda: baby.ops.set_workspace_budget(2.5e8),
    lambda: baby.ops.set_num_threads(0),
    lambda: baby.ops.set_num_threads("2"),
], ids=["algorithm", "context", "budget-small", "budget-float", "threads-0", "threads-str"])
def test_invalid_settings_raise(call):
    with pytest.raises(ValueError):
        call()


def test_settings_round_trip():
    baby.ops.set_workspace_budget(2**20)
    assert memory.workspace_budget() == 2**20
    baby.ops.set_num_threads(1)
    assert parallel.num_threads() == 1
    check(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1),
          [(3, 3, 8, 8), (4, 3, 3, 3)], **TOL)


DEPTHWISE_STRIDE1_CASES = [  # the stride-1 weight gradient from shifted rows: kernels, multipliers, odd sizes
    path_case("k3-x1-odd", 2, 3, 3, (7, 9), 3, padding=1, groups=3),
    path_case("k5-x2", 2, 3, 6, (11, 6), 5, padding=2, groups=3),
    path_case("k3-wide-tiles", 2, 2, 4, (5, 37), 3, padding=1, groups=2),
    path_case("k3-valid", 3, 4, 4, (6, 5), 3, groups=4),
    path_case("k4-same-asym", 2, 3, 3, (7, 8), (2, 4), padding="same", groups=3),
    path_case("k3-dilated-x2", 2, 2, 4, (9, 10), 3, padding=(2, 1), dilation=(2, 1), groups=2),
    path_case("1d-k5", 3, 4, 4, (20,), 5, padding=2, groups=4),
    path_case("3d-k3-x2", 1, 2, 4, (4, 5, 6), 3, padding=1, dilation=(1, 2, 1), groups=2),
]


@pytest.mark.parametrize("shapes, kw", [c.values for c in DEPTHWISE_STRIDE1_CASES],
                         ids=[c.id for c in DEPTHWISE_STRIDE1_CASES])
def test_depthwise_stride1_nchw(shapes, kw):
    """Depthwise at stride 1 on NCHW memory: forward, input and weight gradients against PyTorch."""
    fn = getattr(F, f"conv{len(shapes[0]) - 2}d")
    with baby.ops.conv_algorithm("depthwise"):
        check(lambda *t: fn(*t, **kw), lambda *t: torch_conv(*t, **kw), shapes, **TOL)


@pytest.mark.parametrize("x, w, kw", [
    pytest.param((2, 7, 9, 3), (3, 3, 1, 3), dict(padding=1, groups=3), id="k3-x1"),
    pytest.param((2, 9, 6, 2), (5, 5, 1, 4), dict(padding=2, groups=2), id="k5-x2"),
    pytest.param((1, 5, 21, 3), (3, 3, 1, 6), dict(padding=(0, 1), groups=3), id="k3-x2-wide"),
])
def test_depthwise_stride1_nhwc(x, w, kw):
    """Depthwise at stride 1 on NHWC memory (ops.conv): forward and both gradients against PyTorch."""
    full = dict(dict(stride=1, dilation=1), **kw)
    with baby.ops.conv_algorithm("depthwise"):
        check(lambda x, w: baby.ops.conv(x, w, **kw),
              lambda x, w: nhwc(torch_conv(nchw(x), w.permute(3, 2, 0, 1), **full)), [x, w], **TOL)


def conv_op(y):
    """The Conv op in the graph of y."""
    while not isinstance(y._op, op.Conv):
        y = y.inputs[0]
    return y._op


def test_forward_keeps_winograd_tiles_for_the_weight_gradient():
    """The tiles live from the forward to the backward (counted), then return to the cache for reuse."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 16, 12, 12), dtype=np.float32)
    w = rng.standard_normal((16, 16, 3, 3), dtype=np.float32)
    xt, wt = baby.Tensor(x, requires_grad=True), baby.Tensor(w, requires_grad=True)
    base = memory.kept_bytes()
    memory.empty_cache()
    y = F.conv2d(xt, wt, padding=1)
    shape, address = conv_op(y).kept.shape, conv_op(y).kept.ctypes.data
    assert shape == (36, 2 * 3 * 3, 16) and memory.kept_bytes() == base + 36 * 18 * 16 * 4
    y.sum().backward()
    assert memory.kept_bytes() == base
    y = F.conv2d(xt, wt, padding=1)
    assert conv_op(y).kept.ctypes.data == address  # the cached memory again
    del y
    assert memory.kept_bytes() == base  # a graph dropped without backward frees its tiles too
    check(lambda *t: F.conv2d(*t, padding=1), lambda *t: TF.conv2d(*t, padding=1), [x.shape, w.shape], **WIDE)


@pytest.mark.parametrize("case", ["no_grad", "frozen_weight", "budget", "asymmetric", "im2col"])
def test_tiles_are_kept_only_where_useful_and_fitting(case):
    x = baby.Tensor(np.ones((2, 16, 12, 12), np.float32), requires_grad=True)
    w = baby.Tensor(np.ones((16, 16, 3, 3), np.float32), requires_grad=case != "frozen_weight")
    memory.set_workspace_budget(2**16 if case == "budget" else memory.workspace_budget())
    padding = ((1, 0), (1, 1)) if case == "asymmetric" else 1
    with baby.ops.conv_algorithm("im2col" if case == "im2col" else "auto"):
        if case == "no_grad":
            base = memory.kept_bytes()
            with baby.no_grad():
                y = baby.ops.conv(x.permute(0, 2, 3, 1), w.permute(2, 3, 1, 0), padding=padding)
            assert memory.kept_bytes() == base
            return
        y = baby.ops.conv(x.permute(0, 2, 3, 1), w.permute(2, 3, 1, 0), padding=padding)
    assert conv_op(y).kept is None

