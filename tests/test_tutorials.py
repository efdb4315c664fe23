"""Programs in the style of the PyTorch beginner tutorials and examples, run with baby and with PyTorch.

Each program takes the library module (`baby` or `torch`) as its first argument, as if it had been written
with `import baby as torch`, plus NumPy inputs made here; it returns a dict of results. Both libraries get
fresh copies of the same inputs, and every result must match: values, dtypes, shapes and Python types.
"""

import math
import os

import numpy as np
import pytest
import torch

import baby

LIBS = pytest.mark.parametrize("T", [baby, torch], ids=["baby", "torch"])


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """PyTorch's backward on tiny tensors crawls when its threads contend for few cores; use one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _plain(v):
    """A result as something comparable across the two libraries."""
    if isinstance(v, (baby.Tensor, torch.Tensor)):
        return v.detach().numpy()
    if isinstance(v, (torch.dtype, np.dtype)):
        return str(v).removeprefix("torch.")
    if isinstance(v, tuple):  # torch.Size and baby.Size are tuples
        return tuple(_plain(x) for x in v)
    return v


def _compare(ours, theirs, rtol, atol):
    assert ours.keys() == theirs.keys()
    for key in theirs:
        o, t = _plain(ours[key]), _plain(theirs[key])
        if isinstance(t, np.ndarray):
            assert isinstance(o, np.ndarray), f"{key}: {type(o).__name__} is not an array"
            assert o.shape == t.shape, f"{key}: shape {o.shape} != torch {t.shape}"
            assert o.dtype == t.dtype, f"{key}: dtype {o.dtype} != torch {t.dtype}"
            np.testing.assert_allclose(o, t, rtol=rtol, atol=atol, err_msg=key)
        elif isinstance(t, float):
            assert type(o) is float, f"{key}: {type(o).__name__} is not a float"
            np.testing.assert_allclose(o, t, rtol=rtol, atol=atol, err_msg=key)
        else:
            assert type(o) is type(t) and o == t, f"{key}: {o!r} != torch {t!r}"


def same_as_torch(program, *inputs, rtol=1e-4, atol=1e-5):
    """Run program(baby, *inputs) and program(torch, *inputs) on copies of the inputs; compare the results."""
    def fresh():
        return [np.copy(a) if isinstance(a, np.ndarray) else a for a in inputs]

    theirs = program(torch, *fresh())
    ours = program(baby, *fresh())
    _compare(ours, theirs, rtol, atol)


RNG = np.random.default_rng(2024)
MAT = RNG.uniform(-1, 1, (4, 4)).astype(np.float32)
VEC = RNG.uniform(-1, 1, 5).astype(np.float32)
W53 = RNG.uniform(-1, 1, (5, 3)).astype(np.float32)
B3 = RNG.uniform(-1, 1, 3).astype(np.float32)


# ---------------------------------------------------------------- tensors (tensorqs, blitz/tensor_tutorial)


def creation(T, data, arr):
    x_data = T.tensor(data.tolist())
    x_np = T.from_numpy(arr)
    x_ones = T.ones_like(x_data)
    x_rand = T.rand_like(x_data, dtype=T.float)
    shape = (2, 3)
    x = T.tensor([5.5, 3])
    x = x.new_ones(5, 3, dtype=T.double)
    return {"x_data": x_data, "x_np": x_np, "ones_like": x_ones, "rand_like dtype": x_rand.dtype,
            "rand_like shape": x_rand.shape, "rand shape": T.rand(shape).shape, "ones": T.ones(shape),
            "zeros": T.zeros(shape), "zeros long": T.zeros(5, 3, dtype=T.long), "new_ones": x,
            "randn_like": T.randn_like(x, dtype=T.float).dtype, "size": x.size(),
            "empty": T.empty(5, 3).shape}


def attributes(T):
    t = T.rand(3, 4)

    def norm(text):  # torch.Size([3, 4]) and baby.Size([3, 4]) are the same answer
        return text.replace(T.__name__ + ".", "")

    return {"shape": norm(f"{t.shape}"), "dtype": norm(f"{t.dtype}"), "device": norm(f"{t.device}"),
            "dtype is float32": t.dtype == T.float32, "default float": t.dtype == T.float}


def indexing(T, m):
    t = T.tensor(m)
    first_row, first_col, last_col = t[0].clone(), t[:, 0].clone(), t[..., -1].clone()
    t[:, 1] = 0
    t[2, ...] = T.tensor(m[0])
    return {"row": first_row, "col": first_col, "last": last_col, "t": t, "cat": T.cat([t, t, t], dim=1),
            "stack": T.stack([t, t]), "stack1": T.stack((t, -t), dim=1), "view": t.view(16),
            "view -1": t.view(-1, 8), "view size": t.view(-1, 8).size()}


def arithmetic(T, m):
    t = T.tensor(m)
    agg = t.sum()
    return {"@": t @ t.T, "matmul": t.matmul(t.T), "torch.matmul": T.matmul(t, t.T), "*": t * t,
            "mul": t.mul(t), "torch.mul": T.mul(t, t), "add": T.add(t, t), "+": t + 2, "item": agg.item(),
            "mean": t.mean(), "int/int": T.tensor([[1, 2], [3, 4]]) / 2, "int*int": T.tensor([1, 2]) * 3}


def out_arguments(T, m):
    t = T.tensor(m)
    y3, z3, s = T.rand_like(t), T.rand_like(t), T.empty(4, 4)
    T.matmul(t, t.T, out=y3)
    T.mul(t, t, out=z3)
    T.add(t, t, out=s)
    return {"matmul out": y3, "mul out": z3, "add out": s}


def keyword_inputs(T, v):
    x = T.tensor(v)
    return {"matmul(input=, other=)": T.matmul(input=x, other=x.pow(2))}


def in_place(T, m):
    t = T.tensor(m)
    same = t.add_(5) is t
    y = T.tensor(m)
    y.add_(t)
    z = T.zeros(4, 4)
    z.copy_(t)
    z.mul_(2).sub_(1)
    return {"add_": t, "add_ returns self": same, "y.add_(x)": y, "copy_/mul_/sub_": z}


def transpose_in_place(T, m):
    t = T.tensor(m)
    t.t_()
    return {"t_": t}


def numpy_bridge(T, ones):
    t = T.ones(5)
    n = t.numpy()
    t.add_(1)
    a = T.from_numpy(ones)
    np.add(ones, 1, out=ones)
    return {"numpy() follows add_": n.copy(), "from_numpy follows numpy": a, "from_numpy dtype": a.dtype,
            "back": a.numpy().copy()}


def devices(T, m):
    on_gpu = T.cuda.is_available() & (T.device("cuda").index is not None)  # `&` evaluates both sides
    device = T.device("cuda:0" if T.cuda.is_available() else "cpu")
    t = T.tensor(m).to(device)
    return {"on_gpu": on_gpu, "device": str(device), "to": t, "to double": t.to("cpu", T.double),
            "ones_like device": T.ones_like(t, device=device)}


@pytest.mark.parametrize("program, inputs", [
    pytest.param(creation, (np.array([[1, 2], [3, 4]]), np.array([[1, 2], [3, 4]])), id="creation"),
    pytest.param(attributes, (), id="attributes"),
    pytest.param(indexing, (MAT,), id="indexing"),
    pytest.param(arithmetic, (MAT,), id="arithmetic"),
    pytest.param(out_arguments, (MAT,), id="out="),
    pytest.param(keyword_inputs, (VEC,), id="input=/other="),
    pytest.param(in_place, (MAT,), id="in_place"),
    pytest.param(transpose_in_place, (MAT,), id="t_"),
    pytest.param(numpy_bridge, (np.ones(5),), id="numpy_bridge"),
    pytest.param(devices, (MAT,), id="devices"),
])
def test_tensors(program, inputs):
    same_as_torch(program, *inputs)


# ---------------------------------------------------------------- autograd (autogradqs, blitz/autograd)


def one_layer(T, w, b, logits_loss):
    x, y = T.ones(5), T.zeros(3)
    w, b = T.tensor(w, requires_grad=True), T.tensor(b, requires_grad=True)
    z = T.matmul(x, w) + b
    if logits_loss:
        loss = T.nn.functional.binary_cross_entropy_with_logits(z, y)
    else:
        p = T.sigmoid(z)
        loss = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    has_fn = z.grad_fn is not None and loss.grad_fn is not None
    loss.backward()
    tracked = (T.matmul(x, w) + b).requires_grad
    with T.no_grad():
        untracked = (T.matmul(x, w) + b).requires_grad
    detached = (T.matmul(x, w) + b).detach()
    return {"loss": loss, "w.grad": w.grad, "b.grad": b.grad, "grad_fn": has_fn, "tracked": tracked,
            "no_grad": untracked, "detach": detached.requires_grad, "detach value": detached}


def jacobian_product(T):
    inp = T.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    out.backward(T.ones_like(out), retain_graph=True)
    first = inp.grad.clone()
    out.backward(T.ones_like(out), retain_graph=True)
    second = inp.grad.clone()
    inp.grad.zero_()
    out.backward(T.ones_like(out), retain_graph=True)
    return {"first": first, "second": second, "after zero_": inp.grad}


def blitz_autograd(T, v, m):
    x = T.ones(2, 2, requires_grad=True)
    y = x + 2
    out = (y * y * 3).mean()
    out.backward()
    a = T.tensor(m[:2, :2])
    a = (a * 3) / (a - 1)
    before = a.requires_grad
    a.requires_grad_(True)
    b = (a * a).sum()
    u = T.tensor(v[:3], requires_grad=True)
    s = u * 2
    while s.data.norm() < 1000:
        s = s * 2
    s.backward(T.tensor([0.1, 1.0, 0.0001], dtype=T.float))
    with T.no_grad():
        squared = (u ** 2).requires_grad
    return {"out": out, "x.grad": x.grad, "before": before, "after": a.requires_grad,
            "b has grad_fn": b.grad_fn is not None, "s": s, "u.grad": u.grad, "no_grad": squared}


def graph_walk(T, v):
    x = T.tensor(v, requires_grad=True)
    loss = (T.relu(x) * 2).sum()
    return {"next_functions": loss.grad_fn.next_functions[0][0] is not None}


@pytest.mark.parametrize("program, inputs", [
    pytest.param(one_layer, (W53, B3, False), id="one_layer"),
    pytest.param(one_layer, (W53, B3, True), id="binary_cross_entropy_with_logits"),
    pytest.param(jacobian_product, (), id="jacobian_product"),
    pytest.param(blitz_autograd, (VEC, MAT), id="blitz_autograd"),
    pytest.param(graph_walk, (VEC,), id="next_functions"),
])
def test_autograd(program, inputs):
    same_as_torch(program, *inputs)


@LIBS
def test_grad_must_be_tensor_or_none(T):
    a = T.tensor(1.0, requires_grad=True)
    (a * 3).backward()
    with pytest.raises(TypeError):
        a.grad = 0.0


# ------------------------------------------------------------- y = a + b x + c x^2 + d x^3 fitted to sin(x)

STEPS = 150
COEFFS = np.array([0.3, -0.5, 0.2, 0.1], dtype=np.float32)


def _sine(T):
    x = T.linspace(-math.pi, math.pi, 2000, dtype=T.float)
    return x, T.sin(x)


def poly_tensors(T, coeffs):
    """examples_tensor: forward, loss and gradients written out by hand."""
    x, y = _sine(T)
    a, b, c, d = (T.tensor(v, device=T.device("cpu"), dtype=T.float) for v in coeffs)
    lr = 1e-6
    for _ in range(STEPS):
        y_pred = a + (b * x) + (c * x.pow(2)) + (d * x.pow(3))
        loss = (y_pred - y).pow(2).sum().item()
        grad = -2.0 * (y - y_pred)
        a -= lr * grad.sum()
        b -= lr * T.matmul(grad, x).sum()
        c -= lr * (grad * x ** 2).sum()
        d -= lr * (grad * x ** 3).sum()
    return {"loss": loss, "a": a, "b": b, "c": c, "d": d}


def poly_autograd(T, coeffs, reset):
    """examples_autograd: loss.backward(), then `w -= lr * w.grad` under no_grad and reset the gradient."""
    x, y = _sine(T)
    params = [T.tensor(v, dtype=T.float, requires_grad=True) for v in coeffs]
    a, b, c, d = params
    for _ in range(STEPS):
        loss = (a + b * x + c * x ** 2 + d * x ** 3 - y).pow(2).sum()
        loss.backward()
        with T.no_grad():
            for w in params:
                w -= 1e-6 * w.grad
                if reset == "none":
                    w.grad = None
                else:
                    w.grad.zero_()
    return {"loss": loss, "a": a, "b": b, "c": c, "d": d, "leaf": a.is_leaf, "requires_grad": d.requires_grad}


def poly_function(T):
    """examples_autograd: y = a + b P3(c + d x) with P3 a custom autograd Function."""

    class Legendre3(T.autograd.Function):
        @staticmethod
        def forward(ctx, u):
            ctx.save_for_backward(u)
            return 0.5 * (5 * u ** 3 - 3 * u)

        @staticmethod
        def backward(ctx, grad_output):
            (u,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * u ** 2 - 1)

    x, y = _sine(T)
    params = [T.full((), v, dtype=T.float, requires_grad=True) for v in (0.0, -1.0, 0.0, 0.3)]
    a, b, c, d = params
    for _ in range(STEPS):
        p3 = Legendre3.apply
        loss = (a + b * p3(c + d * x) - y).pow(2).sum()
        loss.backward()
        with T.no_grad():
            for w in params:
                w -= 5e-6 * w.grad
                w.grad = None
    return {"loss": loss, "a": a, "b": b, "c": c, "d": d}


def poly_sequential(T, weight, optimizer):
    """examples_nn: Linear(3, 1) + Flatten(0, 1) on (x, x^2, x^3); manual update or torch.optim."""
    x, y = _sine(T)
    xx = x.unsqueeze(-1).pow(T.tensor([1, 2, 3]))
    model = T.nn.Sequential(T.nn.Linear(3, 1), T.nn.Flatten(0, 1))
    with T.no_grad():
        model[0].weight.copy_(T.tensor(weight[1:]).view(1, 3))
        model[0].bias.fill_(float(weight[0]))
    loss_fn = T.nn.MSELoss(reduction="sum")
    opt = None
    if optimizer == "SGD":
        opt = T.optim.SGD(model.parameters(), lr=1e-6)
    elif optimizer == "RMSprop":
        opt = T.optim.RMSprop(model.parameters(), lr=1e-3)
    for _ in range(STEPS):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        if opt is None:
            model.zero_grad()
            loss.backward()
            with T.no_grad():
                for param in model.parameters():
                    param -= 1e-6 * param.grad
        else:
            opt.zero_grad()
            loss.backward()
            opt.step()
    layer = model[0]
    return {"loss": loss, "shape": y_pred.shape, "a": layer.bias.item(), "b": layer.weight[:, 0].item(),
            "c": layer.weight[:, 1].item(), "d": layer.weight[:, 2].item()}


def poly_module(T, coeffs, dynamic):
    """examples_nn: an nn.Module subclass with scalar Parameters; `dynamic` adds weight-shared terms."""

    class Poly(T.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c, self.d = (T.nn.Parameter(T.tensor(v)) for v in coeffs)
            self.e = T.nn.Parameter(T.tensor(0.001))
            self.calls = 0

        def forward(self, x):
            y = self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3
            self.calls += 1
            for exp in range(4, 4 + (self.calls % 3 if dynamic else 0)):
                y = y + self.e * x ** exp
            return y

    x, y = _sine(T)
    model = Poly()
    criterion = T.nn.MSELoss(reduction="sum")
    opt = T.optim.SGD(model.parameters(), lr=1e-8, momentum=0.9) if dynamic else \
        T.optim.SGD(model.parameters(), lr=1e-6)
    for _ in range(STEPS):
        loss = criterion(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {"loss": loss, "count": len(list(model.parameters())),
            **{name: p for name, p in model.named_parameters()}}


@pytest.mark.parametrize("program, inputs, tolerance", [
    pytest.param(poly_tensors, (COEFFS,), {}, id="tensors"),
    pytest.param(poly_autograd, (COEFFS, "none"), {}, id="autograd-grad=None"),
    pytest.param(poly_autograd, (COEFFS, "zero_"), {}, id="autograd-grad.zero_"),
    pytest.param(poly_function, (), {}, id="custom_function"),
    pytest.param(poly_sequential, (COEFFS, None), {}, id="nn-manual"),
    pytest.param(poly_sequential, (COEFFS, "SGD"), {}, id="nn-SGD"),
    pytest.param(poly_sequential, (COEFFS, "RMSprop"), {"rtol": 2e-3}, id="nn-RMSprop"),
    pytest.param(poly_module, (COEFFS, False), {}, id="module"),
    pytest.param(poly_module, (COEFFS, True), {}, id="dynamic_net"),
])
def test_polynomial(program, inputs, tolerance):
    same_as_torch(program, *inputs, **tolerance)


# ------------------------------------------------------------ models (quickstart, buildmodel, optimization)

IMAGES = RNG.uniform(0, 1, (96, 8, 8)).astype(np.float32)
LABELS = RNG.integers(0, 10, 96)


def _mlp(T, relu_last=False):
    nn = T.nn

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            layers = [nn.Linear(8 * 8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10)]
            self.linear_relu_stack = nn.Sequential(*layers, *([nn.ReLU()] if relu_last else []))

        def forward(self, x):
            return self.linear_relu_stack(self.flatten(x))

    return NeuralNetwork()


def _init(T, model, seed=1):
    """Same weights in both libraries: uniform(-0.2, 0.2) arrays loaded through load_state_dict."""
    rng = np.random.default_rng(seed)
    model.load_state_dict({name: T.tensor(rng.uniform(-0.2, 0.2, tuple(p.shape)).astype(np.float32))
                           for name, p in model.named_parameters()})
    return model


def build_model(T, images):
    model = _init(T, _mlp(T, relu_last=True))
    logits = model(T.tensor(images[:3]))
    probs = T.nn.Softmax(dim=1)(logits)
    flat = T.nn.Flatten()(T.tensor(images[:3]))
    hidden = T.nn.ReLU()(T.nn.Linear(in_features=64, out_features=20)(flat))
    return {"logits": logits, "probs": probs, "pred": probs.argmax(1), "flat": flat.size(),
            "hidden": hidden.size(), "names": tuple(name for name, _ in model.named_parameters()),
            "sizes": tuple(p.size() for p in model.parameters()),
            "preview": model.linear_relu_stack[0].weight[:2]}


def train_mlp(T, images, labels, epochs=3, batch_size=16):
    """The quickstart / optimization train_loop and test_loop, on in-memory batches."""
    model = _init(T, _mlp(T))
    loss_fn = T.nn.CrossEntropyLoss()
    optimizer = T.optim.SGD(model.parameters(), lr=0.5)
    X, y = T.tensor(images), T.tensor(labels)
    losses, results = [], []
    for _ in range(epochs):
        model.train()
        for i in range(0, len(X), batch_size):
            loss = loss_fn(model(X[i:i + batch_size]), y[i:i + batch_size])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        test_loss, correct = 0, 0
        with T.no_grad():
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(T.float).sum().item()
        results += [test_loss, correct / len(X)]
    return {"losses": np.array(losses), "results": np.array(results), "correct": correct}


def module_to_device(T):
    device = "cuda" if T.cuda.is_available() else "cpu"
    model = _mlp(T).to(device)
    return {"type": type(model.to(T.device("cpu"))).__name__, "device": device}


def save_and_load(T, images, tmp):
    model = _init(T, _mlp(T))
    path = os.path.join(str(tmp), f"{T.__name__}_weights.pth")
    T.save(model.state_dict(), path)
    fresh = _mlp(T)
    fresh.load_state_dict(T.load(path, weights_only=True))
    fresh.eval()
    with T.no_grad():
        return {"logits": fresh(T.tensor(images[:4]))}


def data_loader(T, images, labels):
    from importlib import import_module

    data = import_module(T.__name__ + ".utils.data")
    loader = data.DataLoader(data.TensorDataset(T.tensor(images), T.tensor(labels)), batch_size=64)
    batches = [(X, y) for X, y in loader]
    return {"len": len(loader), "size": len(loader.dataset), "X": batches[-1][0], "y": batches[0][1]}


def test_build_model():
    same_as_torch(build_model, IMAGES)


def test_train_mlp():
    same_as_torch(train_mlp, IMAGES, LABELS)


def test_module_to_device():
    same_as_torch(module_to_device)


def test_save_and_load(tmp_path):
    same_as_torch(save_and_load, IMAGES, tmp_path)


def test_torch_utils_data():
    same_as_torch(data_loader, IMAGES, LABELS)


# ---------------------------------------------------------------- conv nets (blitz, examples/mnist)

PICTURES = RNG.uniform(-1, 1, (8, 3, 32, 32)).astype(np.float32)
DIGITS = RNG.uniform(-1, 1, (4, 1, 28, 28)).astype(np.float32)
CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def lenet(T, picture):
    """blitz/neural_networks_tutorial: a LeNet with F.max_pool2d, backward with a gradient, MSELoss, SGD."""
    nn, F = T.nn, T.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = x.view(-1, math.prod(x.size()[1:]))
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    net = _init(T, Net())
    inp = T.tensor(picture[:1, :1])
    out = net(inp)
    net.zero_grad()
    out.backward(T.tensor(np.linspace(-1, 1, 10, dtype=np.float32)).view(1, 10))
    first = net.conv1.bias.grad.clone()
    target = T.arange(1, 11).view(1, -1)
    criterion = nn.MSELoss()
    optimizer = T.optim.SGD(net.parameters(), lr=0.01)
    optimizer.zero_grad()
    loss = criterion(net(inp), target)
    loss.backward()
    optimizer.step()
    for f in net.parameters():
        f.data.sub_(f.grad.data * 0.01)
    return {"params": len(list(net.parameters())), "out": out, "bias grad": first, "loss": loss,
            "after": net(inp)}


def cifar(T, pictures, labels):
    """blitz/cifar10_tutorial: MaxPool2d, SGD with momentum, torch.max(outputs, 1), tensors as indices."""
    nn, F = T.nn, T.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = x.view(-1, 16 * 5 * 5)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    net = _init(T, Net())
    criterion = nn.CrossEntropyLoss()
    optimizer = T.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    images, targets = T.tensor(pictures), T.tensor(labels)
    running = 0.0
    for _ in range(2):
        for i in range(0, len(images), 4):
            optimizer.zero_grad()
            loss = criterion(net(images[i:i + 4]), targets[i:i + 4])
            loss.backward()
            optimizer.step()
            running += loss.item()
    hits = [0.0] * 10
    with T.no_grad():
        outputs = net(images)
        _, predicted = T.max(outputs.data, 1)
        correct = (predicted == targets).sum().item()
        c = (predicted == targets).squeeze()
        for i in range(len(targets)):
            hits[targets[i]] += c[i].item()
    names = " ".join(f"{CLASSES[predicted[j]]:>5}" for j in range(4))
    return {"running": running, "outputs": outputs, "predicted": predicted, "correct": correct,
            "total": targets.size(0), "hits": np.array(hits), "names": names}


def mnist(T, digits, labels, optimizer):
    """examples/mnist: Dropout, torch.flatten, log_softmax + F.nll_loss, Adadelta + StepLR, eval metrics."""
    from importlib import import_module

    nn, F = T.nn, T.nn.functional
    StepLR = import_module(T.__name__ + ".optim.lr_scheduler").StepLR

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 8, 3, 1)
            self.conv2 = nn.Conv2d(8, 16, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(2304, 32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
            x = T.flatten(self.dropout1(x), 1)
            x = self.fc2(self.dropout2(F.relu(self.fc1(x))))
            return F.log_softmax(x, dim=1)

    model = _init(T, Net(), seed=3)
    opt = T.optim.Adadelta(model.parameters(), lr=1.0) if optimizer == "Adadelta" else \
        T.optim.SGD(model.parameters(), lr=0.1)
    scheduler = StepLR(opt, step_size=1, gamma=0.7)
    data, target = T.tensor(digits), T.tensor(labels)
    for _ in range(2):
        model.eval()  # no dropout, so both libraries take the same steps
        opt.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        opt.step()
        scheduler.step()
    with T.no_grad():
        output = model(data)
        test_loss = F.nll_loss(output, target, reduction="sum").item()
        pred = output.argmax(dim=1, keepdim=True)
        correct = pred.eq(target.view_as(pred)).sum().item()
    return {"loss": loss, "test_loss": test_loss, "pred": pred, "correct": correct,
            "lr": opt.param_groups[0]["lr"]}


@pytest.mark.parametrize("program, inputs", [
    pytest.param(lenet, (PICTURES,), id="lenet"),
    pytest.param(cifar, (PICTURES, LABELS[:8]), id="cifar10"),
    pytest.param(mnist, (DIGITS, LABELS[:4], "SGD"), id="mnist-SGD"),
    pytest.param(mnist, (DIGITS, LABELS[:4], "Adadelta"), id="mnist-Adadelta"),
])
def test_conv_nets(program, inputs):
    same_as_torch(program, *inputs)
