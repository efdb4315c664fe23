"""baby.distributions against torch.distributions: log_prob, entropy, mean, variance, shapes and KL values
with the gradients of every parameter; rsample gradients; sample moments within statistical bounds;
argument validation."""

import numpy as np
import pytest
import torch

import baby

R = np.random.default_rng(0)
POS = R.uniform(0.5, 2.0, (3, 4))
LOGITS = R.normal(size=(3, 4))
A = R.normal(size=(2, 3, 3))
COV = A @ A.transpose(0, 2, 1) + 3 * np.eye(3)
TRIL = np.linalg.cholesky(COV)
SIMPLEX = R.dirichlet(np.ones(4), size=3)


def _params(lib, arrays):
    return [lib.tensor(np.ascontiguousarray(a), dtype=lib.float64, requires_grad=True) for a in arrays]


# name, arrays of the parameters, builder(D, *params), a value in the support
CASES = [
    ("Normal", [R.normal(size=(3, 4)), POS], lambda D, m, s: D.Normal(m, s), R.normal(size=(3, 4))),
    ("Uniform", [-POS, POS], lambda D, lo, hi: D.Uniform(lo, hi), R.uniform(-0.4, 0.4, (3, 4))),
    (
        "Bernoulli-probs",
        [R.uniform(0.1, 0.9, (3, 4))],
        lambda D, p: D.Bernoulli(probs=p),
        R.integers(0, 2, (3, 4)).astype(float),
    ),
    (
        "Bernoulli-logits",
        [LOGITS],
        lambda D, x: D.Bernoulli(logits=x),
        R.integers(0, 2, (3, 4)).astype(float),
    ),
    ("Categorical-probs", [SIMPLEX * 2], lambda D, p: D.Categorical(probs=p), R.integers(0, 4, (5, 3))),
    ("Categorical-logits", [LOGITS], lambda D, x: D.Categorical(logits=x), R.integers(0, 4, (3,))),
    ("OneHotCategorical", [LOGITS], lambda D, x: D.OneHotCategorical(logits=x), np.eye(4)[[0, 3, 1]]),
    ("Gamma", [POS, POS[::-1]], lambda D, a, b: D.Gamma(a, b), POS * 1.3),
    ("Beta", [POS, POS[::-1] + 0.3], lambda D, a, b: D.Beta(a, b), R.uniform(0.05, 0.95, (3, 4))),
    ("Dirichlet", [POS], lambda D, a: D.Dirichlet(a), SIMPLEX),
    (
        "MVN-cov",
        [R.normal(size=(2, 3)), COV],
        lambda D, m, c: D.MultivariateNormal(m, covariance_matrix=c),
        R.normal(size=(4, 2, 3)),
    ),
    (
        "MVN-tril",
        [R.normal(size=(3,)), TRIL],
        lambda D, m, L: D.MultivariateNormal(m, scale_tril=L),
        R.normal(size=(2, 3)),
    ),
    (
        "MVN-precision",
        [R.normal(size=(3,)), COV[0]],
        lambda D, m, p: D.MultivariateNormal(m, precision_matrix=p),
        R.normal(size=(2, 3)),
    ),
    (
        "Independent",
        [R.normal(size=(3, 4)), POS],
        lambda D, m, s: D.Independent(D.Normal(m, s), 1),
        R.normal(size=(3, 4)),
    ),
]


def _build(lib, arrays, build):
    ps = _params(lib, arrays)
    return build(lib.distributions, *ps), ps


def _close(b, t, ps_b, ps_t, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(b.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)
    if not t.requires_grad:  # a discrete mode: no gradient in either library
        assert not b.requires_grad
        return
    w = R.normal(size=tuple(t.shape))
    gb = baby.autograd.grad((b * baby.tensor(w)).sum(), ps_b, allow_unused=True)
    gt = torch.autograd.grad((t * torch.tensor(w)).sum(), ps_t, allow_unused=True)
    for x, y in zip(gb, gt, strict=True):
        if y is None:
            assert x is None or not np.any(x.numpy())
        else:
            np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name, arrays, build, value", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("what", ["log_prob", "entropy", "mean", "variance", "stddev", "mode", "shapes"])
@pytest.mark.filterwarnings("ignore:invalid value encountered")  # Dirichlet mode rows of 0/0, as PyTorch
def test_against_torch(name, arrays, build, value, what):
    (db, pb), (dt, pt) = _build(baby, arrays, build), _build(torch, arrays, build)
    if what == "shapes":
        assert tuple(db.batch_shape) == tuple(dt.batch_shape) and tuple(db.event_shape) == tuple(
            dt.event_shape
        )
        assert db.has_rsample == dt.has_rsample
        return
    if what == "log_prob":
        dtype = "int64" if name.startswith("Categorical") else "float64"
        b, t = (
            db.log_prob(baby.tensor(value, dtype=dtype)),
            dt.log_prob(torch.tensor(value, dtype=getattr(torch, dtype))),
        )
    elif what == "entropy":
        b, t = db.entropy(), dt.entropy()
    else:
        b, t = getattr(db, what), getattr(dt, what)
        if name.startswith("Categorical") and what != "mode":
            assert np.isnan(b.numpy()).all() and np.isnan(t.numpy()).all() and b.shape == t.shape
            return
    assert tuple(b.shape) == tuple(t.shape) and str(b.dtype) == str(t.dtype).replace("torch.", "")
    _close(b, t, pb, pt)


KL = [
    ("Normal", lambda D, a, b: (D.Normal(a, b), D.Normal(b, b + 1))),
    ("Bernoulli", lambda D, a, b: (D.Bernoulli(logits=a), D.Bernoulli(logits=b))),
    ("Categorical", lambda D, a, b: (D.Categorical(logits=a), D.Categorical(logits=b))),
    ("OneHotCategorical", lambda D, a, b: (D.OneHotCategorical(logits=a), D.OneHotCategorical(logits=b))),
    ("Uniform", lambda D, a, b: (D.Uniform(-b * 0.5, b * 0.5), D.Uniform(-b, b))),
    ("Uniform-outside", lambda D, a, b: (D.Uniform(-b, b), D.Uniform(-b * 0.5, b * 0.5))),
    ("Uniform-Normal", lambda D, a, b: (D.Uniform(-b, b), D.Normal(a, b))),
    ("Gamma", lambda D, a, b: (D.Gamma(b, b + 1), D.Gamma(b + 0.5, b))),
    ("Beta", lambda D, a, b: (D.Beta(b, b + 1), D.Beta(b + 0.5, b))),
    ("Dirichlet", lambda D, a, b: (D.Dirichlet(b), D.Dirichlet(b + 0.7))),
    ("Independent", lambda D, a, b: (D.Independent(D.Normal(a, b), 1), D.Independent(D.Normal(b, b), 1))),
]


@pytest.mark.parametrize("name, build", KL, ids=[k[0] for k in KL])
def test_kl_divergence(name, build):
    arrays = [R.normal(size=(3, 4)), POS]
    pb, pt = _params(baby, arrays), _params(torch, arrays)
    b = baby.distributions.kl_divergence(*build(baby.distributions, *pb))
    t = torch.distributions.kl_divergence(*build(torch.distributions, *pt))
    if name == "Uniform-outside":
        assert np.isinf(b.detach().numpy()).all() and np.isinf(t.detach().numpy()).all()
        return
    _close(b, t, pb, pt)


def test_kl_mvn_and_unregistered_pair():
    arrays = [R.normal(size=(2, 3)), COV, TRIL[0]]
    pb, pt = _params(baby, arrays), _params(torch, arrays)

    def kl(lib, m, c, L):
        D = lib.distributions
        return D.kl_divergence(
            D.MultivariateNormal(m, covariance_matrix=c), D.MultivariateNormal(m * 0, scale_tril=L)
        )

    _close(kl(baby, *pb), kl(torch, *pt), pb, pt)
    with pytest.raises(NotImplementedError, match="Gamma"):
        baby.distributions.kl_divergence(
            baby.distributions.Gamma(1.0, 1.0), baby.distributions.Normal(0.0, 1.0)
        )


@pytest.mark.parametrize(
    "build, analytic",
    [
        (lambda D, a, b: D.Normal(a, b), lambda x, a, b: [np.ones_like(x), (x - a) / b]),
        (lambda D, a, b: D.Uniform(a - b, a + b), lambda x, a, b: [np.ones_like(x), (x - a) / b]),
        (
            lambda D, a, b: D.Gamma(b, 1.0),
            lambda x, a, b: [
                np.zeros_like(x),
                torch._standard_gamma_grad(torch.tensor(b), torch.tensor(x)).numpy(),
            ],
        ),
        (
            lambda D, a, b: D.Gamma(b + 2.0, 1.0),
            lambda x, a, b: [
                np.zeros_like(x),
                torch._standard_gamma_grad(torch.tensor(b + 2.0), torch.tensor(x)).numpy(),
            ],
        ),
    ],
    ids=["Normal", "Uniform", "Gamma-small", "Gamma"],
)
def test_rsample_gradient_per_draw(build, analytic):
    baby.manual_seed(1)
    a, b = (
        baby.tensor(R.normal(size=6), requires_grad=True, dtype=baby.float64),
        baby.tensor(POS.ravel()[:6], requires_grad=True, dtype=baby.float64),
    )
    x = build(baby.distributions, a, b).rsample()
    x.sum().backward()
    ga, gb = analytic(x.detach().numpy(), a.detach().numpy(), b.detach().numpy())
    np.testing.assert_allclose(
        a.grad.numpy() if a.grad is not None else np.zeros(6), ga, rtol=1e-4, atol=1e-9
    )
    np.testing.assert_allclose(b.grad.numpy(), gb, rtol=1e-3, atol=1e-9)


def test_mvn_rsample_gradient_flows():
    baby.manual_seed(2)
    m, L = baby.zeros(3, requires_grad=True), baby.tensor(TRIL[0], dtype=baby.float32, requires_grad=True)
    x = baby.distributions.MultivariateNormal(m, scale_tril=L).rsample((5,))
    x.sum().backward()
    eps = np.linalg.solve(TRIL[0], x.detach().numpy().T).T  # the draws' standard normals
    np.testing.assert_allclose(m.grad.numpy(), [5, 5, 5])
    np.testing.assert_allclose(L.grad.numpy(), np.tile(eps.sum(0), (3, 1)), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["Beta", "Dirichlet"])
def test_rsample_gradient_per_draw_beta_dirichlet(name):
    """The gradient of each draw is PyTorch's: _dirichlet_grad(x, a, sum a) * (gy - sum(x * gy))."""
    baby.manual_seed(3)
    c = np.array([[0.7, 2.5, 4.0], [1.5, 0.3, 9.0]])
    cb = baby.tensor(c, requires_grad=True)
    if name == "Beta":
        x = baby.distributions.Beta(cb[:, 0], cb[:, 1]).rsample((4,))  # (4, 2)
        a = np.broadcast_to(c[:, :2], (4, 2, 2))
        xs = np.stack([x.detach().numpy(), 1 - x.detach().numpy()], -1)  # (4, 2, 2)
        gy = np.stack([np.ones((4, 2)), np.zeros((4, 2))], -1)  # the first coordinate's gradient
    else:
        x = baby.distributions.Dirichlet(cb).rsample((4,))  # (4, 2, 3)
        a, xs, gy = np.broadcast_to(c, (4, 2, 3)), x.detach().numpy(), R.standard_normal((4, 2, 3))
    x.backward(baby.tensor(gy[..., 0] if name == "Beta" else gy, dtype=baby.float64))
    t = torch.tensor(xs)
    g = torch._dirichlet_grad(t, torch.tensor(a), torch.tensor(a).sum(-1, keepdim=True).expand(t.shape))
    expected = (g * (torch.tensor(gy) - (t * torch.tensor(gy)).sum(-1, keepdim=True))).sum(0).numpy()
    got = cb.grad.numpy()[:, :2] if name == "Beta" else cb.grad.numpy()
    np.testing.assert_allclose(got, expected, rtol=5e-3, atol=1e-6)


@pytest.mark.parametrize("name", ["Beta", "Dirichlet"])
def test_rsample_gradient_in_expectation(name):
    """d E[x] / d concentration from many reparameterised draws matches the derivative of PyTorch's mean."""
    baby.manual_seed(3)
    c = np.array([0.7, 2.5, 4.0])
    cb, ct = baby.tensor(c, requires_grad=True), torch.tensor(c, requires_grad=True)
    if name == "Beta":
        db, dt = baby.distributions.Beta(cb, 1.5), torch.distributions.Beta(ct, 1.5)
    else:
        db, dt = baby.distributions.Dirichlet(cb), torch.distributions.Dirichlet(ct)
    w = np.array([1.0, -2.0, 0.5])
    (db.rsample((20000,)) * baby.tensor(w, dtype=baby.float32)).mean(0).sum().backward()
    (dt.mean * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(cb.grad.numpy(), ct.grad.numpy(), atol=0.02)


MOMENTS = [
    ("Normal", lambda D, T: D.Normal(T([0.5, -2.0]), T([1.0, 3.0]))),
    ("Uniform", lambda D, T: D.Uniform(T([0.0, -2.0]), T([1.0, 5.0]))),
    ("Bernoulli", lambda D, T: D.Bernoulli(probs=T([0.1, 0.7]))),
    ("OneHotCategorical", lambda D, T: D.OneHotCategorical(probs=T([0.2, 0.5, 0.3]))),
    ("Gamma", lambda D, T: D.Gamma(T([0.3, 4.0]), T([1.0, 2.0]))),
    ("Beta", lambda D, T: D.Beta(T([0.5, 3.0]), T([2.0, 1.0]))),
    ("Dirichlet", lambda D, T: D.Dirichlet(T([0.5, 3.0, 1.0]))),
    ("MultivariateNormal", lambda D, T: D.MultivariateNormal(T([1.0, -1.0]), T([[2.0, 0.5], [0.5, 1.0]]))),
]


@pytest.mark.parametrize("name, build", MOMENTS, ids=[m[0] for m in MOMENTS])
def test_sample_moments(name, build):
    baby.manual_seed(4)
    n = 20000
    db, dt = build(baby.distributions, baby.tensor), build(torch.distributions, torch.tensor)
    s = db.sample((n,)).numpy().astype(np.float64)
    assert s.shape == tuple(dt.sample((n,)).shape) and str(db.sample().dtype) == "float32"
    mean, var = dt.mean.numpy(), dt.variance.numpy()
    np.testing.assert_array_less(np.abs(s.mean(0) - mean), 5 * np.sqrt(var / n) + 1e-9)  # 5 standard errors
    np.testing.assert_allclose(s.var(0), var, rtol=0.1)


def test_categorical_sample_frequencies_and_seed():
    p = [0.1, 0.6, 0.0, 0.3]
    baby.manual_seed(5)
    s = baby.distributions.Categorical(probs=baby.tensor(p)).sample((20000,))
    assert s.dtype == baby.int64
    freq = np.bincount(s.numpy(), minlength=4) / 20000
    np.testing.assert_array_less(
        np.abs(freq - p), 5 * np.sqrt(np.array(p) * (1 - np.array(p)) / 20000) + 1e-9
    )
    baby.manual_seed(5)
    again = baby.distributions.Categorical(probs=baby.tensor(p)).sample((20000,))
    np.testing.assert_array_equal(s.numpy(), again.numpy())


INVALID = [
    ("Normal-scale", lambda D, T: D.Normal(T(0.0), T(-1.0))),
    ("Uniform-order", lambda D, T: D.Uniform(T(2.0), T(1.0))),
    ("Bernoulli-probs", lambda D, T: D.Bernoulli(probs=T(1.5))),
    ("Categorical-probs", lambda D, T: D.Categorical(probs=T([0.5, -0.1]))),
    ("Gamma-rate", lambda D, T: D.Gamma(T(1.0), T(0.0))),
    ("Dirichlet", lambda D, T: D.Dirichlet(T([1.0, -1.0]))),
    ("MVN-not-PD", lambda D, T: D.MultivariateNormal(T([0.0, 0.0]), T([[1.0, 2.0], [2.0, 1.0]]))),
    ("both-probs-and-logits", lambda D, T: D.Bernoulli(probs=T(0.5), logits=T(0.0))),
    ("Normal-log_prob-shape", lambda D, T: D.Normal(T([0.0, 1.0]), T(1.0)).log_prob(T([1.0, 2.0, 3.0]))),
    ("Bernoulli-log_prob-support", lambda D, T: D.Bernoulli(probs=T(0.3)).log_prob(T(0.5))),
    ("Categorical-log_prob-support", lambda D, T: D.Categorical(logits=T([0.0, 1.0])).log_prob(T(2))),
]


@pytest.mark.parametrize("name, make", INVALID, ids=[i[0] for i in INVALID])
def test_argument_validation(name, make):
    with pytest.raises(ValueError) as et:
        make(torch.distributions, torch.tensor)
    with pytest.raises(ValueError) as eb:
        make(baby.distributions, baby.tensor)
    assert str(eb.value).split("(")[0] == str(et.value).replace("torch.", "baby.").split("(")[0]


def test_validate_args_off():
    try:
        baby.distributions.Distribution.set_default_validate_args(False)
        d = baby.distributions.Normal(baby.tensor(0.0), baby.tensor(-1.0))
        with np.errstate(invalid="ignore"):
            assert np.isnan(d.log_prob(baby.tensor(0.0)).item())
    finally:
        baby.distributions.Distribution.set_default_validate_args(True)
    baby.distributions.Normal(0.0, -1.0, validate_args=False)
    with pytest.raises(ValueError, match="True or False"):
        baby.distributions.Distribution.set_default_validate_args("yes")
    with pytest.raises(NotImplementedError, match="sample"):
        baby.distributions.Categorical(logits=baby.zeros(3)).rsample()


def test_enumerate_support_as_torch():
    for make in (
        lambda D, T: D.Categorical(logits=T([[0.0, 1.0, 2.0]] * 2)),
        lambda D, T: D.Bernoulli(probs=T([0.2, 0.4])),
        lambda D, T: D.OneHotCategorical(logits=T([0.0, 1.0, 2.0])),
    ):
        b, t = make(baby.distributions, baby.tensor), make(torch.distributions, torch.tensor)
        for expand in (True, False):
            np.testing.assert_array_equal(
                b.enumerate_support(expand).numpy(), t.enumerate_support(expand).numpy()
            )


@pytest.mark.parametrize("what", ["cdf", "icdf"])
@pytest.mark.parametrize("name", ["Normal", "Uniform"])
def test_cdf_icdf(name, what):
    arrays = [R.normal(size=(3, 4)), POS] if name == "Normal" else [-POS, POS]
    r = np.random.default_rng(7)
    value = r.uniform(-0.4, 0.4, (3, 4)) if what == "cdf" else r.uniform(0.02, 0.98, (3, 4))  # in the support
    (db, pb), (dt, pt) = ((getattr(lib.distributions, name)(*ps), ps) for lib, ps in
                          ((baby, _params(baby, arrays)), (torch, _params(torch, arrays))))
    vb, vt = baby.tensor(value, requires_grad=True), torch.tensor(value, requires_grad=True)
    _close(getattr(db, what)(vb), getattr(dt, what)(vt), pb + [vb], pt + [vt])


@pytest.mark.parametrize("name, arrays, build, value", CASES, ids=[c[0] for c in CASES])
def test_expand(name, arrays, build, value):
    (db, _), (dt, _) = _build(baby, arrays, build), _build(torch, arrays, build)
    shape = (2, *dt.batch_shape)
    eb, et = db.expand(shape), dt.expand(shape)
    assert tuple(eb.batch_shape) == tuple(et.batch_shape) and tuple(eb.event_shape) == tuple(et.event_shape)
    dtype = "int64" if name.startswith("Categorical") else "float64"
    value = value[:1] if value.ndim >= len(shape) + len(dt.event_shape) else value  # broadcasts with shape
    b = eb.log_prob(baby.tensor(value, dtype=dtype))
    t = et.log_prob(torch.tensor(value, dtype=getattr(torch, dtype)))
    np.testing.assert_allclose(b.detach().numpy(), t.detach().numpy(), rtol=1e-6, atol=1e-8)
    assert tuple(eb.sample().shape) == tuple(et.sample().shape)
