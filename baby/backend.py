"""The array module the ops compute with: NumPy. baby is NumPy-only; this is where a GPU array module
(CuPy) would have to plug in, and not the only place it would have to reach (see README, "NumPy only")."""

import numpy

xp = numpy
