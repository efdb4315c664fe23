"""torch.nn.utils.parametrize: a module's tensor computed from others on each access.

`register_parametrization(module, "weight", p)` moves the parameter to
`module.parametrizations.weight.original` (or `original0`, `original1`, ... when `p.right_inverse` splits
it), gives the module a subclass whose `weight` property returns `p(original)`, so state-dict keys and
values are PyTorch's."""

from ... import grad_mode
from ...tensor import Tensor
from ..containers import ModuleDict, ModuleList
from ..module import Parameter


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor (applied in order) and the original tensor(s) they act on."""

    def __init__(self, modules, original, unsafe=False):
        super().__init__(modules)
        self.unsafe = unsafe
        new = original
        with grad_mode.no_grad():
            for m in reversed(modules):
                if hasattr(m, "right_inverse"):
                    new = m.right_inverse(new)
        self.is_tensor = isinstance(new, Tensor)
        if self.is_tensor:
            if isinstance(original, Parameter):
                original._data = new._data.astype(original.dtype, copy=True)  # the same Parameter object
            self.register_parameter(
                "original", original if isinstance(original, Parameter) else Parameter(new)
            )
        else:
            for i, t in enumerate(new):
                self.register_parameter(
                    f"original{i}", Parameter(t.detach().clone(), requires_grad=original.requires_grad)
                )
        self.ntensors = 1 if self.is_tensor else len(new)

    def right_inverse(self, value):
        """Set the original tensor(s) so that the parametrized tensor becomes `value`."""
        with grad_mode.no_grad():
            for m in reversed(list(self)):
                if hasattr(m, "right_inverse"):
                    value = m.right_inverse(value)
            if self.is_tensor:
                self.original.copy_(value)
            else:
                for i, t in enumerate(value):
                    getattr(self, f"original{i}").copy_(t)

    def forward(self):
        """The parametrized tensor from the original(s)."""
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for m in list(self)[1:]:
            x = m(x)
        return x


def _property(name):
    def get(self):
        return self.parametrizations[name]()

    def set(self, value):
        self.parametrizations[name].right_inverse(value)

    return property(get, set, doc=f"The parametrized tensor {name!r}.")


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Compute `module.<tensor_name>` as parametrization(original) from now on; returns the module."""
    if is_parametrized(module, tensor_name):
        module.parametrizations[tensor_name].append(parametrization)
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(
            f"Module '{module}' does not have a parameter, a buffer, or a parametrized element with "
            f"name '{tensor_name}'"
        )
    original = getattr(module, tensor_name)
    if not is_parametrized(module):
        cls = type(module)
        module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {"_unparametrized": cls})
        module.parametrizations = ModuleDict()
    delattr(module, tensor_name)
    module.parametrizations[tensor_name] = ParametrizationList([parametrization], original, unsafe)
    setattr(type(module), tensor_name, _property(tensor_name))
    return module


def is_parametrized(module, tensor_name=None):
    """Whether `module` has parametrizations (on `tensor_name`, when given)."""
    p = module.__dict__.get("_modules", {}).get("parametrizations")
    return p is not None and (tensor_name is None and len(p) > 0 or tensor_name in p._modules)


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undo register_parametrization: the tensor becomes a plain Parameter again (its current parametrized
    value with `leave_parametrized`, else the original)."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    with grad_mode.no_grad():
        value = getattr(module, tensor_name) if leave_parametrized or not plist.is_tensor else plist.original
    delattr(type(module), tensor_name)
    del module.parametrizations._modules[tensor_name]
    object.__delattr__(module.parametrizations, tensor_name)
    module.register_parameter(tensor_name, Parameter(value.detach().clone()))
    if not module.parametrizations._modules:
        del module.parametrizations
        module.__class__ = type(module)._unparametrized
    return module
