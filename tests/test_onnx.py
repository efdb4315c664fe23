"""baby.onnx: exported models pass onnx.checker and ONNX Runtime gives baby's outputs (float32 tolerance), at
the export's batch size and another one; baby.onnx.load runs them back with baby's ops."""

import io
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import baby
from baby import models, nn
from baby.nn import functional as F
from baby.onnx import OnnxExporterError, export, load
from baby.tensor import Function

ATOL, RTOL = 2e-5, 1e-4
ROOT = Path(__file__).resolve().parents[1]


def _check(model, *shapes, dynamic=True, opset=None, seed=0):
    """Export `model` on random inputs of `shapes`, check it, and compare ORT and the loaded graph with
    baby at that batch and one larger; returns the largest ONNX Runtime difference."""
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    names = [f"x{i}" for i in range(len(xs))]
    axes = {n: {0: "batch"} for n in names} | {"y": {0: "batch"}} if dynamic else None
    model.eval()
    f = io.BytesIO()
    proto = export(model, tuple(baby.tensor(x) for x in xs), f, input_names=names, output_names=["y"],
                   dynamic_axes=axes, opset_version=opset).model_proto
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    program = load(io.BytesIO(f.getvalue()))
    worst = 0.0
    for batch in ([xs, [np.concatenate([x, x[:1] * 0.5]) for x in xs]] if dynamic else [xs]):
        with baby.no_grad():
            want = model(*(baby.tensor(x) for x in batch)).numpy()
        got = session.run(None, dict(zip(names, batch, strict=True)))[0]
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=RTOL)
        ours = program(*(baby.tensor(x) for x in batch)).numpy()
        np.testing.assert_allclose(ours, want, atol=ATOL, rtol=RTOL)
        worst = max(worst, float(np.abs(got - want).max()))
    return worst


@pytest.mark.parametrize("name, model, shape", [
    ("mlp", lambda: models.MLP(), (2, 1, 8, 8)),
    ("cnn", lambda: models.SmallCNN(), (2, 1, 8, 8)),
    ("lenet", lambda: models.LeNet5(image_size=12), (2, 1, 12, 12)),
    ("resnet9", lambda: models.ResNet9(), (2, 3, 8, 8)),
    ("mobilenet", lambda: models.MobileNet(image_size=8), (2, 3, 8, 8)),
])
def test_reference_models(name, model, shape):
    baby.manual_seed(0)
    m = model()
    for mod in m.modules():                      # statistics as after training, so the folding is tested
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean._data[:] = np.linspace(-0.5, 0.5, mod.num_features)
            mod.running_var._data[:] = np.linspace(0.5, 2.0, mod.num_features)
    _check(m, shape)


class PreActBlock(nn.Module):
    """kuangliu/pytorch-cifar's pre-activation block: BN-ReLU-conv twice; a strided 1x1 shortcut."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c_in), nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(c_out), nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False))

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        out += shortcut
        return out


class BasicBlock(nn.Module):
    """kuangliu's post-activation block with a strided 1x1 conv + BN shortcut and `out += shortcut(x)`."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out)
        self.conv2, self.bn2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expand, depthwise 3x3, 1x1 project (ReLU6), with the identity shortcut."""

    def __init__(self, c, expand=2):
        super().__init__()
        h = c * expand
        self.body = nn.Sequential(nn.Conv2d(c, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU6(inplace=True),
                                  nn.Conv2d(h, h, 3, 1, 1, groups=h, bias=False), nn.BatchNorm2d(h),
                                  nn.ReLU6(inplace=True), nn.Conv2d(h, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return x + self.body(x)


@pytest.mark.parametrize("name, model", [
    ("pre-activation block, strided 1x1 shortcut", lambda: PreActBlock(4, 8, 2)),
    ("basic block, strided 1x1 + BN shortcut", lambda: BasicBlock(4, 8, 2)),
    ("depthwise-separable block", lambda: models.separable(4, 8, 2)),
    ("inverted residual", lambda: InvertedResidual(4)),
])
def test_cifar_zoo_blocks(name, model):
    baby.manual_seed(0)
    _check(model(), (2, 4, 8, 8))


def _zoo_file(monkeypatch):
    """kuangliu/pytorch-cifar's models/preact_resnet.py (tests/fixtures, unchanged) on baby as torch."""
    for name, module in (("torch", baby), ("torch.nn", baby.nn), ("torch.nn.functional", baby.nn.functional)):
        monkeypatch.setitem(sys.modules, name, module)
    path = ROOT / "tests" / "fixtures" / "preact_resnet.py"
    module = types.ModuleType("preact_resnet")
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    monkeypatch.undo()
    return module


def test_a_public_cifar_zoo_network(monkeypatch):
    zoo = _zoo_file(monkeypatch)
    baby.manual_seed(0)
    _check(zoo.PreActResNet(zoo.PreActBlock, [1, 1, 1, 1]), (2, 3, 32, 32))


@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.Conv2d(4, 6, 3, stride=2, padding=1), (2, 4, 9, 9)),
    (lambda: nn.Conv2d(4, 6, (3, 2), stride=(1, 2), padding=(1, 0)), (2, 4, 7, 8)),
    (lambda: nn.Conv2d(4, 6, 4, padding="same"), (2, 4, 7, 7)),           # even kernel: asymmetric pads
    (lambda: nn.Conv2d(4, 6, 3, padding="valid", bias=False), (2, 4, 7, 7)),
    (lambda: nn.Conv2d(4, 6, 3, dilation=2, padding=2), (2, 4, 9, 9)),
    (lambda: nn.Conv2d(4, 6, 3, groups=2, padding=1), (2, 4, 6, 6)),
    (lambda: nn.Conv2d(4, 4, 3, groups=4, stride=2), (2, 4, 7, 7)),
    (lambda: nn.Conv1d(3, 5, 3, stride=2, padding=1), (2, 3, 11)),
    (lambda: nn.Conv3d(2, 3, 3, padding=1), (2, 2, 4, 5, 5)),
    (lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1), (2, 4, 5, 5)),
    (lambda: nn.ConvTranspose2d(4, 6, 2, stride=2, groups=2, bias=False), (2, 4, 3, 3)),
    (lambda: nn.ConvTranspose2d(4, 2, 3, dilation=2), (2, 4, 4, 4)),
    (lambda: nn.ConvTranspose1d(3, 2, 4, stride=3, padding=1), (2, 3, 5)),
])
def test_conv_options(layer, shape):
    baby.manual_seed(0)
    _check(layer(), shape)


class PairPadConv(nn.Module):
    """F.conv2d with (before, after) padding pairs per dim."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(baby.randn(5, 3, 3, 3))

    def forward(self, x):
        return F.conv2d(x, self.w, padding=((0, 2), (1, 0)))


def test_conv_padding_pairs():
    baby.manual_seed(0)
    _check(PairPadConv(), (2, 3, 6, 6))


@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.MaxPool2d(2), (2, 3, 8, 8)),
    (lambda: nn.MaxPool2d(3, 2, 1), (2, 3, 9, 9)),
    (lambda: nn.MaxPool2d(2, ceil_mode=True), (2, 3, 7, 7)),
    (lambda: nn.MaxPool2d(3, 1, dilation=2), (2, 3, 8, 8)),
    (lambda: nn.MaxPool1d(3, 2), (2, 3, 9)),
    (lambda: nn.AvgPool2d(2), (2, 3, 8, 8)),
    (lambda: nn.AvgPool2d(3, 2, 1), (2, 3, 9, 9)),
    (lambda: nn.AvgPool2d(3, 2, 1, count_include_pad=False), (2, 3, 8, 8)),
    (lambda: nn.AvgPool2d(2, ceil_mode=True), (2, 3, 7, 7)),
    (lambda: nn.AvgPool1d(3), (2, 3, 9)),
    (lambda: nn.AdaptiveAvgPool2d(1), (2, 3, 5, 5)),
    (lambda: nn.AdaptiveAvgPool2d(2), (2, 3, 6, 6)),
    (lambda: nn.AdaptiveAvgPool2d((3, 2)), (2, 3, 7, 5)),
    (lambda: nn.AdaptiveMaxPool2d(1), (2, 3, 5, 5)),
    (lambda: nn.AdaptiveMaxPool2d((3, 2)), (2, 3, 7, 5)),
])
def test_pools(layer, shape):
    _check(layer(), shape)


def _bn_with_stats(bn):
    bn.running_mean._data[:] = np.linspace(-1, 1, bn.num_features)
    bn.running_var._data[:] = np.linspace(0.5, 2, bn.num_features)
    bn.weight._data[:] = np.linspace(0.5, 1.5, bn.num_features)
    return bn


@pytest.mark.parametrize("layer, shape", [
    (lambda: _bn_with_stats(nn.BatchNorm2d(4)), (2, 4, 3, 3)),
    (lambda: _bn_with_stats(nn.BatchNorm1d(4)), (3, 4)),
    (lambda: nn.LayerNorm(6), (2, 3, 6)),
    (lambda: nn.LayerNorm((3, 6)), (2, 3, 6)),
    (lambda: nn.GroupNorm(2, 4), (2, 4, 3, 3)),
    (lambda: nn.InstanceNorm2d(4, affine=True), (2, 4, 3, 3)),
])
def test_norms(layer, shape):
    baby.manual_seed(0)
    _check(layer(), shape)


@pytest.mark.parametrize("layer", [
    nn.ReLU, lambda: nn.ReLU(inplace=True), nn.ReLU6, lambda: nn.LeakyReLU(0.2), nn.ELU, nn.SELU, nn.CELU,
    nn.GELU, lambda: nn.GELU(approximate="tanh"), nn.SiLU, nn.Mish, nn.Softplus, nn.Hardtanh, nn.Hardsigmoid,
    nn.Hardswish, nn.Sigmoid, nn.Tanh, nn.Softsign, nn.Tanhshrink, nn.LogSigmoid, lambda: nn.Softmax(dim=1),
    lambda: nn.LogSoftmax(dim=1), lambda: nn.Dropout(0.5), nn.Identity,
])
def test_activations(layer):
    _check(layer(), (2, 5, 3))


@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.Upsample(scale_factor=2), (2, 3, 4, 5)),
    (lambda: nn.Upsample(size=(7, 3), mode="bilinear"), (2, 3, 4, 5)),
    (lambda: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True), (2, 3, 4, 5)),
    (lambda: nn.ZeroPad2d((1, 2, 0, 1)), (2, 3, 4, 5)),
    (lambda: nn.ConstantPad1d(2, 0.5), (2, 3, 4)),
    (lambda: nn.ReflectionPad2d(1), (2, 3, 4, 5)),
    (lambda: nn.ReplicationPad1d((2, 1)), (2, 3, 4)),
    (lambda: nn.Unflatten(1, (2, 3)), (2, 6, 4)),
    (lambda: nn.Flatten(), (2, 3, 4)),
])
def test_resampling_padding_and_shape_layers(layer, shape):
    _check(layer(), shape)


class TensorOps(nn.Module):
    """Linear, flatten, view, permute, cat, stack, slicing, arithmetic and reductions in one forward."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 4)

    def forward(self, x, z):
        N = x.size(0)
        a = baby.flatten(x, 1)                                     # (N, 12)
        b = x.permute(0, 2, 1).reshape(N, -1)                      # (N, 12)
        c = baby.cat([a * 2 - b, a / (b.abs() + 1)], dim=1)        # (N, 24)
        d = c[:, :12] + c[:, 12:].exp().sqrt() ** 2 - z.view(N, -1).mean(dim=1, keepdim=True)
        e = baby.stack([d, d.clamp(-0.5, 0.5)], dim=1).sum(dim=1)  # (N, 12)
        f = self.fc(e).unsqueeze(1).transpose(1, 2).squeeze(2)     # (N, 4)
        g = f.max(dim=1, keepdim=True).values + f.amax(dim=1, keepdim=True) + f[..., 1:2]
        h = baby.einsum("ni,nj->nj", f, f).abs().log1p()[:, :3]
        return baby.maximum(f, g * 0.1) @ baby.ones(4, 3) + h


class Slices(nn.Module):
    """Slices with Python's bounds, the batch axis included: they must hold at any batch."""

    def forward(self, x):
        parts = [x[1:, :, ::2], x[:-1, :, 1::2], x[::-1][1:, :, -2:], x[1:, :, ::-1][:, :, :2]]
        return baby.cat(parts, dim=2)


class SequenceTools(nn.Module):
    """What sequence models use: causal masks (tril, triu), roll, narrow."""

    def forward(self, x):
        y = baby.tril(x) + baby.triu(x, 1) * 2 + baby.tril(x, -1)
        return baby.roll(y, (1, -2), (1, 2)) + y.narrow(2, 1, 3).sum(dim=2, keepdim=True)


def test_sequence_tools():
    _check(SequenceTools(), (2, 4, 5))


class CausalAttention(nn.Module):
    """Self-attention with a causal bool mask made from the input's length."""

    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        L = x.shape[1]
        mask = baby.triu(baby.ones(L, L, dtype=baby.bool), 1)
        return self.attn(x, x, x, attn_mask=mask, need_weights=False)[0]


@pytest.mark.parametrize("layer", [
    lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True),
    lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=True,
                                       activation="gelu"),
    lambda: nn.MultiheadAttention(8, 2, batch_first=True),
    lambda: nn.RMSNorm(8),
])
def test_sequence_layers_with_dynamic_batch_and_length(layer):
    baby.manual_seed(0)
    model = layer().eval()
    run = (lambda x: model(x, x, x)[0]) if isinstance(model, nn.MultiheadAttention) else model
    f = io.BytesIO()
    export(run, baby.randn(2, 5, 8), f, input_names=["x"], dynamic_axes={"x": [0, 1], "output": [0, 1]})
    session, program = ort.InferenceSession(f.getvalue()), load(io.BytesIO(f.getvalue()))
    for shape in ((2, 5, 8), (3, 7, 8)):
        x = np.random.default_rng(shape[0]).standard_normal(shape).astype(np.float32)
        with baby.no_grad():
            want = run(baby.tensor(x)).numpy()
        np.testing.assert_allclose(session.run(None, {"x": x})[0], want, atol=ATOL, rtol=RTOL)
        np.testing.assert_allclose(program(baby.tensor(x)).numpy(), want, atol=ATOL, rtol=RTOL)


def test_causal_attention_with_a_static_length():
    baby.manual_seed(0)
    _check(CausalAttention(), (2, 5, 8))


def test_slices_on_a_dynamic_axis():
    _check(Slices(), (3, 2, 4))


def test_tensor_ops():
    baby.manual_seed(0)
    _check(TensorOps(), (2, 3, 4), (2, 2, 5))


class Bag(nn.Module):
    """Token ids -> embeddings (indexing by an input) -> mean -> linear."""

    def __init__(self):
        super().__init__()
        self.emb, self.fc = nn.Embedding(20, 6), nn.Linear(6, 3)

    def forward(self, ids):
        return self.fc(self.emb(ids).mean(dim=1))


def test_embedding_indexed_by_an_input():
    baby.manual_seed(0)
    model, ids = Bag().eval(), np.array([[1, 5, 7], [19, 0, 3]])
    f = io.BytesIO()
    export(model, baby.tensor(ids), f, input_names=["ids"], dynamic_axes={"ids": [0, 1]})
    session = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    for x in (ids, np.array([[2, 2], [4, 6], [8, 11]])):
        with baby.no_grad():
            want = model(baby.tensor(x)).numpy()
        np.testing.assert_allclose(session.run(None, {"ids": x})[0], want, atol=ATOL)
        np.testing.assert_allclose(load(io.BytesIO(f.getvalue()))(baby.tensor(x)).numpy(), want, atol=ATOL)


def test_opset_versions_and_names_and_file(tmp_path):
    baby.manual_seed(0)
    for opset in (13, 17, 21):
        _check(models.SmallCNN(), (2, 1, 8, 8), opset=opset)
        _check(nn.Sequential(nn.LayerNorm(6), nn.GELU(), nn.Softmax(-1)), (2, 3, 6), opset=opset)
    model, x = models.MLP().eval(), baby.randn(2, 1, 8, 8)
    export(model, x, tmp_path / "mlp.onnx", input_names=["image"], output_names=["logits"])
    proto = onnx.load(tmp_path / "mlp.onnx")
    assert [i.name for i in proto.graph.input] == ["image"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert {i.name for i in proto.graph.initializer} >= {"1.weight", "1.bias", "3.weight", "3.bias"}
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [2, 1, 8, 8]
    session = ort.InferenceSession(str(tmp_path / "mlp.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"image": x.numpy()})[0], model(x).numpy(), atol=ATOL)


class TwoHeads(nn.Module):
    """Two inputs (one by keyword) and two outputs."""

    def __init__(self):
        super().__init__()
        self.body, self.head = nn.Linear(5, 4), nn.Linear(4, 2)

    def forward(self, x, scale=None):
        h = self.body(x).relu() * scale
        return self.head(h), h


def test_keyword_inputs_and_several_outputs(capsys):
    baby.manual_seed(0)
    model, x, scale = TwoHeads().eval(), baby.randn(3, 5), baby.rand(3, 1)
    f = io.BytesIO()
    export(model, (x, {"scale": scale}), f, output_names=["logits", "features"], verbose=True,
           dynamic_axes={"x": [0], "scale": [0], "logits": [0]})
    assert capsys.readouterr().out.startswith("TwoHeads (")
    session = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x", "scale"]
    shapes = [o.shape for o in session.get_outputs()]
    assert shapes == [["logits_dynamic_axes_1", 2], ["features_dynamic_axes_1", 4]]
    for n in (3, 6):
        rng = np.random.default_rng(n)
        xs, ss = rng.standard_normal((n, 5)).astype(np.float32), rng.random((n, 1)).astype(np.float32)
        want = model(baby.tensor(xs), scale=baby.tensor(ss))
        got = session.run(None, {"x": xs, "scale": ss})
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b.numpy(), atol=ATOL)


def test_the_onnx_program_saves_and_runs():
    model, x = models.LeNet5(image_size=12).eval(), baby.randn(2, 1, 12, 12)
    program = export(model, x, dynamo=True)                      # PyTorch's modern spelling: f left out
    assert repr(program).startswith("ONNXProgram(12 nodes, inputs ['x'], outputs ['output'], opset 18)")
    f = io.BytesIO()
    program.save(f)
    assert onnx.load_model_from_string(f.getvalue()) == program.model_proto
    (out,) = program(x)
    np.testing.assert_allclose(out.numpy(), model(x).numpy(), atol=ATOL)
    np.testing.assert_allclose(load(program)(x).numpy(), model(x).numpy(), atol=ATOL)


def test_weights_as_graph_inputs():
    model, x = models.MLP().eval(), baby.randn(2, 1, 8, 8)
    weights = {k: v.numpy() for k, v in model.state_dict().items()}
    for kwargs, feed in ((dict(keep_initializers_as_inputs=True), {}), (dict(export_params=False), weights)):
        f = io.BytesIO()
        proto = export(model, x, f, **kwargs).model_proto
        inputs, inits = [i.name for i in proto.graph.input], {i.name for i in proto.graph.initializer}
        if feed:                                  # the weights are inputs without values
            assert inputs == ["x", *weights] and not inits & set(weights)
        else:                                     # every initializer is also an input
            assert inits == set(inputs[1:]) and set(weights) <= inits
        got = ort.InferenceSession(f.getvalue()).run(None, {"x": x.numpy(), **feed})[0]
        np.testing.assert_allclose(got, model(x).numpy(), atol=ATOL)


def test_batchnorm_folds_into_the_conv():
    model = models.SmallCNN().eval()
    proto = export(model, baby.randn(2, 1, 8, 8), io.BytesIO()).model_proto
    ops = [n.op_type for n in proto.graph.node]
    assert ops == ["Conv", "Relu", "Conv", "Relu", "MaxPool", "Reshape", "Gemm"]
    unfolded = export(model, baby.randn(2, 1, 8, 8), do_constant_folding=False).model_proto
    assert [n.op_type for n in unfolded.graph.node].count("BatchNormalization") == 2


def test_load_reads_as_baby_code():
    model = models.LeNet5(image_size=12).eval()
    f = io.BytesIO()
    export(model, baby.randn(1, 1, 12, 12), f)
    program = load(io.BytesIO(f.getvalue()))
    code = program.code()
    assert code.startswith("def forward(x):") and "conv(x, init['conv1.weight'], init['conv1.bias']" in code
    assert "max_pool(" in code and "gemm(" in code and code.splitlines()[-1] == "    return output"
    x = baby.randn(1, 1, 12, 12)
    with baby.no_grad():
        np.testing.assert_allclose(program(x).numpy(), model(x).numpy(), atol=ATOL)


class Cube(Function):
    """An op defined outside baby (forward on arrays, as the book's), which baby.onnx cannot know."""

    def forward(self, x):
        return x * x * x

    def backward(self, gy, node):
        return (3 * gy * node.inputs[0]._data ** 2,)


class Indexed(nn.Module):
    def forward(self, x):
        return x[x > 0]


class GrowingConstant(nn.Module):
    def forward(self, x):
        return x + baby.ones(x.shape)


@pytest.mark.parametrize("model, dynamic, message", [
    (lambda x: Cube()(x), False, "the op Cube (test_onnx) has no ONNX conversion in baby.onnx"),
    (lambda x: baby.ops.dilate(x, (1,), 1), False, "Dilate"),
    (Indexed(), False, "GetItem: indexing with several index arrays or a bool mask"),
    (GrowingConstant(), True, "Add: takes a constant of shape (2, 3) that changes with the dynamic axes"),
    (lambda x: baby.ones(3), False, "output 0 (output) does not depend on the inputs"),
])
def test_what_cannot_export_raises_naming_it(model, dynamic, message):
    with pytest.raises(OnnxExporterError, match="export: ") as e:
        export(model, baby.randn(2, 3), io.BytesIO(), dynamic_axes={"x": [0]} if dynamic else None)
    assert message in str(e.value)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(opset_version=12), ValueError, "opset_version=12; baby writes opsets 13 to 21"),
    (dict(dynamic_axes={"nope": [0]}), ValueError, "dynamic_axes names 'nope', which is none of"),
    (dict(dynamic_axes={"x": [2]}), ValueError, r"dynamic_axes\['x'\] has axes \[2\] out of range"),
    (dict(input_names=["a", "b"]), ValueError, "2 input_names"),
    (dict(training=baby.onnx.TrainingMode.TRAINING), ValueError, "baby exports inference graphs"),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        export(nn.Linear(3, 2), baby.randn(2, 3), io.BytesIO(), **kwargs)


def test_export_restores_the_training_mode():
    model = models.SmallCNN().train()
    export(model, baby.randn(2, 1, 8, 8), io.BytesIO())
    assert all(m.training for m in model.modules())


def test_without_onnx_import_works_and_export_says_which_extra():
    code = ("import sys; sys.modules['onnx'] = None\n"
            "import baby as torch, baby.onnx\n"
            "assert torch.onnx.export is baby.onnx.export and not torch.onnx.is_in_onnx_export()\n"
            "torch.onnx.export(torch.nn.Linear(2, 2), torch.randn(1, 2), 'x.onnx')\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == ("ModuleNotFoundError: baby.onnx needs the onnx package: "
                                                 "pip install 'baby[onnx]'")
