"""torch.nn.modules at PyTorch's path: the layer classes of baby.nn, one submodule per PyTorch file
(`from torch.nn.modules.loss import _Loss`, `torch.nn.modules.batchnorm._BatchNorm`, ...)."""
# ruff: noqa: F401, F403

from . import (
    activation,
    batchnorm,
    container,
    conv,
    distance,
    dropout,
    flatten,
    fold,
    instancenorm,
    linear,
    loss,
    module,
    normalization,
    padding,
    pixelshuffle,
    pooling,
    sparse,
    upsampling,
    utils,
)
from .activation import *
from .batchnorm import *
from .container import *
from .conv import *
from .distance import *
from .dropout import *
from .flatten import *
from .fold import *
from .instancenorm import *
from .linear import *
from .loss import *
from .module import *
from .normalization import *
from .padding import *
from .pixelshuffle import *
from .pooling import *
from .sparse import *
from .upsampling import *
