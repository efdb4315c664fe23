"""Module (a tree of layers holding Parameters and buffers) and Parameter, with PyTorch semantics.

Assigning a Parameter or a Module to an attribute registers it; `register_buffer` adds non-trained state
(e.g. BatchNorm running statistics). `state_dict()` returns a dict of dotted name -> detached Tensor sharing
the module's memory (as PyTorch): parameters and persistent buffers, module by module in registration order,
so a PyTorch state dict's keys match. `load_state_dict` copies values in place, keeping each parameter's and
buffer's dtype. Forward hooks and pre-hooks run around `forward`, as PyTorch's.
`save(path)` / `load(path)` (the book's names) write and read the state dict through baby.io.
"""

from collections import namedtuple

from .. import dtypes
from ..backend import xp
from ..ops.methods import to_args
from ..tensor import Tensor

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class StateDictError(RuntimeError, KeyError, ValueError):
    """load_state_dict found missing, unexpected or mis-shaped entries (a RuntimeError, as PyTorch raises)."""

    def __str__(self):
        return RuntimeError.__str__(self)


class RemovableHandle:
    """What register_*_hook returns: `remove()` takes the hook out again."""

    def __init__(self, hooks, key):
        self.hooks, self.key = hooks, key

    def remove(self):
        """Unregister the hook."""
        self.hooks.pop(self.key, None)


class ParameterIterator(list):
    """Parameters as a list that is also its own iterator: PyTorch code calls next() on it, the book len()."""

    def __next__(self):
        if "_it" not in self.__dict__:
            self._it = iter(list(self))
        return next(self._it)


class Parameter(Tensor):
    """A Tensor a Module registers as trainable: requires_grad=True; shares a float Tensor's memory and
    dtype (as PyTorch), other data becomes the default float."""

    def __init__(self, data=None, requires_grad=True, dtype=None):
        if data is None:
            data = xp.empty(0, dtypes.get_default_dtype())
        if dtype is None and isinstance(data, Tensor) and data.dtype.kind == "f":
            super().__init__([], requires_grad=False)
            self._data, self._vc = data._data, data._vc
            self.requires_grad_(requires_grad)
            return
        super().__init__(data, dtype=dtypes.get_default_dtype() if dtype is None else dtype,
                         requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def _as_array(value):
    """A state-dict value (our Tensor, a NumPy array, or anything with `detach` like a torch tensor)."""
    if isinstance(value, Tensor):
        return value._data
    if hasattr(value, "detach"):
        return xp.asarray(value.detach().cpu().numpy())
    return xp.asarray(value)


def _indent(text, n):
    """Indent every line but the first by `n` spaces."""
    return text.replace("\n", "\n" + " " * n)


class Module:
    """Base class of layers: holds Parameters, buffers and child Modules; call it to run `forward`."""

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_forward_hooks", {})
        object.__setattr__(self, "_forward_pre_hooks", {})
        self.training = True

    # ---- registration ----------------------------------------------------------------------------
    def __setattr__(self, name, value):
        registry = self.__dict__.get("_parameters")
        if registry is None and isinstance(value, (Parameter, Module)):
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning {name!r}")
        if isinstance(value, Parameter):
            self._forget(name, keep=self._parameters)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._forget(name, keep=self._modules)
            self._modules[name] = value
        elif registry is not None and (name in self._parameters or name in self._modules):
            if value is not None:
                kind = "parameter" if name in self._parameters else "module"
                raise TypeError(f"cannot assign {type(value).__name__} to {kind} {name!r} "
                                f"(a {'Parameter' if kind == 'parameter' else 'Module'} or None expected)")
            (self._parameters if name in self._parameters else self._modules)[name] = None
        elif registry is not None and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} to buffer {name!r} "
                                "(a Tensor or None expected)")
            self._buffers[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._forget(name)
        object.__delattr__(self, name)

    def _forget(self, name, keep=None):
        """Drop `name` from every registry but `keep` (so re-assigning keeps its place in the order)."""
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        if keep is not self._buffers:
            self._non_persistent.discard(name)

    def register_parameter(self, name, param):
        """Register `param` (a Parameter, or None for an absent one) under `name`."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter({name!r}): expected a Parameter or None, "
                            f"got {type(param).__name__}")
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name, tensor, persistent=True):
        """Register non-trained state (a Tensor, or None) under `name`; persistent ones go in state_dict."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer({name!r}): expected a Tensor or None, "
                            f"got {type(tensor).__name__}")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        (self._non_persistent.discard if persistent else self._non_persistent.add)(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name, module):
        """Register `module` (or None) as a child under `name`."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}): expected a Module or None, got {type(module).__name__}")
        self._forget(name, keep=self._modules)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    # ---- running -----------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks):  # the common case: no hooks to copy
            return self.forward(*args, **kwargs)
        for hook in list(self._forward_pre_hooks.values()):
            r = hook(self, args)
            args = args if r is None else r if isinstance(r, tuple) else (r,)
        y = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            r = hook(self, args, y)
            y = y if r is None else r
        return y

    def register_forward_hook(self, hook):
        """Call hook(module, inputs, output) after each forward; a returned value replaces the output."""
        return self._add_hook(self._forward_hooks, hook)

    def register_forward_pre_hook(self, hook):
        """Call hook(module, inputs) before each forward; a returned value (or tuple) replaces the inputs."""
        return self._add_hook(self._forward_pre_hooks, hook)

    @staticmethod
    def _add_hook(hooks, hook):
        key = max(hooks, default=-1) + 1
        hooks[key] = hook
        return RemovableHandle(hooks, key)

    def __getattr__(self, name):
        for registry in ("_parameters", "_buffers", "_modules"):
            d = self.__dict__.get(registry)
            if d is not None and name in d:
                return d[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def get_submodule(self, target):
        """The descendant module at dotted path `target` ('' is self)."""
        m = self
        for part in target.split(".") if target else []:
            if part not in m._modules:
                raise AttributeError(f"{type(m).__name__} has no submodule {part!r} (path {target!r})")
            m = m._modules[part]
        return m

    def get_parameter(self, target):
        """The parameter at dotted path `target`."""
        path, _, name = target.rpartition(".")
        m = self.get_submodule(path)
        if name not in m._parameters:
            raise AttributeError(f"{type(m).__name__} has no parameter {name!r} (path {target!r})")
        return m._parameters[name]

    # ---- dtype and device ----------------------------------------------------------------------------
    def to(self, *args, **kwargs):
        """Move to a device (the CPU) and/or cast floating-point parameters and buffers to a dtype, in place
        (the same Parameter objects, so an optimizer made before still holds them); returns self."""
        dtype, _ = to_args(*args, **kwargs)
        if dtype is not None and dtype.kind != "f":
            raise TypeError(f"Module.to only accepts floating point dtypes, got {dtype}")
        if dtype is not None:
            for t in list(self.parameters()) + list(self.buffers()):
                if t.dtype.kind == "f":
                    t._data = t._data.astype(dtype)
                    if t.grad is not None:
                        t.grad._data = t.grad._data.astype(dtype)
        return self

    def share_memory(self):
        """Move parameters and buffers (and gradients) into shared memory, for processes forked after
        (Hogwild training); returns self."""
        for t in list(self.parameters()) + list(self.buffers()):
            t.share_memory_()
        return self

    def cpu(self):
        """Already on the CPU: returns self."""
        return self

    def float(self):
        """Cast floating-point parameters and buffers to float32; returns self."""
        return self.to(dtypes.float32)

    def double(self):
        """Cast floating-point parameters and buffers to float64; returns self."""
        return self.to(dtypes.float64)

    def half(self):
        """Cast floating-point parameters and buffers to float16; returns self."""
        return self.to(dtypes.float16)

    def type(self, dst_type):
        """Cast parameters and buffers to `dst_type` (a dtype or a legacy type such as FloatTensor); returns
        self."""
        from ..legacy import type_dtype

        return self.to(type_dtype(dst_type))

    def train(self, mode=True):
        """Set training mode (recursively); returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        """Set evaluation mode (recursively); returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Set requires_grad on every parameter (False freezes them); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Drop every parameter's gradient (or zero it in place with set_to_none=False)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad._data[...] = 0

    def apply(self, fn):
        """Call `fn` on every submodule (children first) and on self; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- traversal ---------------------------------------------------------------------------------
    def named_modules(self, prefix=""):
        """(dotted name, module) for self and every descendant, pre-order, each module once."""
        seen, stack = set(), [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            children = [(f"{name}.{k}" if name else k, c) for k, c in m._modules.items() if c is not None]
            stack.extend(reversed(children))

    def modules(self):
        """Self and every descendant module, each once."""
        return (m for _, m in self.named_modules())

    def named_children(self):
        """(name, module) for each direct child."""
        return ((k, m) for k, m in self._modules.items() if m is not None)

    def children(self):
        """The direct child modules."""
        return (m for _, m in self.named_children())

    def _named(self, registry, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for name, m in modules:
            for k, t in getattr(m, registry).items():
                if t is not None and id(t) not in seen:
                    seen.add(id(t))
                    yield (f"{name}.{k}" if name else k), t

    def named_parameters(self, prefix="", recurse=True):
        """(dotted name, Parameter), each parameter once, in registration order."""
        return self._named("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        """Every Parameter once, in registration order (iterable, and a list with len() for the book)."""
        return ParameterIterator(p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True):
        """(dotted name, buffer Tensor), each buffer once."""
        return self._named("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        """Every buffer Tensor once."""
        return (b for _, b in self.named_buffers(recurse=recurse))

    # ---- state -------------------------------------------------------------------------------------
    def _state_tensors(self, prefix=""):
        """dotted name -> Tensor for every parameter and persistent buffer (shared ones under each name)."""
        out = {prefix + k: p for k, p in self._parameters.items() if p is not None}
        skip = self._non_persistent
        out.update((prefix + k, b) for k, b in self._buffers.items() if b is not None and k not in skip)
        for k, m in self.named_children():
            out.update(m._state_tensors(f"{prefix}{k}."))
        return out

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """dotted name -> detached Tensor sharing memory (the Parameter itself with keep_vars), for every
        parameter and persistent buffer."""
        out = {} if destination is None else destination
        out.update((k, t if keep_vars else t.detach()) for k, t in self._state_tensors(prefix).items())
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays/Tensors (ours, NumPy or torch) into parameters and buffers, keeping our dtypes.

        strict=True raises on missing or unexpected keys; a shape mismatch always raises (StateDictError, a
        RuntimeError as PyTorch's).
        Nothing is copied unless every check passes. Returns (missing_keys, unexpected_keys).
        """
        own = self._state_tensors()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise StateDictError(f"Error(s) in loading state_dict for {type(self).__name__}: missing keys "
                                 f"{missing}, unexpected keys {unexpected}")
        values = {k: _as_array(v) for k, v in state_dict.items() if k in own}
        for k, v in values.items():
            if v.shape != own[k].shape:
                raise StateDictError(f"Error(s) in loading state_dict for {type(self).__name__}: size "
                                     f"mismatch for {k!r}: got {tuple(v.shape)}, expected "
                                     f"{tuple(own[k].shape)}")
        for k, v in values.items():
            own[k]._data[...] = v
        return IncompatibleKeys(missing, unexpected)

    storage = None  # save and load of state dicts: baby.io, a room above nn, set by baby/__init__.py

    def save(self, path):
        """Write state_dict() to exactly `path` in baby's safe format (safetensors; the book's name)."""
        self.storage.save(self.state_dict(), path)

    def load(self, path, strict=True):
        """Load weights from `path` (written by `save`, safetensors or torch.save) via load_state_dict."""
        return self.load_state_dict(self.storage.load(path), strict=strict)

    # ---- printing ----------------------------------------------------------------------------------
    def extra_repr(self):
        """The module's own settings, printed inside its parentheses."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        lines += [f"({k}): " + _indent(repr(m), 2) for k, m in self._modules.items()]
        if not self._modules and len(lines) == 1:
            return f"{type(self).__name__}({lines[0]})"
        body = "\n  " + "\n  ".join(lines) + "\n" if lines else ""
        return f"{type(self).__name__}({body})"
