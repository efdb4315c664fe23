"""The arena (baby.arena): large freed arrays' memory is reused, never while a view of it is alive."""

import gc

import numpy as np
import pytest

from baby import arena


def _block(a):
    """The bytearray an arena array's memory lives in."""
    while not isinstance(a.base, memoryview):
        a = a.base
    return a.base.obj


@pytest.mark.parametrize("shape,dtype", [((512, 256), np.float32), ((64, 8, 8, 16), np.float64),
                                         ((70000,), np.int32)])
def test_freed_block_is_reused(shape, dtype):
    arena.empty()
    a = arena.fresh(shape, dtype)
    assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
    block = _block(a)
    del a
    gc.collect()
    assert arena.kept_bytes() == len(block)
    b = arena.fresh(shape, dtype)
    assert _block(b) is block and arena.kept_bytes() == 0


@pytest.mark.parametrize("view", [lambda a: a.T, lambda a: a[1:, ::2], lambda a: a.reshape(-1)[5:],
                                  lambda a: np.moveaxis(a, 0, -1),
                                  lambda a: np.lib.stride_tricks.as_strided(a, (2, 2), a.strides)])
def test_a_live_view_keeps_its_block(view):
    arena.empty()
    a = arena.fresh((512, 256), np.float32)
    a[...] = 7
    v, block = view(a), _block(a)
    del a
    gc.collect()
    assert arena.kept_bytes() == 0  # still in use through v
    b = arena.fresh((512, 256), np.float32)
    b[...] = 0
    assert (v == 7).all()
    del v
    gc.collect()
    assert arena.kept_bytes() == len(block) >= 512 * 256 * 4


@pytest.mark.parametrize("shape", [(512, 256), (3, 5)])
def test_zero_fills_a_reused_block(shape):
    arena.empty()
    a = arena.fresh(shape, np.float32)
    a[...] = 3
    del a
    gc.collect()
    z = arena.fresh(shape, np.float32, zero=True)
    np.testing.assert_array_equal(z, np.zeros(shape, np.float32))


@pytest.mark.parametrize("layout", ["c", "f"])
def test_fresh_like_keeps_the_layout(layout):
    a = np.ones((256, 512), np.float32, order=layout.upper())
    b = arena.fresh_like(a, np.float64)
    assert b.shape == a.shape and b.dtype == np.float64
    assert b.flags.c_contiguous if layout == "c" else b.flags.f_contiguous


def test_small_arrays_and_the_cap(monkeypatch):
    monkeypatch.setattr(arena, "CAP", 1 << 20)
    arena.empty()
    small = arena.fresh((4, 4), np.float32)
    assert small.base is None  # below MIN_BYTES: plain NumPy memory
    big = [arena.fresh((arena.CAP // 4 // 4 + 1,), np.float32) for _ in range(4)]
    del big
    gc.collect()
    assert 0 < arena.kept_bytes() <= arena.CAP
    arena.empty()
    assert arena.kept_bytes() == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
@pytest.mark.parametrize("size", [arena.MIN_BYTES, arena.MIN_BYTES + 8, 3 * arena.MIN_BYTES])
def test_arrays_start_on_a_cache_line(size, dtype):
    arena.empty()
    n = size // np.dtype(dtype).itemsize
    for _ in range(3):  # fresh blocks, then reused ones
        a, s = arena.fresh((n,), dtype), arena.scratch("test", (n // 2 + 1,), dtype)
        assert a.ctypes.data % arena.ALIGN == 0 and s.ctypes.data % arena.ALIGN == 0
        assert a.nbytes == n * a.itemsize and s.size == n // 2 + 1
        a[...], s[...] = 1, 2
        assert (a == 1).all() and (s == 2).all()
        del a
        gc.collect()
