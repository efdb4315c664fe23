"""torch.nn.modules.container at PyTorch's path: the classes of baby.nn.containers."""

from ..containers import (  # noqa: F401
    ModuleDict,
    ModuleList,
    ParameterDict,
    ParameterList,
    Sequential,
)
