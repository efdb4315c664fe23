"""torch.nn.modules.loss at PyTorch's path: the classes of baby.nn.loss."""

from ..loss import (  # noqa: F401
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    _Loss,
    _WeightedLoss,
)
