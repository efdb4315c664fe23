"""torch.utils.data at PyTorch's path: the same objects as in baby.data."""

from ...data import *  # noqa: F403 (every public name of baby.data, the very same objects)
from ...data import __all__  # noqa: F401
from . import dataloader, dataset, distributed, sampler  # noqa: E402 (PyTorch's submodule paths)
