"""torch.nn.utils.spectral_norm (the hook form): weight = weight_orig / sigma, sigma the largest singular
value of weight_orig as a matrix (dim first), estimated by power iteration on the buffers weight_u,
weight_v (one more round per training forward)."""

from ... import grad_mode
from ...tensor import Tensor
from .. import functional as F
from ..module import Parameter


def as_matrix(w, dim):
    """w with `dim` moved first, flattened to (w.shape[dim], -1)."""
    if dim != 0:
        w = w.permute(dim, *(d for d in range(w.ndim) if d != dim))  # (w.shape[dim], ...)
    return w.reshape(w.shape[0], -1)  # (h, rest)


def default_dim(module):
    """1 for transposed convolutions (their output channels), else 0."""
    return 1 if "ConvTranspose" in type(module).__name__ else 0


class SpectralNorm:
    """The forward pre-hook: power iteration (in training) and weight_orig / sigma."""

    def __init__(self, name, n_power_iterations, dim, eps):
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def compute_weight(self, module, do_power_iteration):
        """weight_orig / (u . W v), after `n_power_iterations` rounds on u and v when asked."""
        w = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        W = as_matrix(w, self.dim)
        if do_power_iteration:
            with grad_mode.no_grad():
                for _ in range(self.n_power_iterations):
                    v.copy_(F.normalize(W.T @ u, dim=0, eps=self.eps))
                    u.copy_(F.normalize(W @ v, dim=0, eps=self.eps))
            u, v = u.clone(), v.clone()
        return w / (u * (W @ v)).sum()

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide `module.<name>` by its spectral norm on each forward (hook form)."""
    weight = module._parameters.get(name)
    if not isinstance(weight, Tensor):
        raise ValueError(f"spectral_norm: module {type(module).__name__} has no parameter {name!r}")
    if n_power_iterations <= 0:
        raise ValueError(f"Expected n_power_iterations to be positive, but got n_power_iterations="
                         f"{n_power_iterations}")
    dim = default_dim(module) if dim is None else dim
    fn = SpectralNorm(name, n_power_iterations, dim, eps)
    with grad_mode.no_grad():
        h, w = as_matrix(weight, dim).shape
        u = F.normalize(weight.new_empty(h).normal_(0, 1), dim=0, eps=eps)
        v = F.normalize(weight.new_empty(w).normal_(0, 1), dim=0, eps=eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    setattr(module, name, weight.detach())
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module.register_forward_pre_hook(fn)
    return module


def remove_spectral_norm(module, name="weight"):
    """Back to one plain parameter `<name>` (its current normalised value)."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            weight = hook.compute_weight(module, do_power_iteration=False)
            delattr(module, name)
            del module._parameters[name + "_orig"], module._buffers[name + "_u"], module._buffers[name + "_v"]
            module.register_parameter(name, Parameter(weight.detach()))
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")
