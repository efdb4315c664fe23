"""init: bounds and standard deviations checked statistically, gains against PyTorch, seeding, dtypes."""

import math

import numpy as np
import pytest
import torch

import baby
from baby import init

FAN_IN, FAN_OUT = 200, 100
SHAPE = (300, 400)


@pytest.fixture(autouse=True)
def seeded():
    """Statistical checks on fixed draws, so they cannot flake."""
    baby.manual_seed(0)
    torch.manual_seed(0)


@pytest.mark.parametrize("fn, kwargs, bound", [  # uniform initialisers: samples fill U(-bound, bound)
    (init.kaiming_uniform, {}, math.sqrt(2) * math.sqrt(3 / FAN_IN)),
    (init.kaiming_uniform, {"nonlinearity": "tanh"}, 5 / 3 * math.sqrt(3 / FAN_IN)),
    (init.kaiming_uniform, {"nonlinearity": "leaky_relu", "a": math.sqrt(5)}, 1 / math.sqrt(FAN_IN)),
    (init.kaiming_uniform, {"nonlinearity": "linear", "mode": "fan_out"}, math.sqrt(3 / FAN_OUT)),
    (init.xavier_uniform, {}, math.sqrt(6 / (FAN_IN + FAN_OUT))),
    (init.xavier_uniform, {"gain": 2.0}, 2 * math.sqrt(6 / (FAN_IN + FAN_OUT))),
])
def test_uniform_bounds(fn, kwargs, bound):
    w = fn(FAN_IN, FAN_OUT, shape=SHAPE, **kwargs).numpy()
    assert w.shape == SHAPE and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.999 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound and abs(w.mean()) < 0.01 * bound


@pytest.mark.parametrize("fn, kwargs, std", [  # normal initialisers: N(0, std**2)
    (init.kaiming_normal, {}, math.sqrt(2 / FAN_IN)),
    (init.kaiming_normal, {"nonlinearity": "sigmoid"}, math.sqrt(1 / FAN_IN)),
    (init.xavier_normal, {}, math.sqrt(2 / (FAN_IN + FAN_OUT))),
])
def test_normal_std(fn, kwargs, std):
    w = fn(FAN_IN, FAN_OUT, shape=SHAPE, **kwargs).numpy()
    assert w.dtype == np.float32 and abs(w.std() - std) < 0.01 * std and abs(w.mean()) < 0.01 * std


def test_basic_initialisers():
    u = init.uniform((1000, 100), -3.0, 5.0).numpy()
    assert u.min() >= -3 and u.max() < 5 and abs(u.mean() - 1) < 0.05
    n = init.normal(100000, 2.0, 0.5).numpy()
    assert abs(n.mean() - 2) < 0.01 and abs(n.std() - 0.5) < 0.01 and n.dtype == np.float32
    assert init.zeros(3).shape == (3,) and init.zeros((2, 2)).shape == (2, 2)
    assert init.ones(2, 3).numpy().sum() == 6
    assert init.kaiming_uniform(3, 4).shape == (3, 4)
    assert init.kaiming_uniform(3, 4, shape=(3, 4), dtype="float64").dtype == np.float64
    assert init.normal(3, dtype=baby.float64).dtype == np.float64
    assert init.ones(2, dtype=baby.int64).dtype == np.int64
    assert init.uniform(5, requires_grad=True).requires_grad


def test_manual_seed_reproduces():
    baby.manual_seed(7)
    a = [init.kaiming_uniform(4, 5).numpy(), init.xavier_normal(4, 5).numpy(), init.uniform(3).numpy()]
    baby.manual_seed(7)
    b = [init.kaiming_uniform(4, 5).numpy(), init.xavier_normal(4, 5).numpy(), init.uniform(3).numpy()]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("nonlinearity, param", [
    ("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
    ("leaky_relu", 0.2), ("conv2d", None), ("selu", None),
])
def test_calculate_gain(nonlinearity, param):
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected)


@pytest.mark.parametrize("fn, tfn, shape", [  # in-place forms: same bound/std as torch for the same shape
    (init.kaiming_uniform_, torch.nn.init.kaiming_uniform_, (64, 32, 3, 3)),
    (init.kaiming_normal_, torch.nn.init.kaiming_normal_, (64, 32, 3, 3)),
    (init.xavier_uniform_, torch.nn.init.xavier_uniform_, (256, 128)),
    (init.xavier_normal_, torch.nn.init.xavier_normal_, (256, 128)),
])
def test_inplace_matches_torch_statistics(fn, tfn, shape):
    t = baby.zeros(*shape)
    assert fn(t) is t
    ref = tfn(torch.empty(shape)).numpy()
    assert abs(t.numpy().std() - ref.std()) < 0.03 * ref.std() and t.dtype == np.float32


def test_inplace_fills():
    t = baby.zeros(2, 3)
    assert (init.ones_(t).numpy() == 1).all() and (init.constant_(t, 0.5).numpy() == 0.5).all()
    assert (init.zeros_(t).numpy() == 0).all()
    u = init.uniform_(baby.zeros(1000), -1, 1).numpy()
    assert u.min() >= -1 and u.max() < 1 and u.std() > 0.5
    assert abs(init.normal_(baby.zeros(10000), 1, 2).numpy().std() - 2) < 0.1


@pytest.mark.parametrize("call, error, match", [
    (lambda: init.calculate_gain("swish"), ValueError, "unsupported nonlinearity 'swish'"),
    (lambda: init.kaiming_uniform(0, 3), ValueError, "positive fan_in"),
    (lambda: init.kaiming_uniform(3, 3, mode="fan_avg"), ValueError, "mode must be"),
    (lambda: init.uniform(3, dtype="int32"), TypeError, "floating dtype"),
    (lambda: init.zeros(3, device="cuda"), RuntimeError, "device"),
    (lambda: init.kaiming_uniform_(baby.zeros(3)), ValueError, r"at least 2 dims, got shape \(3,\)"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
