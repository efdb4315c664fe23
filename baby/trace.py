"""A tracing mode of the op layer: one Record per primitive op call, for graph-level features (ONNX export).

    with baby.trace.Trace() as t:
        y = model(x)
    t.records  # [Record(op, inputs, attrs, output), ...] in call order

`op` is the Function instance, `inputs` and `output` the Tensors it took and made, `attrs` the op's
attributes as its constructor set them (before forward added any state). An in-place write into a tensor
(`x.add_(y)`, `relu(x, inplace=True)`) records an Assign: `output` is the written tensor, now holding
`inputs[0]`'s values. Only calls from the thread that started the trace are recorded; while no trace is
active, the op layer pays one empty loop per call.
"""

import collections
import threading

from .ops.shape import Clone
from .tensor import _traces

Record = collections.namedtuple("Record", ["op", "inputs", "attrs", "output"])


class Assign(Clone):
    """The pseudo-op of an in-place write: its output (the written tensor) takes its input's values."""


class Trace:
    """A context manager recording every op call of this thread in `records`."""

    def __init__(self):
        self.records, self.thread = [], threading.get_ident()

    def record(self, op, inputs, attrs, output):
        """Called by Function.__call__ for each op while this trace is active."""
        if threading.get_ident() == self.thread:
            self.records.append(Record(op, inputs, attrs, output))

    def assign(self, x, y):
        """Called by an in-place write: `x` now holds the values of `y`."""
        self.record(Assign(), (y,), {}, x)

    def __enter__(self):
        _traces.append(self)
        return self

    def __exit__(self, *exc):
        _traces.remove(self)
