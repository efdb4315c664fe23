"""The book's library names and call forms beside PyTorch's: op aliases, NumPy interop, Tensor(...) semantics,
init call forms, LayerNorm1d, Adam's beta1/beta2, Module.save/load, parameters() with len(), the Trainer."""

import numpy as np
import pytest

import baby
from baby import Tensor, init, nn, ops, optim
from baby.trainer import Trainer

A = np.random.default_rng(4).uniform(0.5, 2, (3, 4))

ALIASES = [
    pytest.param(lambda t: ops.summation(t, axes=(0,)), lambda a: a.sum(axis=0), id="summation"),
    pytest.param(lambda t: ops.summation(t), lambda a: a.sum(), id="summation-all"),
    pytest.param(lambda t: ops.logsumexp(t, axes=(1,)), lambda a: np.log(np.exp(a).sum(1)), id="logsumexp"),
    pytest.param(lambda t: ops.logsoftmax(t), lambda a: a - np.log(np.exp(a).sum(1, keepdims=True)),
                 id="logsoftmax"),
    pytest.param(lambda t: ops.transpose(t, axes=(0, 1)), lambda a: a.T, id="transpose-axes"),
    pytest.param(lambda t: ops.transpose(t), lambda a: a.T, id="transpose-default"),
    pytest.param(lambda t: ops.add_scalar(t, 2), lambda a: a + 2, id="add_scalar"),
    pytest.param(lambda t: ops.mul_scalar(t, 3), lambda a: a * 3, id="mul_scalar"),
    pytest.param(lambda t: ops.divide_scalar(t, 4), lambda a: a / 4, id="divide_scalar"),
    pytest.param(lambda t: ops.power_scalar(t, 3), lambda a: a**3, id="power_scalar"),
    pytest.param(lambda t: ops.negate(t), lambda a: -a, id="negate"),
    pytest.param(lambda t: ops.multiply(t, t), lambda a: a * a, id="multiply"),
    pytest.param(lambda t: ops.divide(t, t + 1), lambda a: a / (a + 1), id="divide"),
    pytest.param(lambda t: ops.power(t, t), lambda a: a**a, id="power"),
]


@pytest.mark.parametrize("ours, expected", ALIASES)
def test_book_op_names_are_the_same_ops(ours, expected):
    t = Tensor(A, dtype=np.float64, requires_grad=True)
    y = ours(t)
    np.testing.assert_allclose(y, expected(A), rtol=1e-12)  # np.testing takes tensors (__array__)
    y.sum().backward()
    assert t.grad.shape == A.shape


def test_numpy_interop():
    t = Tensor(A)
    assert isinstance(np.std(t), np.floating) and isinstance(np.concatenate([t, t]), np.ndarray)
    np.testing.assert_allclose(np.mean(t, axis=0), A.mean(0), rtol=1e-6)
    assert np.asarray(t).dtype == np.float32 and np.asarray(t, dtype=np.float64).dtype == np.float64
    c = t.copy()
    c.numpy()[0, 0] = -1
    assert t.numpy()[0, 0] != -1


def test_tensor_constructor_semantics():
    assert Tensor(np.arange(3, dtype=np.int32), dtype=None).dtype == np.int32  # the book keeps the type
    assert Tensor(np.arange(3, dtype=np.int32)).dtype == np.float32  # torch.Tensor makes it float
    t = Tensor([1.0, 2.0])
    u = Tensor(t)
    u.numpy()[0] = 5
    assert t.numpy()[0] == 1 and u.dtype == t.dtype


def test_init_call_forms():
    baby.manual_seed(0)
    w = init.kaiming_normal(300, 200)
    assert w.shape == (300, 200) and abs(np.std(w) - np.sqrt(2 / 300)) < 0.01
    assert init.kaiming_uniform(fan_in=4, fan_out=5, shape=(2, 2, 4, 5)).shape == (2, 2, 4, 5)
    assert init.xavier_uniform(3, 4).shape == (3, 4) and init.zeros(2, 3).shape == (2, 3)


def test_layernorm1d_is_layernorm():
    m = nn.LayerNorm1d(4, eps=1e-5)
    x = Tensor(A)
    np.testing.assert_allclose(m(x), nn.LayerNorm(4)(x), rtol=1e-6)


def test_adam_book_keywords_and_state_views():
    p = Tensor([1.0, -2.0], requires_grad=True)
    opt = optim.Adam(params=[p], lr=0.1, beta1=0.8, beta2=0.9, eps=1e-8)
    assert opt.param_groups[0]["betas"] == (0.8, 0.9)
    for t in (1, 2):
        p.grad = np.array([0.5, -1.0])  # the book sets gradients as arrays
        opt.step()
        assert opt.t == t
    g = np.array([0.5, -1.0])
    np.testing.assert_allclose(opt.m[p], 0.8 * (0.2 * g) + 0.2 * g, rtol=1e-6)  # two steps of beta1 = 0.8
    assert opt.v[p].shape == (2,)


def test_module_save_load_and_parameters(tmp_path):
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 2)))
    assert len(m.parameters()) == 4 and isinstance(next(m.parameters()), nn.Parameter)
    m.eval()
    assert not any(sub.training for sub in m.modules())
    path = tmp_path / "model.pkl"
    m.save(path)
    assert path.exists() and not path.read_bytes().startswith(b"\x80")  # not a pickle
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 2)))
    other.load(path)
    x = Tensor(A[:, :3])
    np.testing.assert_array_equal(other.eval()(x), m(x))


class Batch:
    def __init__(self, x, y):
        self.x, self.y = x, y


@pytest.mark.parametrize("as_objects", [False, True], ids=["tuples", "objects"])
def test_trainer_fit_and_evaluate(as_objects):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    batches = [Batch(*b) for b in batches] if as_objects else batches
    baby.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=0.05), nn.CrossEntropyLoss(), batches,
                      val_loader=batches)
    history = trainer.fit(10)
    assert len(history) == 10 and history[-1]["loss"] < history[0]["loss"] and model.training
    assert trainer.evaluate() > 0.9 and trainer.evaluate(loader=batches[:1]) > 0.8 and not model.training
    assert Trainer(model, None, None, batches).evaluate() == 0.0
