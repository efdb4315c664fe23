"""The fused recurrent ops: one layer in one direction over all time steps, forward and backward on arrays.

The sequence arrives flat, as a PackedSequence holds it: `x` (N, I) with the rows of step t at
`off[t]:off[t] + bs[t]` (a padded (T, B, I) batch is the case bs[t] = B, x = input.reshape(T * B, I)).
Batches are sorted by decreasing length, so the rows still running at step t are a prefix of the batch:
step t updates state rows `:bs[t]` and leaves the finished ones holding their final values. The reverse
direction walks t = T-1 .. 0; a sequence starts from its h0 row at its own last step.

Each op does the input projection of all steps in one matrix product, only the recurrent product inside
the loop, and its backward through time keeps the pre-activation gradients of every step in one (N, G)
array, so the weight, bias and input gradients are again one product each after the loop. The
equations are those of cells.py, one time step each; tests check the two against each other and PyTorch.

An op returns its three results (output (N, Ho), h_n (B, Ho), c_n (B, H) for the LSTM) in one flat
array; `run` cuts it into tensors.
"""

from ...backend import xp
from ...parallel import matmul as gemm
from ...parallel import single_threaded_blas
from ...tensor import Function


def _sigmoid(a, out):
    """sigmoid(a) into out, as 0.5 * tanh(a / 2) + 0.5 (no overflow for large |a|)."""
    xp.multiply(a, 0.5, out=out)
    xp.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


class Recurrence(Function):
    """One layer, one direction. Inputs: x (N, I), h0 (B, Ho), [c0 (B, H)], w_ih (G, I), w_hh (G, Ho),
    [b_ih (G,), b_hh (G,)], [w_hr (Ho, H)]; G = gates * H. Subclasses write `step` and `step_back`."""

    gates = 1
    cell_state = False

    def __init__(self, batch_sizes, reverse, bias, proj=False):
        self.bs = [int(b) for b in batch_sizes]
        self.off = [0]
        for b in self.bs[:-1]:
            self.off.append(self.off[-1] + b)
        self.order = range(len(self.bs) - 1, -1, -1) if reverse else range(len(self.bs))
        self.bias, self.proj = bias, proj

    def _unpack(self, arrays):
        """The inputs by name: x, h0, c0 (or None), w_ih, w_hh, b_ih, b_hh (or None), w_hr (or None)."""
        x, h0, *rest = arrays
        c0 = rest.pop(0) if self.cell_state else None
        w_ih, w_hh = rest[:2]
        b_ih, b_hh = rest[2:4] if self.bias else (None, None)
        w_hr = rest[-1] if self.proj else None
        return x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr

    def forward(self, *arrays):
        x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr = self._unpack(arrays)
        N, B, Ho, H = x.shape[0], h0.shape[0], h0.shape[1], w_hh.shape[0] // self.gates
        self.xa = gemm(x, w_ih.T)  # (N, G): every step's input projection in one product
        if b_ih is not None:
            self.xa += self.input_bias(b_ih, b_hh)
        flat = xp.empty(N * Ho + B * Ho + (B * H if self.cell_state else 0), x.dtype)
        y = self.y = flat[:N * Ho].reshape(N, Ho)  # the output rows, step after step
        h = flat[N * Ho:(N + B) * Ho].reshape(B, Ho)  # the running state, left as h_n
        h[...] = h0
        c = None
        if self.cell_state:
            c = flat[(N + B) * Ho:].reshape(B, H)  # the running cell state, left as c_n
            c[...] = c0
        self.hprev = xp.empty((N, Ho), x.dtype)  # each step's incoming h, for w_hh's gradient
        self.setup(N, B, H, x.dtype)
        w_hhT = xp.ascontiguousarray(w_hh.T)  # (Ho, G) row-major: each step's product a plain GEMM (2x
        # faster than OpenBLAS's transposed-B path at these shapes)
        with single_threaded_blas():  # the per-step products are small: OpenBLAS's threads only spin
            for t in self.order:
                r, n = slice(self.off[t], self.off[t] + self.bs[t]), self.bs[t]
                self.hprev[r] = h[:n]
                self.step(r, h[:n], None if c is None else c[:n], w_hhT, b_hh, w_hr)
                y[r] = h[:n]
        return flat

    def input_bias(self, b_ih, b_hh):
        """The bias added to the input projection (both biases where they add before any product)."""
        return b_ih + b_hh

    def setup(self, N, B, H, dtype):
        """Allocate what the steps keep for the backward."""

    def backward(self, gflat, node):
        x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr = self._unpack([t._data for t in node.inputs])
        N, B, Ho = x.shape[0], h0.shape[0], h0.shape[1]
        H = w_hh.shape[0] // self.gates
        gy = gflat[:N * Ho].reshape(N, Ho)
        dh = gflat[N * Ho:(N + B) * Ho].reshape(B, Ho).copy()  # d loss / d h, carried back through time
        dc = gflat[(N + B) * Ho:].reshape(B, H).copy() if self.cell_state else None
        da = xp.empty((N, self.gates * H), x.dtype)  # every step's pre-activation gradient
        dr = xp.empty((N, Ho), x.dtype) if self.proj else None  # every step's projected-h gradient
        with single_threaded_blas():
            for t in reversed(self.order):
                r, n = slice(self.off[t], self.off[t] + self.bs[t]), self.bs[t]
                dh[:n] += gy[r]
                self.step_back(r, dh[:n], None if dc is None else dc[:n], da, dr, w_hh, w_hr)
        dx_a, dh_a = self.input_grads(da)
        grads = [gemm(dx_a, w_ih) if node.inputs[0].requires_grad else None, dh]  # x (N, I), h0
        if self.cell_state:
            grads.append(dc)
        grads += [gemm(dx_a.T, x), gemm(dh_a.T, self.hprev)]  # w_ih (G, I), w_hh (G, Ho)
        if self.bias:
            grads += [dx_a.sum(axis=0), dh_a.sum(axis=0)]
        if self.proj:
            grads.append(gemm(dr.T, self.m))  # w_hr (Ho, H)
        return tuple(grads)

    def input_grads(self, da):
        """The pre-activation gradients of the input and of the recurrent projection: the same array
        where the gates add both before any nonlinearity."""
        return da, da


class RNNTanh(Recurrence):
    """h' = tanh(x w_ih^T + b_ih + h w_hh^T + b_hh)."""

    def step(self, r, h, c, w_hhT, b_hh, w_hr):
        a = self.xa[r]  # (n, H)
        a += h @ w_hhT
        xp.tanh(a, out=h)

    def step_back(self, r, dh, dc, da, dr, w_hh, w_hr):
        y = self.y[r]
        xp.multiply(dh, 1 - y * y, out=da[r])  # tanh' = 1 - y^2
        xp.matmul(da[r], w_hh, out=dh)


class RNNReLU(RNNTanh):
    """h' = relu(x w_ih^T + b_ih + h w_hh^T + b_hh)."""

    def step(self, r, h, c, w_hhT, b_hh, w_hr):
        a = self.xa[r]  # (n, H)
        a += h @ w_hhT
        xp.maximum(a, 0, out=h)

    def step_back(self, r, dh, dc, da, dr, w_hh, w_hr):
        xp.multiply(dh, self.y[r] > 0, out=da[r])
        xp.matmul(da[r], w_hh, out=dh)


class LSTM(Recurrence):
    """i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of (x w_ih^T + b_ih + h w_hh^T + b_hh), split in four;
    c' = f * c + i * g; h' = o * tanh(c'); with a projection h' = (o * tanh(c')) w_hr^T."""

    gates, cell_state = 4, True

    def setup(self, N, B, H, dtype):
        self.act = xp.empty((N, 4 * H), dtype)  # i, f, g, o after their nonlinearities
        self.ws = xp.empty((B, 4 * H), dtype)  # scratch: one step's h w_hh^T, then the gates' slopes
        self.cprev = xp.empty((N, H), dtype)  # each step's incoming c
        self.tc = xp.empty((N, H), dtype)  # tanh(c')
        self.m = xp.empty((N, H), dtype) if self.proj else None  # o * tanh(c') before the projection

    def step(self, r, h, c, w_hhT, b_hh, w_hr):
        H = c.shape[1]
        a = self.xa[r]  # (n, 4H)
        a += xp.matmul(h, w_hhT, out=self.ws[:len(h)])
        act = self.act[r]
        _sigmoid(a, act)  # all four gates as sigmoids in one pass over (n, 4H), ...
        xp.tanh(a[:, 2 * H:3 * H], out=act[:, 2 * H:3 * H])  # ... then g's tanh over its part
        i, f, g, o = act[:, :H], act[:, H:2 * H], act[:, 2 * H:3 * H], act[:, 3 * H:]
        self.cprev[r] = c
        c *= f
        c += i * g
        tc = xp.tanh(c, out=self.tc[r])
        if self.proj:
            m = xp.multiply(o, tc, out=self.m[r])
            xp.matmul(m, w_hr.T, out=h)
        else:
            xp.multiply(o, tc, out=h)

    def step_back(self, r, dh, dc, da, dr, w_hh, w_hr):
        H = dc.shape[1]
        act, tc = self.act[r], self.tc[r]
        i, f, g, o = act[:, :H], act[:, H:2 * H], act[:, 2 * H:3 * H], act[:, 3 * H:]
        d = da[r]  # (n, 4H)
        if self.proj:
            dr[r] = dh
            dm = dh @ w_hr  # (n, H)
        else:
            dm = dh
        dc += dm * o * (1 - tc * tc)  # dc' = dc_next + dh' * o * tanh'(c')
        xp.multiply(dc, g, out=d[:, :H])  # di
        xp.multiply(dc, self.cprev[r], out=d[:, H:2 * H])  # df
        xp.multiply(dc, i, out=d[:, 2 * H:3 * H])  # dg
        xp.multiply(dm, tc, out=d[:, 3 * H:])  # do
        slope = xp.subtract(1, act, out=self.ws[:len(d)])  # (n, 4H)
        slope *= act  # sigmoid' = s (1 - s) of each gate, ...
        xp.multiply(g, g, out=slope[:, 2 * H:3 * H])
        xp.subtract(1, slope[:, 2 * H:3 * H], out=slope[:, 2 * H:3 * H])  # ... but tanh' = 1 - g^2 for g
        d *= slope  # back through the gates' nonlinearities, all four at once
        dc *= f
        xp.matmul(d, w_hh, out=dh)


class GRU(Recurrence):
    """r, z = sigmoid(x w_i{r,z}^T + b_i{r,z} + h w_h{r,z}^T + b_h{r,z});
    n = tanh(x w_in^T + b_in + r * (h w_hn^T + b_hn)); h' = (1 - z) * n + z * h."""

    gates = 3

    def input_bias(self, b_ih, b_hh):
        return b_ih

    def setup(self, N, B, H, dtype):
        self.act = xp.empty((N, 3 * H), dtype)  # r, z, n after their nonlinearities
        self.hn = xp.empty((N, H), dtype)  # h w_hn^T + b_hn, which r multiplies
        self.dha = xp.empty((N, 3 * H), dtype)  # the recurrent pre-activation gradients

    def step(self, r, h, c, w_hhT, b_hh, w_hr):
        H = h.shape[1]
        ha = h @ w_hhT  # (n, 3H)
        if b_hh is not None:
            ha += b_hh
        a, act = self.xa[r], self.act[r]
        a[:, :2 * H] += ha[:, :2 * H]
        _sigmoid(a[:, :2 * H], act[:, :2 * H])
        self.hn[r] = ha[:, 2 * H:]
        a[:, 2 * H:] += act[:, :H] * ha[:, 2 * H:]
        n = xp.tanh(a[:, 2 * H:], out=act[:, 2 * H:])
        z = act[:, H:2 * H]
        h -= n
        h *= z
        h += n  # n + z * (h - n)

    def step_back(self, r, dh, dc, da, dr, w_hh, w_hr):
        H = dh.shape[1]
        act, d, dha = self.act[r], da[r], self.dha[r]
        rg, z, n = act[:, :H], act[:, H:2 * H], act[:, 2 * H:]
        dn = dh * (1 - z) * (1 - n * n)  # through tanh
        xp.multiply(dh * (self.hprev[r] - n), z * (1 - z), out=d[:, H:2 * H])  # dz * sigmoid'
        xp.multiply(dn * self.hn[r], rg * (1 - rg), out=d[:, :H])  # dr * sigmoid'
        d[:, 2 * H:] = dn
        dha[:, :2 * H] = d[:, :2 * H]
        xp.multiply(dn, rg, out=dha[:, 2 * H:])
        dh *= z
        dh += dha @ w_hh

    def input_grads(self, da):
        return da, self.dha


OPS = {"RNN_TANH": RNNTanh, "RNN_RELU": RNNReLU, "LSTM": LSTM, "GRU": GRU}
