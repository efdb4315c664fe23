"""torch.nn.modules.distance at PyTorch's path."""

from ..vision import CosineSimilarity, PairwiseDistance  # noqa: F401
