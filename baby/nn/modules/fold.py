"""torch.nn.modules.fold at PyTorch's path."""

from ..vision import Fold, Unfold  # noqa: F401
