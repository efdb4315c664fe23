"""Transforms on one image (C, H, W) and on batches (N, C, H, W): correctness, bounds, seeding."""

import numpy as np
import pytest
import torch

import baby
from baby.data.transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip

RNG = np.random.default_rng(0)
IMAGE = RNG.random((3, 8, 6), dtype=np.float32)
BATCH = RNG.random((64, 3, 8, 6), dtype=np.float32)


def crop_offsets(out, image, padding):
    """All (top, left) where `out` is the window of the zero-padded `image`."""
    l, t, r, b = padding
    padded = np.pad(image, ((0, 0), (t, b), (l, r)))
    h, w = out.shape[-2:]
    H, W = padded.shape[-2:]
    return [(i, j) for i in range(H - h + 1) for j in range(W - w + 1)
            if np.array_equal(padded[:, i:i + h, j:j + w], out)]


# ---- Normalize ----

@pytest.mark.parametrize("x", [IMAGE, BATCH], ids=["image", "batch"])
@pytest.mark.parametrize("mean,std", [((0.5,), (0.25,)), ((0.1, 0.2, 0.3), (0.5, 2.0, 1.5))])
def test_normalize_matches_torch(x, mean, std):
    out = Normalize(mean, std)(x)
    m, s = torch.tensor(mean).view(-1, 1, 1), torch.tensor(std).view(-1, 1, 1)
    expected = ((torch.from_numpy(x) - m) / s).numpy()
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mean,std,x,match", [
    ((0.1, 0.2), (1.0, 1.0), IMAGE, r"2 means and 2 stds for an input of shape \(3, 8, 6\)"),
    ((0.1,), (0.0,), IMAGE, r"std must be non-zero"),
    ((0.1,), (1.0,), IMAGE[0], r"Normalize expects an image \(C, H, W\) or a batch .* got \(8, 6\)"),
])
def test_normalize_errors(mean, std, x, match):
    with pytest.raises(ValueError, match=match):
        Normalize(mean, std)(x)



def test_normalize_refuses_integer_pixels():
    with pytest.raises(TypeError, match=r"Normalize expects a floating image, got uint8 .* x / 255"):
        Normalize((0.5,), (0.5,))(np.zeros((2, 1, 4, 4), np.uint8))

# ---- RandomCrop ----

@pytest.mark.parametrize("size,padding,pad4", [
    ((8, 6), 0, (0, 0, 0, 0)),
    (4, 0, (0, 0, 0, 0)),
    ((8, 6), 2, (2, 2, 2, 2)),
    ((5, 4), 0, (0, 0, 0, 0)),
    ((6, 6), (1, 3), (1, 3, 1, 3)),
    ((7, 5), (0, 1, 2, 3), (0, 1, 2, 3)),
])
def test_random_crop_image_is_a_window_within_bounds(size, padding, pad4):
    crop = RandomCrop(size, padding=padding, rng=0)
    h, w = (size, size) if isinstance(size, int) else size
    seen = set()
    for _ in range(40):
        out = crop(IMAGE)
        assert out.shape == (3, h, w) and out.dtype == np.float32
        offsets = crop_offsets(out, IMAGE, pad4)
        assert offsets, "the crop is not a window of the padded image"
        seen.update(offsets)
    H, W = 8 + pad4[1] + pad4[3], 6 + pad4[0] + pad4[2]
    assert all(0 <= i <= H - h and 0 <= j <= W - w for i, j in seen)
    assert len(seen) > 1 or (H, W) == (h, w)


def test_random_crop_batch_uses_per_sample_offsets():
    out = RandomCrop((8, 6), padding=4, rng=1)(BATCH)
    assert out.shape == BATCH.shape and out.dtype == np.float32
    offsets = [crop_offsets(o, x, (4, 4, 4, 4)) for o, x in zip(out, BATCH, strict=True)]
    assert all(offsets)
    assert len({o[0] for o in offsets}) > 10  # many different windows in one batch


def test_random_crop_covers_all_offsets():
    image = np.arange(16, dtype=np.float32).reshape(1, 4, 4) + 1  # (1, 4, 4), no zeros
    out = RandomCrop(2, padding=1, rng=2)(np.broadcast_to(image, (400, 1, 4, 4)))  # (400, 1, 2, 2)
    seen = {crop_offsets(o, image, (1, 1, 1, 1))[0] for o in out}
    assert seen == {(i, j) for i in range(5) for j in range(5)}


@pytest.mark.parametrize("size,padding,x,err,match", [
    (9, 0, IMAGE, ValueError, r"size \(9, 9\) exceeds the padded image \(8, 6\)"),
    (9, 1, BATCH, ValueError, r"size \(9, 9\) exceeds the padded image \(10, 8\)"),
    (4, (1, 2, 3), IMAGE, ValueError, r"padding must be"),
    (4, -1, IMAGE, ValueError, r"padding must be"),
    ((4, 4, 4), 0, IMAGE, ValueError, r"size must be"),
    (4, 0, BATCH[None], ValueError, r"RandomCrop expects an image"),
])
def test_random_crop_errors(size, padding, x, err, match):
    with pytest.raises(err, match=match):
        RandomCrop(size, padding=padding)(x)


# ---- RandomHorizontalFlip ----

def test_flip_probability_one_and_zero():
    np.testing.assert_array_equal(RandomHorizontalFlip(1.0)(IMAGE), IMAGE[:, :, ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(1.0)(BATCH), BATCH[..., ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(0.0)(BATCH), BATCH)
    expected = torch.flip(torch.from_numpy(IMAGE), [2]).numpy()
    np.testing.assert_array_equal(RandomHorizontalFlip(1)(IMAGE), expected)


def test_flip_batch_flips_each_sample_or_not():
    out = RandomHorizontalFlip(rng=3)(BATCH)
    flipped = [np.array_equal(o, x[..., ::-1]) for o, x in zip(out, BATCH, strict=True)]
    kept = [np.array_equal(o, x) for o, x in zip(out, BATCH, strict=True)]
    assert all(f != k for f, k in zip(flipped, kept, strict=True))
    assert 16 < sum(flipped) < 48 and out.dtype == np.float32


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_flip_bad_p(p):
    with pytest.raises(ValueError, match="p must be in"):
        RandomHorizontalFlip(p)


# ---- randomness and Compose ----

def augment():
    """A CIFAR-style pipeline drawing from the library's generator."""
    return Compose([RandomCrop((8, 6), padding=2), RandomHorizontalFlip(), Normalize((0.5,), (0.2,))])


@pytest.mark.parametrize("x", [IMAGE, BATCH], ids=["image", "batch"])
def test_manual_seed_reproducible(x):
    baby.manual_seed(7)
    a = [augment()(x) for _ in range(3)]
    baby.manual_seed(7)
    b = [augment()(x) for _ in range(3)]
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not all(np.array_equal(a[0], u) for u in a[1:])


def test_seed_argument_reproducible_and_advances():
    t1, t2 = RandomCrop(6, padding=3, rng=5), RandomCrop(6, padding=3, rng=5)
    first = [t1(BATCH) for _ in range(2)]
    np.testing.assert_array_equal(first[0], t2(BATCH))
    np.testing.assert_array_equal(first[1], t2(BATCH))
    assert not np.array_equal(first[0], first[1])


def test_generator_argument_and_bad_rng():
    g1, g2 = np.random.default_rng(4), np.random.default_rng(4)
    np.testing.assert_array_equal(RandomHorizontalFlip(rng=g1)(BATCH), RandomHorizontalFlip(rng=g2)(BATCH))
    with pytest.raises(TypeError, match="rng must be None, an int seed or a numpy Generator"):
        RandomCrop(4, rng=0.5)


def test_compose_applies_in_order():
    out = Compose([lambda x: x + 1, lambda x: x * 2])(IMAGE)
    np.testing.assert_allclose(out, (IMAGE + 1) * 2)
    assert "Normalize" in repr(augment())
