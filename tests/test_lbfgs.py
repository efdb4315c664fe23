"""optim.LBFGS step for step against torch.optim.LBFGS (fixed step and strong-Wolfe line search)."""

import numpy as np
import pytest
import torch

import baby

R = np.random.default_rng(0)
X, Y = R.standard_normal((32, 3)), R.standard_normal((32, 1))
W1, B1 = R.standard_normal((8, 3)) * 0.5, R.standard_normal(8) * 0.1
W2, B2 = R.standard_normal((1, 8)), np.zeros(1)


def _run(lib, dtype, steps, **kw):
    ps = [lib.tensor(a, dtype=getattr(lib, dtype), requires_grad=True) for a in (W1, B1, W2, B2)]
    x, y = lib.tensor(X, dtype=getattr(lib, dtype)), lib.tensor(Y, dtype=getattr(lib, dtype))
    opt = lib.optim.LBFGS(ps, **kw)

    def closure():
        opt.zero_grad()
        h = lib.tanh(x @ ps[0].T + ps[1])
        loss = ((h @ ps[2].T + ps[3] - y) ** 2).mean()
        loss.backward()
        return loss

    out = []
    for _ in range(steps):
        loss = float(opt.step(closure).detach())
        state = opt.state[ps[0]]
        out.append((loss, [p.detach().numpy().copy() for p in ps], state["func_evals"], state["n_iter"]))
    return out


@pytest.mark.parametrize("kw", [
    dict(),
    dict(lr=0.5, max_iter=5),
    dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", history_size=3, max_iter=10),
    dict(line_search_fn="strong_wolfe", lr=0.1, max_iter=4, max_eval=6),
], ids=["default", "lr-max_iter", "strong_wolfe", "strong_wolfe-history3", "strong_wolfe-max_eval"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lbfgs_step_for_step(kw, dtype):
    """Two steps of up to max_iter iterations each; float32 with fewer iterations (rounding differences
    grow along the iterations of this non-convex fit)."""
    kw = dict(kw, max_iter=min(kw.get("max_iter", 20), 4)) if dtype == "float32" else kw
    tol = dict(rtol=1e-7, atol=1e-9) if dtype == "float64" else dict(rtol=1e-3, atol=1e-4)
    for (lb, pb, eb, nb), (lt, pt, et, nt) in zip(_run(baby, dtype, 2, **kw), _run(torch, dtype, 2, **kw),
                                                  strict=True):
        np.testing.assert_allclose(lb, lt, **tol)
        for a, b in zip(pb, pt, strict=True):
            np.testing.assert_allclose(a, b, **tol)
        assert (eb, nb) == (et, nt)


def test_lbfgs_arguments_and_convergence():
    p = baby.tensor([3.0, -2.0], dtype=baby.float64, requires_grad=True)
    opt = baby.optim.LBFGS([p], line_search_fn="strong_wolfe", max_iter=50)

    def closure():
        opt.zero_grad()
        loss = (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2  # Rosenbrock
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    np.testing.assert_allclose(p.detach().numpy(), [1.0, 1.0], atol=1e-5)
    with pytest.raises(ValueError, match="line_search_fn"):
        baby.optim.LBFGS([p], line_search_fn="backtracking")
    with pytest.raises(ValueError, match="parameter groups"):
        baby.optim.LBFGS([{"params": [p]}, {"params": [baby.zeros(1, requires_grad=True)]}])


def test_lbfgs_state_dict_resumes():
    a = _run(baby, "float64", 3, line_search_fn="strong_wolfe", max_iter=4)
    ps = [baby.tensor(x, dtype=baby.float64, requires_grad=True) for x in (W1, B1, W2, B2)]
    x, y = baby.tensor(X, dtype=baby.float64), baby.tensor(Y, dtype=baby.float64)

    def make(params):
        opt = baby.optim.LBFGS(params, line_search_fn="strong_wolfe", max_iter=4)

        def closure():
            opt.zero_grad()
            h = baby.tanh(x @ params[0].T + params[1])
            loss = ((h @ params[2].T + params[3] - y) ** 2).mean()
            loss.backward()
            return loss

        return opt, closure

    opt, closure = make(ps)
    opt.step(closure)
    sd = opt.state_dict()
    opt.step(closure)  # moves on; the saved state must not change with it
    ps2 = [baby.tensor(p, dtype=baby.float64, requires_grad=True) for p in a[0][1]]
    opt2, closure2 = make(ps2)
    opt2.load_state_dict(sd)
    opt2.step(closure2)
    opt2.step(closure2)
    for p, q in zip(ps2, a[2][1], strict=True):
        np.testing.assert_allclose(p.detach().numpy(), q, rtol=1e-9, atol=1e-12)
