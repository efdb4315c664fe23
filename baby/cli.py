"""The `baby` command: `baby train` (digits, MNIST, Fashion-MNIST, CIFAR-10) and `baby eval`.

Errors are one line on stderr: exit status 2 for bad arguments and unusable checkpoints, 1 for runs that
fail (divergence, missing or corrupt data).
"""

import argparse
import math
import sys
import time
from pathlib import Path

from . import models, nn, optim
from .data import CIFAR10, MNIST, DataLoader, DatasetError, Digits, FashionMNIST, transforms
from .random import manual_seed
from .train import CheckpointError, Diverged, evaluate, fit, load_checkpoint, restore

DATASETS = {  # name: (default model, normalization (mean, std), augment: 4-pixel random crops + flips)
    "digits": ("mlp", None, False),
    "mnist": ("lenet", ((0.1307,), (0.3081,)), False),
    "fashion-mnist": ("lenet", ((0.2860,), (0.3530,)), False),
    "cifar10": ("resnet9", ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)), True),
}
RECIPES = {  # model: its default optimizer, lr, weight decay, batch size and epochs
    "mlp": dict(optimizer="adam", lr=1e-2, weight_decay=0.0, batch_size=32, epochs=10),
    "cnn": dict(optimizer="adam", lr=1e-2, weight_decay=0.0, batch_size=32, epochs=4),
    "lenet": dict(optimizer="adam", lr=2e-3, weight_decay=0.0, batch_size=64, epochs=5),
    "resnet9": dict(optimizer="sgd", lr=0.1, weight_decay=5e-4, batch_size=128, epochs=10),
}
OPTIMIZERS = {  # name: (default lr, default weight decay) when the model's recipe uses another optimizer
    "sgd": (0.05, 5e-4), "adam": (1e-3, 0.0), "adamw": (1e-3, 1e-2),
}
FLAGS = ("dataset", "model", "optimizer", "epochs", "batch_size", "lr", "weight_decay", "seed")


class UsageError(ValueError):
    """A combination of arguments that cannot work (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line on stderr (no usage block) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(kind, low, strict):
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


def _resolve(given):
    """The run's settings: the flags `given`, the rest from the dataset's model and that model's recipe."""
    config = {"dataset": "digits", "seed": 0, **given}
    config.setdefault("model", DATASETS[config["dataset"]][0])
    recipe = RECIPES[config["model"]]
    config.setdefault("optimizer", recipe["optimizer"])
    same = config["optimizer"] == recipe["optimizer"]
    lr, weight_decay = (recipe["lr"], recipe["weight_decay"]) if same else OPTIMIZERS[config["optimizer"]]
    config.setdefault("lr", lr)
    config.setdefault("weight_decay", weight_decay)
    config.setdefault("batch_size", recipe["batch_size"])
    config.setdefault("epochs", recipe["epochs"])
    return config


def _dataset(name, data_dir, train):
    """The train or test split of dataset `name`, downloaded into `data_dir` if it is not there."""
    if name == "digits":
        return Digits(train=train)
    _, stats, augment = DATASETS[name]
    tf = transforms.Normalize(*stats)
    if train and augment:
        tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(), tf])
    cls = {"mnist": MNIST, "fashion-mnist": FashionMNIST, "cifar10": CIFAR10}[name]
    return cls(data_dir, train=train, transform=tf, download=True)


def _optimizer(config, params):
    """The optimizer the config names (SGD with Nesterov momentum 0.9)."""
    lr, wd = config["lr"], config["weight_decay"]
    if config["optimizer"] == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=wd)
    return (optim.Adam if config["optimizer"] == "adam" else optim.AdamW)(params, lr=lr, weight_decay=wd)


def _model(config):
    """The config's model for its input shape and number of classes."""
    try:
        return models.create(config["model"], config["input_shape"], config["num_classes"])
    except ValueError as e:
        fit = f"--model {config['model']} does not fit --dataset {config['dataset']}"
        raise UsageError(f"{fit}: {e}") from None


def _shape(dataset):
    """(input shape [C, H, W], number of classes) of an image dataset."""
    return list(dataset.images.shape[1:]), len(dataset.classes)


def _epochs(n):
    """'1 epoch', '2 epochs'."""
    return f"{n} epoch{'' if n == 1 else 's'}"


def _given(args):
    """The settings flags given on the command line (None means not given)."""
    return {k: getattr(args, k) for k in FLAGS if getattr(args, k) is not None}


def _saved_config(ckpt, keys):
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
    if bad:
        raise CheckpointError(f"{ckpt.path}: damaged run settings: {', '.join(bad)}")
    return config


def train(args):
    """`baby train`: train (or resume) a run, writing metrics, curves and checkpoints to --out."""
    start = time.perf_counter()
    given, ckpt = _given(args), None
    if args.resume:
        ckpt = load_checkpoint(args.resume)
        config = _saved_config(ckpt, FLAGS)
        for k, v in given.items():
            if v != config[k]:
                flag = "--" + k.replace("_", "-")
                raise UsageError(f"{flag} {v} conflicts with the checkpoint's {flag} {config[k]} "
                                 f"(--resume continues the run with its own settings)")
        out = Path(args.out) if args.out else Path(args.resume).parent
    else:
        config = _resolve(given)
        out = Path(args.out) if args.out else Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    manual_seed(config["seed"])
    train_set, test_set = (_dataset(config["dataset"], args.data_dir, split) for split in (True, False))
    shape, classes = _shape(train_set)
    if ckpt is None:
        config.update(input_shape=shape, num_classes=classes)
    model = _model(config)
    train_loader = DataLoader(train_set, batch_size=config["batch_size"], shuffle=True)
    test_loader = DataLoader(test_set, batch_size=config["batch_size"])
    optimizer = _optimizer(config, model.parameters())
    scheduler = optim.CosineAnnealingLR(optimizer, T_max=config["epochs"])
    first, history = 0, []
    if ckpt is not None:
        restore(ckpt, model, optimizer, scheduler, train_loader)
        first, history = ckpt.epoch, ckpt.history
        print(f"resuming {config['model']} on {config['dataset']} after epoch {first} of {config['epochs']}")
    else:
        print(f"training {config['model']} on {config['dataset']}: {_epochs(config['epochs'])}, "
              f"{config['optimizer']} lr {config['lr']:g}, batch {config['batch_size']}; writing to {out}")
    history = fit(model, train_loader, test_loader, optimizer, nn.CrossEntropyLoss(), config["epochs"],
                  scheduler, out=out, config=config, start_epoch=first, history=history)
    accuracy = history[-1]["test_acc"] if history else evaluate(model, test_loader).accuracy
    print(f"trained {_epochs(config['epochs'] - first)} in {time.perf_counter() - start:.1f}s")
    print(f"test accuracy: {accuracy:.4f}")
    return 0


def eval_checkpoint(args):
    """`baby eval`: the test accuracy of a checkpoint's model (on its dataset, or --dataset)."""
    ckpt = load_checkpoint(args.checkpoint)
    config = _saved_config(ckpt, ("dataset", "model"))
    dataset = args.dataset or config["dataset"]
    test_set = _dataset(dataset, args.data_dir, train=False)
    shape, classes = _shape(test_set)
    if [shape, classes] != [list(config["input_shape"]), config["num_classes"]]:
        raise CheckpointError(f"{args.checkpoint}: its {config['model']} takes inputs "
                              f"{config['input_shape']} with {config['num_classes']} classes; --dataset "
                              f"{dataset} has {shape} with {classes}")
    model = _model(config)
    restore(ckpt, model)
    loader = DataLoader(test_set, batch_size=args.batch_size or config.get("batch_size", 256))
    print(f"test accuracy: {evaluate(model, loader).accuracy:.4f}")
    return 0


def build_parser():
    """The argument parser, one subcommand per task."""
    parser = _Parser(prog="baby", description="baby: a small deep-learning library on NumPy.")
    commands = parser.add_subparsers(dest="command", metavar="command")
    positive, count = _number(float, 0, strict=True), _number(int, 1, strict=False)
    p = commands.add_parser(
        "train", help="train a model (default: an MLP on the bundled 8x8 digits)",
        description="Train a model and report test accuracy; writes metrics.csv, curves.png and "
                    "checkpoint.npz to --out. Unset flags take defaults for the dataset and model.")
    data_dir = "where datasets are (or get downloaded to); default data"
    p.add_argument("--dataset", choices=list(DATASETS), help="digits (default, bundled), mnist, "
                   "fashion-mnist or cifar10 (downloaded into --data-dir)")
    p.add_argument("--data-dir", default="data", metavar="DIR", help=data_dir)
    p.add_argument("--model", choices=list(models.MODELS),
                   help="default: mlp for digits, lenet for (fashion-)mnist, resnet9 for cifar10")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS), help="default: adam (sgd for resnet9)")
    p.add_argument("--epochs", type=count, help="passes over the training set (mlp 10, cnn 4, lenet 5, "
                   "resnet9 10)")
    p.add_argument("--batch-size", type=count, help="samples per step (mlp/cnn 32, lenet 64, resnet9 128)")
    p.add_argument("--lr", type=positive, help="initial learning rate, cosine-annealed to 0 (mlp/cnn 0.01, "
                   "lenet 0.002, resnet9 0.1; with another optimizer: sgd 0.05, adam/adamw 0.001)")
    p.add_argument("--weight-decay", type=_number(float, 0, strict=False),
                   help="L2 (adam, sgd) or decoupled (adamw) weight decay (default 0; sgd 5e-4, adamw 0.01)")
    p.add_argument("--seed", type=_number(int, 0, strict=False), help="seed for init, shuffling and "
                   "augmentation (default 0)")
    p.add_argument("--out", metavar="DIR", help="run directory (default runs/<timestamp>; with --resume, "
                   "the checkpoint's)")
    p.add_argument("--resume", metavar="PATH", help="continue the run saved in this checkpoint.npz")
    p.set_defaults(run=train)
    e = commands.add_parser("eval", help="test accuracy of a checkpoint",
                            description="Evaluate a checkpoint written by `baby train` on a test set.")
    e.add_argument("--checkpoint", required=True, metavar="PATH", help="a checkpoint.npz from `baby train`")
    e.add_argument("--dataset", choices=list(DATASETS), help="default: the one it was trained on")
    e.add_argument("--data-dir", default="data", metavar="DIR", help=data_dir)
    e.add_argument("--batch-size", type=count, help="samples per batch (default: the training batch size)")
    e.set_defaults(run=eval_checkpoint)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status (argument errors raise SystemExit(2))."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_usage(sys.stderr)
        parser.error("a command is required (train, eval)")
    prog = f"{parser.prog} {args.command}"
    try:
        return args.run(args)
    except (UsageError, CheckpointError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except (Diverged, DatasetError, OSError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
