"""Convolution, as a house with rooms: the book's (`book/`) and the fast ones (`fast/`), one op between them.

    geometry.py  the arguments parsed once into a ConvGeometry (kernel, stride, pads, dilation, groups, sizes)
    op.py        the Conv and ConvTranspose ops: geometry -> registry -> the algorithm's array functions
    registry.py  the algorithms by name, the forced choice and the 'auto' rule table
    book/        loops.py (the loops, kernel-centric), im2col.py (one window view + one matmul, the backward
                 as convolutions): the forced algorithm 'book'
    fast/        memory.py (layouts, pad, windows, chunks, budget, kept buffers, tuning constants),
                 im2col.py, pointwise.py, depthwise.py, winograd.py: the algorithms 'auto' picks from
"""

from .book import im2col as _book  # noqa: F401  (each algorithm module registers itself on import)
from .fast import depthwise as _depthwise  # noqa: F401
from .fast import im2col as _im2col  # noqa: F401
from .fast import pointwise as _pointwise  # noqa: F401
from .fast import rows as _rows  # noqa: F401
from .fast import winograd as _winograd  # noqa: F401
from .fast.memory import set_workspace_budget, workspace_budget
from .geometry import ConvGeometry
from .op import Conv, ConvTranspose, conv, conv_transpose, which_algorithm
from .registry import Algorithm, choose, conv_algorithm, register, set_conv_algorithm

__all__ = [
    "Algorithm", "Conv", "ConvGeometry", "ConvTranspose", "choose", "conv", "conv_algorithm",
    "conv_transpose", "register", "set_conv_algorithm", "set_workspace_budget", "which_algorithm",
    "workspace_budget",
]
