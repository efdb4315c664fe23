"""What the commands share: the datasets, the parser, argument types, run settings and the run folder."""

import argparse
import math
import shlex
import tempfile

from .. import models
from ..data import CIFAR10, MNIST, Digits, FashionMNIST, transforms
from ..train import CheckpointError

DATASETS = {  # name: (default model, image shape, normalization (mean, std), augment: 4-pixel crops + flips)
    "digits": ("mlp", (1, 8, 8), None, False),
    "mnist": ("lenet", (1, 28, 28), ((0.1307,), (0.3081,)), False),
    "fashion-mnist": ("lenet", (1, 28, 28), ((0.2860,), (0.3530,)), False),
    "cifar10": ("resnet9", (3, 32, 32), ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)), True),
}
CLASSES = {"mnist": MNIST, "fashion-mnist": FashionMNIST, "cifar10": CIFAR10}
OPTIMIZERS = {  # name: (default lr, default weight decay) when the recipe uses another optimizer
    "sgd": (0.05, 5e-4), "adam": (1e-3, 0.0), "adamw": (1e-3, 1e-2),
}
RUN_FILES = ("checkpoint.npz", "metrics.csv", "curves.png")
DATA_DIR = "where the datasets are (default: the run's, else ./data)"


class UsageError(ValueError):
    """A combination of arguments that cannot work (exit status 2)."""


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line on stderr (no usage block) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def number(kind, low, strict):
    """An argparse type: a finite `kind` (int or float) > `low` (or >= `low` when not `strict`)."""
    what = f"{'an integer' if kind is int else 'a number'} {'>' if strict else '>='} {low}"

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return parse


COUNT = number(int, 1, strict=False)


def fits(model, dataset):
    """Whether `model` takes the images of `dataset`."""
    return min(DATASETS[dataset][1][1:]) >= models.MIN_SIZE[model]


def require(name, data_dir, splits):
    """Check that the files of `splits` of dataset `name` are in `data_dir`, fetching missing ones."""
    if name != "digits":
        CLASSES[name].files(data_dir, splits, download=True)


def load_dataset(name, data_dir, train):
    """The train or test split of dataset `name`, read from `data_dir`."""
    if name == "digits":
        return Digits(train=train)
    _, _, stats, augment = DATASETS[name]
    tf = transforms.Normalize(*stats)
    if train and augment:
        tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(), tf])
    return CLASSES[name](data_dir, train=train, transform=tf, download=True)


def shape_of(dataset):
    """(input shape [C, H, W], number of classes) of an image dataset."""
    return list(dataset.images.shape[1:]), len(dataset.classes)


def build_model(config):
    """The config's model for its input shape and number of classes."""
    try:
        return models.create(config["model"], config["input_shape"], config["num_classes"])
    except ValueError as e:
        fit = f"--model {config['model']} does not fit --dataset {config['dataset']}"
        raise UsageError(f"{fit}: {e}") from None


def saved_config(ckpt, keys):
    """The run settings stored in a checkpoint, checked to hold `keys` and a model that can be built."""
    config, keys = ckpt.config, (*keys, "input_shape", "num_classes")
    if not isinstance(config, dict) or any(k not in config for k in keys):
        raise CheckpointError(f"{ckpt.path}: not a `baby train` checkpoint (its config lacks the run's "
                              "settings)")
    choices = {"dataset": DATASETS, "model": models.MODELS, "optimizer": OPTIMIZERS}
    bad = [f"{k}={config[k]!r}" for k, names in choices.items() if k in config and config[k] not in names]
    shape, classes = config["input_shape"], config["num_classes"]
    if not (isinstance(shape, list) and len(shape) == 3 and all(isinstance(n, int) for n in shape)):
        bad.append(f"input_shape={shape!r}")
    if not isinstance(classes, int) or classes < 1:
        bad.append(f"num_classes={classes!r}")
    if not isinstance(config.get("data_dir", ""), str):
        bad.append(f"data_dir={config['data_dir']!r}")
    if bad:
        raise CheckpointError(f"{ckpt.path}: damaged run settings: {', '.join(bad)}")
    return config


def match_model(ckpt, shape, classes, dataset):
    """The reference model whose state dict `ckpt` holds, built for the dataset's images."""
    for name in models.MODELS:
        if min(shape[1:]) < models.MIN_SIZE[name]:
            continue
        model = models.create(name, shape, classes)
        own = model.state_dict()
        if own.keys() == ckpt.model.keys() and all(v.shape == ckpt.model[k].shape for k, v in own.items()):
            return model
    raise CheckpointError(f"{ckpt.path}: its weights are none of baby's models ({', '.join(models.MODELS)}) "
                          f"for --dataset {dataset} (inputs {shape}, {classes} classes)")


def check_out(out, force, own):
    """Raise UsageError unless `out` is (or can become) a writable directory without another run in it.

    A run of its own (`own`: resuming in the checkpoint's directory) may be there; another one only with
    `force`. Nothing is created.
    """
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    base = next(p for p in (out, *out.parents) if p.exists())  # '.' ends a relative path's parents
    if not base.is_dir():
        raise UsageError(f"--out {out}: {base} is a file, not a directory")
    try:
        tempfile.TemporaryFile(dir=base).close()  # the write probe: create and delete a file there
    except OSError as e:
        raise UsageError(f"--out {out}: cannot write in {base} ({e.strerror})") from None
    held = [] if own or force else [n for n in RUN_FILES if (out / n).exists()]
    if held:
        resume = (f"continue it with --resume {shlex.quote(str(out / 'checkpoint.npz'))}, or "
                  if "checkpoint.npz" in held else "")
        raise UsageError(f"--out {out} already holds a run ({', '.join(held)}): {resume}start it over with "
                         f"--force")
