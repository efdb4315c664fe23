"""PyTorch-style convolutions: NCHW tensors and PyTorch weight layouts, ops.conv run with nchw=True.

conv{1,2,3}d take weight (C_out, C_in/groups, *k); conv_transpose{1,2,3}d take weight
(C_in, C_out/groups, *k). Both accept a batch (N, C, *S) or one unbatched sample (C, *S), as PyTorch does.
"""

from ... import ops
from ...ops.conv.geometry import check_channels, check_transpose_channels
from ...tensor import as_tensor


def _inputs(name, nd, x, weight):
    """x as a batch (N, C, *S) (and whether it came unbatched) and weight, after checking their dims."""
    x, weight = as_tensor(x), as_tensor(weight)
    if x.ndim not in (nd + 1, nd + 2) or weight.ndim != nd + 2:
        dims = {1: "L", 2: "H, W", 3: "D, H, W"}[nd]
        raise ValueError(f"{name}: expected input (N, C, {dims}) or (C, {dims}) and a weight with {nd + 2} "
                         f"dims; got input {tuple(x.shape)}, weight {tuple(weight.shape)}")
    return x, weight, x.ndim == nd + 1


def _check_bias(name, bias, cout):
    """bias as a Tensor of shape (cout,), or None."""
    if bias is None:
        return None
    bias = as_tensor(bias)
    if bias.shape != (cout,):
        raise ValueError(f"{name}: bias must have shape ({cout},), one per output channel, got "
                         f"{tuple(bias.shape)}")
    return bias


def _run(fn, x, w, bias, unbatched, nd, **kwargs):
    """fn (ops.conv or ops.conv_transpose) on x (N, C, *S) and PyTorch's weight as one op, plus bias."""
    x = x.reshape(1, *x.shape) if unbatched else x  # (N, C, *S)
    fused = fn is ops.conv and bias is not None and bias.dtype == x.dtype  # the conv op adds it in place
    if fused:
        kwargs["bias"] = bias
    y = fn(x, w, nchw=True, **kwargs)  # (N, C_out, *O)
    y = y if bias is None or fused else y + bias.reshape(-1, *(1,) * nd)  # (N, C_out, *O)
    return y.reshape(y.shape[1:]) if unbatched else y


def _conv(name, nd, x, weight, bias, stride, padding, dilation, groups):
    x, weight, unbatched = _inputs(name, nd, x, weight)
    check_channels(x.shape[-nd - 1], weight.shape[1], weight.shape[0], groups, name, x.shape, weight.shape)
    bias = _check_bias(name, bias, weight.shape[0])
    return _run(ops.conv, x, weight, bias, unbatched, nd, stride=stride, padding=padding, dilation=dilation,
                groups=groups)


def _conv_transpose(name, nd, x, weight, bias, stride, padding, output_padding, groups, dilation):
    x, weight, unbatched = _inputs(name, nd, x, weight)
    check_transpose_channels(x.shape[-nd - 1], weight.shape[0], groups, name, x.shape, weight.shape)
    bias = _check_bias(name, bias, weight.shape[1] * groups)
    return _run(ops.conv_transpose, x, weight, bias, unbatched, nd, stride=stride, padding=padding,
                output_padding=output_padding, groups=groups, dilation=dilation)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution: input (N, C_in, L), weight (C_out, C_in/groups, k) -> (N, C_out, L_out)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution: input (N, C_in, H, W), weight (C_out, C_in/groups, kH, kW) -> (N, C_out, H', W')."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution: input (N, C_in, D, H, W), weight (C_out, C_in/groups, kD, kH, kW)."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1-D transposed convolution: input (N, C_in, L), weight (C_in, C_out/groups, k) -> (N, C_out, L')."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding,
                           groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution: input (N, C_in, H, W), weight (C_in, C_out/groups, kH, kW)."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding,
                           groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """3-D transposed convolution: input (N, C_in, D, H, W), weight (C_in, C_out/groups, kD, kH, kW)."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding,
                           groups, dilation)
