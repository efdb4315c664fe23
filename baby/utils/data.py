"""torch.utils.data at PyTorch's path: the same objects as in baby.data."""

import sys

from ..data import *  # noqa: F403 (every public name of baby.data, the very same objects)
from ..data import __all__, distributed  # noqa: F401

sys.modules[__name__ + ".distributed"] = distributed  # torch.utils.data.distributed.DistributedSampler
