"""torch.nn.modules.activation at PyTorch's path: the classes of baby.nn.activation."""

from ..activation import (  # noqa: F401
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmax2d,
    Softplus,
    Softsign,
    Tanh,
    Tanhshrink,
)
from ..vision import PReLU  # noqa: F401
