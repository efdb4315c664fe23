"""L-BFGS with an optional strong-Wolfe line search, as torch.optim.LBFGS: one group, a closure that
re-evaluates the loss, the parameters seen as one flat vector, the last `history_size` curvature pairs."""

import math

from .. import grad_mode
from ..backend import xp
from .optimizer import Optimizer


def _cubic_min(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to `bounds` (default the
    interval); the bounds' midpoint when the cubic has none."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        m = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        m = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(m, lo), hi)


def strong_wolfe(obj, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step t along d satisfying the strong Wolfe conditions (bracketing, then zooming by cubic
    interpolation); returns (f, g, t, evaluations). `obj(t)` gives the loss and flat gradient at x + t d."""
    d_norm = float(xp.abs(d).max())
    f_new, g_new = obj(t)
    evals, gtd_new = 1, float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done, it = False, 0
    while it < max_ls:  # bracket
        if f_new > f + c1 * t * gtd or (it > 1 and f_new >= f_prev):
            bracket, bf, bg, bgtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bf, bg, bgtd, done = [t], [f_new], [g_new], [gtd_new], True
            break
        if gtd_new >= 0:
            bracket, bf, bg, bgtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        t_next = _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, (t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev, t = t, f_new, g_new, gtd_new, t_next
        f_new, g_new = obj(t)
        evals, gtd_new, it = evals + 1, float(g_new @ d), it + 1
    if it == max_ls:
        bracket, bf, bg, bgtd = [0.0, t], [f, f_new], [g, g_new], [gtd, gtd_new]
    insufficient = False
    low, high = (0, 1) if bf[0] <= bf[-1] else (1, 0)
    while not done and it < max_ls:  # zoom
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_min(bracket[0], bf[0], bgtd[0], bracket[1], bf[1], bgtd[1])
        top, bottom = max(bracket), min(bracket)
        eps = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < eps:  # too close to an end: move away unless progress was made
            if insufficient or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = obj(t)
        evals, gtd_new, it = evals + 1, float(g_new @ d), it + 1
        if f_new > f + c1 * t * gtd or f_new >= bf[low]:
            bracket[high], bf[high], bg[high], bgtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if bf[0] <= bf[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bf[high], bg[high], bgtd[high] = bracket[low], bf[low], bg[low], bgtd[low]
            bracket[low], bf[low], bg[low], bgtd[low] = t, f_new, g_new, gtd_new
    return bf[low], bg[low], bracket[low], evals


def _copy(v):
    """A copy of a state entry: arrays and lists of arrays copied, numbers as they are."""
    if isinstance(v, list):
        return [_copy(a) for a in v]
    return v.copy() if isinstance(v, xp.ndarray) else v


class LBFGS(Optimizer):
    """Limited-memory BFGS (minFunc's), with `line_search_fn=None` (a fixed step lr) or 'strong_wolfe'.

    State (of the first parameter): "func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro",
    "H_diag", "prev_flat_grad", "prev_loss", as PyTorch's.
    """

    _flags = ()

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                                      history_size=history_size, line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params_ = self.param_groups[0]["params"]

    def state_dict(self):
        """Hyperparameters and the state, the curvature history's lists copied."""
        sd = super().state_dict()
        for s in sd["state"].values():
            s.update({k: _copy(v) for k, v in s.items()})
        return sd

    def load_state_dict(self, state_dict):
        """Restore what `state_dict()` returned, the curvature history included."""
        saved = state_dict["state"]
        super().load_state_dict({**state_dict, "state": {}})
        params = self._params()
        for i, s in saved.items():
            self.state[params[int(i)]] = {k: _copy(v) for k, v in s.items()}

    def _flat_grad(self):
        return xp.concatenate([xp.zeros(p.numel(), p.dtype) if p.grad is None else p.grad._data.ravel()
                               for p in self._params_])  # (numel,)

    def _add(self, t, d):
        """Every parameter += t * its part of the flat vector d, in place."""
        i = 0
        for p in self._params_:
            n = p.numel()
            p._data += (t * d[i:i + n]).reshape(p.shape).astype(p.dtype)  # (*p.shape)
            i += n

    def _set(self, xs):
        for p, x in zip(self._params_, xs, strict=True):
            p._data[...] = x

    def _evaluate(self, closure):
        with grad_mode.enable_grad():
            return float(closure())

    def step(self, closure):
        """Up to max_iter L-BFGS iterations; `closure` re-evaluates the model and returns the loss; returns
        the loss before the step."""
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history = group["history_size"]
        state = self.state[self._params_[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with grad_mode.enable_grad():
            orig_loss = closure()
        loss, evals = float(orig_loss), 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if xp.abs(g).max() <= tol_grad:
            return orig_loss
        d, t = state.get("d"), state.get("t")
        dirs, stps, ro, H = state.get("old_dirs"), state.get("old_stps"), state.get("ro"), state.get("H_diag")
        prev_g = state.get("prev_flat_grad")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d, dirs, stps, ro, H = -g, [], [], [], 1.0
            else:  # the two-loop recursion: d = -H g with the stored curvature pairs
                y, s = g - prev_g, d * t
                ys = float(y @ s)
                if ys > 1e-10:
                    if len(dirs) == history:
                        dirs.pop(0), stps.pop(0), ro.pop(0)
                    dirs.append(y), stps.append(s), ro.append(1.0 / ys)
                    H = ys / float(y @ y)
                q, al = -g, [0.0] * len(dirs)
                for i in range(len(dirs) - 1, -1, -1):
                    al[i] = float(stps[i] @ q) * ro[i]
                    q = q - al[i] * dirs[i]
                d = q * H
                for i in range(len(dirs)):
                    d = d + (al[i] - float(dirs[i] @ d) * ro[i]) * stps[i]
            prev_g, prev_loss = g.copy(), loss
            t = min(1.0, 1.0 / float(xp.abs(g).sum())) * lr if state["n_iter"] == 1 else lr
            gtd = float(g @ d)
            if gtd > -tol_change:
                break
            if group["line_search_fn"] == "strong_wolfe":
                x0 = [p._data.copy() for p in self._params_]

                def obj(step, x0=x0, d=d):
                    self._add(step, d)
                    f = self._evaluate(closure)
                    grad = self._flat_grad()
                    self._set(x0)
                    return f, grad

                loss, g, t, ls_evals = strong_wolfe(obj, t, d, loss, g, gtd, max_ls=max_eval - evals)
                self._add(t, d)
            else:
                self._add(t, d)
                ls_evals = 0
                if n_iter != max_iter:
                    loss, g, ls_evals = self._evaluate(closure), self._flat_grad(), 1
            evals += ls_evals
            state["func_evals"] += ls_evals
            if (n_iter == max_iter or evals >= max_eval or xp.abs(g).max() <= tol_grad
                    or xp.abs(d * t).max() <= tol_change or abs(loss - prev_loss) < tol_change):
                break
        state.update(d=d, t=t, old_dirs=dirs, old_stps=stps, ro=ro, H_diag=H, prev_flat_grad=prev_g,
                     prev_loss=prev_loss)
        return orig_loss
