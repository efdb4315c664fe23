"""torch.utils's place: `baby.utils.data` is baby.data's loading API under PyTorch's path."""

from . import data
