"""Anomaly mode: every op records the stack of the forward call that created it, and the first backward
that produces NaN or infinity raises a RuntimeError naming the op and showing that stack."""

import functools
import traceback

from ..backend import xp
from ..tensor import Function, Tensor


def is_anomaly_enabled():
    """Whether anomaly mode is on."""
    return Function.anomaly


def set_detect_anomaly(mode, check_nan=True):
    """Turn anomaly mode on or off (globally, as PyTorch); `check_nan` also checks gradients for NaN/inf."""
    Function.anomaly, Function.anomaly_nan = bool(mode), bool(mode) and bool(check_nan)


class detect_anomaly:
    """A context manager and decorator that turns anomaly mode on inside, then back to what it was."""

    def __init__(self, check_nan=True):
        self.check_nan, self.prev = check_nan, None

    def __enter__(self):
        self.prev = Function.anomaly, Function.anomaly_nan
        set_detect_anomaly(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        Function.anomaly, Function.anomaly_nan = self.prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)

        return wrapped


def check(op, grads):
    """Raise if any of `op`'s backward outputs `grads` (arrays, Tensors or None) holds NaN or infinity."""
    arrays = [g._data if isinstance(g, Tensor) else g for g in grads]
    for what, bad in (("nan", xp.isnan), ("inf", xp.isinf)):  # nan first, as PyTorch checks only nan
        for i, a in enumerate(arrays):
            if a is not None and a.dtype.kind == "f" and bad(a).any():
                raise RuntimeError(f"Function '{op.name()}' returned {what} values in its {i}th output."
                                   f"{created(op)}")


def created(op):
    """Where `op` was created, as the lines of its forward call stack (empty outside anomaly mode)."""
    stack = getattr(op, "stack", None)
    if not stack:
        return ""
    return "\nTraceback of forward call that created it:\n" + "".join(traceback.format_list(stack)).rstrip()
