"""torch.nn.utils.parametrizations: weight_norm and spectral_norm as parametrizations (state-dict keys
`parametrizations.weight.original0` / `original1`, or `.original` with the buffers `.0._u`, `.0._v`)."""

from ... import grad_mode
from .. import functional as F
from ..module import Module
from . import parametrize
from .spectral_norm import as_matrix, default_dim
from .weight_norm import norm_except_dim, weight_from


class _WeightNorm(Module):
    """(g, v) -> g * v / |v|; right_inverse splits a weight into its norm and itself."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_from(weight_g, weight_v, self.dim)

    def right_inverse(self, weight):
        """(|weight| over every dim but dim, weight)."""
        return norm_except_dim(weight, 2, self.dim), weight


class _SpectralNorm(Module):
    """weight -> weight / sigma (power iteration on the buffers _u and _v; 15 rounds at the start)."""

    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        if n_power_iterations <= 0:
            raise ValueError(
                f"Expected n_power_iterations to be positive, but got n_power_iterations={n_power_iterations}"
            )
        self.dim = dim if dim >= 0 else dim + weight.ndim
        self.eps, self.n_power_iterations = eps, n_power_iterations
        if weight.ndim > 1:
            with grad_mode.no_grad():
                W = as_matrix(weight, self.dim)
                h, w = W.shape
                self.register_buffer("_u", F.normalize(W.new_empty(h).normal_(0, 1), dim=0, eps=eps))
                self.register_buffer("_v", F.normalize(W.new_empty(w).normal_(0, 1), dim=0, eps=eps))
                self._power_method(W, 15)

    def _power_method(self, W, n):
        with grad_mode.no_grad():
            for _ in range(n):
                self._u.copy_(F.normalize(W @ self._v, dim=0, eps=self.eps))
                self._v.copy_(F.normalize(W.T @ self._u, dim=0, eps=self.eps))

    def forward(self, weight):
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        W = as_matrix(weight, self.dim)
        if self.training:
            self._power_method(W, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        return weight / (u * (W @ v)).sum()

    def right_inverse(self, value):
        """The weight itself."""
        return value


def weight_norm(module, name="weight", dim=0):
    """Parametrize `module.<name>` as g * v / |v| (original0 = g, original1 = v)."""
    return parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Parametrize `module.<name>` as itself divided by its spectral norm."""
    weight = getattr(module, name, None)
    if weight is None:
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    dim = default_dim(module) if dim is None else dim
    return parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps)
    )
