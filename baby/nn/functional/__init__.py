"""PyTorch-layout functions (NCHW inputs, PyTorch argument names); one import line per module."""
# ruff: noqa: F401

from .basic import (
    cross_entropy,
    dropout,
    flatten,
    gelu,
    layer_norm,
    linear,
    log_softmax,
    mse_loss,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from .channel_dropout import alpha_dropout, dropout1d, dropout2d, dropout3d
from .conv import (
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
)
from .embedding import embedding
from .norm import batch_norm, group_norm, instance_norm
from .pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    max_pool1d,
    max_pool2d,
    max_pool3d,
)
from .sampling import interpolate, pad, upsample
