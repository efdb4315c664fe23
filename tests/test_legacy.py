"""PyTorch's legacy tensor types and call forms: FloatTensor(...), Tensor(3, 4), size=, x.type()."""

import numpy as np
import pytest
import torch

import baby

TYPES = ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor", "CharTensor",
         "ByteTensor", "BoolTensor"]


def _dt(t):
    return str(t.dtype).replace("torch.", "")


@pytest.mark.parametrize("name", TYPES)
@pytest.mark.parametrize("args", [(2, 3), (4,), (), ([1, 0, 2],), ([[1.5, 0.0], [2.0, 3.0]],), ("size23",)],
                         ids=["sizes", "one-size", "empty", "list", "nested-floats", "Size"])
def test_legacy_constructor(name, args):
    def make(lib):
        a = tuple(lib.Size([2, 3]) if v == "size23" else v for v in args)
        return getattr(lib, name)(*a)

    b, t = make(baby), make(torch)
    assert tuple(b.shape) == tuple(t.shape) and _dt(b) == _dt(t) and not b.requires_grad
    if args and not isinstance(args[0], int) and args[0] != "size23":
        np.testing.assert_array_equal(b.numpy(), t.numpy())


@pytest.mark.parametrize("name", TYPES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "uint8", "bool"])
def test_legacy_isinstance_and_type(name, dtype):
    b, t = baby.zeros(2, dtype=getattr(baby, dtype)), torch.zeros(2, dtype=getattr(torch, dtype))
    assert isinstance(b, getattr(baby, name)) == isinstance(t, getattr(torch, name))
    assert b.type() == t.type() and str(getattr(baby, name).dtype) == _dt(getattr(torch, name))
    for arg in (getattr(baby, name), f"torch.{name}"):
        converted = b.type(arg)
        assert _dt(converted) == _dt(t.type(getattr(torch, name))) and isinstance(converted, baby.Tensor)


def test_legacy_same_dtype_tensor_shares_memory_other_dtype_refused():
    x = baby.zeros(3)
    y = baby.FloatTensor(x)
    y[0] = 5.0
    assert x[0].item() == 5.0
    with pytest.raises(TypeError, match="int64"):
        baby.FloatTensor(baby.zeros(2, dtype=baby.int64))
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        baby.LongTensor(2, -1)
    with pytest.raises(TypeError, match="sizes as ints"):
        baby.FloatTensor([1.0], 2)


@pytest.mark.parametrize("args", [(3, 4), (3,), ("size23",), (), ([3, 4],), ([[1, 2]],)],
                         ids=["sizes", "one-int", "Size", "empty", "list-is-data", "nested"])
def test_tensor_sizes_form(args):
    def make(lib):
        return lib.Tensor(*(lib.Size([2, 3]) if v == "size23" else v for v in args))

    b, t = make(baby), make(torch)
    assert tuple(b.shape) == tuple(t.shape) and _dt(b) == _dt(t)
    with pytest.raises(RuntimeError, match="negative dimension"):
        baby.Tensor(2, -3)


@pytest.mark.parametrize("fn", ["empty", "zeros", "ones", "rand", "randn"])
@pytest.mark.parametrize("size", [(2, 3), [4], ()])
def test_factories_size_keyword(fn, size):
    b, t = getattr(baby, fn)(size=size), getattr(torch, fn)(size=size)
    assert tuple(b.shape) == tuple(t.shape) and _dt(b) == _dt(t)
    with pytest.raises(TypeError, match="size"):
        getattr(baby, fn)(2, size=(3,))


def test_module_type_with_legacy_type():
    m = baby.nn.Linear(2, 3).type(baby.DoubleTensor)
    assert m.weight.dtype == baby.float64 and isinstance(m.weight, baby.DoubleTensor)
