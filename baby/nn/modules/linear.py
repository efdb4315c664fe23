"""torch.nn.modules.linear at PyTorch's path: the classes of baby.nn.layers."""

from ..layers import (  # noqa: F401
    Identity,
    Linear,
)
from ..vision import Bilinear  # noqa: F401
