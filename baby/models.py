"""Reference models: MLP, SmallCNN (8x8 digits), LeNet5 (28x28), MobileNet and ResNet9 (CIFAR-10), and
`create`."""

import numbers
from itertools import pairwise

from . import nn


def _size(owner, name, n, low=1):
    """`n` as an int >= `low`, or a ValueError naming `owner` and `name`."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < low:
        raise ValueError(f"{owner}: {name} must be an integer >= {low}, got {n!r}")
    return int(n)


def _hw(owner, image_size, low):
    """`image_size` (an int or an (H, W) pair) as an (H, W) pair of ints, each >= `low`."""
    pair = (image_size, image_size) if isinstance(image_size, numbers.Integral) else tuple(image_size)
    if len(pair) != 2:
        raise ValueError(f"{owner}: image_size must be an int or an (H, W) pair, got {image_size!r}")
    return tuple(_size(owner, "image_size", n, low) for n in pair)


class MLP(nn.Sequential):
    """Flatten, then Linear + ReLU (+ Dropout) per hidden width, then a Linear to `num_classes` logits."""

    def __init__(self, in_features=64, hidden=(128,), num_classes=10, dropout=0.0):
        in_features, num_classes = _size("MLP", "in_features", in_features), _size("MLP", "num_classes",
                                                                                   num_classes)
        hidden = (hidden,) if isinstance(hidden, numbers.Integral) else tuple(hidden)
        widths = (in_features,) + tuple(_size("MLP", "hidden", n) for n in hidden)
        layers = [nn.Flatten()]
        for n_in, n_out in pairwise(widths):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
        super().__init__(*layers, nn.Linear(widths[-1], num_classes))


def conv_bn(c_in, c_out):
    """3x3 conv (padding 1, no bias) -> BatchNorm2d -> ReLU, as children conv, bn, relu."""
    return nn.Sequential({"conv": nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                          "bn": nn.BatchNorm2d(c_out), "relu": nn.ReLU()})


class SmallCNN(nn.Sequential):
    """For tiny images such as the 8x8 digits: conv_bn(32), conv_bn(64), 2x2 max pool, Linear to classes."""

    def __init__(self, in_channels=1, num_classes=10, image_size=8):
        H, W = _hw("SmallCNN", image_size, 2)
        c_in = _size("SmallCNN", "in_channels", in_channels)
        super().__init__({
            "conv1": conv_bn(c_in, 32),
            "conv2": conv_bn(32, 64),
            "pool": nn.MaxPool2d(2),                                  # (N, 64, H/2, W/2)
            "flatten": nn.Flatten(),                                  # (N, 64 * H/2 * W/2)
            "fc": nn.Linear(64 * (H // 2) * (W // 2), _size("SmallCNN", "num_classes", num_classes)),
        })


class LeNet5(nn.Sequential):
    """LeNet-5 with ReLU and max pooling: conv5(6, padding 2)-pool-conv5(16)-pool-fc120-fc84-fc(classes)."""

    def __init__(self, in_channels=1, num_classes=10, image_size=28):
        H, W = _hw("LeNet5", image_size, 12)
        h, w = (H // 2 - 4) // 2, (W // 2 - 4) // 2                  # spatial size after the second pool
        super().__init__({
            "conv1": nn.Conv2d(_size("LeNet5", "in_channels", in_channels), 6, 5, padding=2),
            "relu1": nn.ReLU(),
            "pool1": nn.MaxPool2d(2),                                 # (N, 6, H/2, W/2)
            "conv2": nn.Conv2d(6, 16, 5),                             # (N, 16, H/2 - 4, W/2 - 4)
            "relu2": nn.ReLU(),
            "pool2": nn.MaxPool2d(2),                                 # (N, 16, h, w)
            "flatten": nn.Flatten(),                                  # (N, 16 * h * w)
            "fc1": nn.Linear(16 * h * w, 120),
            "relu3": nn.ReLU(),
            "fc2": nn.Linear(120, 84),
            "relu4": nn.ReLU(),
            "fc3": nn.Linear(84, _size("LeNet5", "num_classes", num_classes)),
        })


class ResNet9(nn.Sequential):
    """The DAWNBench CIFAR-10 ResNet-9 (Myrtle.ai): conv-pool stages, two residual blocks, global max pool.

    prep conv_bn(64); layer1 conv_bn(128) + pool + residual(2 x conv_bn(128)); layer2 conv_bn(256) + pool;
    layer3 conv_bn(512) + pool + residual(2 x conv_bn(512)); global max pool; Linear(512, num_classes).
    Any input of at least 8x8 works (32x32 pools down to 4x4 before the global max).
    """

    def __init__(self, num_classes=10, in_channels=3):
        def residual(c):
            return nn.Residual(nn.Sequential(conv_bn(c, c), conv_bn(c, c)))

        super().__init__({
            "prep": conv_bn(_size("ResNet9", "in_channels", in_channels), 64),
            "layer1": nn.Sequential(conv_bn(64, 128), nn.MaxPool2d(2), residual(128)),   # (N, 128, H/2, W/2)
            "layer2": nn.Sequential(conv_bn(128, 256), nn.MaxPool2d(2)),                 # (N, 256, H/4, W/4)
            "layer3": nn.Sequential(conv_bn(256, 512), nn.MaxPool2d(2), residual(512)),  # (N, 512, H/8, W/8)
            "pool": nn.AdaptiveMaxPool2d(1),                                             # (N, 512, 1, 1)
            "flatten": nn.Flatten(),                                                     # (N, 512)
            "fc": nn.Linear(512, _size("ResNet9", "num_classes", num_classes)),
        })


def separable(c_in, c_out, stride):
    """A depthwise-separable block: depthwise 3x3 conv + BN + ReLU, then pointwise 1x1 conv + BN + ReLU."""
    return nn.Sequential({
        "dw": nn.Conv2d(c_in, c_in, 3, stride=stride, padding=1, groups=c_in, bias=False),
        "bn1": nn.BatchNorm2d(c_in), "relu1": nn.ReLU(),
        "pw": nn.Conv2d(c_in, c_out, 1, bias=False), "bn2": nn.BatchNorm2d(c_out), "relu2": nn.ReLU()})


class MobileNet(nn.Sequential):
    """A CIFAR-sized depthwise-separable network: stem conv_bn(32), five separable blocks to 64, 128, 128,
    256, 256 channels with strides 1, 2, 1, 2, 1, global average pool, Linear to classes."""

    WIDTHS, STRIDES = (32, 64, 128, 128, 256, 256), (1, 2, 1, 2, 1)

    def __init__(self, in_channels=3, num_classes=10, image_size=32):
        _hw("MobileNet", image_size, 4)
        pairs = zip(self.WIDTHS, self.WIDTHS[1:], self.STRIDES, strict=False)  # (c_in, c_out, stride)
        blocks = {f"block{i + 1}": separable(a, b, s) for i, (a, b, s) in enumerate(pairs)}
        super().__init__({
            "stem": conv_bn(_size("MobileNet", "in_channels", in_channels), 32),
            **blocks,                                                   # (N, 256, H/4, W/4)
            "pool": nn.AdaptiveAvgPool2d(1),                            # (N, 256, 1, 1)
            "flatten": nn.Flatten(),                                    # (N, 256)
            "fc": nn.Linear(256, _size("MobileNet", "num_classes", num_classes)),
        })


MODELS = {"mlp": MLP, "cnn": SmallCNN, "lenet": LeNet5, "resnet9": ResNet9, "mobilenet": MobileNet}
MIN_SIZE = {"mlp": 1, "cnn": 2, "lenet": 12, "resnet9": 8, "mobilenet": 4}


def create(name, input_shape, num_classes):
    """The model `name` (a key of MODELS) for images of `input_shape` (C, H, W) and `num_classes` labels."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(MODELS)}")
    C, H, W = input_shape
    if min(H, W) < MIN_SIZE[name]:
        raise ValueError(f"model {name!r} needs images of at least {MIN_SIZE[name]}x{MIN_SIZE[name]}, "
                         f"got input shape {tuple(input_shape)}")
    if name == "mlp":
        return MLP(C * H * W, (128,), num_classes)
    if name == "resnet9":
        return ResNet9(num_classes, in_channels=C)
    return MODELS[name](C, num_classes, image_size=(H, W))
