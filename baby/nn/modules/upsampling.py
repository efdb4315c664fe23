"""torch.nn.modules.upsampling at PyTorch's path: the classes of baby.nn.layers."""

from ..layers import (  # noqa: F401
    Upsample,
)
from ..vision import UpsamplingBilinear2d, UpsamplingNearest2d  # noqa: F401
