"""Winograd F(4x4, 3x3): fast 3x3 stride-1 convolution, its input and weight gradients, on NHWC arrays.

    y  = winograd_conv3x3(x, w, padding)       x (N, H, W, Cin), w (3, 3, Cin, Cout) -> (N, Ho, Wo, Cout)
    gx = winograd_input_grad(gy, w, padding)   gy (N, Ho, Wo, Cout) -> (N, H, W, Cin)
    gw = winograd_weight_grad(x, gy, padding)  -> (3, 3, Cin, Cout)

Each 4x4 block of outputs comes from a 6x6 input tile d: Y = A^T [(G g G^T) * (B^T d B)] A, so the 36
products per tile become 36 batched GEMMs over (tiles, Cin) @ (Cin, Cout): 4x fewer flops than direct.
The transforms are memory-bound: they are matmuls with the small matrices over chunks of tiles, run on
the pool's threads (NumPy releases the GIL in matmul and copies) while OpenBLAS keeps to the calling thread.
Where there are fewer tiles than channels (small images), the filter-sized work dominates: the filter
transform (and the weight gradient's inverse one) is made block by block of output channels, in cache,
next to the GEMMs that use it, never as a whole (36, Cin, Cout) array.
"""

import functools
import threading

from ..backend import xp
from ..parallel import num_threads, parallel, shares, single_threaded_blas

as_strided = xp.lib.stride_tricks.as_strided

BT = xp.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
               [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=xp.float64)
G = xp.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
              [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], dtype=xp.float64)
AT = xp.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
              dtype=xp.float64)  # Lavin & Gray's matrices (points 0, 1, -1, 2, -2, inf), float64 masters
CHUNK_TILES = 128  # most tiles per chunk: cache-sized, yet NumPy calls long (a GIL hand-over costs ~50 us)
CHUNK_BYTES = 8 << 20  # most bytes of transformed tiles per chunk (36 * tiles * channels * 4)
GROUP_BYTES = 24 << 20  # weight gradient: transformed tiles gathered per GEMM (bounds the workspace)
BLOCK_BYTES = 16 << 20  # most bytes of a block of the transformed filter (36 * channels * block * 4)

_local = threading.local()


@functools.cache
def _matrices(dtype):
    """BT, AT, A (= AT^T) and GK (36, 9) = the 2-D filter transform G g G^T, rows (col, row), in `dtype`."""
    gk = xp.einsum("bx,ay->bayx", G, G).reshape(36, 9)  # GK[6b + a, 3ky + kx] = G[a, ky] G[b, kx]
    return tuple(xp.ascontiguousarray(m, dtype=dtype) for m in (BT, AT, AT.T, gk))


def _buffer(name, shape, dtype):
    """A per-thread scratch array of `shape`, reused across calls (grown when too small)."""
    size = 1
    for n in shape:
        size *= n
    buf = getattr(_local, name, None)
    if buf is None or buf.size < size or buf.dtype != dtype:
        buf = xp.empty(max(size, 1), dtype)
        setattr(_local, name, buf)
    return buf[:size].reshape(shape)


def _parallel(fn, items):
    """fn(share) for one round-robin share of `items` per thread; the list of results."""
    return parallel(fn, shares(items))


def _chunks(N, th, tw, channels, tiles=None):
    """The (N, th) tile rows cut into chunks (n0, n1, i0, i1) of at most CHUNK_TILES, CHUNK_BYTES and
    `tiles` / num_threads() tiles (`tiles`: all of them by default), so that every worker gets one."""
    tiles = tiles or N * th * tw
    size = min(CHUNK_TILES, max(1, CHUNK_BYTES // (144 * channels)), -(-tiles // num_threads()))
    rows = max(1, size // tw)
    if rows < th:
        return [(n, n + 1, i, min(i + rows, th)) for n in range(N) for i in range(0, th, rows)]
    nb = max(1, rows // th)
    return [(n, min(n + nb, N), 0, th) for n in range(0, N, nb)]


def _input_tiles(x, ph, pw, chunk, tw, dtype, out=None):
    """B^T d B of the 6x6 tiles of `chunk` (n0, n1, i0, i1) of x zero-padded by (ph, pw) on each side.

    Returns (36, P, C) in (col, row) order (P = tiles of the chunk), written into `out` if given. The row
    transform reads x in place where its (W, C) are contiguous; the column padding is never materialised.
    """
    n0, n1, i0, i1 = chunk
    _, Hx, Wx, C = x.shape
    nc, tc, Wq, s = n1 - n0, i1 - i0, 4 * tw + 2, xp.dtype(dtype).itemsize
    bt = _matrices(dtype)[0]
    r0, r1 = max(4 * i0 - ph, 0), min(4 * i1 + 2 - ph, Hx)  # rows of x under the chunk's tiles
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
    inner = [i for i in range(i0, i1) if 4 * i - ph >= 0 and 4 * i - ph + 6 <= Hx]
    if inner:  # tile rows wholly inside x: one batched (6, 6) @ (6, Wx*C) per tile row
        rows = as_strided(src[:, 4 * inner[0] - ph - r0:], (nc, len(inner), 6, Wx * C), (sN, 4 * sH, sH, s))
        xp.matmul(bt, rows, out=Rx[:, inner[0] - i0: inner[-1] + 1 - i0])
    for i in (i for i in range(i0, i1) if i not in inner):  # tile rows over the padding
        lo, hi = max(ph - 4 * i, 0), min(Hx + ph - 4 * i, 6)  # the tile's rows that lie in x
        if hi <= lo:
            Rx[:, i - i0] = 0
            continue
        rows = as_strided(src[:, 4 * i - ph + lo - r0:], (nc, hi - lo, Wx * C), (sN, sH, s))
        xp.matmul(bt[:, lo:hi], rows, out=Rx[:, i - i0])
    cols = as_strided(R, (6, 6, nc, tc, tw, C),  # (6 cols b, 6 rows a, nc, tc, tw, C)
                      (C * s, Wq * C * s, tc * 6 * Wq * C * s, 6 * Wq * C * s, 4 * C * s, s))
    D = _buffer("a", cols.shape, dtype)
    D[...] = cols
    P = nc * tc * tw
    if out is None:
        return xp.matmul(bt, D.reshape(6, -1), out=_buffer("b", (6, 6 * P * C), dtype)).reshape(36, P, C)
    xp.matmul(bt, D.reshape(6, 6, P * C).transpose(1, 0, 2), out=out.reshape(6, 6, P * C).transpose(1, 0, 2))
    return out


def _output_tiles(M, y, chunk, tw):
    """Write A^T M A of M (36, P, K) in (col, row) order into the chunk's 4x4 blocks of y (cropped)."""
    n0, n1, i0, i1 = chunk
    _, H, W, K = y.shape
    at, P = _matrices(M.dtype)[1], M.shape[1]
    Z = xp.matmul(at, M.reshape(6, 6, P * K).transpose(1, 0, 2),  # contract the cols b of each row a
                  out=_buffer("b", (6, 4, P * K), M.dtype))  # (6 a, 4 x, P*K)
    Y = xp.matmul(at, Z.reshape(6, -1), out=_buffer("a", (4, 4 * P * K), M.dtype))  # (4 y, 4 x, P*K)
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


def _filter_tiles(w, flip, dtype):
    """G g G^T of each (Cin, Cout) slice of w (3, 3, Cin, Cout): U (36, Cin, Cout) in (col, row) order.

    flip=True transforms the kernel of the input gradient, w rotated by 180 degrees with Cin and Cout
    swapped: U (36, Cout, Cin). Reads w in place when its channel axes merge in either order (PyTorch's
    layout too); U lives in this thread's scratch buffer "u" until the next call.
    """
    gk = _matrices(dtype)[3][:, ::-1] if flip else _matrices(dtype)[3]
    C, K = w.shape[2:]
    order = (0, 1, 2, 3) if abs(w.strides[2]) >= abs(w.strides[3]) else (0, 1, 3, 2)  # outer channel first
    w2 = w.transpose(order).reshape(9, C * K)  # (9 taps, channels): a view unless the strides forbid it
    U = xp.matmul(gk, w2, out=_buffer("u", (36, C * K), dtype))
    U = U.reshape(36, *(w.shape[j] for j in order[2:]))  # (36, Cin, Cout) or (36, Cout, Cin)
    return U if (order[2] == 3) == flip else U.transpose(0, 2, 1)


def _conv(x, w, flip, ph, pw, dtype):
    """Valid correlation of x padded by (ph, pw) (negative crops) with w (flip: the input-gradient kernel).

    Chunks of tiles go through transform, 36 GEMMs and inverse transform in cache. Where the filter outweighs
    the tiles (few tiles, many channels), all tiles are transformed first; then the workers take blocks of
    output channels, each block's filter transform made in cache and used at once by its 36 GEMMs.
    """
    if ph < 0 or pw < 0:
        x = x[:, max(-ph, 0): x.shape[1] - max(-ph, 0), max(-pw, 0): x.shape[2] - max(-pw, 0)]
        ph, pw = max(ph, 0), max(pw, 0)
    N, Hx, Wx, C = x.shape
    H, W, K = Hx + 2 * ph - 2, Wx + 2 * pw - 2, w.shape[2 if flip else 3]
    y = xp.empty((N, H, W, K), dtype)
    th, tw = -(-H // 4), -(-W // 4)
    chunks = _chunks(N, th, tw, max(C, K))
    if not chunks:
        return y
    if N * th * tw > max(C, K):
        U = _filter_tiles(w, flip, dtype)

        def run(share):
            for chunk in share:
                V = _input_tiles(x, ph, pw, chunk, tw, dtype)
                _output_tiles(xp.matmul(V, U, out=_buffer("a", (36, V.shape[1], K), dtype)), y, chunk, tw)

        _parallel(run, chunks)
        return y
    items = _offsets(chunks, tw)
    V, M = _buffer("vc", (36, items[-1][2], C), dtype), _buffer("mc", (36, items[-1][2], K), dtype)
    _parallel(lambda share: [_input_tiles(x, ph, pw, c, tw, dtype, out=V[:, p0:p1]) for c, p0, p1 in share],
              items)

    def gemms(share):
        for k0, k1 in share:
            wk = w[:, :, k0:k1] if flip else w[..., k0:k1]  # the block's output channels
            xp.matmul(V, _filter_tiles(wk, flip, dtype), out=M[..., k0:k1])  # (36, P, k1 - k0)

    _parallel(gemms, _blocks(K, C, V.shape[1]))
    _parallel(lambda share: [_output_tiles(M[:, p0:p1], y, c, tw) for c, p0, p1 in share], items)
    return y


def _blocks(K, C, P):
    """[0, K) cut into blocks of about P channels (near-square GEMM outputs (P, block)), one per worker at
    least, each (36, block, C) of the filter's transform within BLOCK_BYTES."""
    size = max(1, min(-(-K // num_threads()), max(P, 16), BLOCK_BYTES // (144 * max(C, 1))))
    return [(k, min(k + size, K)) for k in range(0, K, size)]


def _offsets(chunks, tw):
    """(chunk, p0, p1) for each chunk: its tiles' range in the list of all the chunks' tiles."""
    items, p = [], 0
    for c in chunks:
        items.append((c, p, p + (c[1] - c[0]) * (c[3] - c[2]) * tw))
        p = items[-1][2]
    return items


def _pairs(padding):
    """`padding` (an int or one int per spatial dim) as (ph, pw)."""
    p = (padding, padding) if isinstance(padding, int) else tuple(padding)
    if len(p) != 2 or not all(isinstance(v, int) and v >= 0 for v in p):
        raise ValueError(f"padding must be a non-negative int or two of them, got {padding!r}")
    return p


def _check(x, w, xname):
    """ValueError unless x is (N, H, W, C) and w (3, 3, C, Cout)."""
    if x.ndim != 4 or w.ndim != 4 or w.shape[:2] != (3, 3) or w.shape[2] != x.shape[3]:
        raise ValueError(f"{xname} must be (N, H, W, C) and w (3, 3, C, Cout) with the same C, "
                         f"got {xname} {x.shape} and w {w.shape}")


@single_threaded_blas()
def winograd_conv3x3(x, w, padding=0):
    """Valid 3x3 stride-1 cross-correlation of NHWC x (N, H, W, Cin) with w (3, 3, Cin, Cout), by F(4x4, 3x3).

    `padding` zero-pads H and W on both sides first (int or (ph, pw)); x and w may be any strided views.
    Returns y (N, H + 2ph - 2, W + 2pw - 2, Cout).
    """
    _check(x, w, "x")
    ph, pw = _pairs(padding)
    if x.shape[1] + 2 * ph < 3 or x.shape[2] + 2 * pw < 3:
        raise ValueError(f"x {x.shape} with padding {padding} is smaller than the 3x3 kernel")
    return _conv(x, w, False, ph, pw, xp.result_type(x, w))


@single_threaded_blas()
def winograd_input_grad(gy, w, padding=0):
    """gx (N, H, W, Cin) of y = winograd_conv3x3(x, w, padding) given gy (N, Ho, Wo, Cout).

    The input gradient is the 3x3 correlation of gy padded by 2 - padding with w rotated by 180 degrees
    and its channels swapped; the rotation and swap live in the filter transform, nothing is copied.
    """
    ph, pw = _pairs(padding)
    if gy.ndim != 4 or w.ndim != 4 or w.shape[:2] != (3, 3) or w.shape[3] != gy.shape[3]:
        raise ValueError(f"gy must be (N, Ho, Wo, Cout) and w (3, 3, Cin, Cout) with the same Cout, "
                         f"got gy {gy.shape} and w {w.shape}")
    if gy.shape[1] + 2 - 2 * ph < 1 or gy.shape[2] + 2 - 2 * pw < 1:
        raise ValueError(f"gy {gy.shape} with padding {padding} matches no input size")
    return _conv(gy, w, True, 2 - ph, 2 - pw, xp.result_type(gy, w))


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
    xp.matmul(a, D.reshape(4, 6, P * K).transpose(1, 0, 2), out=out.reshape(6, 6, P * K).transpose(1, 0, 2))


def _weight_grad_group(x, gy, ph, pw, group, tw, gw, accumulate):
    """Transform the group's chunks of x and gy into V (36, P, C) and Z (36, P, K) (in parallel); then, per
    block of output channels (split between the workers), gw_hat (36, k, C) = Z^T V in cache and its
    inverse transform, written (or added) into the block's rows of gw (K*C, 9)."""
    C, K, dtype = x.shape[3], gy.shape[3], gw.dtype
    items, gk = _offsets(group, tw), _matrices(dtype)[3]
    V, Z = _buffer("vg", (36, items[-1][2], C), dtype), _buffer("zg", (36, items[-1][2], K), dtype)

    def transform(share):
        for chunk, p0, p1 in share:
            _input_tiles(x, ph, pw, chunk, tw, dtype, out=V[:, p0:p1])
            _gy_tiles(gy, chunk, tw, dtype, out=Z[:, p0:p1])

    def gemms(share):
        for k0, k1 in share:
            gw_hat = xp.matmul(Z[..., k0:k1].transpose(0, 2, 1), V, out=_buffer("a", (36, k1 - k0, C), dtype))
            rows = gw[k0 * C: k1 * C]  # (k*C, 9)
            out = _buffer("b", rows.shape, dtype) if accumulate else rows
            xp.matmul(gw_hat.reshape(36, -1).T, gk, out=out)  # (k*C, 9) = G^T gw_hat G per channel pair
            if accumulate:
                rows += out

    _parallel(transform, items)
    _parallel(gemms, _blocks(K, C, V.shape[1]))


@single_threaded_blas()
def winograd_weight_grad(x, gy, padding=0):
    """gw (3, 3, Cin, Cout) of y = winograd_conv3x3(x, w, padding) given gy (N, Ho, Wo, Cout).

    gw[ky, kx] = sum over n, i, j of xpad[n, i + ky, j + kx] (x) gy[n, i, j]: per tile, G^T [(B^T d B) *
    (A g A^T)] G with g a 4x4 block of gy; the sum over tiles is 36 GEMMs (Cout, P) @ (P, Cin), done on
    groups of at most GROUP_BYTES of transformed tiles, block by block of output channels.
    """
    ph, pw = _pairs(padding)
    if x.ndim != 4 or gy.ndim != 4 or gy.shape[:3] != (x.shape[0], x.shape[1] + 2 * ph - 2,
                                                         x.shape[2] + 2 * pw - 2):
        raise ValueError(f"x must be (N, H, W, Cin) and gy (N, H + 2ph - 2, W + 2pw - 2, Cout) for padding "
                         f"{(ph, pw)}, got x {x.shape} and gy {gy.shape}")
    N, H, W, K = gy.shape
    C, dtype, th, tw = x.shape[3], xp.result_type(x, gy), -(-H // 4), -(-W // 4)
    per_group = max(1, GROUP_BYTES // (144 * (C + K)))  # tiles
    groups = max(1, -(-N * th * tw // per_group))
    chunks = _chunks(N, th, tw, max(C, K), -(-N * th * tw // groups))
    groups = min(groups, len(chunks))
    gw = xp.zeros((K * C, 9), dtype) if N == 0 else xp.empty((K * C, 9), dtype)  # PyTorch's layout in memory
    for g in range(groups):
        group = chunks[len(chunks) * g // groups: len(chunks) * (g + 1) // groups]
        _weight_grad_group(x, gy, ph, pw, group, tw, gw, accumulate=g > 0)
    return gw.reshape(K, C, 3, 3).transpose(2, 3, 1, 0)  # (3, 3, Cin, Cout) view
