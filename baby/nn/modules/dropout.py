"""torch.nn.modules.dropout at PyTorch's path: the classes of baby.nn.layers."""

from ..layers import (  # noqa: F401
    Dropout,
    Dropout1d,
    Dropout2d,
    Dropout3d,
)
