"""The one seeded generator behind everything random in baby (init, dropout, shuffling, transforms)."""

import json

import numpy as np

_rng = np.random.default_rng()


def manual_seed(seed):
    """Seed every random draw in the library."""
    global _rng
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    _rng = np.random.default_rng(int(seed))


def generator():
    """The library's generator (a numpy.random.Generator)."""
    return _rng


def fill_uniform(a, low=0.0, high=1.0):
    """Fill array `a` in place with U(low, high) draws made in its own float dtype (no float64 copy of it)."""
    _fill(a, lambda g, out: g.random(dtype=out.dtype, out=out), high - low, low)


def fill_normal(a, mean=0.0, std=1.0):
    """Fill array `a` in place with N(mean, std**2) draws made in its own float dtype."""
    _fill(a, lambda g, out: g.standard_normal(dtype=out.dtype, out=out), std, mean)


def _fill(a, draw, scale, shift, chunk=1 << 16):
    """draw(generator, out) into `a` (float32/float64, contiguous) or else through a small buffer, then
    a * scale + shift, in place."""
    if a.dtype in (np.float32, np.float64) and a.flags.c_contiguous and a.flags.writeable:
        flat = a.reshape(-1)  # a view: the draws land in a's memory
        draw(_rng, flat)
        flat *= scale
        flat += shift
        return
    buf = np.empty(min(a.size, chunk), np.float64 if a.dtype == np.float64 else np.float32)
    for lo in range(0, a.size, chunk):
        part = buf[:min(chunk, a.size - lo)]
        draw(_rng, part)
        part *= scale
        part += shift
        a.flat[lo:lo + part.size] = part


def get_rng_state():
    """The generator's state as a JSON string (storable without pickle)."""
    return json.dumps(_rng.bit_generator.state)


def set_rng_state(state):
    """Restore a state returned by `get_rng_state`."""
    _rng.bit_generator.state = json.loads(state)


def seed():
    """Seed the generator from the operating system's entropy; returns the seed used."""
    s = int(np.random.SeedSequence().entropy % (1 << 63))
    manual_seed(s)
    return s


class Generator:
    """torch.Generator: a seedable source of draws for samplers, random_split and DataLoader shuffling.

    Like torch's, a new Generator starts from one fixed seed (`initial_seed()` is 67280421310721), so its
    draws are reproducible until `seed()` is called; the draws themselves are NumPy's, not PyTorch's.
    """

    default_seed = 67280421310721

    def __init__(self, device="cpu"):
        self.device = device
        self.manual_seed(self.default_seed)

    def manual_seed(self, seed):
        """Restart the stream from `seed`; returns self, as torch's does."""
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"Generator.manual_seed: seed must be an int, got {type(seed).__name__}")
        self._seed, self._rng = int(seed), np.random.default_rng(int(seed) % (1 << 64))
        return self

    def seed(self):
        """Reseed from the operating system's entropy; returns the new seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy % (1 << 63)))
        return self._seed

    def initial_seed(self):
        """The seed the stream last started from."""
        return self._seed

    def get_state(self):
        """The state as a JSON string (storable without pickle)."""
        return json.dumps(self._rng.bit_generator.state)

    def set_state(self, state):
        """Restore a state returned by `get_state`."""
        self._rng.bit_generator.state = json.loads(state)


def numpy_generator(generator=None):
    """The NumPy generator behind a baby.Generator, or the library's own one when `generator` is None."""
    if generator is None:
        return _rng
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a baby.Generator or None, got {type(generator).__name__}")
    return generator._rng
