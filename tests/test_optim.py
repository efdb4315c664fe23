"""Optimizers and LR schedules against torch.optim: same parameters, same gradient sequence, step for step."""

import io
import json

import numpy as np
import pytest
import torch

import baby
from baby import optim, parallel

SHAPES = [(3, 4), (5,), (2, 1, 3)]
STEPS = 10


def _grads(seed=0, steps=STEPS):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(steps)]


def _params():
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    ours = [baby.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def _run(opt, params, grads, to_grad):
    for step in grads:
        opt.zero_grad()
        for p, g in zip(params, step, strict=True):
            p.grad = to_grad(g)
        opt.step()


def _ours(opt, params, grads):
    _run(opt, params, grads, baby.Tensor)


def _theirs(opt, params, grads):
    _run(opt, params, grads, torch.tensor)


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.1, nesterov=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
]


@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_matches_torch(name, kwargs):
    ours, theirs = _params()
    arrays = [p.numpy() for p in ours]
    grads = _grads()
    _ours(getattr(optim, name)(ours, **kwargs), ours, grads)
    _theirs(getattr(torch.optim, name)(theirs, **kwargs), theirs, grads)
    for p, t, a in zip(ours, theirs, arrays, strict=True):
        assert p.numpy() is a and p.dtype == np.float32, "update must be in place and keep float32"
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name, kwargs", [c for c in CASES if c[0] in ("SGD", "Adam", "AdamW")],
                         ids=[f"{n}-{k}" for n, k in CASES if n in ("SGD", "Adam", "AdamW")])
def test_on_a_large_parameter_matches_torch(name, kwargs):
    """A parameter of 2 * parallel.BLOCK elements or more is updated in pieces over the thread pool."""
    assert 600 * 601 >= 2 * parallel.BLOCK
    rng = np.random.default_rng(3)
    a = rng.standard_normal((600, 601)).astype(np.float32)
    ours, theirs = baby.Tensor(a.copy(), requires_grad=True), torch.tensor(a, requires_grad=True)
    grads = [[rng.standard_normal(a.shape).astype(np.float32)] for _ in range(3)]
    _ours(getattr(optim, name)([ours], **kwargs), [ours], grads)
    _theirs(getattr(torch.optim, name)([theirs], **kwargs), [theirs], grads)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_param_groups_and_skipped_grads(name):
    ours, theirs = _params()
    extra = dict(momentum=0.9) if name == "SGD" else dict(amsgrad=True)
    opt = getattr(optim, name)([{"params": ours[:2]}, {"params": ours[2:], "lr": 0.3, **extra}], lr=0.05)
    topt = getattr(torch.optim, name)([{"params": theirs[:2]}, {"params": theirs[2:], "lr": 0.3, **extra}],
                                      lr=0.05)
    grads = _grads()
    for i, step in enumerate(grads):
        for o, g in ((opt, baby.Tensor), (topt, torch.tensor)):
            o.zero_grad()
            for j, (p, a) in enumerate(zip(ours if o is opt else theirs, step, strict=True)):
                if (i + j) % 3:
                    p.grad = g(a)
            o.step()
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), atol=1e-6, rtol=1e-5)


def _to_npz(sd):
    """Flatten an optimizer state dict into .npz bytes (no pickle) + JSON, and back."""
    buf = io.BytesIO()
    np.savez(buf, **{f"{i}.{k}": np.asarray(v) for i, s in sd["state"].items() for k, v in s.items()})
    groups = json.dumps(sd["param_groups"])
    buf.seek(0)
    state = {}
    with np.load(buf, allow_pickle=False) as z:
        for key in z.files:
            i, k = key.split(".", 1)
            state.setdefault(i, {})[k] = z[key]
    return {"state": state, "param_groups": json.loads(groups)}


@pytest.mark.parametrize("name, kwargs", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                          ("Adam", dict(lr=0.01, amsgrad=True)),
                                          ("AdamW", dict(lr=0.01, weight_decay=0.1))])
def test_state_dict_round_trip(name, kwargs):
    grads = _grads(steps=2 * STEPS)
    a, _ = _params()
    opt = getattr(optim, name)(a, **kwargs)
    _ours(opt, a, grads[:STEPS])
    sd = _to_npz(opt.state_dict())
    b = [baby.Tensor(p.numpy().copy(), requires_grad=True) for p in a]
    opt2 = getattr(optim, name)(b, lr=123.0)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    _ours(opt, a, grads[STEPS:])
    _ours(opt2, b, grads[STEPS:])
    for p, q in zip(a, b, strict=True):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_state_dict_shape_mismatch():
    a, _ = _params()
    opt = optim.Adam(a)
    _ours(opt, a, _grads(steps=1))
    sd = opt.state_dict()
    sd["state"][0]["exp_avg"] = np.zeros((9,), np.float32)
    fresh = optim.Adam(a, lr=0.5)
    with pytest.raises(ValueError, match="exp_avg.*shape"):
        fresh.load_state_dict(sd)
    assert fresh.param_groups[0]["lr"] == 0.5 and not fresh.state, "a failed load must change nothing"
    with pytest.raises(ValueError, match="group sizes"):
        optim.Adam(a[:2]).load_state_dict(sd)


def test_zero_grad():
    a, _ = _params()
    opt = optim.SGD(a, lr=0.1)
    for p in a:
        p.grad = baby.ones(*p.shape)
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in a)
    opt.zero_grad()
    assert all(p.grad is None for p in a)


BAD = [
    (optim.SGD, dict(lr=-1.0), ValueError, "lr"),
    (optim.SGD, dict(lr="fast"), TypeError, "lr"),
    (optim.SGD, dict(lr=0.1, momentum=-0.5), ValueError, "momentum"),
    (optim.SGD, dict(lr=0.1, weight_decay=-1e-4), ValueError, "weight_decay"),
    (optim.SGD, dict(lr=0.1, nesterov=True), ValueError, "nesterov"),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError, "nesterov"),
    (optim.Adam, dict(betas=(1.0, 0.999)), ValueError, r"betas\[0\]"),
    (optim.Adam, dict(betas=(0.9, -0.1)), ValueError, r"betas\[1\]"),
    (optim.Adam, dict(betas=0.9), TypeError, "betas"),
    (optim.Adam, dict(eps=-1e-8), ValueError, "eps"),
    (optim.AdamW, dict(weight_decay=-0.1), ValueError, "weight_decay"),
]


@pytest.mark.parametrize("cls, kwargs, err, match", BAD)
def test_bad_hyperparameters(cls, kwargs, err, match):
    with pytest.raises(err, match=match):
        cls(_params()[0], **kwargs)


def test_bad_params():
    p = baby.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(TypeError, match="Tensors"):
        optim.SGD([np.zeros(2)], lr=0.1)


SCHEDULES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("StepLR", dict(step_size=1)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
]


@pytest.mark.parametrize("name, kwargs", SCHEDULES)
def test_schedulers_match_torch(name, kwargs):
    ours, theirs = _params()
    opt = optim.SGD([{"params": ours[:1]}, {"params": ours[1:], "lr": 0.3}], lr=0.1)
    topt = torch.optim.SGD([{"params": theirs[:1]}, {"params": theirs[1:], "lr": 0.3}], lr=0.1)
    sched = getattr(optim, name)(opt, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    for _ in range(30):
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-9, atol=1e-12)
        assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
        opt.step()
        topt.step()
        sched.step()
        tsched.step()


@pytest.mark.parametrize("name, kwargs", SCHEDULES)
def test_scheduler_state_dict(name, kwargs):
    a, _ = _params()
    opt = optim.SGD(a, lr=0.1)
    sched = getattr(optim, name)(opt, **kwargs)
    for _ in range(5):
        sched.step()
    state = json.loads(json.dumps(sched.state_dict()))
    opt2 = optim.SGD(a, lr=0.1)
    sched2 = getattr(optim, name)(opt2, **kwargs)
    sched2.load_state_dict(state)
    for _ in range(5):
        sched.step()
        sched2.step()
        assert sched.get_last_lr() == sched2.get_last_lr()


@pytest.mark.parametrize("make, match", [
    (lambda o: optim.StepLR(o, step_size=0), "step_size"),
    (lambda o: optim.CosineAnnealingLR(o, T_max=0), "T_max"),
    (lambda o: optim.CosineAnnealingLR(o, T_max=5, eta_min=-1.0), "eta_min"),
    (lambda o: optim.StepLR(o, step_size=2, last_epoch=4), "initial_lr"),
])
def test_bad_scheduler_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make(optim.SGD(_params()[0], lr=0.1))
