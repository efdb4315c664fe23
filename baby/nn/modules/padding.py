"""torch.nn.modules.padding at PyTorch's path: the classes of baby.nn.layers."""

from ..layers import (  # noqa: F401
    ConstantPad1d,
    ConstantPad2d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReplicationPad1d,
    ReplicationPad2d,
    ZeroPad1d,
    ZeroPad2d,
)
