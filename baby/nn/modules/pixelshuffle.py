"""torch.nn.modules.pixelshuffle at PyTorch's path."""

from ..vision import PixelShuffle, PixelUnshuffle  # noqa: F401
