"""torch.nn.modules.normalization at PyTorch's path: the classes of baby.nn.norm."""

from ..norm import (  # noqa: F401
    GroupNorm,
    LayerNorm,
)
