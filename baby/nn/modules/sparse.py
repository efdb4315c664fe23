"""torch.nn.modules.sparse at PyTorch's path: the classes of baby.nn.layers."""

from ..layers import (  # noqa: F401
    Embedding,
)
