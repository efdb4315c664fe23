"""Winograd F(4x4, 3x3) and F(2x2, 5x5) against PyTorch's conv2d (float64 oracle): forward and gradients."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from baby.ops.conv.fast import memory, winograd
from baby.ops.conv.fast.winograd import winograd_conv, winograd_input_grad, winograd_weight_grad

RNG = np.random.default_rng(0)

SHAPES = [  # (N, H, W, Cin, Cout, padding); tiles <= channels takes the transform-all-first path
    (1, 3, 3, 1, 1, 0),
    (1, 5, 7, 1, 2, 0),
    (2, 9, 6, 3, 5, 1),
    (3, 10, 10, 8, 4, 0),
    (2, 17, 13, 16, 8, 1),
    (1, 6, 6, 4, 3, (2, 1)),
    (4, 34, 34, 24, 16, 0),
    (2, 40, 23, 3, 8, 1),
    (2, 7, 9, 5, 6, 3),
    (2, 8, 6, 40, 48, 1),
]


GW_TOL = {3: 1e-5, 5: 5e-5}  # F(5x5, 2x2)'s weight gradient sums 6x6 products through G's larger entries


def torch_conv(x, w, padding):
    """Forward, input gradient and weight gradient of conv2d in float64, NHWC in and out; gy is random."""
    xt = torch.tensor(x, dtype=torch.float64).permute(0, 3, 1, 2).requires_grad_()  # NCHW
    wt = torch.tensor(w, dtype=torch.float64).permute(3, 2, 0, 1).requires_grad_()  # (Cout, Cin, r, r)
    y = F.conv2d(xt, wt, padding=padding)
    gy = RNG.standard_normal(y.shape).astype(np.float32)  # NCHW
    y.backward(torch.tensor(gy, dtype=torch.float64))
    nhwc = (0, 2, 3, 1)
    return (y.detach().permute(*nhwc).numpy(), gy.transpose(nhwc), xt.grad.permute(*nhwc).numpy(),
            wt.grad.permute(2, 3, 1, 0).numpy())


def rel_err(a, b):
    """max |a - b| / max |b|."""
    return np.abs(a - b).max() / np.abs(b).max()


def data(N, H, W, C, K, r=3):
    """Unit-normal float32 x (N, H, W, C) and w (r, r, C, K)."""
    return (RNG.standard_normal((N, H, W, C)).astype(np.float32),
            RNG.standard_normal((r, r, C, K)).astype(np.float32))


@pytest.mark.parametrize("r", [3, 5])
@pytest.mark.parametrize("N, H, W, C, K, padding", SHAPES)
def test_forward_and_gradients(N, H, W, C, K, padding, r):
    p = (padding, padding) if isinstance(padding, int) else padding
    if H + 2 * p[0] < r or W + 2 * p[1] < r:
        padding = (r - 1) // 2
    x, w = data(N, H, W, C, K, r)
    y, gy, gx, gw = torch_conv(x, w, padding)
    ours = winograd_conv(x, w, padding=padding)
    assert ours.shape == y.shape and ours.dtype == np.float32
    assert rel_err(ours, y) < 1e-5
    gx_ours = winograd_input_grad(gy, w, padding=padding)
    assert gx_ours.shape == gx.shape and rel_err(gx_ours, gx) < 1e-5
    gw_ours = winograd_weight_grad(x, gy, padding=padding)
    assert gw_ours.shape == gw.shape and gw_ours.dtype == np.float32
    assert rel_err(gw_ours, gw) < GW_TOL[r]


@pytest.mark.parametrize("r", [3, 5])
@pytest.mark.parametrize("C", [3, 64, 256])
def test_error_bound(C, r):
    x, w = data(2, 12, 12, C, 32, r)
    y, gy, gx, gw = torch_conv(x, w, r // 2)
    assert rel_err(winograd_conv(x, w, padding=r // 2), y) < 1e-4
    assert rel_err(winograd_input_grad(gy, w, padding=r // 2), gx) < 1e-4
    assert rel_err(winograd_weight_grad(x, gy, padding=r // 2), gw) < 1e-4


def test_strided_views():
    """NCHW arrays seen as NHWC through transposes, a sliced batch, a flipped kernel: any strides work."""
    xn = RNG.standard_normal((6, 5, 11, 9)).astype(np.float32)  # NCHW
    x = xn.transpose(0, 2, 3, 1)[::2]  # (3, 11, 9, 5) view
    wn = RNG.standard_normal((4, 5, 3, 3)).astype(np.float32)  # (Cout, Cin, 3, 3)
    w = wn.transpose(2, 3, 1, 0)[::-1]  # (3, 3, 5, 4) view
    y, gy, _, gw = torch_conv(np.ascontiguousarray(x), np.ascontiguousarray(w), 1)
    assert rel_err(winograd_conv(x, w, padding=1), y) < 1e-5
    assert rel_err(winograd_weight_grad(x, np.asfortranarray(gy), padding=1), gw) < 1e-5


@pytest.mark.parametrize("r", [3, 5])
@pytest.mark.parametrize("layout", ["torch", "nhwc", "flipped"])
@pytest.mark.parametrize("N, H, W, C, K", [(2, 9, 10, 6, 5), (1, 4, 7, 40, 36)])  # many tiles, few tiles
def test_weight_layouts(layout, N, H, W, C, K, r):
    """The filter transform reads (r, r, Cin, Cout) views of PyTorch (Cout, Cin, r, r) weights in place."""
    x, w = data(N, H, W, C, K, r)
    if layout == "torch":
        w = np.ascontiguousarray(w.transpose(3, 2, 0, 1)).transpose(2, 3, 1, 0)  # (3, 3, C, K) view
    elif layout == "flipped":
        w = np.ascontiguousarray(w[::-1, ::-1])[::-1, ::-1]  # negative strides
    p = r // 2
    y, gy, gx, gw = torch_conv(x, np.ascontiguousarray(w), p)
    assert rel_err(winograd_conv(x, w, padding=p), y) < 1e-5
    assert rel_err(winograd_input_grad(gy, w, padding=p), gx) < 1e-5
    assert rel_err(winograd_conv(gy, w.transpose(0, 1, 3, 2)[::-1, ::-1], padding=r - 1 - p), gx) < 1e-5
    assert rel_err(winograd_weight_grad(x, gy, padding=p), gw) < 1e-5


@pytest.mark.parametrize("chunk, group_bytes, block_bytes", [
    (1, 1, 1), (3, 20000, 5000), (12, 200000, 1 << 20), (1000, 1 << 30, 1 << 30)])
@pytest.mark.parametrize("N, H, W, C, K, r", [  # many tiles, few tiles, 5x5
    (3, 14, 18, 4, 6, 3), (2, 5, 8, 24, 20, 3), (2, 9, 11, 5, 4, 5)])
def test_chunking(monkeypatch, chunk, group_bytes, block_bytes, N, H, W, C, K, r):
    """Chunks of part of an image, of whole images, and everything at once agree; so do GEMM groups and
    blocks of output channels."""
    monkeypatch.setattr(memory, "WINOGRAD_CHUNK_TILES", chunk)
    monkeypatch.setattr(memory, "WINOGRAD_GROUP_BYTES", group_bytes)
    monkeypatch.setattr(memory, "WINOGRAD_BLOCK_BYTES", block_bytes)
    x, w = data(N, H, W, C, K, r)
    y, gy, gx, gw = torch_conv(x, w, 1)
    assert rel_err(winograd_conv(x, w, padding=1), y) < 1e-5
    assert rel_err(winograd_input_grad(gy, w, padding=1), gx) < 1e-5
    assert rel_err(winograd_weight_grad(x, gy, padding=1), gw) < 1e-5
    tiles = np.full(winograd.tiles_shape(x.shape, r, 1), np.nan, np.float32)
    assert rel_err(winograd_conv(x, w, padding=1, tiles=tiles), y) < 1e-5  # fills every tile
    assert rel_err(winograd_weight_grad(x, gy, padding=1, tiles=tiles), gw) < 1e-5


def test_kept_tiles_are_used():
    """The weight gradient reads the tiles it is given instead of transforming x again."""
    x, w = data(2, 9, 10, 4, 5)
    y, gy, _, gw = torch_conv(x, w, 1)
    tiles = np.empty(winograd.tiles_shape(x.shape, 3, 1), np.float32)
    winograd_conv(x, w, padding=1, tiles=tiles)
    assert rel_err(winograd_weight_grad(np.zeros_like(x), gy, padding=1, tiles=tiles), gw) < 1e-5
    with pytest.raises(ValueError, match=r"tiles must be a contiguous float32 array of shape \(36, 18, 4\)"):
        winograd_weight_grad(x, gy, padding=1, tiles=tiles[:, 1:])


def test_empty_batch():
    x, w = data(0, 6, 6, 3, 4)
    assert winograd_conv(x, w, padding=1).shape == (0, 6, 6, 4)
    assert winograd_input_grad(np.zeros((0, 6, 6, 4), np.float32), w, padding=1).shape == (0, 6, 6, 3)
    assert not winograd_weight_grad(x, np.zeros((0, 6, 6, 4), np.float32), padding=1).any()


@pytest.mark.parametrize("r", [3, 5])
def test_float64_stays_float64(r):
    x, w = data(1, 8, 8, 2, 3, r)
    y = winograd_conv(x.astype(np.float64), w.astype(np.float64))
    assert y.dtype == np.float64
    assert rel_err(y, torch_conv(x, w, 0)[0]) < 1e-12


@pytest.mark.parametrize("x_shape, w_shape, padding, match", [
    ((1, 8, 8), (3, 3, 8, 4), 0, "x must be"),
    ((1, 8, 8, 3), (3, 3, 4, 4), 0, "x must be"),
    ((1, 8, 8, 3), (4, 4, 3, 4), 0, r"r in \(3, 5\)"),
    ((1, 8, 8, 3), (5, 3, 3, 4), 0, "x must be"),
    ((1, 2, 8, 3), (3, 3, 3, 4), 0, "smaller than the 3x3 kernel"),
    ((1, 8, 4, 3), (5, 5, 3, 4), 0, "smaller than the 5x5 kernel"),
    ((1, 8, 8, 3), (3, 3, 3, 4), -1, "padding must be"),
])
def test_bad_input(x_shape, w_shape, padding, match):
    with pytest.raises(ValueError, match=match):
        winograd_conv(np.zeros(x_shape, np.float32), np.zeros(w_shape, np.float32), padding=padding)


def test_gradient_bad_shapes():
    with pytest.raises(ValueError, match="gy"):
        winograd_weight_grad(np.zeros((1, 8, 8, 3), np.float32), np.zeros((1, 8, 8, 4), np.float32))
    with pytest.raises(ValueError, match="gy"):
        winograd_weight_grad(np.zeros((1, 8, 8, 3), np.float32), np.zeros((1, 5, 5, 4), np.float32))
    with pytest.raises(ValueError, match="gy"):
        winograd_input_grad(np.zeros((1, 8, 8, 3), np.float32), np.zeros((3, 3, 4, 4), np.float32))
