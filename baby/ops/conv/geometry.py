"""The geometry of a convolution, parsed and checked once: kernel, stride, pads, dilation, groups, sizes.

Shapes: x (N, *S, Cin) with 1-3 spatial dims S, weight w (*k, Cin/G, Cout) for G groups, output
(N, *O, Cout) with O = (S + P_before + P_after - D * (k - 1) - 1) // stride + 1 per spatial dim.
"""

import functools
import numbers
from dataclasses import dataclass


def is_int(v):
    """Whether v is an integer (a Python or NumPy int) and not a bool."""
    return type(v) is int or (isinstance(v, numbers.Integral) and not isinstance(v, bool))  # fast path first


def plain(v):
    """Whether v is a plain argument: an int, None, a str, or a tuple of them (nested): what a cache may key
    on (a bool, a float or a NumPy int hashes equal to an int yet must be checked anew)."""
    return type(v) in (int, str) or v is None or type(v) is tuple and all(map(plain, v))


def per_dim(v, n, name, low):
    """`v` (an int or one int per spatial dim) as an n-tuple of ints, each >= `low`."""
    seq = (v,) * n if is_int(v) else v
    if not isinstance(seq, (tuple, list)) or not all(is_int(i) for i in seq):
        raise TypeError(f"{name} must be an int or a tuple of {n} ints, got {v!r}")
    if len(seq) != n:
        raise ValueError(f"{name}={v!r} needs {n} values (one per spatial dim), got {len(seq)}")
    if any(i < low for i in seq):
        raise ValueError(f"{name}={v!r} must be >= {low} in every dim")
    return tuple(int(i) for i in seq)


def _pad_pairs(padding, n):
    """`padding` (an int, one int per dim, or (before, after) per dim) as n (before, after) pairs."""
    seq = (padding,) * n if is_int(padding) else padding
    if not isinstance(seq, (tuple, list)):
        raise TypeError(f"padding must be an int, a tuple of {n} ints or (before, after) pairs, "
                        f"'same' or 'valid', got {padding!r}")
    if len(seq) != n:
        raise ValueError(f"padding={padding!r} needs {n} entries (one per spatial dim), got {len(seq)}; "
                         "for (before, after) pairs nest them: ((before, after), ...)")
    pairs = tuple((p, p) if is_int(p) else tuple(p) if isinstance(p, (tuple, list)) else None for p in seq)
    if any(p is None or not all(is_int(i) for i in p) for p in pairs):
        raise TypeError(f"padding entries must be ints or (before, after) pairs of ints, got {padding!r}")
    if any(len(p) != 2 for p in pairs):
        raise ValueError(f"padding={padding!r}: each per-dim pair must be (before, after)")
    if any(i < 0 for p in pairs for i in p):
        raise ValueError(f"padding={padding!r} must be >= 0")
    return tuple((int(b), int(a)) for b, a in pairs)


def conv_args(k, stride=1, padding=0, dilation=1):
    """Resolve stride, padding, dilation for kernel size `k` into per-dim (stride, pads, dilation) tuples.

    pads is one (before, after) pair per spatial dim; 'same' pads d * (k - 1) in total, the odd one after.
    """
    n = len(k)
    stride, dilation = per_dim(stride, n, "stride", 1), per_dim(dilation, n, "dilation", 1)
    if not isinstance(padding, str):
        return stride, _pad_pairs(padding, n), dilation
    if padding not in ("same", "valid"):
        raise ValueError(f"padding={padding!r}: the string forms are 'same' and 'valid'")
    if padding == "same" and stride != (1,) * n:
        raise ValueError(f"padding='same' needs stride 1 in every dim, got stride={stride}")
    total = [d * (kk - 1) if padding == "same" else 0 for kk, d in zip(k, dilation, strict=True)]
    return stride, tuple((t // 2, t - t // 2) for t in total), dilation


def check_groups(groups, name):
    """Raise unless groups is an int >= 1."""
    if not is_int(groups):
        raise TypeError(f"{name}: groups must be an int, got {groups!r}")
    if groups < 1:
        raise ValueError(f"{name}: groups must be >= 1, got {groups}")


def check_channels(cin, w_cin, cout, groups, name, x_shape, w_shape):
    """Raise unless `cin` input channels fit a conv weight of `w_cin` per group and `cout` outputs."""
    x_shape, w_shape = tuple(x_shape), tuple(w_shape)
    check_groups(groups, name)
    if cin % groups or cout % groups:
        raise ValueError(f"{name}: groups={groups} must divide both the input channels ({cin}) and the "
                         f"output channels ({cout}); input shape {x_shape}, weight shape {w_shape}")
    if w_cin * groups != cin:
        raise ValueError(f"{name}: input has {cin} channels but the weight expects {w_cin} per group x "
                         f"groups={groups} = {w_cin * groups}; input shape {x_shape}, weight shape {w_shape}")


def check_transpose_channels(cin, w_cin, groups, name, x_shape, w_shape):
    """Raise unless `cin` input channels equal the transposed-conv weight's `w_cin`, divisible by groups."""
    x_shape, w_shape = tuple(x_shape), tuple(w_shape)
    check_groups(groups, name)
    if cin != w_cin:
        raise ValueError(f"{name}: input has {cin} channels but the weight expects {w_cin}; "
                         f"input shape {x_shape}, weight shape {w_shape}")
    if cin % groups:
        raise ValueError(f"{name}: groups={groups} must divide the input channels ({cin}); "
                         f"input shape {x_shape}, weight shape {w_shape}")


def check_arrays(x, w, name):
    """Raise unless x is (N, *S, C) with 1-3 spatial dims and w has as many dims, in the same float dtype."""
    if not 3 <= x.ndim <= 5 or w.ndim != x.ndim:
        raise ValueError(f"{name}: input must be (N, *spatial, C) with 1-3 spatial dims and the weight "
                         f"(*k, C_in, C_out) with as many dims; got input {tuple(x.shape)}, "
                         f"weight {tuple(w.shape)}")
    if x.dtype != w.dtype or x.dtype.kind != "f":
        raise TypeError(f"{name}: input and weight must share a float dtype, got {x.dtype} and {w.dtype}")


def out_size(S, k, stride, pads, dilation):
    """The spatial output size of a conv over S: (S + P_before + P_after - d * (k - 1) - 1) // stride + 1."""
    return tuple((n + b + a - d * (kk - 1) - 1) // s + 1
                 for n, kk, s, (b, a), d in zip(S, k, stride, pads, dilation, strict=True))


def transpose_out_size(S, k, stride, pads, dilation, output_padding):
    """The spatial output size of a transposed conv: (S - 1) * stride - P + d * (k - 1) + out_pad + 1."""
    return tuple((n - 1) * s - b - a + d * (kk - 1) + op + 1
                 for n, kk, s, (b, a), d, op in zip(S, k, stride, pads, dilation, output_padding,
                                                    strict=True))


@dataclass(frozen=True)
class ConvGeometry:
    """One convolution x (N, *S, cin) by w (*k, cin/groups, cout): every size an algorithm needs."""

    k: tuple  # kernel size per spatial dim
    stride: tuple
    pads: tuple  # (before, after) per spatial dim; a negative `after` crops
    dilation: tuple
    groups: int
    S: tuple  # input spatial size
    cin: int
    cout: int
    n: int = 0  # images in the batch (0: not known), which the choice of algorithm may weigh

    @classmethod
    def of(cls, S, w_shape, stride, pads, dilation, groups, n=0):
        """The geometry of a conv of n images of spatial size S by a weight of shape (*k, Cin/G, Cout)."""
        *k, cg, cout = w_shape
        return cls(tuple(k), stride, pads, dilation, groups, tuple(S), cg * groups, cout, n)

    @property
    def nd(self):
        """The number of spatial dims."""
        return len(self.k)

    @functools.cached_property
    def O(self):  # noqa: E743 (the output size's name in every shape comment)
        """The spatial output size (computed once per geometry)."""
        return out_size(self.S, self.k, self.stride, self.pads, self.dilation)

    @property
    def symmetric(self):
        """Whether every spatial dim is padded alike before and after."""
        return all(b == a for b, a in self.pads)

    def fit(self, O):
        """`pads` with `after` set so a conv over S gives exactly O: rows no window reaches are cropped."""
        return tuple((b, (o - 1) * s + d * (kk - 1) + 1 - n - b)
                     for (b, _), n, o, kk, s, d in zip(self.pads, self.S, O, self.k, self.stride,
                                                       self.dilation, strict=True))
