"""The array module in use: NumPy now, and the one place where CuPy would plug in."""

import numpy

xp = numpy


def get_array_module(*arrays):
    """The array module that holds `arrays` (always NumPy until a GPU backend lands)."""
    return xp
