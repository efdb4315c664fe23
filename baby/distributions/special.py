"""What the distributions compute with that baby's op set lacks: log-gamma, digamma, the regularised
incomplete gamma function (for Gamma's reparameterised gradient), and three linear-algebra ops (Cholesky,
a lower-triangular solve, the inverse), each an op with its gradient. Arrays are computed in float64 and
returned in the input's dtype."""

import math

from ..backend import xp
from ..tensor import Function

_LANCZOS = (
    0.99999999999980993,
    676.5203681218851,
    -1259.1392167224028,
    771.32342877765313,
    -176.61502916214059,
    12.507343278686905,
    -0.13857109526572012,
    9.9843695780195716e-6,
    1.5056327351493116e-7,
)  # g = 7, n = 9


def lgamma_array(x):
    """log|Gamma(x)| (Lanczos approximation, reflection below 1/2)."""
    x = xp.asarray(x, xp.float64)
    small = x < 0.5
    z = xp.where(small, 1 - x, x) - 1  # Gamma(x) Gamma(1 - x) = pi / sin(pi x) for the small ones
    a = xp.full_like(z, _LANCZOS[0])
    for i, c in enumerate(_LANCZOS[1:], 1):
        a = a + c / (z + i)
    t = z + 7.5
    big = 0.5 * math.log(2 * math.pi) + (z + 0.5) * xp.log(t) - t + xp.log(a)
    with xp.errstate(divide="ignore"):
        return xp.where(small, math.log(math.pi) - xp.log(xp.abs(xp.sin(math.pi * x))) - big, big)


def _shifted(x, n_shift):
    """x moved up by whole steps until at least `n_shift`, and the steps' count mask per step."""
    shifts = []
    for _ in range(n_shift):
        low = x < n_shift
        shifts.append((low, x))
        x = xp.where(low, x + 1, x)
    return x, shifts


def digamma_array(x):
    """d/dx log Gamma(x) (recurrence up to 6, then the asymptotic series; reflection for x <= 0)."""
    x = xp.asarray(x, xp.float64)
    neg = x <= 0
    y = xp.where(neg, 1 - x, x)
    y, shifts = _shifted(y, 6)
    inv = 1 / (y * y)
    r = xp.log(y) - 0.5 / y - inv * (1 / 12 - inv * (1 / 120 - inv * (1 / 252 - inv * (1 / 240 - inv / 132))))
    for low, v in shifts:
        r = r - xp.where(low, 1 / v, 0)
    with xp.errstate(divide="ignore", invalid="ignore"):
        return xp.where(neg, r - math.pi / xp.tan(math.pi * x), r)


def trigamma_array(x):
    """d^2/dx^2 log Gamma(x) for x > 0 (recurrence up to 6, then the asymptotic series)."""
    y, shifts = _shifted(xp.asarray(x, xp.float64), 6)
    inv = 1 / (y * y)
    r = 1 / y + inv / 2 + inv / y * (1 / 6 - inv * (1 / 30 - inv * (1 / 42 - inv / 30)))
    for low, v in shifts:
        r = r + xp.where(low, 1 / (v * v), 0)
    return r


def gammainc_array(a, x, iters=200):
    """The regularised lower incomplete gamma P(a, x): the series below a + 1, Lentz's continued fraction
    for Q = 1 - P above."""
    a, x = xp.broadcast_arrays(xp.asarray(a, xp.float64), xp.asarray(x, xp.float64))
    x = xp.maximum(x, 1e-300)
    log_front = a * xp.log(x) - x - lgamma_array(a)
    term = total = 1 / a
    for n in range(1, iters):  # P = x^a e^-x / Gamma(a) * sum x^n / (a (a+1) ... (a+n))
        term = term * x / (a + n)
        total = total + term
    series = xp.exp(log_front) * total
    tiny = 1e-300
    b = x + 1 - a
    c, d = xp.full_like(x, 1 / tiny), 1 / b
    h = d
    for n in range(1, iters):
        an = -n * (n - a)
        b = b + 2
        d = an * d + b
        d = xp.where(xp.abs(d) < tiny, tiny, d)
        c = b + an / c
        c = xp.where(xp.abs(c) < tiny, tiny, c)
        d = 1 / d
        h = h * d * c
    cf = 1 - xp.exp(log_front) * h
    return xp.where(x < a + 1, series, cf)


def standard_gamma_grad_array(a, x):
    """d x / d a for x ~ Gamma(a, 1) drawn by inversion (implicit reparameterisation): -dP/da / pdf, dP/da by
    a central difference in float64."""
    a, x = xp.asarray(a, xp.float64), xp.asarray(x, xp.float64)
    h = 1e-5 * xp.maximum(a, 1e-3)
    dp = (gammainc_array(a + h, x) - gammainc_array(a - h, x)) / (2 * h)
    log_pdf = (a - 1) * xp.log(xp.maximum(x, 1e-300)) - x - lgamma_array(a)
    return -dp / xp.exp(log_pdf)


def betainc_array(a, b, x, iters=300):
    """The regularised incomplete beta I_x(a, b): Lentz's continued fraction, on the side of the mean where
    it converges (I_x(a, b) = 1 - I_(1-x)(b, a) on the other)."""
    a, b, x = xp.broadcast_arrays(*(xp.asarray(v, xp.float64) for v in (a, b, x)))
    flip = x > (a + 1) / (a + b + 2)
    a, b, x = xp.where(flip, b, a), xp.where(flip, a, b), xp.where(flip, 1 - x, x)
    x = xp.clip(x, 1e-300, 1.0)
    log_front = a * xp.log(x) + b * xp.log1p(-xp.minimum(x, 1 - 1e-16)) - (
        lgamma_array(a) + lgamma_array(b) - lgamma_array(a + b)) - xp.log(a)
    tiny = 1e-300
    c, d = xp.ones_like(x), 1 - (a + b) * x / (a + 1)
    d = 1 / xp.where(xp.abs(d) < tiny, tiny, d)
    h, step = d, xp.zeros_like(d)
    for m in range(1, iters):
        if xp.all(xp.abs(step - 1) < 1e-15):  # the last terms changed nothing
            break
        step = 1.0
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + num * d
            d = 1 / xp.where(xp.abs(d) < tiny, tiny, d)
            c = 1 + num / c
            c = xp.where(xp.abs(c) < tiny, tiny, c)
            h, step = h * d * c, step * d * c
    r = xp.exp(log_front) * h
    return xp.where(flip, 1 - r, r)


def dirichlet_grad_array(x, a, total):
    """PyTorch's _dirichlet_grad: for x ~ Beta(a, b), b = total - a (a Dirichlet coordinate's marginal),
    d x / d a with b held (implicit reparameterisation: -dI_x(a, b)/da / pdf) divided by 1 - x, so that
    g_j (delta_ij - x_i) is d x_i / d a_j; dI/da by a central difference in float64."""
    x, a, total = (xp.asarray(v, xp.float64) for v in (x, a, total))
    b = total - a
    h = 1e-5 * xp.maximum(a, 1e-3)
    di = (betainc_array(a + h, b, x) - betainc_array(a - h, b, x)) / (2 * h)
    xc = xp.clip(x, 1e-300, 1 - 1e-16)
    log_pdf = (a - 1) * xp.log(xc) + (b - 1) * xp.log1p(-xc) - (
        lgamma_array(a) + lgamma_array(b) - lgamma_array(a + b))
    return -di / xp.exp(log_pdf) / (1 - xc)


class DirichletDraw(Function):
    """Draws x ~ Dirichlet(a) along the last dim (given), with PyTorch's reparameterised gradient:
    g * (gy - sum(x * gy)), g = d x_i / d a_i of each coordinate's Beta marginal."""

    def __init__(self, draws):
        self.draws = draws

    def forward(self, a):
        return self.draws

    def backward(self, gy, node):
        a, x = node.inputs[0]._data, self.draws
        g = dirichlet_grad_array(x, a, a.sum(-1, keepdims=True)).astype(a.dtype)
        return (g * (gy - (x * gy).sum(-1, keepdims=True)),)


class Lgamma(Function):
    """log|Gamma(x)|; d/dx = digamma(x)."""

    def forward(self, x):
        return lgamma_array(x).astype(x.dtype)

    def backward(self, gy, node):
        x = node.inputs[0]._data
        return (gy * digamma_array(x).astype(x.dtype),)


class Digamma(Function):
    """digamma(x); d/dx = trigamma(x)."""

    def forward(self, x):
        return digamma_array(x).astype(x.dtype)

    def backward(self, gy, node):
        x = node.inputs[0]._data
        return (gy * trigamma_array(x).astype(x.dtype),)


class StandardGamma(Function):
    """Draws x ~ Gamma(a, 1) elementwise (given), with the implicit reparameterisation gradient d x / d a."""

    def __init__(self, draws):
        self.draws = draws

    def forward(self, a):
        return self.draws

    def backward(self, gy, node):
        a = node.inputs[0]._data
        return (gy * standard_gamma_grad_array(a, self.draws).astype(a.dtype),)


def _mT(a):
    return xp.swapaxes(a, -1, -2)  # (..., n, m) -> (..., m, n)


class Cholesky(Function):
    """The lower Cholesky factor L of a symmetric positive-definite A (..., n, n)."""

    def forward(self, a):
        try:
            return xp.linalg.cholesky(a)
        except xp.linalg.LinAlgError:
            raise ValueError("cholesky: the matrix is not positive-definite") from None

    def backward(self, gy, node):
        L = node._data
        phi = xp.tril(_mT(L) @ xp.tril(gy))
        phi = phi - 0.5 * xp.eye(L.shape[-1], dtype=L.dtype) * phi  # the diagonal halved
        Linv = xp.linalg.inv(L)
        s = _mT(Linv) @ phi @ Linv
        return (0.5 * (s + _mT(s)),)


class SolveLower(Function):
    """X = L^-1 B for lower-triangular L (..., n, n) and B (..., n, k)."""

    def forward(self, L, b):
        return xp.linalg.solve(L, b)

    def backward(self, gy, node):
        L = node.inputs[0]._data
        gb = xp.linalg.solve(_mT(L), gy)
        return -xp.tril(gb @ _mT(node._data)), gb


class Inverse(Function):
    """The inverse of square matrices (..., n, n)."""

    def forward(self, a):
        return xp.linalg.inv(a)

    def backward(self, gy, node):
        inv_t = _mT(node._data)
        return (-inv_t @ gy @ inv_t,)


class NormalCdf(Function):
    """The standard normal CDF Phi(z) (scipy.special.ndtr); d/dz = the standard normal density."""

    def forward(self, z):
        from scipy.special import ndtr

        return ndtr(z).astype(z.dtype, copy=False)

    def backward(self, gy, node):
        z = node.inputs[0]._data
        return (gy * xp.exp(-0.5 * z * z) / math.sqrt(2 * math.pi),)


class NormalIcdf(Function):
    """The standard normal quantile Phi^-1(p) (scipy.special.ndtri); d/dp = 1 / density(Phi^-1(p))."""

    def forward(self, p):
        from scipy.special import ndtri

        return ndtri(p).astype(p.dtype, copy=False)

    def backward(self, gy, node):
        z = node._data
        return (gy * math.sqrt(2 * math.pi) * xp.exp(0.5 * z * z),)


def lgamma(x):
    """log|Gamma(x)|, elementwise."""
    return Lgamma()(x)


def digamma(x):
    """The digamma function, elementwise."""
    return Digamma()(x)
