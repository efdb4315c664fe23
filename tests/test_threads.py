"""Grad mode is per thread, as PyTorch's: a no_grad block (backward's own included) in one thread leaves
every other thread recording; backward in several threads accumulates every thread's gradient. Every wait
is bounded, so a deadlock fails the test instead of hanging CI."""

import threading

import numpy as np
import pytest
import torch

import baby

WAIT = 20  # seconds: the most any thread or event is waited for


def run_threads(*fns):
    """Run each fn in its own thread; join them (bounded) and re-raise the first exception."""
    errors = []

    def guard(fn):
        try:
            fn()
        except BaseException as e:  # handed to the test's thread
            errors.append(e)

    threads = [threading.Thread(target=guard, args=(fn,), daemon=True) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
        assert not t.is_alive(), "a thread did not finish in time"
    if errors:
        raise errors[0]


def wait(event):
    assert event.wait(WAIT), "an event was not set in time"


def blocks(lib):
    """Each way of switching grad recording off for a block, in `lib` (baby or torch)."""
    return {"no_grad": lib.no_grad, "inference_mode": lib.inference_mode,
            "set_grad_enabled": lambda: lib.set_grad_enabled(False)}


def graph_built_beside(lib, block):
    """Whether a thread records a graph while another thread is inside `block`."""
    inside, done, seen = threading.Event(), threading.Event(), {}

    def switched_off():
        with blocks(lib)[block]():
            inside.set()
            wait(done)
            seen["inside"] = lib.is_grad_enabled()

    def recording():
        wait(inside)
        x = lib.ones(3, requires_grad=True)
        seen["other"] = ((x * 2).requires_grad, lib.is_grad_enabled())
        done.set()

    run_threads(switched_off, recording)
    return seen


@pytest.mark.parametrize("block", ["no_grad", "inference_mode", "set_grad_enabled"])
def test_block_in_one_thread_leaves_others_recording(block):
    assert graph_built_beside(baby, block) == graph_built_beside(torch, block) == {
        "inside": False, "other": (True, True)}
    assert baby.is_grad_enabled()


@pytest.mark.parametrize("lib", [baby, torch], ids=["baby", "torch"])
def test_new_thread_starts_with_grad_enabled(lib):
    seen = []
    with lib.no_grad():
        run_threads(lambda: seen.append(lib.is_grad_enabled()))
        assert not lib.is_grad_enabled()
    assert seen == [True]


@pytest.mark.parametrize("lib", [baby, torch], ids=["baby", "torch"])
def test_set_grad_enabled_call_sets_only_its_thread(lib):
    seen = []

    def off():
        lib.set_grad_enabled(False)
        seen.append(lib.is_grad_enabled())

    run_threads(off)
    assert seen == [False] and lib.is_grad_enabled()


@pytest.mark.parametrize("lib", [baby, torch], ids=["baby", "torch"])
def test_backward_no_grad_stays_in_its_thread(lib):
    """A hook pauses one thread's backward (inside backward's no_grad) while another thread builds a graph."""
    in_backward, built, seen = threading.Event(), threading.Event(), {}

    def backward():
        x = lib.ones(3, requires_grad=True)
        y = x * 3

        def hook(g):
            seen["backward"] = lib.is_grad_enabled()
            in_backward.set()
            wait(built)

        y.register_hook(hook)
        y.sum().backward()
        seen["grad"] = x.grad.tolist()

    def forward():
        wait(in_backward)
        x = lib.ones(3, requires_grad=True)
        seen["forward"] = (x * 2).requires_grad
        built.set()

    run_threads(backward, forward)
    assert seen == {"backward": False, "forward": True, "grad": [3.0, 3.0, 3.0]}


def model_grads(lib, seed, steps=3):
    """A small MLP's gradients after `steps` forward/backward passes (from a fixed seed)."""
    rng = np.random.default_rng(seed)
    w1, w2 = (lib.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
              for s in ((6, 8), (8, 2)))
    x = lib.tensor(rng.standard_normal((5, 6)).astype(np.float32))
    for _ in range(steps):
        with lib.no_grad():
            x = x * 0.9  # a no_grad block between the passes, as an eval step would be
        ((x @ w1).tanh() @ w2).square().mean().backward()
    return w1.grad.numpy().copy(), w2.grad.numpy().copy()


def test_two_threads_each_train_their_own_graph():
    got = {}
    run_threads(*(lambda s=s: got.__setitem__(s, model_grads(baby, s, steps=20)) for s in (0, 1)))
    for s in (0, 1):
        for g, want in zip(got[s], model_grads(torch, s, steps=20), strict=True):
            np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-5)
    assert baby.is_grad_enabled()


def sin_graph(lib):
    """Leaves x, w and the loss sum(sin(x w) x) built from them."""
    x = lib.tensor(np.linspace(-1, 1, 4096, dtype=np.float32), requires_grad=True)
    w = lib.tensor(np.float32(1.5), requires_grad=True)
    return x, w, ((x * w).sin() * x).sum()


@pytest.mark.parametrize("lib", [baby, torch], ids=["baby", "torch"])
def test_backward_on_one_graph_from_two_threads(lib):
    """Both threads' gradients accumulate into the shared leaves (retain_graph keeps the graph for both)."""
    x, w, loss = sin_graph(lib)
    start = threading.Barrier(2, timeout=WAIT)

    def back():
        start.wait()
        loss.backward(retain_graph=True)

    run_threads(back, back)
    tx, tw, tloss = sin_graph(torch)
    tloss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), 2 * tw.grad.numpy(), rtol=1e-4)
    assert lib.is_grad_enabled()
