"""Sparse COO tensors against PyTorch: construction, coalesce, to_dense / to_sparse, and the sparse @ dense
product with the gradients of the dense operand and of the values."""

import numpy as np
import pytest
import torch

import baby

pytestmark = [pytest.mark.filterwarnings("ignore:Sparse invariant checks"),
              pytest.mark.filterwarnings("ignore:torch.sparse.SparseTensor")]  # PyTorch's own notices

R = np.random.default_rng(0)
IND = np.array([[0, 1, 1, 3, 0, 2], [2, 0, 2, 1, 2, 3]])  # (0, 2) twice: uncoalesced
VAL = R.standard_normal(6)
IND_MASK = np.zeros((4, 5))
IND_MASK[tuple(IND)] = 1


def _both(dtype="float64", size=(4, 5), requires_grad=False):
    b = baby.sparse_coo_tensor(IND, baby.tensor(VAL, dtype=getattr(baby, dtype)), size,
                               requires_grad=requires_grad)
    t = torch.sparse_coo_tensor(torch.tensor(IND), torch.tensor(VAL, dtype=getattr(torch, dtype)),
                                *([size] if size else []), requires_grad=requires_grad)
    return b, t


@pytest.mark.parametrize("size", [(4, 5), None])
def test_construct_coalesce_to_dense(size):
    b, t = _both(size=size)
    assert tuple(b.shape) == tuple(t.shape) and b._nnz() == t._nnz() and not b.is_coalesced()
    np.testing.assert_allclose(b.to_dense().numpy(), t.to_dense().numpy())
    bc, tc = b.coalesce(), t.coalesce()
    np.testing.assert_array_equal(bc.indices().numpy(), tc.indices().numpy())
    np.testing.assert_allclose(bc.values().detach().numpy(), tc.values().numpy())
    assert bc.is_coalesced() and b.is_sparse and not baby.zeros(2).is_sparse
    with pytest.raises(RuntimeError, match="coalesce"):
        b.indices()


def test_to_sparse_round_trip():
    a = R.standard_normal((3, 4)) * (R.random((3, 4)) > 0.5)
    b, t = baby.tensor(a).to_sparse(), torch.tensor(a).to_sparse()
    np.testing.assert_array_equal(b.indices().numpy(), t.indices().numpy())
    np.testing.assert_allclose(b.values().numpy(), t.values().numpy())
    np.testing.assert_allclose(b.to_dense().numpy(), a)
    x = baby.tensor(a, requires_grad=True)
    (x.to_sparse().to_dense() * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (a != 0))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("k", [3, None], ids=["matrix", "vector"])
@pytest.mark.parametrize("fn", ["sparse.mm", "spmm", "matmul", "torch.mm"])
def test_sparse_dense_product_and_gradients(dtype, k, fn):
    b, t = _both(dtype, requires_grad=True)
    shape = (5, k) if k else (5,)
    x = R.standard_normal(shape)
    xb, xt = baby.tensor(x, dtype=getattr(baby, dtype), requires_grad=True), torch.tensor(
        x, dtype=getattr(torch, dtype), requires_grad=True)
    if fn == "sparse.mm":
        yb, yt = baby.sparse.mm(b, xb), torch.sparse.mm(t, xt) if k else torch.mv(t, xt)
    elif fn == "spmm":
        yb, yt = baby.spmm(b, xb), torch.spmm(t, xt) if k else torch.mv(t, xt)
    elif fn == "torch.mm":
        yb, yt = (baby.mm(b, xb), torch.mm(t, xt)) if k else (baby.matmul(b, xb), torch.matmul(t, xt))
    else:
        yb, yt = b @ xb, t @ xt
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(yb.detach().numpy(), yt.detach().numpy(), **tol)
    assert str(yb.dtype) == dtype and tuple(yb.shape) == tuple(yt.shape)
    gy = R.standard_normal(tuple(yt.shape))
    yb.backward(baby.tensor(gy, dtype=getattr(baby, dtype)))
    yt.backward(torch.tensor(gy, dtype=getattr(torch, dtype)))
    np.testing.assert_allclose(xb.grad.numpy(), xt.grad.numpy(), **tol)
    gt = t.grad.to_dense() if t.grad.is_sparse else t.grad * torch.tensor(IND_MASK)  # PyTorch's may be dense
    np.testing.assert_allclose(b.grad.to_dense().numpy(), gt.numpy(), **tol)  # at the stored places


def test_gcn_layer_and_legacy_constructor():
    """pygcn's GraphConvolution: support = x @ W; out = spmm(adj, support); adj from the legacy form."""
    adj = (R.random((6, 6)) < 0.4).astype(np.float32)
    r, c = np.nonzero(adj)
    idx, val = np.vstack((r, c)).astype(np.int64), adj[r, c]
    x, w = R.standard_normal((6, 4)).astype(np.float32), R.standard_normal((4, 3)).astype(np.float32)
    outs = []
    for lib in (baby, torch):
        A = lib.sparse.FloatTensor(lib.from_numpy(idx), lib.from_numpy(val), lib.Size(adj.shape))
        W = lib.tensor(w, requires_grad=True)
        out = lib.spmm(A, lib.mm(lib.tensor(x), W))
        out.relu().sum().backward()
        outs.append((out.detach().numpy(), W.grad.numpy()))
    for a, b in zip(*outs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_errors():
    b, _ = _both()
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        baby.sparse.mm(b, baby.zeros(4, 2, dtype=baby.float64))
    with pytest.raises(RuntimeError, match="dtype"):
        baby.sparse.mm(b, baby.zeros(5, 2))
    with pytest.raises(RuntimeError, match="out of range"):
        baby.sparse_coo_tensor(IND, VAL, (2, 2))
    with pytest.raises(RuntimeError, match="values"):
        baby.sparse_coo_tensor(IND, VAL[:3], (4, 5))


def test_sparse_tensor_methods_as_torch():
    b, t = _both()
    for fb, ft in [(lambda s: s.t(), lambda s: s.t()), (lambda s: s * 2.0, lambda s: s * 2.0),
                   (lambda s: 3.0 * s, lambda s: 3.0 * s), (lambda s: -s, lambda s: -s),
                   (lambda s: s.detach(), lambda s: s.detach()), (lambda s: s.coalesce().to_sparse(),
                                                                  lambda s: s.coalesce().to_sparse())]:
        rb, rt = fb(b), ft(t)
        np.testing.assert_allclose(rb.to_dense().detach().numpy(), rt.to_dense().detach().numpy())
        assert tuple(rb.shape) == tuple(rt.shape)
    for name in ("sparse_dim", "dense_dim", "dim", "_nnz"):
        assert getattr(b, name)() == getattr(t, name)(), name
    np.testing.assert_array_equal(b._indices().numpy(), t._indices().numpy())
    np.testing.assert_allclose(b._values().numpy(), t._values().numpy())
    assert not b.requires_grad and b.requires_grad_().requires_grad and b.grad is None
    L = baby.sparse.LongTensor(baby.tensor([[0, 1]]), baby.tensor([4, 5]), (3,))
    assert L.dtype == baby.int64 and L.to_dense().tolist() == [4, 5, 0]
