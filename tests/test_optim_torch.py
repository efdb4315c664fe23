"""Every optimizer and LR schedule against torch.optim: groups, lr changes, state dicts, bad arguments."""

import json

import numpy as np
import pytest
import torch

import baby
from baby import optim
from baby.optim import lr_scheduler

SHAPES = [(3, 4), (5,), (2, 1, 3)]
STEPS = 20
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}

# name, defaults, the second group's own options: all variants of each optimizer
OPTIMIZERS = [
    ("SGD", dict(lr=0.1), dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1), dict(nesterov=True, dampening=0.0)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True), dict(weight_decay=0.2, maximize=True)),
    ("Adam", dict(lr=0.01), dict(amsgrad=True, betas=(0.8, 0.99))),
    ("Adam", dict(lr=0.01, weight_decay=0.1, eps=1e-6), dict(decoupled_weight_decay=True)),
    ("Adam", dict(lr=0.02, betas=(0.3, 0.5), amsgrad=True), dict(maximize=True)),
    ("AdamW", dict(lr=0.01), dict(weight_decay=0.3, amsgrad=True)),
    ("Adamax", dict(), dict(lr=0.01, weight_decay=0.1)),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-3), dict(maximize=True)),
    ("NAdam", dict(), dict(lr=0.01, momentum_decay=8e-3)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1), dict(decoupled_weight_decay=True, betas=(0.7, 0.9))),
    ("RMSprop", dict(), dict(lr=0.001, centered=True)),
    ("RMSprop", dict(lr=0.005, momentum=0.9, weight_decay=0.1), dict(centered=True, alpha=0.9)),
    ("RMSprop", dict(lr=0.005, centered=True, momentum=0.5, eps=1e-4), dict(maximize=True)),
    ("Adagrad", dict(), dict(lr=0.05, lr_decay=0.1)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6), dict(lr_decay=0.01)),
    ("Adadelta", dict(), dict(lr=0.5, rho=0.8)),
    ("Adadelta", dict(weight_decay=0.1, eps=1e-4), dict(maximize=True)),
]
IDS = [f"{n}-{i}" for i, (n, *_) in enumerate(OPTIMIZERS)]


def _arrays(dtype, seed, steps=STEPS):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]


class Pair:
    """The same parameters and optimizer in baby and in torch, stepped with the same gradients."""

    def __init__(self, name, defaults, extra, dtype=np.float64, groups=None):
        init = _arrays(dtype, 1, 1)[0]
        self.ours = [baby.Tensor(a, dtype=dtype, requires_grad=True) for a in init]
        self.theirs = [torch.tensor(a, requires_grad=True) for a in init]
        groups = groups or (lambda ps: [{"params": ps[:2]}, {"params": ps[2:], **extra}])
        self.opt = getattr(optim, name)(groups(self.ours), **defaults)
        self.topt = getattr(torch.optim, name)(groups(self.theirs), **defaults)

    def step(self, grads, skip=()):
        """One step of both; parameters whose index is in `skip` have no gradient."""
        for opt, params, wrap in ((self.opt, self.ours, baby.tensor), (self.topt, self.theirs, torch.tensor)):
            opt.zero_grad()
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                if i not in skip:
                    p.grad = wrap(g)
            opt.step()

    def check(self, dtype=np.float64):
        for p, t in zip(self.ours, self.theirs, strict=True):
            assert p.dtype == dtype
            np.testing.assert_allclose(p.numpy(), t.detach().numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, defaults, extra", OPTIMIZERS, ids=IDS)
def test_optimizer_matches_torch_with_groups_and_lr_changes(name, defaults, extra, dtype):
    pair = Pair(name, defaults, extra, dtype)
    arrays = [p.numpy() for p in pair.ours]
    for i, grads in enumerate(_arrays(dtype, 2)):
        if i == 10:                                     # lr changed by hand mid-run, per group
            for opt in (pair.opt, pair.topt):
                opt.param_groups[0]["lr"] *= 0.5
                opt.param_groups[1]["lr"] = 0.003
        pair.step(grads, skip={i % 3} if i % 4 == 1 else ())
    pair.check(dtype)
    assert all(p.numpy() is a for p, a in zip(pair.ours, arrays, strict=True)), "updates must be in place"
    assert {k for g in pair.opt.param_groups for k in g} <= {k for g in pair.topt.param_groups for k in g}


@pytest.mark.parametrize("name, defaults, extra", OPTIMIZERS[::2], ids=IDS[::2])
def test_add_param_group_mid_run(name, defaults, extra):
    pair = Pair(name, defaults, extra, groups=lambda ps: ps[:2])
    grads = _arrays(np.float64, 3)
    for i, g in enumerate(grads):
        if i == 5:
            pair.opt.add_param_group({"params": pair.ours[2], **extra})
            pair.topt.add_param_group({"params": pair.theirs[2], **extra})
        pair.step(g, skip={2} if i < 5 else ())
    pair.check()
    assert [len(g["params"]) for g in pair.opt.param_groups] == [2, 1]


def _through_npz_and_json(sd):
    """The state dict as a checkpoint stores it: arrays and numbers as arrays, groups as JSON."""
    state = {str(i): {k: np.asarray(v) for k, v in s.items()} for i, s in sd["state"].items()}
    return {"state": state, "param_groups": json.loads(json.dumps(sd["param_groups"]))}


@pytest.mark.parametrize("name, defaults, extra", OPTIMIZERS, ids=IDS)
def test_state_dict_round_trip_mid_run(name, defaults, extra):
    pair = Pair(name, defaults, extra)
    grads = _arrays(np.float64, 4)
    for g in grads[:10]:
        pair.step(g)
    sd = pair.opt.state_dict()
    theirs = pair.topt.state_dict()["state"]
    for i in range(len(SHAPES)):
        keys = {k for k, v in theirs.get(i, {}).items() if v is not None}
        assert set(sd["state"].get(i, {})) == keys, "PyTorch's state keys"
    copies = [baby.Tensor(p.numpy().copy(), dtype=p.dtype, requires_grad=True) for p in pair.ours]
    other = getattr(optim, name)([{"params": copies[:2]}, {"params": copies[2:]}], lr=123.0)
    other.load_state_dict(_through_npz_and_json(sd))
    assert [g["lr"] for g in other.param_groups] == [g["lr"] for g in pair.opt.param_groups]
    for g in grads[10:]:
        pair.step(g)
        other.zero_grad()
        for p, a in zip(copies, g, strict=True):
            p.grad = baby.tensor(a)
        other.step()
    pair.check()
    for p, q in zip(pair.ours, copies, strict=True):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_step_with_closure_and_no_grads():
    w = baby.Tensor([1.0, -2.0], requires_grad=True)
    tw = torch.tensor([1.0, -2.0], requires_grad=True)
    opt, topt = optim.RMSprop([w], lr=0.1), torch.optim.RMSprop([tw], lr=0.1)

    def closure(opt, w):
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    for _ in range(3):
        loss, tloss = opt.step(lambda: closure(opt, w)), topt.step(lambda: closure(topt, tw))
        assert loss.item() == pytest.approx(tloss.item())
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-6)
    opt.zero_grad()
    before = w.numpy().copy()
    assert opt.step() is None
    np.testing.assert_array_equal(w.numpy(), before)


def test_book_adam_call_form_and_state_views():
    p = baby.Tensor(np.array([0.5, -1.0]), dtype=np.float64, requires_grad=True)
    tp = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    opt = optim.Adam(params=[p], lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6)
    topt = torch.optim.Adam([tp], lr=0.01, betas=(0.8, 0.99), eps=1e-6)
    assert opt.param_groups[0]["betas"] == (0.8, 0.99) and opt.t == 0 and opt.m == {}
    for i, g in enumerate([[0.2, 0.1], [-0.3, 0.4], [0.1, 0.0]], 1):
        p.grad, tp.grad = baby.tensor(g, dtype=baby.float64), torch.tensor(g, dtype=torch.float64)
        opt.step()
        topt.step()
        state = topt.state[tp]
        np.testing.assert_allclose(opt.m[p], state["exp_avg"].numpy(), rtol=1e-14)
        np.testing.assert_allclose(opt.v[p], state["exp_avg_sq"].numpy(), rtol=1e-14)
        assert opt.t == i and opt.m[p] is opt.state[p]["exp_avg"]
    np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-14)
    assert optim.Adam([p], beta2=0.9).param_groups[0]["betas"] == (0.9, 0.9)


def test_paths_and_names():
    from baby.optim.lr_scheduler import StepLR

    assert StepLR is optim.StepLR is baby.optim.lr_scheduler.StepLR
    assert optim.CosineAnnealingLR is lr_scheduler.CosineAnnealingLR
    assert issubclass(lr_scheduler.ReduceLROnPlateau, lr_scheduler.LRScheduler)
    assert baby.optim.optimizer.Optimizer is optim.Optimizer


# ---- schedules ---------------------------------------------------------------------------------------

def _sgd_pair(momentum=0.9):
    pair = Pair("SGD", dict(lr=0.1, momentum=momentum), dict(lr=0.3))
    return pair.opt, pair.topt


SCHEDULES = [
    ("StepLR", dict(step_size=4, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 7, 7, 20], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.95**e + 0.01 * (e % 3))),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.25, end_factor=0.5, total_iters=12)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=30)),
    ("OneCycleLR", dict(max_lr=[1.0, 0.5], epochs=3, steps_per_epoch=10, anneal_strategy="linear")),
    ("OneCycleLR", dict(max_lr=0.4, total_steps=31, three_phase=True, pct_start=0.25, div_factor=10.0)),
    ("OneCycleLR", dict(max_lr=0.4, total_steps=30, cycle_momentum=False, final_div_factor=100.0)),
]


def _lrs(opt):
    return [g["lr"] for g in opt.param_groups]


def _momenta(opt):
    return [(g.get("momentum"), tuple(g["betas"]) if "betas" in g else None) for g in opt.param_groups]


def _compare(opt, topt, sched, tsched, epochs=30, metrics=None, between=None):
    """Step both for `epochs`, checking lrs (bit for bit: the same float operations in the same order)."""
    for epoch in range(epochs):
        assert sched.get_last_lr() == tsched.get_last_lr(), epoch
        assert _lrs(opt) == sched.get_last_lr()
        assert _lrs(opt) == _lrs(topt)
        assert _momenta(opt) == _momenta(topt)
        assert sched.last_epoch == tsched.last_epoch
        if between is not None:
            between(epoch, opt, topt)
        opt.step()
        topt.step()
        args = () if metrics is None else (metrics[epoch],)
        sched.step(*args)
        tsched.step(*args)


@pytest.mark.parametrize("name, kwargs", SCHEDULES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULES)])
def test_schedule_matches_torch(name, kwargs):
    opt, topt = _sgd_pair()
    _compare(opt, topt, getattr(lr_scheduler, name)(opt, **kwargs),
             getattr(torch.optim.lr_scheduler, name)(topt, **kwargs))


@pytest.mark.parametrize("name", ["Adam", "NAdam", "RMSprop"])
def test_one_cycle_cycles_betas_or_momentum(name):
    pair = Pair(name, dict(lr=0.01), dict())
    kwargs = dict(max_lr=0.1, total_steps=25, base_momentum=0.8, max_momentum=[0.9, 0.95])
    _compare(pair.opt, pair.topt, lr_scheduler.OneCycleLR(pair.opt, **kwargs),
             torch.optim.lr_scheduler.OneCycleLR(pair.topt, **kwargs), epochs=25)


def _sequential(lib, opt):
    s = lib.optim.lr_scheduler
    warm = s.LinearLR(opt, start_factor=0.1, total_iters=4)
    steps = s.MultiStepLR(opt, milestones=[2, 5], gamma=0.5)
    return s.SequentialLR(opt, [warm, steps, s.CosineAnnealingLR(opt, T_max=6)], milestones=[4, 12])


def test_sequential_lr_matches_torch():
    opt, topt = _sgd_pair()
    _compare(opt, topt, _sequential(baby, opt), _sequential(torch, topt))


def test_chained_schedules_and_lr_set_by_hand_match_torch():
    opt, topt = _sgd_pair()
    ours = [lr_scheduler.StepLR(opt, 3, gamma=0.5), lr_scheduler.CosineAnnealingLR(opt, T_max=8)]
    theirs = [torch.optim.lr_scheduler.StepLR(topt, 3, gamma=0.5),
              torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=8)]
    for epoch in range(30):
        assert _lrs(opt) == _lrs(topt)
        if epoch == 13:
            opt.param_groups[1]["lr"] = topt.param_groups[1]["lr"] = 0.7
        opt.step()
        topt.step()
        for s, t in zip(ours, theirs, strict=True):
            s.step()
            t.step()
            assert s.get_last_lr() == t.get_last_lr()


@pytest.mark.parametrize("name, kwargs", SCHEDULES[:8], ids=[n for n, _ in SCHEDULES[:8]])
def test_step_with_epoch_uses_the_closed_form(name, kwargs):
    opt, topt = _sgd_pair()
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    with pytest.warns(UserWarning):
        tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
        for epoch in (5, 2, 9, 17):
            sched.step(epoch)
            tsched.step(epoch)
            assert sched.get_last_lr() == tsched.get_last_lr()


PLATEAUS = [
    dict(),
    dict(mode="min", factor=0.5, patience=2, threshold=0.05, cooldown=2, min_lr=0.02),
    dict(mode="max", factor=0.3, patience=1, threshold_mode="abs", threshold=0.1, min_lr=[0.001, 0.05]),
    dict(mode="max", patience=0, cooldown=3, eps=1e-3),
    dict(mode="min", patience=3, threshold_mode="abs", threshold=0.0),
]


@pytest.mark.parametrize("kwargs", PLATEAUS)
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    rng = np.random.default_rng(5)
    metrics = list(np.cumsum(rng.normal(0, 1, 40)) * 0.1 + 1.0)
    opt, topt = _sgd_pair()
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    _compare(opt, topt, sched, tsched, epochs=40, metrics=metrics)
    assert (sched.best, sched.num_bad_epochs, sched.cooldown_counter) == (
        tsched.best, tsched.num_bad_epochs, tsched.cooldown_counter)
    sched.step(baby.tensor(0.5))                        # a 0-d tensor is a metric too


def _make(name, opt):
    if name == "SequentialLR":
        return _sequential(baby, opt)
    if name == "ReduceLROnPlateau":
        return lr_scheduler.ReduceLROnPlateau(opt, patience=1, cooldown=1)
    return getattr(lr_scheduler, name)(opt, **dict(SCHEDULES)[name])


@pytest.mark.parametrize("name", sorted({n for n, _ in SCHEDULES} | {"SequentialLR", "ReduceLROnPlateau"}))
def test_schedule_state_dict_round_trip(name):
    metrics = [1.0, 0.9, 0.95, 0.97, 0.99, 0.8, 0.85, 0.9, 0.95, 0.99] * 3
    step = (lambda s, i: s.step(metrics[i])) if name == "ReduceLROnPlateau" else (lambda s, i: s.step())
    opt, _ = _sgd_pair()
    sched = _make(name, opt)
    for i in range(10):
        step(sched, i)
    saved = json.loads(json.dumps(sched.state_dict()))      # a checkpoint stores it as JSON
    opt_state = _through_npz_and_json(opt.state_dict())
    opt2, _ = _sgd_pair()
    sched2 = _make(name, opt2)
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(saved)
    assert sched2.get_last_lr() == sched.get_last_lr() and _lrs(opt2) == _lrs(opt)
    for i in range(10, 29):
        step(sched, i)
        step(sched2, i)
        assert sched2.get_last_lr() == sched.get_last_lr() and _lrs(opt2) == _lrs(opt)


def test_lambda_lr_state_keeps_callable_objects_state():
    class Decay:
        def __init__(self):
            self.rate = 0.9

        def __call__(self, epoch):
            return self.rate**epoch

    opt, _ = _sgd_pair()
    fn = Decay()
    sched = lr_scheduler.LambdaLR(opt, [fn, lambda e: 1.0])
    fn.rate = 0.5
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"rate": 0.5}, None]
    other = Decay()
    lr_scheduler.LambdaLR(_sgd_pair()[0], [other, lambda e: 1.0]).load_state_dict(state)
    assert other.rate == 0.5


def test_resume_with_last_epoch_keeps_the_groups_lrs():
    opt, topt = _sgd_pair()
    for o, lib in ((opt, lr_scheduler), (topt, torch.optim.lr_scheduler)):
        s = lib.CosineAnnealingLR(o, T_max=10)
        for _ in range(4):
            o.step()
            s.step()
    ours = lr_scheduler.CosineAnnealingLR(opt, T_max=10, last_epoch=4)
    theirs = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=10, last_epoch=4)
    _compare(opt, topt, ours, theirs, epochs=10)


# ---- bad arguments -----------------------------------------------------------------------------------

def _p():
    return [baby.zeros(3, requires_grad=True)]


BAD_OPTIMIZERS = [
    (optim.RMSprop, dict(alpha=-0.1), ValueError, "alpha"),
    (optim.RMSprop, dict(momentum=-1.0), ValueError, "momentum"),
    (optim.RMSprop, dict(eps="small"), TypeError, "eps"),
    (optim.Adagrad, dict(lr_decay=-1.0), ValueError, "lr_decay"),
    (optim.Adagrad, dict(initial_accumulator_value=-0.1), ValueError, "initial_accumulator_value"),
    (optim.Adadelta, dict(rho=1.5), ValueError, "rho"),
    (optim.Adadelta, dict(lr=-1.0), ValueError, "lr"),
    (optim.Adamax, dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\]"),
    (optim.NAdam, dict(momentum_decay=-1e-3), ValueError, "momentum_decay"),
    (optim.NAdam, dict(weight_decay=-0.1), ValueError, "weight_decay"),
    (optim.AdamW, dict(betas=(0.9,)), TypeError, "betas"),
]


@pytest.mark.parametrize("cls, kwargs, err, match", BAD_OPTIMIZERS)
def test_bad_optimizer_arguments(cls, kwargs, err, match):
    with pytest.raises(err, match=match):
        cls(_p(), **kwargs)
    opt = cls(_p())
    with pytest.raises(err, match=match):                # a group's own options are checked too
        opt.add_param_group({"params": _p(), **kwargs})
    assert len(opt.param_groups) == 1


def test_bad_params():
    x = baby.zeros(3, requires_grad=True)
    with pytest.raises(TypeError, match="set"):
        optim.Adam({x})
    with pytest.raises(ValueError, match="non-leaf"):
        optim.Adam([x * 2])
    opt = optim.SGD([x], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": [x]})
    with pytest.raises(TypeError, match="'params'"):
        opt.add_param_group([x])


BAD_SCHEDULES = [
    (lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=-0.1), ValueError, "gamma"),
    (lambda o: lr_scheduler.MultiStepLR(o, milestones=[2, -1]), ValueError, "milestones"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma="x"), TypeError, "gamma"),
    (lambda o: lr_scheduler.LambdaLR(o, [lambda e: 1.0]), ValueError, "lr_lambda"),
    (lambda o: lr_scheduler.LambdaLR(o, 0.5), TypeError, "lr_lambda"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0.0), ValueError, "start_factor"),
    (lambda o: lr_scheduler.LinearLR(o, end_factor=1.5), ValueError, "end_factor"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0), ValueError, "total_steps"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=0), ValueError, "total_steps"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, epochs=2, steps_per_epoch=0), ValueError,
     "steps_per_epoch"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=9, pct_start=1.5), ValueError, "pct_start"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=9, anneal_strategy="exp"), ValueError,
     "anneal_strategy"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=[1.0], total_steps=9), ValueError, "max_lr"),
    (lambda o: lr_scheduler.OneCycleLR(optim.Adagrad(_p()), 1.0, 9), ValueError, "cycle_momentum"),
    (lambda o: lr_scheduler.SequentialLR(o, [], []), ValueError, "schedulers"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(o, 2)], [3]), ValueError, "milestones"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.ReduceLROnPlateau(o)], []), ValueError,
     "ReduceLROnPlateau"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(optim.SGD(_p()), 2)], []), ValueError,
     "another optimizer"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="up"), ValueError, "mode"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError, "threshold_mode"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1, 0.2, 0.3]), ValueError, "min_lr"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), ValueError, "patience"),
    (lambda o: lr_scheduler.StepLR(object(), 2), TypeError, "optimizer"),
]


@pytest.mark.parametrize("make, err, match", BAD_SCHEDULES)
def test_bad_schedule_arguments(make, err, match):
    with pytest.raises(err, match=match):
        make(_sgd_pair()[0])


def test_one_cycle_past_its_total_steps():
    sched = lr_scheduler.OneCycleLR(_sgd_pair()[0], max_lr=1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="total_steps"):
        sched.step()
