"""A saved object's structure as JSON data: containers, tensors by name, objects as class name + attributes.

Nodes (each a JSON value):
    null, true/false, numbers, strings       themselves
    {"list": [...]}, {"tuple": [...]}, {"set": [...]}, {"frozenset": [...]}
    {"dict": [[key, value], ...]}            also {"odict": ...} (an OrderedDict) and {"ddict": ...,
                                             "factory": node} (a defaultdict); keys are nodes too
    {"tensor": name, "requires_grad": b}, {"parameter": name, "requires_grad": b}, {"array": name},
    {"scalar": name}                         a Tensor, an nn.Parameter, a NumPy array or NumPy scalar stored
                                             as the safetensors tensor `name` (its path in the object)
    {"dtype": "float32"}                     a NumPy dtype (baby's dtypes)
    {"global": "module:qualname"}            a class or function, named (not stored)
    {"object": "module:qualname", "state": {attribute: node}}
                                             an instance: on load, the class's bare instance (object.__new__,
                                             no __init__, __new__ or __setstate__ called) gets `state` as its
                                             __dict__; a tuple subclass has "items" instead of "state"
    {"ref": n}                               the n-th container or object met so far (0-based), shared
Containers and objects carry "id": n in saving order, so shared structure stays shared and a file of
nested references decodes in time linear in its size. An object that contains itself cannot be saved.

Classes and functions load only when allowed: those defined in baby's own modules (except any with a
__del__, which would run on data from the file), the few builtin types a defaultdict names as its factory,
and those added with `add_safe_globals` or inside `safe_globals(...)`. Every name in a file is checked
before anything is built, so a file naming any other class is refused before anything runs.
"""

import builtins
import collections
import importlib
import sys
import threading
import types

from ..backend import xp
from ..nn.module import Module, Parameter
from ..tensor import Tensor, _wrap

SAVABLE = {xp.dtype(n) for n in ("bool", "uint8", "int8", "int16", "uint16", "int32", "uint32", "int64",
                                 "uint64", "float16", "float32", "float64")}
_BUILTIN_TYPES = {"dict", "list", "set", "tuple", "int", "float", "str", "bool", "frozenset"}
_CONTAINERS = {list: "list", tuple: "tuple", set: "set", frozenset: "frozenset", dict: "dict",
               collections.OrderedDict: "odict", collections.defaultdict: "ddict"}
_HEAP_TYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class defined in Python (not a C type like a file or a lock)
_safe = {}  # "module:qualname" -> the allow-listed class or function
_scoped = threading.local()  # the safe_globals(...) context managers' additions, per thread


def at(path):
    """' at obj[...][...]' naming where in the saved object something is (empty at the top)."""
    return " at obj" + "".join(f".{k}" if isinstance(k, Attr) else f"[{k!r}]" for k in path) if path else ""


class Attr(str):
    """An attribute name in a path (printed as .name)."""


def name_of(g):
    """'module:qualname' of a class or function."""
    return f"{g.__module__}:{g.__qualname__}"


# ---- the allow-list ------------------------------------------------------------------------------------
def _entry(g):
    """(name, object) for a safe_globals entry: a class or function, or (object, 'module.qualname')."""
    if isinstance(g, tuple) and len(g) == 2 and isinstance(g[1], str):
        module, _, qual = g[1].rpartition(".")
        return f"{module}:{qual}", g[0]
    if not callable(g) or not hasattr(g, "__qualname__"):
        raise TypeError(f"safe globals must be classes or functions (or (obj, 'module.name') pairs), got "
                        f"{type(g).__name__}")
    return name_of(g), g


def add(globals_):
    """Allow these classes and functions in every later load."""
    _safe.update(_entry(g) for g in globals_)


def scoped():
    """The list of dicts that safe_globals context managers of this thread have pushed."""
    if not hasattr(_scoped, "stack"):
        _scoped.stack = []
    return _scoped.stack


def allowed():
    """{'module:qualname': obj} of every allow-listed global in force now (this thread)."""
    out = dict(_safe)
    for d in scoped():
        out.update(d)
    return out


def clear():
    """Forget every added safe global."""
    _safe.clear()


def resolve(name, lenient=False):
    """The class or function `name` names when it may be loaded, else None (nothing imported or run but
    baby's own modules). `lenient` (weights_only=False) also admits Module subclasses of modules the
    program has already imported."""
    listed = allowed().get(name)
    if listed is not None:
        return listed
    module, _, qual = name.partition(":")
    if module == "builtins" and qual in _BUILTIN_TYPES:
        return getattr(builtins, qual)
    own = module == "baby" or module.startswith("baby.")
    if not (own or lenient) or "<" in qual:
        return None
    try:
        if own and module not in sys.modules and not any(p.startswith("__") for p in module.split(".")):
            importlib.import_module(module)  # baby's own code (never baby.__main__, which runs the CLI)
        obj = sys.modules.get(module)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError, ValueError, TypeError):
        return None
    if not callable(obj) or getattr(obj, "__qualname__", None) != qual:
        return None
    if isinstance(obj, type) and "__del__" in {k for c in obj.__mro__ for k in vars(c)}:
        return None
    if not own and not (isinstance(obj, type) and issubclass(obj, Module)):
        return None
    return obj


def names(node):
    """Every class or function name in a structure (to check them all before anything is built), found by
    walking its nodes as the decoder will (a string attribute that reads like a name is not one)."""
    out, stack = set(), [node]
    while stack:
        n = stack.pop()
        if not isinstance(n, dict) or not n:
            continue
        kind = next(iter(n))
        value = n[kind]
        if kind in ("object", "global"):
            out.add(value if isinstance(value, str) else repr(value))
            state = n.get("state")
            stack.extend(state.values() if isinstance(state, dict) else [])
            stack.extend(n.get("items") or [])
        elif kind in ("list", "tuple", "set", "frozenset") and isinstance(value, list):
            stack.extend(value)
        elif kind in ("dict", "odict", "ddict") and isinstance(value, list):
            stack.extend(v for pair in value if isinstance(pair, list) for v in pair)
            stack.append(n.get("factory"))
    return out


# ---- encoding ------------------------------------------------------------------------------------------
class Encoder:
    """Turns an object into nodes, collecting its arrays by name (see the module doc)."""

    def __init__(self):
        self.arrays, self.ids, self.keep, self.active = {}, {}, [], {}

    def __call__(self, obj, path=()):
        if obj is None or type(obj) in (bool, int, float, str):
            return obj
        if id(obj) in self.ids:
            if id(obj) in self.active:
                raise TypeError(f"save: the object{at(path)} contains itself: a cycle back to "
                                f"obj{at(self.active[id(obj)])[7:]} ({type(obj).__name__}); baby saves "
                                "trees and shared objects, not cycles")
            return self.ids[id(obj)]
        if isinstance(obj, Tensor | xp.ndarray | xp.generic):
            return self._tensor(obj, path)
        if isinstance(obj, xp.dtype):
            return {"dtype": obj.name}
        for plain in (bool, int, float, str):  # a subclass (an IntEnum): its plain value
            if isinstance(obj, plain):
                return plain(obj)
        if isinstance(obj, type | types.FunctionType | types.BuiltinFunctionType):
            return {"global": self._name(obj, path)}
        n = len(self.keep)
        self.ids[id(obj)], self.active[id(obj)] = {"ref": n}, path
        self.keep.append(obj)
        try:
            node = self._container(obj, path) if type(obj) in _CONTAINERS else self._object(obj, path)
        finally:
            del self.active[id(obj)]
        node["id"] = n
        return node

    def _container(self, obj, path):
        kind = _CONTAINERS[type(obj)]
        if isinstance(obj, dict):
            node = {kind: [[self(k, path), self(v, (*path, k))] for k, v in obj.items()]}
            if kind == "ddict":
                node["factory"] = self(obj.default_factory, (*path, Attr("default_factory")))
            return node
        items = sorted(obj, key=repr) if kind in ("set", "frozenset") else obj
        return {kind: [self(v, (*path, i)) for i, v in enumerate(items)]}

    def _object(self, obj, path):
        cls = type(obj)
        base = tuple if isinstance(obj, tuple) else object
        custom = [k for k in ("__reduce__", "__reduce_ex__", "__getstate__", "__setstate__", "__getnewargs__")
                  if getattr(cls, k, None) is not getattr(base, k, None)]
        python = all(c.__flags__ & _HEAP_TYPE for c in cls.__mro__[:cls.__mro__.index(base)])
        if base is tuple and python and not custom and not getattr(obj, "__dict__", None):
            items = [self(v, (*path, i)) for i, v in enumerate(obj)]
            return {"object": self._name(cls, path), "items": items}
        if custom or not python or not hasattr(obj, "__dict__") or isinstance(obj, dict | list | set) or \
                any("__slots__" in vars(c) for c in cls.__mro__[:-1]):
            what = f"it customises pickling ({custom[0]})" if custom else "its state is not plain attributes"
            raise TypeError(f"save: cannot store a {cls.__name__}{at(path)}: {what}; baby stores objects "
                            "as their class name and attributes (tensors, numbers, strings, containers, "
                            "objects)")
        name = self._name(cls, path)
        return {"object": name, "state": {k: self(v, (*path, Attr(k))) for k, v in vars(obj).items()}}

    def _name(self, g, path):
        """'module:qualname' of `g`, checked to name it (a class inside a function cannot be found again)."""
        name = name_of(g)
        module = sys.modules.get(g.__module__)
        obj = module
        for part in g.__qualname__.split("."):
            obj = getattr(obj, part, None)
        if obj is not g:
            raise TypeError(f"save: cannot store {name.replace(':', '.')}{at(path)}: it cannot be found "
                            "again by its name (a class or function defined inside a function, or a lambda)")
        return name

    def _tensor(self, obj, path):
        a = obj._data if isinstance(obj, Tensor) else xp.asarray(obj)
        if a.dtype not in SAVABLE:
            raise TypeError(f"save: cannot store dtype {a.dtype}{at(path)}: safetensors holds bool, integer "
                            "and floating-point data")
        base = "/".join(str(k) for k in path) or "tensor"
        name, n = base, 1
        while name in self.arrays:
            name, n = f"{base}#{n}", n + 1
        self.arrays[name] = a if a.flags.c_contiguous else a.copy()
        if isinstance(obj, Tensor):
            node = {"parameter" if isinstance(obj, Parameter) else "tensor": name,
                    "requires_grad": obj.requires_grad}
        else:
            node = {"array" if isinstance(obj, xp.ndarray) else "scalar": name}
        self.ids[id(obj)] = node
        self.keep.append(obj)
        return node


# ---- decoding ------------------------------------------------------------------------------------------
class Decoder:
    """Builds the object a structure stands for, from its arrays and the resolved classes."""

    def __init__(self, arrays, classes):
        self.arrays, self.classes, self.made, self.tensors = arrays, classes, {}, {}

    def __call__(self, node):
        if node is None or isinstance(node, bool | int | float | str):
            return node
        if isinstance(node, list) or not node:
            raise ValueError(f"not a structure node: {str(node)[:60]}")
        kind = next(iter(node))
        value = node[kind]
        if kind == "ref":
            return self.made[value]
        if kind in ("tensor", "parameter", "array", "scalar"):
            return self._tensor(kind, value, node)
        if kind == "dtype":
            return xp.dtype(value)
        if kind == "global":
            return self.classes[value]
        if kind in ("list", "dict", "odict", "ddict"):
            out = {"list": list, "dict": dict, "odict": collections.OrderedDict,
                   "ddict": collections.defaultdict}[kind]()
            self._register(node, out)
            if kind == "list":
                out.extend(self(v) for v in value)
            else:
                out.update((self._key(k), self(v)) for k, v in value)
            if kind == "ddict":
                out.default_factory = self(node["factory"])
            return out
        if kind in ("tuple", "set", "frozenset"):
            items = [self(v) for v in value]
            return self._register(node, tuple(items) if kind == "tuple" else
                                  (set if kind == "set" else frozenset)(self._key(v, True) for v in items))
        if kind == "object":
            return self._object(node)
        raise ValueError(f"unknown node kind {kind!r}")

    def _register(self, node, obj):
        n = node.get("id")
        if n is not None:
            if not isinstance(n, int) or n in self.made:
                raise ValueError(f"bad or repeated object id {n!r}")
            self.made[n] = obj
        return obj

    def _key(self, k, built=False):
        """A dict key or set item, refused unless hashing it runs no code from baby or the file's classes."""
        k = k if built else self(k)
        if isinstance(k, tuple):
            for v in k:
                self._key(v, True)
        elif not (k is None or isinstance(k, bool | int | float | str | Tensor | type)
                  or type(k).__hash__ is object.__hash__):
            raise ValueError(f"a dict key or set item of type {type(k).__name__}")
        return k

    def _tensor(self, kind, name, node):
        if name not in self.tensors:
            a = self.arrays[name]
            if kind in ("tensor", "parameter"):
                t, g = _wrap(a), node["requires_grad"]
                self.tensors[name] = Parameter(t, g) if kind == "parameter" else t.requires_grad_(g)
            else:
                self.tensors[name] = a if kind == "array" else a[()]
        return self.tensors[name]

    def _object(self, node):
        cls = self.classes[node["object"]]
        if not isinstance(cls, type):
            raise ValueError(f"{node['object']} is not a class")
        if "items" in node:
            if not issubclass(cls, tuple):
                raise ValueError(f"{node['object']} is not a tuple type")
            return self._register(node, tuple.__new__(cls, [self(v) for v in node["items"]]))
        if issubclass(cls, Tensor | dict | list | set):
            raise ValueError(f"{node['object']} is not built from attributes")
        obj = self._register(node, object.__new__(cls))  # TypeError for a class of another layout
        state = node["state"]
        if not isinstance(state, dict):
            raise ValueError(f"the state of a {node['object']} is not a JSON object")
        vars(obj).update((str(k), self(v)) for k, v in state.items())
        return obj
