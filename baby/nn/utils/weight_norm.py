"""torch.nn.utils.weight_norm (the hook form): weight = g * v / |v|, with g and v the parameters
`weight_g` and `weight_v` (the norm over every dim but `dim`)."""

from ...tensor import Tensor
from ..module import Parameter


def norm_except_dim(v, pow=2, dim=0):
    """The `pow`-norm of v over every dim but `dim`, kept as size-1 dims (over all dims for dim=-1)."""
    if dim == -1:
        return (v.abs() ** pow).sum() ** (1 / pow)
    dims = [d for d in range(v.ndim) if d != dim]
    return (v.abs() ** pow).sum(dims, keepdim=True) ** (1 / pow)


def weight_from(g, v, dim):
    """g * v / |v| (the norm over every dim but `dim`)."""
    return v * (g / norm_except_dim(v, 2, dim))


class WeightNorm:
    """The forward pre-hook that recomputes the weight from its g and v before each call."""

    def __init__(self, name, dim):
        self.name, self.dim = name, dim

    def compute_weight(self, module):
        """g * v / |v| from the module's parameters."""
        return weight_from(getattr(module, self.name + "_g"), getattr(module, self.name + "_v"), self.dim)

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """Split `module.<name>` into a magnitude `<name>_g` and a direction `<name>_v` (hook form)."""
    dim = -1 if dim is None else dim
    weight = module._parameters.get(name)
    if not isinstance(weight, Tensor):
        raise ValueError(f"weight_norm: module {type(module).__name__} has no parameter {name!r}")
    fn = WeightNorm(name, dim)
    del module._parameters[name]
    module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, 2, dim).detach()))
    module.register_parameter(name + "_v", Parameter(weight.detach()))
    setattr(module, name, fn.compute_weight(module))
    module.register_forward_pre_hook(fn)
    return module


def remove_weight_norm(module, name="weight"):
    """Fold g and v back into one parameter `<name>`."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, WeightNorm) and hook.name == name:
            weight = hook.compute_weight(module)
            delattr(module, name)
            del module._parameters[name + "_g"], module._parameters[name + "_v"]
            module.register_parameter(name, Parameter(weight.detach()))
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
