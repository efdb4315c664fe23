"""baby.serialization: whole models, optimizers and schedulers saved and loaded as PyTorch 2.6+ does, with
its allow-list of classes (safe_globals); file modes and cycles on save."""

import io
import os
import pickle
import threading

import numpy as np
import pytest
import torch

import baby
import baby.serialization
from baby import models, nn, optim
from baby.serialization import add_safe_globals, clear_safe_globals, get_safe_globals, safe_globals


class Tied(nn.Module):
    """A user model: tied weights, a function attribute, plain settings and a nested container."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(7, 4)
        self.head = nn.Linear(4, 7, bias=False)
        self.head.weight = self.embed.weight
        self.act = nn.functional.gelu
        self.settings = {"scale": 0.5, "names": ("a", "b"), "dtype": baby.float32}

    def forward(self, x):
        return self.head(self.act(self.embed(x) * self.settings["scale"]))


def _round_trip(obj, **kw):
    f = io.BytesIO()
    baby.save(obj, f)
    f.seek(0)
    return baby.load(f, **kw)


@pytest.mark.parametrize("name, shape", [("mlp", [1, 8, 8]), ("cnn", [1, 8, 8]), ("lenet", [1, 28, 28]),
                                         ("resnet9", [3, 32, 32]), ("mobilenet", [3, 32, 32])])
def test_a_whole_model_saved_and_loaded_gives_the_same_outputs(name, shape):
    model = models.create(name, shape, 10)
    model.train()(baby.randn(4, *shape))  # running statistics move
    model.eval()
    back = _round_trip(model)
    assert type(back) is type(model) and not back.training
    x = baby.randn(2, *shape)
    np.testing.assert_array_equal(back(x).numpy(), model(x).numpy())
    assert [k for k, _ in back.named_parameters()] == [k for k, _ in model.named_parameters()]
    back.train()(x).sum().backward()  # it trains
    assert all(p.grad is not None for p in back.parameters())


def test_a_user_model_needs_its_class_allowed():
    model = Tied()
    f = io.BytesIO()
    baby.save(model, f)
    for call in (lambda: baby.load(f), lambda: baby.load(f, weights_only=True)):
        f.seek(0)
        refused = rf"{__name__}\.Tied, which is not an allowed global.*add_safe_globals\(\[Tied\]\)"
        with pytest.raises(pickle.UnpicklingError, match=refused):
            call()
    f.seek(0)
    assert baby.serialization.get_unsafe_globals_in_checkpoint(f) == [f"{__name__}.Tied"]
    x = baby.tensor([[1, 2, 6]])
    for allow in (lambda: safe_globals([Tied]), lambda: safe_globals([(Tied, f"{__name__}.Tied")])):
        f.seek(0)
        with allow():
            back = baby.load(f)
        np.testing.assert_array_equal(back(x).numpy(), model(x).numpy())
        assert back.head.weight is back.embed.weight and back.act is nn.functional.gelu
        assert back.settings == model.settings
    assert Tied not in get_safe_globals()
    add_safe_globals([Tied])
    try:
        assert Tied in get_safe_globals()
        f.seek(0)
        assert type(baby.load(f)) is Tied
    finally:
        clear_safe_globals()
    f.seek(0)
    assert type(baby.load(f, weights_only=False)) is Tied  # PyTorch's whole-model spelling


def test_optimizer_and_scheduler_objects_resume_exactly():
    baby.manual_seed(0)
    model = models.MLP()
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, 2, gamma=0.5)

    def steps(model, opt, sched, n):
        for _ in range(n):
            opt.zero_grad()
            model(baby.randn(3, 64)).square().mean().backward()
            opt.step()
            sched.step()

    steps(model, opt, sched, 3)
    back = _round_trip({"model": model, "opt": opt, "sched": sched, "state": opt.state_dict(), "epoch": 3})
    assert back["opt"].param_groups[0]["params"][0] is next(back["model"].parameters())
    assert back["sched"].optimizer is back["opt"] and back["epoch"] == 3
    rng = baby.get_rng_state()
    steps(model, opt, sched, 3)
    baby.set_rng_state(rng)
    steps(back["model"], back["opt"], back["sched"], 3)
    for a, b in zip(model.parameters(), back["model"].parameters(), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert back["opt"].param_groups[0]["lr"] == opt.param_groups[0]["lr"] == 0.01 * 0.5 ** 3


def test_nested_containers_keep_their_types_and_sharing():
    shared = [baby.ones(2)]
    obj = {"od": __import__("collections").OrderedDict(a=1), "set": {1, "x", (2, 3)}, "fs": frozenset({4}),
           "dd": __import__("collections").defaultdict(list, {"k": [1]}), "one": shared, "two": shared,
           "size": baby.Size([2, 3]), "dtype": baby.int64, "cls": nn.Linear}
    back = _round_trip(obj)
    assert back == {**obj, "one": back["one"], "two": back["two"]}
    assert [type(v) for v in back.values()] == [type(v) for v in obj.values()]
    assert back["one"] is back["two"] and back["dd"].default_factory is list


@pytest.mark.parametrize("make, match", [
    (lambda: [1, [2]], None),
    (lambda: (lambda a: a.append(a) or a)([1]), r"obj\[1\] contains itself: a cycle back to obj \(list\)"),
    (lambda: (lambda d: d.update(me={"again": d}) or d)({}),
     r"obj\['me'\]\['again'\] contains itself: a cycle back to obj \(dict\)"),
    (lambda: (lambda m: setattr(m, "inner", nn.Sequential(m)) or m)(nn.Linear(2, 2)),
     r"obj\._modules\['inner'\]\._modules\['0'\] contains itself: a cycle back to obj \(Linear\)"),
])
def test_an_object_that_contains_itself_is_a_type_error_naming_the_cycle(make, match):
    if match is None:
        assert _round_trip(make()) == [1, [2]]
        return
    with pytest.raises(TypeError, match=match):
        baby.save(make(), io.BytesIO())


@pytest.mark.parametrize("obj, match", [
    (lambda: np.random.default_rng(), "cannot store a Generator: it customises pickling"),
    (lambda: {"f": threading.Lock()}, r"cannot store a lock at obj\['f'\]: its state is not plain"),
    (lambda: {"key": {nn.Linear(2, 2): 1}}, None),
])
def test_objects_that_are_not_plain_attributes_are_refused_on_save(obj, match):
    value = obj()
    if match is None:
        assert type(next(iter(_round_trip(value)["key"]))) is nn.Linear
        return
    with pytest.raises(TypeError, match=match):
        baby.save(value, io.BytesIO())


@pytest.mark.parametrize("umask", [0o077, 0o022, 0o002])
def test_saved_files_get_the_umask_mode_as_pytorch(tmp_path, umask):
    old = os.umask(umask)
    try:
        baby.save({"w": baby.ones(2)}, tmp_path / "baby.pt")
        torch.save({"w": torch.ones(2)}, tmp_path / "torch.pt")
        baby.train.save_checkpoint(tmp_path / "c.npz", models.MLP())
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes == {"baby.pt": 0o666 & ~umask, "torch.pt": 0o666 & ~umask, "c.npz": 0o666 & ~umask}


def test_the_module_has_pytorchs_names():
    import baby.serialization as s
    assert {"save", "load", "add_safe_globals", "safe_globals", "get_safe_globals", "clear_safe_globals",
            "get_unsafe_globals_in_checkpoint"} <= set(dir(s))
    assert baby.save is s.save and baby.load is s.load and baby.io.save is s.save


def test_unsafe_globals_in_a_torch_file(tmp_path):
    torch.save({"w": torch.ones(2), "layer": torch.nn.Identity()}, tmp_path / "m.pth")
    got = baby.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "m.pth")
    assert "torch.nn.modules.linear.Identity" in got and "torch._utils._rebuild_tensor_v2" not in got


def test_attributes_that_read_like_class_names_are_data():
    m = nn.Linear(2, 2)
    m.object, m.note = "posix:system", {"global": "builtins:eval"}
    back = _round_trip(m)
    assert back.object == "posix:system" and back.note == {"global": "builtins:eval"}
