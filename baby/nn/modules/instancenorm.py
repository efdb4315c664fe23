"""torch.nn.modules.instancenorm at PyTorch's path: the classes of baby.nn.norm."""

from ..norm import (  # noqa: F401
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
)
