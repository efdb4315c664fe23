"""torch.backends: the accelerator back ends, none of which baby has (it runs on the CPU); their flags are
accepted so that programs setting them run unchanged."""

from ..device import cuda, mps
from . import cudnn

__all__ = ["cuda", "cudnn", "mps"]
