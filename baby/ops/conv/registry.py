"""The conv algorithms by name, and which one runs: the forced name, else the 'auto' rule table.

An algorithm is a record: its name, `fits(g)` (the geometries it can compute) and three functions on
arrays, `forward(x, w, g, kept)`, `input_grad(gy, w, g)` and `weight_grad(x, gy, g, kept)`; optionally
`keep(x, w, g)`, a workspace the forward fills and the weight gradient reads, and `grad_layout(gy, x)`,
the memory layout (channels-first or not) it wants gy in. Each room registers its own (`register`); the op
asks `choose(g)`.

The choice is made per call. `set_conv_algorithm` (or the `conv_algorithm` context manager) wins; otherwise
the environment variable BABY_CONV, read at each call; otherwise 'auto', whose rule table (`AUTO`) is
justified by `benchmarks/conv.py`:
- 3x3 or 5x5, stride 1, dilation 1, no groups, >= 16 channels in and out, >= 64 outputs (images times
  output pixels, when known) -> 'winograd' F(4x4, 3x3) (a 5x5 kernel as four 3x3 pieces), its input gradient a
                                 Winograd conv too (fewer outputs: its filter transforms cost more than
                                 the GEMM work they save: ResNet-9's 512-channel 4x4 layer at batch 1);
                                 not one image of 64-127 outputs either: Winograd's GEMMs would have 4-7
                                 rows (a tile per 16 outputs), im2col's one per image 64 columns or more
                                 (ResNet-9's 256->512 8x8 layer at batch 1: 12.2 ms forward and backward by
                                 Winograd, 6.7 ms by im2col; its training step 109 -> 101.5 ms);
- 1x1 kernels, no groups      -> 'pointwise': a plain matmul (a strided 1x1 reads a strided slice), no im2col;
- one input channel per group -> 'depthwise': per channel, whole input rows (a strided view of the
                                 padded planes) times each kernel row as a banded matrix, no loop over groups
                                 (a problem of one image's size tap by tap instead);
- 2-D, no groups, <= 16 channels in, out <= 2 * kw * in -> 'rows': the windows gathered along W only,
                                 one GEMM per kernel row (LeNet's 5x5s: a 5x smaller gather than im2col);
- everything else             -> 'im2col': a strided window view and one (grouped) matmul per chunk of
                                 images; the input gradient by col2im, the weight gradient by GEMMs.
A forced algorithm runs wherever it fits; elsewhere the call falls back to 'im2col'. 'book' is never chosen
by 'auto': it is the book's formulation (one window view, one matmul; the gradients as convolutions).

NaN and inf land where PyTorch's direct kernels put them: only in the results whose windows read them.
Winograd's transforms and depthwise's banded matrices mix a tile's values (0 * inf is NaN), so those
algorithms (`mixes=True`) check each chunk's result while it is in cache (`memory.check_finite`: a dot
product, ~1% of the conv) and raise `NonFinite`; the call is then redone by 'im2col', which does not mix.
"""

import contextlib
import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace

from .fast.memory import NonFinite, channels_first


def _unkept(x, w, g):
    return None


@dataclass(frozen=True)
class Algorithm:
    """A conv algorithm: what it fits, and its forward and two gradients on arrays."""

    name: str
    fits: Callable  # (geometry) -> bool
    forward: Callable  # (x, w, geometry, kept) -> y
    input_grad: Callable  # (gy, w, geometry) -> gx
    weight_grad: Callable  # (x, gy, geometry, kept) -> gw
    keep: Callable = _unkept  # (x, w, geometry) -> the buffer the forward keeps for weight_grad, or None
    grad_layout: Callable = lambda gy, x: channels_first(x)  # (gy, x) -> whether gy should be channels-first
    mixes: bool = False  # whether its functions raise NonFinite where a NaN or inf would spread


ALGORITHMS = {}  # name -> Algorithm, in the order they registered
WINOGRAD_MIN_PIXELS = 64  # Winograd's filter transforms outweigh its saved GEMM work below these outputs
AUTO = (  # 'auto': the first algorithm that fits and passes its extra test
    ("winograd", lambda g: min(g.cin, g.cout) >= 16 and not 0 < g.n * math.prod(g.O) < WINOGRAD_MIN_PIXELS
     and not (g.n == 1 and math.prod(g.O) < 2 * WINOGRAD_MIN_PIXELS)),
    ("pointwise", lambda g: True),
    ("depthwise", lambda g: True),
    ("rows", lambda g: g.cin <= 16 and g.cout <= 2 * g.k[-1] * g.cin),
    ("im2col", lambda g: True),
)
FALLBACK = "im2col"  # what a forced algorithm falls back to where it does not fit
_forced = None


def register(algo):
    """Add (or replace) an algorithm under its name; returns it (a mixing one with its functions redone by
    FALLBACK where they raise NonFinite)."""
    if algo.mixes:
        algo = replace(algo, forward=_redone(algo.forward, "forward"),
                       input_grad=_redone(algo.input_grad, "input_grad"),
                       weight_grad=_redone(algo.weight_grad, "weight_grad"))
    ALGORITHMS[algo.name] = algo
    _auto.cache_clear()
    return algo


def _redone(fn, name):
    """fn, redone by FALLBACK's function `name` where it raises NonFinite (a kept buffer the forward partly
    filled is set to NaN, so the weight gradient that reads it is redone too)."""

    @functools.wraps(fn)
    def run(*args):
        try:
            return fn(*args)
        except NonFinite:
            kept = args[3] if name == "forward" and len(args) > 3 else None
            if kept is not None:
                kept.fill(float("nan"))
            return getattr(ALGORITHMS[FALLBACK], name)(*args)

    return run


def names():
    """The names `set_conv_algorithm` accepts: 'auto', the rule table's algorithms, then the others."""
    ruled = [n for n, _ in AUTO if n in ALGORITHMS]
    return ("auto", *ruled, *(n for n in ALGORITHMS if n not in ruled))


def _check(name, source="conv algorithm"):
    if name not in names():
        raise ValueError(f"{source} must be one of {names()}, got {name!r}")
    return name


def set_conv_algorithm(name):
    """Force a conv algorithm ('auto', 'im2col', 'winograd', 'book', ...); None hands the choice back."""
    global _forced
    _forced = None if name is None else _check(name)


@contextlib.contextmanager
def conv_algorithm(name):
    """Force a conv algorithm inside a `with` block."""
    global _forced
    prev, _forced = _forced, _check(name)
    try:
        yield
    finally:
        _forced = prev


def requested():
    """The algorithm asked for now: set_conv_algorithm, else $BABY_CONV, else 'auto'."""
    return _forced if _forced is not None else _check(os.environ.get("BABY_CONV", "auto"), "BABY_CONV")


def choose(g):
    """The algorithm that runs the conv of geometry `g` now."""
    name = requested()
    if name != "auto":
        algo = ALGORITHMS[name]
        return algo if algo.fits(g) else ALGORITHMS[FALLBACK]
    return ALGORITHMS[_auto(g, AUTO)]


@functools.lru_cache(maxsize=512)
def _auto(g, table):
    """The name of the first algorithm of the rule table that fits geometry g (remembered per geometry and
    table; `register` forgets)."""
    return next(n for n, extra in table if ALGORITHMS[n].fits(g) and extra(g))


def forward(x, w, g, kept=None):
    """y = conv(x, w) of geometry `g` on arrays, by the algorithm `choose` picks."""
    return choose(g).forward(x, w, g, kept)
