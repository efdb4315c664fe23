"""Winograd F(4x4, 3x3): fast 3x3 and 5x5 stride-1 convolution, its input and weight gradients, NHWC arrays.

    y  = winograd_conv(x, w, padding)          x (N, H, W, Cin), w (r, r, Cin, Cout) -> (N, Ho, Wo, Cout)
    gx = winograd_input_grad(gy, w, padding)   gy (N, Ho, Wo, Cout) -> (N, H, W, Cin)
    gw = winograd_weight_grad(x, gy, padding)  -> (r, r, Cin, Cout)

Each 4x4 block of outputs comes from a 6x6 input tile d: Y = A^T [(G g G^T) * (B^T d B)] A, so the 36
products per tile become 36 batched GEMMs over (tiles, Cin) @ (Cin, Cout): 4x fewer flops than direct.
A 5x5 kernel is four 3x3 pieces at row and column offsets 0 and 2 (the overlapping row and column kept in
one piece, zero in the other): the four tiles of a 4x4 block, one per offset, lie on the grid of tiles
every 2 rows and columns, so one transform pass makes them all, side by side as 4 Cin channels, and each
block is one GEMM row (tiles, 4 Cin) @ (4 Cin, Cout): 2.8x fewer flops than direct.
The transforms are memory-bound: they are matmuls with the small matrices over chunks of tiles, run on
the pool's threads (NumPy releases the GIL in matmul and copies) while OpenBLAS keeps to the calling thread.
Where there are fewer tiles than channels (small images), the filter-sized work dominates: the filter
transform (and the weight gradient's inverse one) is made block by block of output channels, in cache,
next to the GEMMs that use it, never as a whole (36, Cin, Cout) array.
The registered algorithm 'winograd' (the end of this file) runs these on a ConvGeometry. The transforms mix
a tile's values: where a result is not finite these functions raise memory.NonFinite (the registry then
redoes the call by im2col, so a NaN or inf stays in the outputs whose windows read it).
"""

import functools

from ....arena import fresh
from ....arena import scratch as _buffer
from ....backend import xp
from ....parallel import parallel, shares, single_threaded_blas
from ..book import im2col as book
from ..geometry import is_int
from ..registry import Algorithm, register
from . import im2col, memory
from .memory import channel_blocks, tile_chunks, tile_offsets, to_nchw

as_strided = xp.lib.stride_tricks.as_strided

BT = xp.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
               [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=xp.float64)
G = xp.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
              [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], dtype=xp.float64)
AT = xp.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
              dtype=xp.float64)  # Lavin & Gray's matrices (points 0, 1, -1, 2, -2, inf), float64 masters
SIZES = (3, 5)  # kernel sizes


@functools.cache
def _matrices(dtype):
    """BT, AT, A (= AT^T) and GK (36, 9) = the 2-D filter transform G g G^T, rows (col, row), in `dtype`."""
    gk = xp.einsum("bx,ay->bayx", G, G).reshape(36, 9)  # GK[6b + a, 3ky + kx] = G[a, ky] G[b, kx]
    return tuple(xp.ascontiguousarray(m, dtype=dtype) for m in (BT, AT, AT.T, gk))


def _mm(a, b, out):
    """out = a @ b for a small matrix `a` and b (..., k, n), WINOGRAD_SPLIT columns at a time (OpenBLAS
    multiplies by a 6x6 matrix 2x slower per element once n passes ~16K: measured). Returns out."""
    split = memory.WINOGRAD_SPLIT
    for j in range(0, b.shape[-1], split):
        xp.matmul(a, b[..., j: j + split], out=out[..., j: j + split])
    return out


def _parallel(fn, items):
    """fn(share) for one share of `items` per thread (`parallel.shares`: drawn as the threads get to them);
    the list of results."""
    return parallel(fn, shares(items))


def _input_tiles(x, ph, pw, chunk, tw, r, dtype, out=None):
    """B^T d B of the 6x6 tiles of x zero-padded by (ph, pw) on each side under `chunk` (n0, n1, i0, i1) of
    the 4x4 output blocks (tw blocks a row): one tile per block for r = 3; for r = 5 the tiles every 2 rows
    and columns, the 4 of a block (offsets (0, 0), (0, 2), (2, 0), (2, 2)) as 4 groups of C channels.

    Returns (36, P, g*g*C) in (col, row) order (P = blocks of the chunk, g = 1 or 2), written into `out` if
    given. The row transform reads x in place where its (W, C) are contiguous; the column padding is never
    materialised.
    """
    g = 1 if r == 3 else 2
    m, n0, n1, i0, i1, tw = 4 // g, chunk[0], chunk[1], g * chunk[2], g * chunk[3], g * tw  # in tiles
    _, Hx, Wx, C = x.shape
    nc, tc, Wq, s = n1 - n0, i1 - i0, m * tw + 6 - m, xp.dtype(dtype).itemsize
    bt = _matrices(dtype)[0]
    r0, r1 = max(m * i0 - ph, 0), min(m * i1 + 6 - m - ph, Hx)  # rows of x under the chunk's tiles
    if x.strides[2:] == (C * s, s) and x.dtype == dtype:
        src, r0 = x[n0:n1], 0
    else:
        src = _buffer("a", (nc, r1 - r0, Wx, C), dtype)
        src[...] = x[n0:n1, r0:r1]  # (nc, rows, Wx, C) contiguous copy
    R = _buffer("b", (nc, tc, 6, Wq, C), dtype)  # row-transformed tiles: (n, tile row, 6 a, Wq, C)
    R[..., :pw, :] = 0
    R[..., pw + Wx:, :] = 0
    Rx = R[..., pw: pw + Wx, :].reshape(nc, tc, 6, Wx * C)  # the columns over x, (W, C) merged
    sN, sH = src.strides[:2]
    inner = [i for i in range(i0, i1) if m * i - ph >= 0 and m * i - ph + 6 <= Hx]
    if inner:  # tile rows wholly inside x: one batched (6, 6) @ (6, Wx*C) per tile row
        rows = as_strided(src[:, m * inner[0] - ph - r0:], (nc, len(inner), 6, Wx * C), (sN, m * sH, sH, s))
        xp.matmul(bt, rows, out=Rx[:, inner[0] - i0: inner[-1] + 1 - i0])
    for i in (i for i in range(i0, i1) if i not in inner):  # tile rows over the padding
        lo, hi = max(ph - m * i, 0), min(Hx + ph - m * i, 6)  # the tile's rows that lie in x
        if hi <= lo:
            Rx[:, i - i0] = 0
            continue
        rows = as_strided(src[:, m * i - ph + lo - r0:], (nc, hi - lo, Wx * C), (sN, sH, s))
        xp.matmul(bt[:, lo:hi], rows, out=Rx[:, i - i0])
    T = 6 * Wq * C * s  # bytes of a row of tiles in R
    cols = as_strided(R, (6, 6, nc, tc // g, tw // g, g, g, C),  # (6 cols b, 6 rows a, nc, blocks, g, g, C)
                      (C * s, Wq * C * s, tc * T, g * T, g * m * C * s, T, m * C * s, s))
    D = _buffer("a", cols.shape, dtype)
    D[...] = cols
    P, Cg = nc * tc * tw // (g * g), g * g * C
    if out is None:
        return _mm(bt, D.reshape(6, -1), _buffer("b", (6, 6 * P * Cg), dtype)).reshape(36, P, Cg)
    _mm(bt, D.reshape(6, 6, P * Cg).transpose(1, 0, 2), out.reshape(6, 6, P * Cg).transpose(1, 0, 2))
    return out


def _output_tiles(M, y, chunk, tw):
    """Write A^T M A of M (36, P, K) in (col, row) order into the chunk's 4x4 blocks of y (cropped)."""
    n0, n1, i0, i1 = chunk
    _, H, W, K = y.shape
    at, P = _matrices(M.dtype)[1], M.shape[1]
    Z = _mm(at, M.reshape(6, 6, P * K).transpose(1, 0, 2),  # contract the cols b of each row a
            _buffer("b", (6, 4, P * K), M.dtype))  # (6 a, 4 x, P*K)
    Y = _mm(at, Z.reshape(6, -1), _buffer("a", (4, 4 * P * K), M.dtype))  # (4 y, 4 x, P*K)
    memory.check_finite(Y)  # a NaN or inf mixed into its tile's results: the registry redoes the conv
    tiles = Y.reshape(4, 4, n1 - n0, i1 - i0, tw, K).transpose(2, 3, 0, 4, 1, 5)  # (nc, tc, 4 y, tw, 4 x, K)
    _untile(tiles, y[n0:n1, 4 * i0: min(4 * i1, H)])


def _untile(t, y):
    """Copy tiles t (n, th, 4, tw, 4, K) into y (n, h, w, K), cropping a partial last tile row/column."""
    n, h, w, K = y.shape
    for r0, r1 in ((0, h // 4 * 4), (h // 4 * 4, h)):
        for c0, c1 in ((0, w // 4 * 4), (w // 4 * 4, w)):
            if r1 > r0 and c1 > c0:
                dst = y[:, r0:r1, c0:c1].reshape(n, -(-(r1 - r0) // 4), min(r1 - r0, 4),
                                                  -(-(c1 - c0) // 4), min(c1 - c0, 4), K)  # tiled view
                dst[...] = t[:, r0 // 4: r0 // 4 + dst.shape[1], : dst.shape[2],
                             c0 // 4: c0 // 4 + dst.shape[3], : dst.shape[4]]


def _pieces(w):
    """w (5, 5, C, K) as four 3x3 pieces at row and column offsets 0 and 2, (3, 3, 2, 2, C, K): piece (a, b)
    holds taps (2a + l, 2b + l'), zero where a (b) is 1 and l (l') 0: that row (column) is piece 0's."""
    q = xp.zeros((3, 3, 2, 2, *w.shape[2:]), w.dtype)  # (3, 3, 2 a, 2 b, C, K)
    q[:, :, 0, 0] = w[:3, :3]
    q[:, 1:, 0, 1] = w[:3, 3:]
    q[1:, :, 1, 0] = w[3:, :3]
    q[1:, 1:, 1, 1] = w[3:, 3:]
    return q


def _filter_tiles(w, flip, dtype):
    """G g G^T of each (Cin, Cout) slice of w (3, 3, Cin, Cout): U (36, Cin, Cout) in (col, row) order; of
    each piece of w (5, 5, Cin, Cout): U (36, 4 Cin, Cout), rows (piece, Cin) as the tiles' channels.

    flip=True transforms the kernel of the input gradient, w rotated by 180 degrees with Cin and Cout
    swapped: U (36, Cout, Cin). Reads a 3x3 w in place when its channel axes merge in either order
    (PyTorch's layout too); U lives in this thread's scratch buffer "u" until the next call.
    """
    gk = _matrices(dtype)[3]
    if w.shape[0] == 5:
        q = _pieces(w[::-1, ::-1].swapaxes(2, 3) if flip else w)  # (3, 3, 2, 2, C, K)
        U = _mm(gk, q.reshape(9, -1), _buffer("u", (36, q[0, 0].size), dtype))
        return U.reshape(36, 4 * q.shape[4], q.shape[5])  # (36, 4C, K)
    gk = gk[:, ::-1] if flip else gk
    C, K = w.shape[2:]
    order = (0, 1, 2, 3) if abs(w.strides[2]) >= abs(w.strides[3]) else (0, 1, 3, 2)  # outer channel first
    w2 = w.transpose(order).reshape(9, C * K)  # (9 taps, channels): a view unless the strides forbid it
    U = _mm(gk, w2, _buffer("u", (36, C * K), dtype))
    U = U.reshape(36, *(w.shape[j] for j in order[2:]))  # (36, Cin, Cout) or (36, Cout, Cin)
    return U if (order[2] == 3) == flip else U.transpose(0, 2, 1)


def _conv(x, w, flip, ph, pw, dtype, tiles=None):
    """Valid correlation of x padded by (ph, pw) (negative crops) with w (flip: the input-gradient kernel).

    Chunks of tiles go through transform, 36 GEMMs and inverse transform in cache. Where the filter outweighs
    the tiles (few tiles, many channels), all tiles are transformed first; then the workers take blocks of
    output channels, each block's filter transform made in cache and used at once by its 36 GEMMs. `tiles`
    (36, all tiles, Cg), if given, receives every transformed tile (instead of scratch buffers).
    """
    if ph < 0 or pw < 0:
        x = x[:, max(-ph, 0): x.shape[1] - max(-ph, 0), max(-pw, 0): x.shape[2] - max(-pw, 0)]
        ph, pw = max(ph, 0), max(pw, 0)
    N, Hx, Wx, C = x.shape
    r = w.shape[0]
    H, W, K = Hx + 2 * ph - r + 1, Wx + 2 * pw - r + 1, w.shape[2 if flip else 3]
    Cg = C if r == 3 else 4 * C  # the GEMMs' inner size: channels of all pieces
    y = fresh((N, H, W, K), dtype)  # (N, H, W, K)
    th, tw = -(-H // 4), -(-W // 4)
    chunks = tile_chunks(N, th, tw, max(Cg, K))
    if not chunks:
        return y
    items = tile_offsets(chunks, tw)
    if N * th * tw > max(Cg, K):
        U = _filter_tiles(w, flip, dtype)

        def run(share):
            for chunk, p0, p1 in share:
                V = _input_tiles(x, ph, pw, chunk, tw, r, dtype, None if tiles is None else tiles[:, p0:p1])
                _output_tiles(xp.matmul(V, U, out=_buffer("a", (36, V.shape[1], K), dtype)), y, chunk, tw)

        _parallel(run, items)
        return y
    V = _buffer("vc", (36, items[-1][2], Cg), dtype) if tiles is None else tiles
    M = _buffer("mc", (36, items[-1][2], K), dtype)
    _parallel(lambda share: [_input_tiles(x, ph, pw, c, tw, r, dtype, out=V[:, p0:p1])
                             for c, p0, p1 in share], items)

    def gemms(share):
        for k0, k1 in share:
            wk = w[:, :, k0:k1] if flip else w[..., k0:k1]  # the block's output channels
            xp.matmul(V, _filter_tiles(wk, flip, dtype), out=M[..., k0:k1])  # (36, P, k1 - k0)

    _parallel(gemms, channel_blocks(K, Cg, V.shape[1]))
    _parallel(lambda share: [_output_tiles(M[:, p0:p1], y, c, tw) for c, p0, p1 in share], items)
    return y


def _pairs(padding):
    """`padding` (an int or one int per spatial dim) as (ph, pw)."""
    p = (padding, padding) if is_int(padding) else tuple(padding)
    if len(p) != 2 or not all(is_int(v) and v >= 0 for v in p):
        raise ValueError(f"padding must be a non-negative int or two of them, got {padding!r}")
    return p


def _check(x, w, xname, channel):
    """ValueError unless x is (N, H, W, C) and w (r, r, Cin, Cout), r in SIZES, with C = w.shape[channel]."""
    if (x.ndim != 4 or w.ndim != 4 or w.shape[0] != w.shape[1] or w.shape[0] not in SIZES
            or w.shape[channel] != x.shape[3]):
        names = "Cin" if channel == 2 else "Cout"
        raise ValueError(f"{xname} must be (N, H, W, {names}) and w (r, r, Cin, Cout) with r in {SIZES} and "
                         f"the same {names}, got {xname} {tuple(x.shape)} and w {tuple(w.shape)}")


def tiles_shape(x_shape, r, padding):
    """The shape of x's transformed tiles, (36, tiles, Cin) for r = 3 or (36, tiles, 4 Cin) for r = 5: what
    winograd_conv can keep for winograd_weight_grad."""
    N, H, W, C = x_shape
    ph, pw = _pairs(padding)
    return 36, N * -(-(H + 2 * ph - r + 1) // 4) * -(-(W + 2 * pw - r + 1) // 4), C if r == 3 else 4 * C


@single_threaded_blas()
def winograd_conv(x, w, padding=0, tiles=None):
    """Valid r x r (r = 3 or 5) stride-1 cross-correlation of NHWC x (N, H, W, Cin) with w (r, r, Cin, Cout),
    by F(4x4, 3x3).

    `padding` zero-pads H and W on both sides first (int or (ph, pw)); x and w may be any strided views.
    `tiles`, an array of `tiles_shape`, receives x's transformed tiles for winograd_weight_grad.
    Returns y (N, H + 2ph - r + 1, W + 2pw - r + 1, Cout).
    """
    _check(x, w, "x", 2)
    ph, pw = _pairs(padding)
    r = w.shape[0]
    if x.shape[1] + 2 * ph < r or x.shape[2] + 2 * pw < r:
        raise ValueError(f"x {tuple(x.shape)} with padding {padding} is smaller than the {r}x{r} kernel")
    dtype = xp.result_type(x, w)
    _check_tiles(tiles, tiles_shape(x.shape, r, padding), dtype)
    return _conv(x, w, False, ph, pw, dtype, tiles)


def _check_tiles(tiles, shape, dtype):
    """ValueError unless `tiles` is None or a C-contiguous array of `shape` and `dtype`."""
    if tiles is not None and (tiles.shape != shape or tiles.dtype != dtype or not tiles.flags.c_contiguous):
        raise ValueError(f"tiles must be a contiguous {dtype} array of shape {shape}, got "
                         f"{tiles.dtype} {tuple(tiles.shape)}")


@single_threaded_blas()
def winograd_input_grad(gy, w, padding=0):
    """gx (N, H, W, Cin) of y = winograd_conv(x, w, padding) given gy (N, Ho, Wo, Cout).

    The input gradient is the r x r correlation of gy padded by r - 1 - padding with w rotated by 180
    degrees and its channels swapped; the rotation and swap live in the filter transform.
    """
    _check(gy, w, "gy", 3)
    ph, pw = _pairs(padding)
    r = w.shape[0]
    if gy.shape[1] + r - 1 - 2 * ph < 1 or gy.shape[2] + r - 1 - 2 * pw < 1:
        raise ValueError(f"gy {tuple(gy.shape)} with padding {padding} matches no input size")
    return _conv(gy, w, True, r - 1 - ph, r - 1 - pw, xp.result_type(gy, w))


def _gy_tiles(gy, chunk, tw, dtype, out):
    """A g A^T of the chunk's 4x4 blocks of gy (zero beyond its edges), written into out (36, P, K)."""
    n0, n1, i0, i1 = chunk
    _, H, W, K = gy.shape
    nc, tc, s = n1 - n0, i1 - i0, xp.dtype(dtype).itemsize
    a = _matrices(dtype)[2]
    h = min(4 * i1, H) - 4 * i0
    if h == 4 * tc and W == 4 * tw and gy.strides[2:] == (K * s, s) and gy.dtype == dtype:
        src = gy[n0:n1, 4 * i0: 4 * i1]  # (nc, 4 tc, W, K) read in place
    else:
        src = _buffer("c", (nc, 4 * tc, 4 * tw, K), dtype)  # zero-padded copy of the chunk
        src[:, h:] = 0
        src[:, :, W:] = 0
        src[:, :h, :W] = gy[n0:n1, 4 * i0: 4 * i0 + h]
    sN, sH = src.strides[:2]
    rows = as_strided(src, (nc, tc, 4, 4 * tw * K), (sN, 4 * sH, sH, s))  # (nc, tc, 4 rows, 4tw*K)
    R = xp.matmul(a, rows, out=_buffer("d", (nc, tc, 6, 4 * tw * K), dtype))  # (nc, tc, 6 a, 4tw*K)
    cols = R.reshape(nc, tc, 6, tw, 4, K).transpose(4, 2, 0, 1, 3, 5)  # (4 cols, 6 a, nc, tc, tw, K)
    D = _buffer("c", cols.shape, dtype)
    D[...] = cols
    P = nc * tc * tw
    _mm(a, D.reshape(4, 6, P * K).transpose(1, 0, 2), out.reshape(6, 6, P * K).transpose(1, 0, 2))


def _place(piece, gw, accumulate):
    """Write (or add) the pieces' weight gradients, piece (k, g, g, C, 3, 3), into gw (k, C, r, r)."""
    g = piece.shape[1]
    for a in range(g):
        for b in range(g):
            dst = gw[:, :, 3 * a: 2 * a + 3, 3 * b: 2 * b + 3]  # piece (a, b)'s own taps
            src = piece[:, a, b, :, a:, b:]
            if accumulate:
                dst += src
            else:
                dst[...] = src


def _weight_grad_group(x, gy, ph, pw, group, tw, gw, accumulate, V):
    """Transform the group's chunks of x and gy into V (36, P, g*g*C) (unless given: the forward's) and
    Z (36, P, K) (in parallel); then, per block of output channels (split between the workers), gw_hat
    (36, k, g*g*C) = Z^T V in cache and its inverse transform, written (or added) into the block of gw
    (K, C, r, r)."""
    K, C, r = gw.shape[:3]
    dtype, g = gw.dtype, 1 if r == 3 else 2
    items, gk = tile_offsets(group, tw), _matrices(dtype)[3]
    Z, made = _buffer("zg", (36, items[-1][2], K), dtype), V is None
    V = _buffer("vg", (36, items[-1][2], g * g * C), dtype) if made else V

    def transform(share):
        for chunk, p0, p1 in share:
            if made:
                _input_tiles(x, ph, pw, chunk, tw, r, dtype, out=V[:, p0:p1])
            _gy_tiles(gy, chunk, tw, dtype, out=Z[:, p0:p1])

    def gemms(share):
        for k0, k1 in share:
            gw_hat = xp.matmul(Z[..., k0:k1].transpose(0, 2, 1), V,
                               out=_buffer("a", (36, k1 - k0, g * g * C), dtype))
            direct = r == 3 and not accumulate  # the inverse transform's rows are gw's rows: write in place
            out = gw[k0:k1].reshape(-1, 9) if direct else _buffer("b", ((k1 - k0) * g * g * C, 9), dtype)
            xp.matmul(gw_hat.reshape(36, -1).T, gk, out=out)  # (k*g*g*C, 9) = G^T gw_hat G per channel pair
            if not direct:
                _place(out.reshape(k1 - k0, g, g, C, 3, 3), gw[k0:k1], accumulate)

    _parallel(transform, items)
    _parallel(gemms, channel_blocks(K, g * g * C, V.shape[1]))


@single_threaded_blas()
def winograd_weight_grad(x, gy, padding=0, tiles=None):
    """gw (r, r, Cin, Cout) of y = winograd_conv(x, w, padding) given gy (N, Ho, Wo, Cout); r (3 or 5) is
    what the sizes of x, padding and gy imply. `tiles`: x's transformed tiles kept by winograd_conv, if any.

    gw[ky, kx] = sum over n, i, j of xpad[n, i + ky, j + kx] (x) gy[n, i, j]: per tile, G^T [(B^T d B) *
    (A g A^T)] G with g a 4x4 block of gy (for 5x5, per piece); the sum over tiles is 36 GEMMs (Cout, P) @
    (P, Cin), done on groups of at most WINOGRAD_GROUP_BYTES of transformed tiles, block by block of output
    channels.
    """
    ph, pw = _pairs(padding)
    r = x.shape[1] + 2 * ph - gy.shape[1] + 1 if x.ndim == gy.ndim == 4 else 0
    if (x.ndim != 4 or gy.ndim != 4 or r not in SIZES or gy.shape[0] != x.shape[0]
            or x.shape[2] + 2 * pw - gy.shape[2] + 1 != r):
        raise ValueError(f"x must be (N, H, W, Cin) and gy (N, H + 2ph - r + 1, W + 2pw - r + 1, Cout) with "
                         f"r in {SIZES} for padding {(ph, pw)}, got x {tuple(x.shape)} and gy "
                         f"{tuple(gy.shape)}")
    N, H, W, K = gy.shape
    C, dtype, th, tw = x.shape[3], xp.result_type(x, gy), -(-H // 4), -(-W // 4)
    Cg = C if r == 3 else 4 * C
    _check_tiles(tiles, tiles_shape(x.shape, r, padding), dtype)
    per_group = max(1, memory.WINOGRAD_GROUP_BYTES // (144 * (Cg + K)))  # tiles
    groups = max(1, -(-N * th * tw // per_group))
    chunks = tile_chunks(N, th, tw, max(Cg, K), -(-N * th * tw // groups))
    groups = min(groups, len(chunks))
    gw = fresh((K, C, r, r), dtype, zero=N == 0)  # PyTorch's layout in memory
    for g in range(groups):
        group = chunks[len(chunks) * g // groups: len(chunks) * (g + 1) // groups]
        n0, _, i0, _ = group[0]
        p0 = (n0 * th + i0) * tw  # the group's first tile among all (they run in order)
        V = None if tiles is None else tiles[:, p0: p0 + tile_offsets(group, tw)[-1][2]]
        _weight_grad_group(x, gy, ph, pw, group, tw, gw, g > 0, V)
    memory.check_finite(gw)
    return gw.transpose(2, 3, 1, 0)  # (r, r, Cin, Cout) view


def _fits(g):
    return g.k in ((3, 3), (5, 5)) and g.stride == g.dilation == (1, 1) and g.groups == 1


def keep(x, w, g):
    """A kept buffer for the forward's transformed tiles (symmetric padding only), or None."""
    if not g.symmetric:
        return None
    return memory.kept_buffer(tiles_shape(x.shape, g.k[0], [b for b, _ in g.pads]), xp.result_type(x, w))


def forward(x, w, g, kept=None):
    """y (N, *O, Cout); asymmetric padding is applied first, as a padded copy."""
    if g.symmetric:
        return winograd_conv(x, w, [b for b, _ in g.pads], kept)
    return winograd_conv(memory.pad(x, g.pads), w)


def input_grad(gy, w, g):
    """gx: the flipped, swapped kernel's Winograd conv; with asymmetric padding the book's formulation."""
    if g.symmetric:
        return winograd_input_grad(gy, w, [b for b, _ in g.pads])
    return book.input_grad(gy, w, g)


def weight_grad(x, gy, g, kept=None):
    """gw (r, r, Cin, Cout) in Winograd form (36 GEMMs, reading the forward's kept tiles if any); with
    asymmetric padding by im2col's GEMMs."""
    if g.symmetric:
        return winograd_weight_grad(x, gy, [b for b, _ in g.pads], kept)
    return im2col.weight_grad(x, gy, g)


def grad_layout(gy, x):
    """Winograd reads any strides and runs fastest channels-last: gy stays as it is when contiguous NCHW."""
    return to_nchw(gy).flags.c_contiguous


register(Algorithm("winograd", _fits, forward, input_grad, weight_grad, keep, grad_layout, mixes=True))

