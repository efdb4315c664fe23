"""torch.nn.modules.module at PyTorch's path: Module (and Parameter) of baby.nn.module."""

from ..module import Module, Parameter  # noqa: F401
