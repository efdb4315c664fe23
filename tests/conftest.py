"""Make the repo root importable when the package is not installed."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def helpers_rng_untouched():
    """Leave helpers.RNG as the test found it, so that a module using this fixture does not shift the random
    inputs that the modules after it draw (some tolerances, e.g. winograd's in float32, are that tight)."""
    import helpers

    state = helpers.RNG.bit_generator.state
    yield
    helpers.RNG.bit_generator.state = state
