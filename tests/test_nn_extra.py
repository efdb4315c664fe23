"""The layers, losses and weight reparametrizations of issue 20 against PyTorch: pixel shuffle, fold /
unfold, interpolate's modes, distances, margin losses, PReLU, Bilinear, weight_norm and spectral_norm."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check

import baby
import baby.nn.functional as F

SIGNS = np.array([1.0, -1.0, -1.0, 1.0, 1.0], np.float32)

FUNCTIONS = [
    ("pixel_shuffle", lambda f: lambda x: f.pixel_shuffle(x, 2), [(2, 8, 3, 4)]),
    ("pixel_shuffle-unbatched", lambda f: lambda x: f.pixel_shuffle(x, 3), [(9, 2, 2)]),
    ("pixel_unshuffle", lambda f: lambda x: f.pixel_unshuffle(x, 2), [(2, 3, 4, 6)]),
    ("unfold", lambda f: lambda x: f.unfold(x, 3), [(2, 3, 6, 5)]),
    (
        "unfold-args",
        lambda f: lambda x: f.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=(2, 1)),
        [(2, 2, 7, 6)],
    ),
    ("unfold-unbatched", lambda f: lambda x: f.unfold(x, 2, stride=2), [(3, 4, 4)]),
    ("fold", lambda f: lambda x: f.fold(x, (5, 6), 3), [(2, 18, 12)]),
    (
        "fold-args",
        lambda f: lambda x: f.fold(x, (7, 6), (2, 3), dilation=(2, 1), padding=1, stride=(2, 1)),
        [(2, 12, 24)],
    ),
    (
        "nearest-exact",
        lambda f: lambda x: f.interpolate(x, scale_factor=1.5, mode="nearest-exact"),
        [(2, 3, 5, 4)],
    ),
    ("area", lambda f: lambda x: f.interpolate(x, size=(3, 2), mode="area"), [(2, 3, 7, 5)]),
    ("area-1d", lambda f: lambda x: f.interpolate(x, size=4, mode="area"), [(2, 3, 9)]),
    ("bicubic", lambda f: lambda x: f.interpolate(x, size=(9, 4), mode="bicubic"), [(2, 3, 5, 7)]),
    (
        "bicubic-align",
        lambda f: lambda x: f.interpolate(x, scale_factor=2, mode="bicubic", align_corners=True),
        [(1, 2, 4, 3)],
    ),
    ("cosine_similarity", lambda f: lambda a, b: f.cosine_similarity(a, b), [(4, 5, 3), (4, 5, 3)]),
    (
        "cosine_similarity-dim",
        lambda f: lambda a, b: f.cosine_similarity(a, b, dim=-1, eps=1e-3),
        [(4, 5), (1, 5)],
    ),
    ("pairwise_distance", lambda f: lambda a, b: f.pairwise_distance(a, b), [(4, 5), (4, 5)]),
    (
        "pairwise_distance-p1",
        lambda f: lambda a, b: f.pairwise_distance(a, b, p=1, keepdim=True),
        [(4, 5), (4, 5)],
    ),
    (
        "triplet_margin_loss",
        lambda f: lambda a, p, n: f.triplet_margin_loss(a, p, n, margin=2.0),
        [(5, 3), (5, 3), (5, 3)],
    ),
    (
        "triplet_margin_loss-swap",
        lambda f: lambda a, p, n: f.triplet_margin_loss(a, p, n, p=1, swap=True, reduction="none"),
        [(5, 3), (5, 3), (5, 3)],
    ),
    (
        "margin_ranking_loss",
        lambda f: lambda a, b, y: f.margin_ranking_loss(a, b, y, margin=0.5),
        [(5,), (5,), SIGNS],
    ),
    (
        "margin_ranking_loss-sum",
        lambda f: lambda a, b, y: f.margin_ranking_loss(a, b, y, reduction="sum"),
        [(5,), (5,), SIGNS],
    ),
    (
        "cosine_embedding_loss",
        lambda f: lambda a, b, y: f.cosine_embedding_loss(a, b, y, margin=0.1),
        [(5, 4), (5, 4), SIGNS.astype(np.int64)],
    ),
    (
        "cosine_embedding_loss-none",
        lambda f: lambda a, b, y: f.cosine_embedding_loss(a, b, y, reduction="none"),
        [(5, 4), (5, 4), SIGNS.astype(np.int64)],
    ),
    ("prelu", lambda f: lambda x, w: f.prelu(x, w), [(2, 3, 4), (3,)]),
    ("prelu-shared", lambda f: lambda x, w: f.prelu(x, w), [(2, 3, 4), (1,)]),
    (
        "bilinear",
        lambda f: lambda a, b, w, c: f.bilinear(a, b, w, c),
        [(2, 4, 3), (2, 4, 5), (6, 3, 5), (6,)],
    ),
]


@pytest.mark.parametrize("make, inputs", [pytest.param(m, i, id=n) for n, m, i in FUNCTIONS])
def test_function_against_torch(make, inputs):
    check(make(F), make(TF), inputs)


MODULES = [
    ("PixelShuffle", lambda nn: nn.PixelShuffle(2), [(2, 8, 3, 4)]),
    ("PixelUnshuffle", lambda nn: nn.PixelUnshuffle(2), [(2, 3, 4, 6)]),
    ("Unfold", lambda nn: nn.Unfold(2, padding=1), [(2, 3, 4, 4)]),
    ("Fold", lambda nn: nn.Fold((4, 4), 2, stride=2), [(2, 12, 4)]),
    ("UpsamplingNearest2d", lambda nn: nn.UpsamplingNearest2d(scale_factor=2), [(1, 2, 3, 3)]),
    ("UpsamplingBilinear2d", lambda nn: nn.UpsamplingBilinear2d(size=(5, 4)), [(1, 2, 3, 3)]),
    ("Upsample-bicubic", lambda nn: nn.Upsample(scale_factor=2, mode="bicubic"), [(1, 2, 3, 3)]),
    ("CosineSimilarity", lambda nn: nn.CosineSimilarity(dim=0), [(4, 3), (4, 3)]),
    ("PairwiseDistance", lambda nn: nn.PairwiseDistance(p=3.0), [(4, 3), (4, 3)]),
    ("TripletMarginLoss", lambda nn: nn.TripletMarginLoss(margin=0.5), [(4, 3), (4, 3), (4, 3)]),
    ("MarginRankingLoss", lambda nn: nn.MarginRankingLoss(0.2), [(5,), (5,), SIGNS]),
    (
        "CosineEmbeddingLoss",
        lambda nn: nn.CosineEmbeddingLoss(0.3, reduction="sum"),
        [(5, 3), (5, 3), SIGNS.astype(np.int64)],
    ),
]


@pytest.mark.parametrize("make, inputs", [pytest.param(m, i, id=n) for n, m, i in MODULES])
def test_module_against_torch(make, inputs):
    b, t = make(baby.nn), make(torch.nn)
    assert repr(b) == repr(t)
    check(b, t, inputs)


@pytest.mark.parametrize(
    "make",
    [
        lambda nn: nn.PReLU(),
        lambda nn: nn.PReLU(3, init=0.1),
        lambda nn: nn.Bilinear(3, 5, 4),
        lambda nn: nn.Bilinear(3, 5, 4, bias=False),
    ],
    ids=["PReLU", "PReLU-3", "Bilinear", "Bilinear-nobias"],
)
def test_parameterised_layers(make):
    b, t = make(baby.nn), make(torch.nn)
    assert repr(b) == repr(t) and list(b.state_dict()) == list(t.state_dict())
    b.load_state_dict({k: baby.tensor(v.numpy()) for k, v in t.state_dict().items()})
    shapes = [(2, 3, 4)] if "PReLU" in repr(b) else [(2, 3), (2, 5)]
    xs = [np.random.default_rng(0).standard_normal(s).astype(np.float32) for s in shapes]
    yb, yt = b(*(baby.tensor(x) for x in xs)), t(*(torch.tensor(x) for x in xs))
    np.testing.assert_allclose(yb.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    yb.sum().backward()
    yt.sum().backward()
    for (n, p), (_, q) in zip(b.named_parameters(), t.named_parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-5, err_msg=n)
    if "Bilinear" in repr(b):  # PyTorch's initial bound 1 / sqrt(in1)
        assert np.abs(make(baby.nn).weight.detach().numpy()).max() <= 1 / np.sqrt(3)


def test_fold_errors():
    with pytest.raises(RuntimeError, match="fold"):
        F.fold(baby.zeros(2, 18, 11), (5, 6), 3)
    with pytest.raises(RuntimeError, match="unfold"):
        F.unfold(baby.zeros(2, 3), 2)
    with pytest.raises(RuntimeError, match="pixel_shuffle"):
        F.pixel_shuffle(baby.zeros(1, 5, 2, 2), 2)


NORMS = [
    ("weight_norm", lambda lib, m: lib.nn.utils.weight_norm(m)),
    ("weight_norm-dim1", lambda lib, m: lib.nn.utils.weight_norm(m, dim=1)),
    ("weight_norm-dimNone", lambda lib, m: lib.nn.utils.weight_norm(m, dim=None)),
    ("spectral_norm", lambda lib, m: lib.nn.utils.spectral_norm(m)),
    ("spectral_norm-3", lambda lib, m: lib.nn.utils.spectral_norm(m, n_power_iterations=3)),
    ("parametrizations.weight_norm", lambda lib, m: lib.nn.utils.parametrizations.weight_norm(m)),
    ("parametrizations.spectral_norm", lambda lib, m: lib.nn.utils.parametrizations.spectral_norm(m)),
]


@pytest.mark.parametrize("layer", ["Linear", "Conv2d", "ConvTranspose2d"])
@pytest.mark.parametrize("name, apply", NORMS, ids=[n for n, _ in NORMS])
def test_weight_reparametrizations(name, apply, layer, recwarn):
    args = (4, 3) if layer == "Linear" else (3, 4, 3)
    x = (
        np.random.default_rng(1)
        .standard_normal((2, 4) if layer == "Linear" else (2, 3, 5, 5))
        .astype(np.float32)
    )
    t = apply(torch, getattr(torch.nn, layer)(*args))
    b = apply(baby, getattr(baby.nn, layer)(*args))
    assert list(b.state_dict()) == list(t.state_dict())
    b.load_state_dict({k: baby.tensor(v.numpy()) for k, v in t.state_dict().items()})  # same weights, u, v
    params_b, params_t = dict(b.named_parameters()), dict(t.named_parameters())
    for step in range(2):  # training: the power iteration moves u and v each forward
        yb, yt = b(baby.tensor(x)), t(torch.tensor(x))
        np.testing.assert_allclose(yb.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
        yb.sum().backward()
        yt.sum().backward()
        for k, p in params_t.items():
            np.testing.assert_allclose(
                params_b[k].grad.numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-4, err_msg=f"{k} step {step}"
            )
    for k, v in t.state_dict().items():
        np.testing.assert_allclose(b.state_dict()[k].numpy(), v.numpy(), rtol=1e-4, atol=1e-5, err_msg=k)
    b.eval(), t.eval()
    np.testing.assert_allclose(b.weight.detach().numpy(), t.weight.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_remove_reparametrizations():
    for apply, remove in [
        (baby.nn.utils.weight_norm, baby.nn.utils.remove_weight_norm),
        (baby.nn.utils.spectral_norm, baby.nn.utils.remove_spectral_norm),
    ]:
        m = apply(baby.nn.Linear(3, 2))
        m(baby.randn(1, 3))
        w = m.weight.detach().clone()
        remove(m)
        assert list(m.state_dict()) == ["bias", "weight"]
        np.testing.assert_allclose(m.weight.detach().numpy(), w.numpy(), rtol=1e-6)
    m = baby.nn.utils.parametrizations.weight_norm(baby.nn.Linear(3, 2))
    w = m.weight.detach().clone()
    baby.nn.utils.parametrize.remove_parametrizations(m, "weight")
    assert type(m) is baby.nn.Linear and list(m.state_dict()) == ["bias", "weight"]  # as PyTorch
    np.testing.assert_allclose(m.weight.detach().numpy(), w.numpy(), rtol=1e-6)


def test_register_parametrization_custom():
    class Symmetric(baby.nn.Module):
        def forward(self, x):
            return (x + x.mT) / 2

    m = baby.nn.Linear(3, 3)
    baby.nn.utils.parametrize.register_parametrization(m, "weight", Symmetric())
    w = m.weight.detach().numpy()
    np.testing.assert_allclose(w, w.T)
    assert baby.nn.utils.parametrize.is_parametrized(
        m, "weight"
    ) and not baby.nn.utils.parametrize.is_parametrized(m, "bias")


def test_parametrized_tensor_assignment_goes_through_right_inverse():
    for lib in (baby, torch):
        m = lib.nn.utils.parametrizations.weight_norm(lib.nn.Linear(3, 2))
        w = lib.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) + 1)
        with lib.no_grad():
            m.weight = w
        np.testing.assert_allclose(m.weight.detach().numpy(), w.numpy(), rtol=1e-6)
        g = m.parametrizations.weight.original0.detach().numpy()
        np.testing.assert_allclose(g.ravel(), np.linalg.norm(w.numpy(), axis=1), rtol=1e-6)
