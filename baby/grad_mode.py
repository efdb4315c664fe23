"""Grad modes: whether ops record the graph, and the blocks and decorators that switch it.

The mode is per thread, as PyTorch's: a `no_grad()` block (backward's own included) in one thread leaves
every other thread recording. Ops read `state.enabled` (an attribute of a thread-local object, as cheap as
a module global); a new thread starts with grad enabled.
"""

import functools
import threading


class _State(threading.local):
    """The grad mode of the running thread (each thread's first use runs __init__: grad enabled)."""

    def __init__(self):
        self.enabled = True


state = _State()


def __getattr__(name):
    if name == "enabled":  # `grad_mode.enabled`: the running thread's mode, read only
        return state.enabled
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _GradMode:
    """A context manager and decorator (`@no_grad()` or `@no_grad`) that sets the grad mode inside."""

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        return self(fn) if callable(fn) else self

    def __init__(self, fn=None):
        self.prev = None

    def mode(self, prev):
        """The grad mode inside the block, given the mode outside."""
        return False

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = self.mode(self.prev)
        return self

    def __exit__(self, *exc):
        state.enabled = self.prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with self.fresh():
                return fn(*args, **kwargs)

        return wrapped

    def fresh(self):
        """A new manager of the same kind (one per decorated call, so calls may nest)."""
        return type(self)()


class no_grad(_GradMode):
    """Ops inside record no graph."""


class enable_grad(_GradMode):
    """Ops inside record the graph (also inside a no_grad block)."""

    def mode(self, prev):
        return True


class inference_mode(_GradMode):
    """As no_grad (baby has no separate inference tensors); inference_mode(False) keeps the mode."""

    def __init__(self, mode=True):
        self.enabled = bool(mode)

    def mode(self, prev):
        return prev and not self.enabled

    def fresh(self):
        return inference_mode(self.enabled)


class _Fixed(_GradMode):
    """A block with the grad mode fixed to `enabled`."""

    def __init__(self, enabled):
        self.enabled = enabled

    def mode(self, prev):
        return self.enabled

    def fresh(self):
        return _Fixed(self.enabled)


class set_grad_enabled(_Fixed):
    """Set graph recording on or off: now (a call), for a block (then restored) or a decorated function."""

    def __init__(self, mode):
        self.enabled, self.prev, state.enabled = bool(mode), state.enabled, bool(mode)

    def __enter__(self):
        return self

    def __call__(self, fn):
        self.__exit__()
        return super().__call__(fn)


def is_grad_enabled():
    """Whether ops in this thread currently record the graph."""
    return state.enabled
