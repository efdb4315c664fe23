"""Bad convolution arguments: a ValueError (TypeError for a wrong type) naming the argument and shapes."""

import numpy as np
import pytest

from baby import Tensor, nn, ops
from baby.nn import functional as F


def z(*shape, dtype=np.float32):
    return np.zeros(shape, dtype=dtype)


X, W = z(1, 4, 6, 6), z(6, 2, 3, 3)  # NCHW input, (C_out, C_in/groups, kH, kW) weight for groups=2

CASES = [
    # (id, call, exception, message pattern)
    ("channels", lambda: F.conv2d(X, W), ValueError,
     r"input has 4 channels but the weight expects 2 per group"),
    ("channels-groups", lambda: F.conv2d(X, z(6, 1, 3, 3), groups=2), ValueError,
     r"input has 4 channels.*groups=2 = 2.*\(1, 4, 6, 6\).*\(6, 1, 3, 3\)"),
    ("groups-cin", lambda: F.conv2d(z(1, 3, 6, 6), z(4, 1, 3, 3), groups=2), ValueError,
     r"groups=2 must divide both the input channels \(3\)"),
    ("groups-cout", lambda: F.conv2d(X, z(3, 2, 3, 3), groups=2), ValueError,
     r"groups=2 must divide.*output channels \(3\)"),
    ("groups-0", lambda: F.conv2d(X, W, groups=0), ValueError, r"groups must be >= 1"),
    ("groups-float", lambda: F.conv2d(X, W, groups=2.0), TypeError, r"groups must be an int"),
    ("kernel-too-large", lambda: F.conv2d(z(1, 2, 3, 3), z(1, 2, 5, 5)), ValueError,
     r"kernel \(5, 5\).*spans \(5, 5\), larger than.*\(3, 3\)"),
    ("dilated-kernel-too-large", lambda: F.conv2d(z(1, 2, 4, 4), z(1, 2, 3, 3), dilation=2), ValueError,
     r"dilation \(2, 2\) spans \(5, 5\), larger than"),
    ("input-dims", lambda: F.conv2d(z(1, 4, 6, 6, 6), W, groups=2), ValueError,
     r"conv2d: expected input \(N, C, H, W\) or \(C, H, W\).*\(1, 4, 6, 6, 6\)"),
    ("weight-dims", lambda: F.conv1d(z(1, 4, 6), z(6, 4, 3, 3)), ValueError,
     r"conv1d: expected.*weight with 3 dims"),
    ("ops-dims", lambda: ops.conv(z(4, 6), z(3, 4, 2)), ValueError, r"1-3 spatial dims.*\(4, 6\)"),
    ("ops-weight-dims", lambda: ops.conv(z(1, 6, 6, 4), z(3, 4, 2)), ValueError,
     r"as many dims.*\(3, 4, 2\)"),
    ("padding-length", lambda: F.conv2d(X, W, padding=(1, 2, 3), groups=2), ValueError,
     r"padding=\(1, 2, 3\) needs 2 entries"),
    ("padding-pair-length", lambda: F.conv2d(X, W, padding=((1, 2, 3), 1), groups=2), ValueError,
     r"each per-dim pair must be \(before, after\)"),
    ("padding-negative", lambda: F.conv2d(X, W, padding=-1, groups=2), ValueError,
     r"padding=-1 must be >= 0"),
    ("padding-negative-pair", lambda: F.conv2d(X, W, padding=((0, -1), 0), groups=2), ValueError,
     r"must be >= 0"),
    ("padding-string", lambda: F.conv2d(X, W, padding="full", groups=2), ValueError, r"'same' and 'valid'"),
    ("padding-float", lambda: F.conv2d(X, W, padding=1.5, groups=2), TypeError,
     r"padding must be an int"),
    ("stride-0", lambda: F.conv2d(X, W, stride=0, groups=2), ValueError, r"stride=0 must be >= 1"),
    ("stride-length", lambda: F.conv2d(X, W, stride=(1, 2, 1), groups=2), ValueError,
     r"stride=.* needs 2 values"),
    ("stride-float", lambda: F.conv2d(X, W, stride=1.0, groups=2), TypeError, r"stride must be an int"),
    ("dilation-0", lambda: F.conv2d(X, W, dilation=(1, 0), groups=2), ValueError,
     r"dilation=\(1, 0\) must be >= 1"),
    ("same-strided", lambda: F.conv2d(X, W, padding="same", stride=2, groups=2), ValueError,
     r"padding='same' needs stride 1.*\(2, 2\)"),
    ("bias-size", lambda: F.conv2d(X, W, z(5), groups=2), ValueError,
     r"bias must have shape \(6,\).*\(5,\)"),
    ("dtypes", lambda: ops.conv(z(1, 5, 5, 2), Tensor(z(3, 3, 2, 1), dtype=np.float64)), TypeError,
     r"share a float dtype.*float32 and float64"),
    ("transpose-channels", lambda: F.conv_transpose2d(X, z(3, 2, 3, 3)), ValueError,
     r"conv_transpose2d: input has 4 channels but the weight expects 3"),
    ("transpose-groups", lambda: F.conv_transpose2d(z(1, 3, 4, 4), z(3, 2, 3, 3), groups=2), ValueError,
     r"groups=2 must divide the input channels \(3\)"),
    ("transpose-output-padding",
     lambda: F.conv_transpose2d(X, z(4, 2, 3, 3), stride=2, output_padding=(1, 2)), ValueError,
     r"output_padding=\(1, 2\) must be smaller than the stride \(2, 2\) or the dilation"),
    ("transpose-output-padding-stride1",
     lambda: F.conv_transpose1d(z(1, 2, 4), z(2, 2, 3), output_padding=1), ValueError,
     r"output_padding=\(1,\) must be smaller"),
    ("transpose-same", lambda: F.conv_transpose2d(X, z(4, 2, 3, 3), padding="same"), ValueError,
     r"padding='same' is not supported"),
    ("transpose-empty-output", lambda: F.conv_transpose1d(z(1, 2, 1), z(2, 2, 1), padding=1), ValueError,
     r"output size \(-1,\) is not positive"),
    ("transpose-bias", lambda: F.conv_transpose2d(X, z(4, 3, 3, 3), z(3), groups=2), ValueError,
     r"bias must have shape \(6,\)"),
    ("module-groups", lambda: nn.Conv2d(4, 6, 3, groups=4), ValueError, r"Conv2d: in_channels \(4\) and "
     r"out_channels \(6\) must both be divisible by groups \(4\)"),
    ("module-channels-type", lambda: nn.Conv1d(4.0, 6, 3), TypeError, r"Conv1d: in_channels.*must be ints"),
    ("module-padding-mode", lambda: nn.Conv2d(4, 6, 3, padding_mode="reflect"), ValueError,
     r"padding_mode='reflect' is not supported; only 'zeros'"),
    ("module-transpose-padding-mode", lambda: nn.ConvTranspose2d(4, 6, 3, padding_mode="circular"),
     ValueError, r"padding_mode='circular'"),
    ("module-kernel", lambda: nn.Conv3d(4, 6, (3, 3)), ValueError, r"kernel_size=\(3, 3\) needs 3 values"),
    ("module-same-strided", lambda: nn.Conv2d(4, 6, 3, stride=2, padding="same"), ValueError,
     r"padding='same' needs stride 1"),
    ("module-output-padding", lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, output_padding=2)(X), ValueError,
     r"output_padding=\(2, 2\) must be smaller"),
    ("module-output-size", lambda: nn.ConvTranspose2d(4, 6, 3, stride=2)(X, output_size=(15, 13)),
     ValueError, r"output_size \(15, 13\) is not reachable.*\[\(13, 13\), \(13, 13\) \+ stride \(2, 2\)\)"),
]


@pytest.mark.parametrize("call, exc, match", [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_conv_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("arg, plain, lookalike, error", [
    ("stride", (1, 1), (1, True), TypeError), ("padding", 1, 1.0, TypeError), ("groups", 2, 2.0, TypeError),
    ("dilation", (2, 2), (2, np.int64(2)), None)])  # a NumPy int is an int: the same result
def test_remembered_geometry_is_not_reused_for_lookalike_arguments(arg, plain, lookalike, error):
    """conv2d remembers the checked geometry of plain int arguments; a bool, float or NumPy int that equals
    them (and hashes alike) is still checked."""
    x, w, kw = Tensor(X), Tensor(W), {"groups": 2}
    y = F.conv2d(x, w, **{**kw, arg: plain})  # checked once and remembered
    if error is None:
        np.testing.assert_array_equal(F.conv2d(x, w, **{**kw, arg: lookalike}).numpy(), y.numpy())
        return
    with pytest.raises(error, match=arg):
        F.conv2d(x, w, **{**kw, arg: lookalike})
