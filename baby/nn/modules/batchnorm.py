"""torch.nn.modules.batchnorm at PyTorch's path: the classes of baby.nn.norm."""

from ..norm import (  # noqa: F401
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    _BatchNorm,
)
