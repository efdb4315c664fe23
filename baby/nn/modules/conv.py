"""torch.nn.modules.conv at PyTorch's path: the classes of baby.nn.conv."""

from ..conv import (  # noqa: F401
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
    _ConvNd,
)
