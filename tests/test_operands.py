"""Bad operands: `x + None`, `x + "a"`, ... are PyTorch's TypeErrors naming the operand's type, for every
arithmetic and bitwise operator in its plain, reflected and in-place forms (never a silent NaN); the
function and method forms name the type too."""

import fractions
import operator

import numpy as np
import pytest
import torch

import baby

OPERATORS = ["add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor"]
BAD = {"None": None, "str": "a", "object": object(), "list": [1.0, 2.0], "tuple": (1.0, 2.0),
       "dict": {1: 2}, "set": {1.0}}


def outcome(lib, name, form, bad):
    """What `x op bad` (form ''), `bad op x` ('r') or `x op= bad` ('i') does in `lib`: the exception's type
    and message, or the result as a list; and x's values afterwards."""
    x = lib.ones(2)
    op = getattr(operator, f"{name}_" if name in ("and", "or") else name)
    iop = getattr(operator, f"i{name}")
    try:
        r = {"": lambda: op(x, bad), "r": lambda: op(bad, x), "i": lambda: iop(x, bad)}[form]()
        got = ("ok", r.tolist() if hasattr(r, "tolist") else r)
    except Exception as e:  # compared with PyTorch's
        got = (type(e).__name__, str(e))
    return got, x.tolist()


@pytest.mark.parametrize("bad", BAD, ids=list(BAD))
@pytest.mark.parametrize("form", ["", "r", "i"], ids=["plain", "reflected", "inplace"])
@pytest.mark.parametrize("name", OPERATORS)
def test_operator_with_bad_operand_as_pytorch(name, form, bad):
    (got, x), (want, tx) = (outcome(lib, name, form, BAD[bad]) for lib in (baby, torch))
    assert got[0] == want[0] and x == tx == [1.0, 1.0]
    if want[0] == "ok":  # "a" % x: Python formats the string, the tensor seen as a mapping
        assert got == want and isinstance(BAD[bad], str)
    elif "index" in want[1]:  # list * tensor: Python asks the tensor for an index
        assert got[1].startswith(want[1])
    else:
        assert got[1] == want[1]
        assert "Tensor" in got[1] or type(BAD[bad]).__name__ in got[1]


@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
@pytest.mark.parametrize("bad", ["None", "str", "object"])
def test_comparison_with_bad_operand_as_pytorch(op, bad):
    results = []
    for lib in (baby, torch):
        try:
            results.append(getattr(operator, op)(lib.ones(2), BAD[bad]))
        except TypeError as e:
            results.append(str(e))
    assert results[0] == results[1]


FUNCTIONS = {
    "baby.add": lambda lib, x, v: lib.add(x, v), "baby.mul": lambda lib, x, v: lib.mul(x, v),
    "baby.maximum": lambda lib, x, v: lib.maximum(x, v), "x.sub": lambda lib, x, v: x.sub(v),
    "x.div": lambda lib, x, v: x.div(v), "x.pow": lambda lib, x, v: x.pow(v),
    "x.add_": lambda lib, x, v: x.add_(v), "x.mul_": lambda lib, x, v: x.mul_(v),
}


@pytest.mark.parametrize("bad", ["None", "str", "object", "dict"])
@pytest.mark.parametrize("fn", FUNCTIONS)
def test_function_with_bad_operand_names_its_type(fn, bad):
    for lib in (baby, torch):
        x = lib.ones(2)
        with pytest.raises(TypeError, match=type(BAD[bad]).__name__):
            FUNCTIONS[fn](lib, x, BAD[bad])
        assert x.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("good", [2, 2.5, True, np.float32(2), np.int64(3), np.ones(2, np.float32),
                                  fractions.Fraction(1, 2)], ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("name", ["add", "sub", "mul", "truediv"])
def test_numbers_and_arrays_still_operands(name, good):
    op = getattr(operator, name)
    got = op(baby.ones(2), good), op(good, baby.ones(2))
    want = op(np.ones(2, np.float32), np.float32(good) if isinstance(good, fractions.Fraction) else good)
    np.testing.assert_allclose(got[0].numpy(), want)
    assert got[0].dtype == baby.float32 and isinstance(got[1], baby.Tensor)
