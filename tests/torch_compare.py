"""Module-against-PyTorch comparisons with copied weights (outputs and the gradients of the inputs and every
parameter, float64 tight, float32 within 10x PyTorch's own float32 error), shared by the attention and
Transformer tests."""

import numpy as np
import torch

import baby

RNG = np.random.default_rng(3)


def close(ours, t32, t64, what):
    """float64: ours within 1e-10 of torch's; float32: within 10x torch's own float32 error (and a floor)."""
    ours, t64 = np.asarray(ours, np.float64), np.asarray(t64, np.float64)
    if t32 is None:
        np.testing.assert_allclose(ours, t64, atol=1e-10 * (1 + np.abs(t64).max()), rtol=0, err_msg=what)
        return
    err = np.nanmax(np.abs(np.asarray(t32, np.float64) - t64)) if t64.size else 0
    tol = 10 * err + 1e-6 * (1 + np.nanmax(np.abs(t64), initial=0))
    np.testing.assert_allclose(ours, t64, atol=tol, rtol=0, err_msg=what)


def lib_tensors(m, arrays, dtype, grad):
    """Tensors of library `m` from arrays: floats in `dtype` (requiring grad if `grad`), others as given."""
    out = []
    for a in arrays:
        if a is None or a.dtype.kind != "f":
            out.append(None if a is None else m.tensor(a))
        else:
            out.append(m.tensor(a.astype(dtype), requires_grad=grad))
    return out


def run(m, module, call, arrays, dtype, rs):
    """call(m, module, *tensors) -> outputs; backward of sum(out * r); the outputs and every gradient."""
    ts = lib_tensors(m, arrays, dtype, grad=True)
    outs = [o for o in call(m, module, *ts) if o is not None]
    loss = sum((o * m.tensor(r.astype(dtype))).sum() for o, r in zip(outs, rs, strict=False))
    loss.backward()
    grads = {f"input{i}": t.grad for i, t in enumerate(ts) if t is not None and t.requires_grad}
    if module is not None:
        grads.update({n: p.grad for n, p in module.named_parameters()})
    to_np = lambda t: None if t is None else t.detach().numpy() if hasattr(t, "detach") else t.numpy()  # noqa: E731
    return [to_np(o) for o in outs], {k: to_np(g) for k, g in grads.items()}


def compare(make_torch, make_ours, call, arrays):
    """Run torch in float64 and float32 and baby in both, all with the same weights; compare everything."""
    torch.manual_seed(0)
    t64 = make_torch().double() if make_torch else None
    with torch.no_grad():
        probe = call(torch, t64, *lib_tensors(torch, arrays, np.float64, grad=False))
    rs = [RNG.standard_normal(tuple(o.shape)) for o in probe if o is not None]
    ref = run(torch, t64, call, arrays, np.float64, rs)
    for dtype in (np.float64, np.float32):
        theirs, ours = None, None
        if make_torch:
            theirs = make_torch().to(torch.float32 if dtype == np.float32 else torch.float64)
            theirs.load_state_dict(t64.state_dict())
            ours = make_ours(dtype)
            ours.load_state_dict(t64.state_dict())
            assert list(ours.state_dict()) == list(t64.state_dict())
        t32 = run(torch, theirs, call, arrays, dtype, rs) if dtype == np.float32 else None
        got = run(baby, ours, call, arrays, dtype, rs)
        for i, (o, r) in enumerate(zip(got[0], ref[0], strict=True)):
            assert o.dtype == dtype, f"output {i} dtype {o.dtype}"
            close(o, t32 and t32[0][i], r, f"output {i} ({dtype.__name__})")
        assert set(got[1]) == set(ref[1])
        for k, g in ref[1].items():
            assert (got[1][k] is None) == (g is None), f"gradient of {k}"
            if g is not None:
                close(got[1][k], t32 and t32[1][k], g, f"gradient of {k} ({dtype.__name__})")


def A(*shape):
    return RNG.standard_normal(shape)


def padding(N, S, lengths):
    """A bool key_padding_mask (N, S): True after each sequence's length."""
    return np.arange(S)[None, :] >= np.asarray(lengths)[:, None]
