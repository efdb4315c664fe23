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
