"""torch.nn.modules.flatten at PyTorch's path: the classes of baby.nn.layers."""

from ..layers import (  # noqa: F401
    Flatten,
    Unflatten,
)
