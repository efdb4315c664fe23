"""PyTorch-layout functions (NCHW inputs, PyTorch argument names); one import line per module."""
# ruff: noqa: F401

from .activation import (
    celu,
    elu,
    gelu,
    glu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    logsigmoid,
    mish,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    tanh,
    tanhshrink,
)
from .attention import scaled_dot_product_attention
from .basic import dropout, flatten, layer_norm, linear
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
from .loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    normalize,
    one_hot,
    smooth_l1_loss,
    soft_margin_loss,
)
from .norm import batch_norm, group_norm, instance_norm, rms_norm
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
