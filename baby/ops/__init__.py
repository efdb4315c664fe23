"""The op set: one class per op (forward on arrays, backward -> one gradient per input) + a function.

`methods.py` binds them as Tensor methods and operators. The book's names (summation, negate, multiply,
add_scalar, ...) are aliases of the same functions.
"""

from ..parallel import set_num_threads
from ..tensor import Function
from . import methods
from .conv import conv, conv_algorithm, conv_transpose, set_conv_algorithm, set_workspace_budget
from .elementwise import (
    Cast,
    abs,
    add,
    div,
    eq,
    exp,
    ge,
    gelu,
    gt,
    le,
    log,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    relu,
    sigmoid,
    sqrt,
    sub,
    sum_to,
    tanh,
    where,
)
from .index import (
    argsort,
    gather,
    index_add,
    index_select,
    masked_fill,
    nonzero,
    scatter,
    scatter_add,
    sort,
    topk,
)
from .join import cat, chunk, concat, concatenate, hstack, split, stack, vstack
from .math import (
    allclose,
    ceil,
    clamp,
    cos,
    equal,
    expm1,
    floor,
    floor_divide,
    fmod,
    isclose,
    isfinite,
    isinf,
    isnan,
    log1p,
    log2,
    log10,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    reciprocal,
    remainder,
    round,
    rsqrt,
    sign,
    sin,
    square,
    tan,
    trunc,
)
from .matmul import bmm, einsum, linear, matmul, mm
from .matrix import addmm, baddbmm, diag, diag_embed, diagonal, tril, tril_indices, triu, triu_indices
from .pool import avg_pool, max_pool
from .rearrange import narrow, repeat_interleave, roll
from .reduce import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    cumprod,
    cumsum,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    softmax,
    std,
    sum,
    var,
)
from .shape import (
    broadcast_to,
    clone,
    dilate,
    expand,
    flatten,
    flip,
    getitem,
    pad,
    permute,
    repeat,
    reshape,
    squeeze,
    t,
    transpose,
    undilate,
    unflatten,
    unsqueeze,
)

clip = clamp
summation, negate, multiply, divide, power, logsoftmax = sum, neg, mul, div, pow, log_softmax
add_scalar, mul_scalar, divide_scalar, power_scalar = add, mul, div, pow

methods.bind()
