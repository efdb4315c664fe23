"""PyTorch's Tensor and torch.* surface on baby: every name and keyword form against PyTorch (values, the
gradient of every float input, dtypes), in float32 and float64."""

import numpy as np
import pytest
import torch
from helpers import check

import baby

RNG = np.random.default_rng(7)


def U(*shape, low=-2.0, high=2.0):
    """uniform(low, high) of `shape` in the dtype under test."""
    return lambda dtype: RNG.uniform(low, high, shape).astype(dtype)


def P(*shape):
    """Positive inputs."""
    return U(*shape, low=0.5, high=2.0)


def D(*shape):
    """Distinct values (a shuffled range), so sorts and arg-reductions have no ties."""
    return lambda dtype: (RNG.permutation(int(np.prod(shape))).reshape(shape) * 0.25 - 1).astype(dtype)


IDX = np.array([[0, 2, 1], [1, 0, 0]])


def case(id, ours, theirs=None, *inputs, **kw):
    """One row: the same expression (or two) applied to baby and to torch (module passed as `m`)."""
    return pytest.param(ours, theirs or ours, inputs, kw, id=id)


SURFACE = [
    # ---- reductions with dim / keepdim and their aliases
    case("sum-dim", lambda m, x: x.sum(dim=1), None, (3, 4)),
    case("sum-dim-keepdim", lambda m, x: x.sum(dim=(0, 2), keepdim=True), None, (2, 3, 4)),
    case("sum-axis-alias", lambda m, x: x.sum(axis=1, keepdims=True), lambda m, x: x.sum(1, True), (3, 4)),
    case("m.sum-dim", lambda m, x: m.sum(x, dim=-1), None, (3, 4)),
    case("mean-dim", lambda m, x: x.mean(dim=0, keepdim=True), None, (3, 4)),
    case("m.mean", lambda m, x: m.mean(x, 1), None, (3, 4)),
    case("amax", lambda m, x: x.amax(dim=(0, 1)), None, (2, 3, 4)),
    case("max-all", lambda m, x: m.max(x), None, D(3, 4)),
    case("max-dim-values", lambda m, x: m.max(x, 1).values, None, D(3, 4)),
    case("max-dim-keepdim", lambda m, x: x.max(dim=0, keepdim=True)[0], None, D(3, 4)),
    case("max-dim-ties", lambda m, x: x.max(1).values, None, np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])),
    case("max-elementwise", lambda m, x, y: m.max(x, y), None, (3, 4), (3, 4)),
    case("min-dim", lambda m, x: x.min(dim=-1).values, None, D(2, 5)),
    case("min-elementwise", lambda m, x, y: m.min(x, y), None, (3, 4), (4,)),
    case("prod", lambda m, x: x.prod(), None, P(2, 3)),
    case("prod-dim", lambda m, x: x.prod(dim=1, keepdim=True), None, (3, 4)),
    case("prod-with-zero", lambda m, x: x.prod(0), None, np.array([[0.0, 2.0], [3.0, 0.0], [2.0, 5.0]])),
    case("cumsum", lambda m, x: x.cumsum(dim=1), None, (3, 4)),
    case("m.cumsum", lambda m, x: m.cumsum(x, 0), None, (3, 4)),
    case("var", lambda m, x: x.var(), None, (3, 4)),
    case("var-dim", lambda m, x: x.var(dim=1, keepdim=True), None, (3, 4)),
    case("var-unbiased-false", lambda m, x: x.var(1, unbiased=False), None, (3, 4)),
    case("var-correction-0", lambda m, x: m.var(x, dim=0, correction=0), None, (3, 4)),
    case("std", lambda m, x: x.std(), None, (3, 4)),
    case("std-dim", lambda m, x: x.std(dim=0), None, (3, 4)),
    case("norm", lambda m, x: x.norm(), None, (3, 4)),
    case("norm-p1-dim", lambda m, x: x.norm(p=1, dim=1), None, (3, 4)),
    case("norm-p3", lambda m, x: x.norm(3, dim=0, keepdim=True), None, P(3, 4)),
    case("norm-inf", lambda m, x: x.norm(float("inf"), dim=1), None, D(3, 4)),
    case("logsumexp-dim", lambda m, x: x.logsumexp(dim=1, keepdim=True), None, (3, 4)),
    case("softmax-dim", lambda m, x: m.softmax(x, dim=0), None, (3, 4)),
    case("log_softmax-dim", lambda m, x: x.log_softmax(dim=1), None, (3, 4)),
    case("argmax-flat", lambda m, x: x.argmax(), None, D(3, 4)),
    case("argmax-dim-keepdim", lambda m, x: x.argmax(dim=1, keepdim=True), None, D(3, 4)),
    case("argmin-dim", lambda m, x: m.argmin(x, 0), None, D(3, 4)),
    case("all-any", lambda m, x: m.stack([(x > 0).all(dim=1), (x > 1).any(dim=1)]), None, (3, 4)),
    # ---- shape
    case("size-numel", lambda m, x: x * x.size(0) + x.size(-1) + x.numel() + x.dim(), None, (3, 4)),
    case("view", lambda m, x: x.view(4, -1), None, (2, 3, 2)),
    case("view-tuple", lambda m, x: x.view((-1,)), None, (2, 3)),
    case("view_as", lambda m, x, y: x.view_as(y) * y, None, (2, 6), (3, 4)),
    case("reshape_as", lambda m, x, y: x.reshape_as(y) * y, None, (2, 6), (3, 4)),
    case("unsqueeze", lambda m, x: x.unsqueeze(1), None, (3, 4)),
    case("unsqueeze-neg", lambda m, x: m.unsqueeze(x, -1), None, (3, 4)),
    case("squeeze", lambda m, x: x.squeeze(), None, (3, 1, 4, 1)),
    case("squeeze-dim", lambda m, x: m.squeeze(x, 1), None, (3, 1, 4, 1)),
    case("squeeze-non-1", lambda m, x: x.squeeze(0), None, (3, 1, 4)),
    case("flatten", lambda m, x: x.flatten(1), None, (2, 3, 4)),
    case("m.flatten", lambda m, x: m.flatten(x, 0, 1), None, (2, 3, 4)),
    case("unflatten", lambda m, x: x.unflatten(1, (2, -1)), None, (3, 4)),
    case("expand", lambda m, x: x.expand(2, 3, 4), None, (3, 1)),
    case("expand-minus1", lambda m, x: x.expand(-1, 4), None, (3, 1)),
    case("expand_as", lambda m, x, y: x.expand_as(y) * y, None, (1, 4), (3, 4)),
    case("repeat", lambda m, x: x.repeat(2, 3), None, (2, 3)),
    case("repeat-new-dims", lambda m, x: x.repeat(2, 1, 2), None, (2, 3)),
    case("t", lambda m, x: x.t(), None, (2, 3)),
    case("T", lambda m, x: x.T, None, (2, 3)),
    case("mT", lambda m, x: x.mT, None, (2, 3, 4)),
    case("transpose", lambda m, x: m.transpose(x, 0, 2), None, (2, 3, 4)),
    case("permute", lambda m, x: x.permute(2, 0, 1), None, (2, 3, 4)),
    case("contiguous", lambda m, x: x.t().contiguous(), None, (2, 3)),
    case("clone", lambda m, x: x.clone() * 2, None, (2, 3)),
    case("cat-dim", lambda m, x, y: m.cat([x, y], dim=1), None, (2, 3), (2, 2)),
    case("cat-promotes", lambda m, x: m.cat([x, m.ones(1, 3, dtype=m.int64)]), None, (2, 3)),
    case("concat", lambda m, x, y: m.concat((x, y)), None, (2, 3), (1, 3)),
    case("stack-dim", lambda m, x, y: m.stack([x, y], dim=2), None, (2, 3), (2, 3)),
    case("hstack", lambda m, x, y: m.hstack([x, y]), None, (2, 3), (2, 1)),
    case("vstack", lambda m, x, y: m.vstack([x, y]), None, (3,), (3,)),
    case("split", lambda m, x: m.cat([p * (i + 1) for i, p in enumerate(x.split(2, dim=1))], 1), None,
         (2, 5)),
    case("split-sizes", lambda m, x: m.split(x, [1, 3], 1)[1], None, (2, 4)),
    case("chunk", lambda m, x: m.cat([p * (i + 1) for i, p in enumerate(x.chunk(3))]), None, (7, 2)),
    case("flip-dims", lambda m, x: x.flip(0, 1) if m is torch else x.flip((0, 1)), None, (2, 3)),
    case("m.flip", lambda m, x: m.flip(x, [1]), None, (2, 3)),
    case("iterate", lambda m, x: m.stack([row * i for i, row in enumerate(x)]), None, (3, 2)),
    # ---- elementwise math
    case("sin", lambda m, x: x.sin(), None, (3, 4)),
    case("cos", lambda m, x: m.cos(x), None, (3, 4)),
    case("tan", lambda m, x: x.tan(), None, U(3, 4, low=-1, high=1)),
    case("log1p", lambda m, x: x.log1p(), None, P(3, 4)),
    case("expm1", lambda m, x: m.expm1(x), None, (3, 4)),
    case("log2-log10", lambda m, x: x.log2() + m.log10(x), None, P(3, 4)),
    case("rsqrt", lambda m, x: x.rsqrt(), None, P(3, 4)),
    case("reciprocal", lambda m, x: x.reciprocal(), None, P(3, 4)),
    case("square", lambda m, x: x.square(), None, (3, 4)),
    case("sign", lambda m, x: x.sign() * x, None, (3, 4)),
    case("floor-ceil-round", lambda m, x: x.floor() + x.ceil() + m.round(x) + x.trunc() + x, None, (3, 4)),
    case("pow-method", lambda m, x: x.pow(3), None, (3, 4)),
    case("pow-tensor", lambda m, x, y: m.pow(x, y), None, P(3, 4), (3, 4)),
    case("clamp", lambda m, x: x.clamp(-1, 1), None, (4, 5)),
    case("clamp-min", lambda m, x: m.clamp(x, min=0), None, (4, 5)),
    case("clamp-max", lambda m, x: x.clamp(max=0.5), None, (4, 5)),
    case("clamp-at-bounds", lambda m, x: x.clamp(0, 1), None, np.array([0.0, 1.0, 0.5, -1.0, 2.0])),
    case("clip", lambda m, x: m.clip(x, -0.5, 0.5), None, (4, 5)),
    case("clamp-tensor-bounds", lambda m, x, lo: x.clamp(min=lo), None, (3, 4), (4,)),
    case("add-alpha", lambda m, x, y: x.add(y, alpha=2), None, (3, 4), (3, 4)),
    case("sub-alpha", lambda m, x, y: m.sub(x, y, alpha=0.5), None, (3, 4), (4,)),
    case("mul-div", lambda m, x, y: x.mul(y).div(y.abs() + 1), None, (3, 4), (3, 4)),
    case("div-floor", lambda m, x, y: x.div(y, rounding_mode="floor") + x, None, (3, 4), P(3, 4)),
    case("floordiv-mod", lambda m, x, y: (x // y) + (x % y) * 2, None, (3, 4), P(3, 4), grad=False),
    case("remainder-neg", lambda m, x: m.remainder(x, -1.5), None, (3, 4)),
    case("mm", lambda m, x, y: x.mm(y), None, (3, 4), (4, 2)),
    case("m.mm", lambda m, x, y: m.mm(x, y), None, (3, 4), (4, 2)),
    case("bmm", lambda m, x, y: m.bmm(x, y), None, (2, 3, 4), (2, 4, 5)),
    case("matmul-method", lambda m, x, y: x.matmul(y), None, (2, 3, 4), (4,)),
    case("einsum-matmul", lambda m, x, y: m.einsum("ij,jk->ik", x, y), None, (3, 4), (4, 2)),
    case("einsum-batch", lambda m, x, y: m.einsum("bij,bjk->bik", x, y), None, (2, 3, 4), (2, 4, 5)),
    case("einsum-implicit", lambda m, x, y: m.einsum("ij,jk", x, y), None, (3, 4), (4, 2)),
    case("einsum-sum-only", lambda m, x, y: m.einsum("ij,k->j", x, y), None, (3, 4), (2,)),
    case("einsum-outer-list", lambda m, x, y: m.einsum("i,j->ij", [x, y]), None, (3,), (4,)),
    # ---- indexing with tensors
    case("gather", lambda m, x: x.gather(1, m.tensor(IDX)), None, (2, 3)),
    case("m.gather-repeats", lambda m, x: m.gather(x, 0, m.tensor([[1, 1, 0]])), None, (2, 3)),
    case("scatter_add", lambda m, x, s: x.scatter_add(1, m.tensor(IDX), s), None, (2, 3), (2, 3)),
    case("index_select", lambda m, x: x.index_select(1, m.tensor([2, 0, 2])), None, (2, 3)),
    case("masked_fill", lambda m, x: x.masked_fill(x > 0, -1.0), None, (3, 4)),
    case("masked_fill-bcast", lambda m, x: x.masked_fill(m.tensor([True, False, True, False]), 0), None,
         (3, 4)),
    case("where-scalar", lambda m, x: m.where(x > 0, x, 0.0), None, (3, 4)),
    case("where-method", lambda m, x, y: x.where(x > y, y), None, (3, 4), (3, 4)),
    case("sort", lambda m, x: x.sort(dim=1).values, None, D(3, 4)),
    case("sort-desc", lambda m, x: m.sort(x, 0, descending=True)[0], None, D(3, 4)),
    case("sort-indices", lambda m, x: x.sort(dim=1)[1], None, D(3, 4)),
    case("argsort", lambda m, x: x.argsort(dim=0, descending=True), None, D(3, 4)),
    case("topk", lambda m, x: x.topk(2).values, None, D(3, 4)),
    case("topk-smallest", lambda m, x: m.topk(x, 2, dim=0, largest=False)[0], None, D(3, 4)),
    case("topk-indices", lambda m, x: x.topk(3, dim=1).indices, None, D(3, 4)),
    case("nonzero", lambda m, x: (x > 0).nonzero(), None, (3, 4)),
    case("getitem-bool", lambda m, x: x[x > 0], None, (3, 4)),
    case("getitem-long", lambda m, x: x[m.tensor([2, 0, 2])], None, (3, 4)),
    # ---- comparisons and logic
    case("eq-ne", lambda m, x, y: m.stack([x.eq(y), x.ne(y), x.lt(0.5), x.le(y), x.gt(y), x.ge(0)]), None,
         (3, 4), (3, 4)),
    case("logical", lambda m, x: m.stack([m.logical_and(x > 0, x < 1), (x > 0).logical_or(x < -1),
                                          m.logical_not(x > 0), m.logical_xor(x > 0, x > 1)]), None, (3, 4)),
    case("bool-ops", lambda m, x: ((x > 0) & (x < 1)) | ~(x > -1), None, (3, 4)),
    case("isclose", lambda m, x: m.isclose(x, x + 1e-9), None, (3, 4)),
    # ---- dtypes and conversion
    case("float-double", lambda m, x: x.double() * 2 + x.float(), None, (3, 4)),
    case("to-dtype", lambda m, x: x.to(m.float64) * x, None, (3, 4)),
    case("to-other", lambda m, x, y: x.to(y) + y, None, (3, 4), np.ones((3, 4))),
    case("long", lambda m, x: (x * 3).long(), None, (3, 4)),
    case("int-bool-half", lambda m, x: m.stack([x.int().double(), x.bool().double(), x.half().double()]),
         None, (3, 4)),
    case("type-dtype", lambda m, x: x.type(m.int32), None, (3, 4)),
    case("to-cpu", lambda m, x: x.to("cpu").cpu() * 2, None, (3, 4)),
    case("new_zeros-ones-full",
         lambda m, x: x + x.new_zeros(3, 4) + x.new_ones((3, 4)) + x.new_full((3, 4), 2), None, (3, 4)),
    case("new_tensor", lambda m, x: x * x.new_tensor([1, 2, 3, 4]), None, (3, 4)),
    case("int-tensor-plus-float", lambda m, x: m.tensor([[1, 2, 3, 4]]) + x, None, (3, 4)),
    case("int-true-div", lambda m: m.tensor([1, 2, 3]) / m.tensor([2, 2, 2])),
    case("int-floor-div", lambda m: m.tensor([7, -7, 3]) // m.tensor([2, 2, -2])),
    case("int-mod", lambda m: m.tensor([7, -7, 3]) % 3),
    case("int-sum-prod", lambda m: m.stack([m.tensor([1, 2, 3]).sum(), m.tensor([1, 2, 3]).prod()])),
    case("bool-sum", lambda m: (m.tensor([1.0, -1.0, 2.0]) > 0).sum()),
    case("argmax-dtype", lambda m: m.tensor([[1.0, 3.0], [2.0, 0.0]]).argmax(1)),
    case("int32-plus-int", lambda m: m.tensor([1, 2], dtype=m.int32) + 5),
    case("int32-plus-int64", lambda m: m.tensor([1, 2], dtype=m.int32) + m.tensor([1, 2])),
    case("float32-plus-0d-float64", lambda m: m.ones(3) + m.tensor(2.0, dtype=m.float64)),
    case("float32-plus-float64", lambda m: m.ones(3) + m.ones(3, dtype=m.float64)),
    case("int-plus-0d-float", lambda m: m.tensor([1, 2]) + m.tensor(0.5)),
    case("uint8-plus-int8", lambda m: m.tensor([1, 2], dtype=m.uint8) + m.tensor([1, 2], dtype=m.int8)),
    case("bool-plus-int", lambda m: m.tensor([True, False]) + 1),
    case("int-times-float-scalar", lambda m: m.tensor([1, 2]) * 1.5),
    case("comparison-dtype", lambda m: m.tensor([1, 2]) > 1.5),
]


def _inputs(specs, dtype):
    return [s(dtype) if callable(s) else U(*s)(dtype) if isinstance(s, tuple) else
            (s.astype(dtype) if s.dtype.kind == "f" else s) for s in specs]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("ours, theirs, inputs, kw", SURFACE)
def test_surface(ours, theirs, inputs, kw, dtype):
    arrays = _inputs(inputs, dtype)
    if not arrays:
        y, ty = ours(baby), theirs(torch)
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
        assert y.dtype == np.dtype(str(ty.dtype).replace("torch.", "")), f"{y.dtype} != {ty.dtype}"
        return
    check(lambda *xs: ours(baby, *xs), lambda *xs: theirs(torch, *xs), arrays, **kw)
