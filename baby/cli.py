"""The `baby` command: `baby train` (digits, MNIST, Fashion-MNIST, CIFAR-10) and `baby eval`.

Errors are one line on stderr: exit status 2 for bad arguments, an unusable --out, missing dataset files and
unusable checkpoints; 1 for runs that fail (divergence, corrupt data); 130 when interrupted (Ctrl-C).
"""

import argparse
import math
import platform
import shlex
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy

from . import models, nn, optim
from .backend import keep_freed_memory
from .data import CIFAR10, MNIST, DataLoader, DatasetError, Digits, FashionMNIST, MissingData, transforms
from .random import manual_seed
from .train import CheckpointError, Diverged, evaluate, fit, load_checkpoint, restore

DATASETS = {  # name: (default model, image shape, normalization (mean, std), augment: 4-pixel crops + flips)
    "digits": ("mlp", (1, 8, 8), None, False),
    "mnist": ("lenet", (1, 28, 28), ((0.1307,), (0.3081,)), False),
    "fashion-mnist": ("lenet", (1, 28, 28), ((0.2860,), (0.3530,)), False),
    "cifar10": ("resnet9", (3, 32, 32), ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)), True),
}
CLASSES = {"mnist": MNIST, "fashion-mnist": FashionMNIST, "cifar10": CIFAR10}
RECIPES = {  # (model, dataset; None: any other): optimizer, lr, weight decay, batch size, epochs
    ("mlp", None): dict(optimizer="adam", lr=1e-2, weight_decay=0.0, batch_size=32, epochs=10),
    ("cnn", None): dict(optimizer="adam", lr=1e-2, weight_decay=0.0, batch_size=32, epochs=4),
    ("lenet", None): dict(optimizer="adam", lr=2e-3, weight_decay=0.0, batch_size=64, epochs=5),
    ("resnet9", "digits"): dict(optimizer="adam", lr=1e-3, weight_decay=0.0, batch_size=64, epochs=3),
    ("resnet9", None): dict(optimizer="sgd", lr=0.1, weight_decay=5e-4, batch_size=128, epochs=10),
    ("mobilenet", "digits"): dict(optimizer="adam", lr=2e-3, weight_decay=0.0, batch_size=64, epochs=3),
    ("mobilenet", None): dict(optimizer="sgd", lr=0.05, weight_decay=5e-4, batch_size=64, epochs=10),
}
TESTED = {  # (model, dataset): the test accuracy tests/test_cli_runs.py checks its recipe reaches
    ("mlp", "digits"): 0.95, ("cnn", "digits"): 0.97, ("resnet9", "digits"): 0.97,
    ("mobilenet", "digits"): 0.97,
}
OPTIMIZERS = {  # name: (default lr, default weight decay) when the recipe uses another optimizer
    "sgd": (0.05, 5e-4), "adam": (1e-3, 0.0), "adamw": (1e-3, 1e-2),
}
FLAGS = ("dataset", "model", "optimizer", "epochs", "batch_size", "lr", "weight_decay", "seed")
RUN_FILES = ("checkpoint.npz", "metrics.csv", "curves.png")


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


def _recipe(model, dataset):
    """The recipe of `model` on `dataset`."""
    return RECIPES.get((model, dataset)) or RECIPES[model, None]


def _fits(model, dataset):
    """Whether `model` takes the images of `dataset`."""
    return min(DATASETS[dataset][1][1:]) >= models.MIN_SIZE[model]


def _resolve(given):
    """The run's settings: the flags `given`, the rest from the dataset's model and the pair's recipe."""
    config = {"dataset": "digits", "seed": 0, **given}
    config.setdefault("model", DATASETS[config["dataset"]][0])
    model, dataset = config["model"], config["dataset"]
    if not _fits(model, dataset):
        n, fit = models.MIN_SIZE[model], [m for m in models.MODELS if _fits(m, dataset)]
        raise UsageError(f"--model {model} does not fit --dataset {dataset} ({model} needs images of at "
                         f"least {n}x{n}): use --model {' or '.join(fit)}, or --dataset "
                         f"{' or '.join(d for d in DATASETS if _fits(model, d))}")
    recipe = _recipe(model, dataset)
    config.setdefault("optimizer", recipe["optimizer"])
    same = config["optimizer"] == recipe["optimizer"]
    lr, weight_decay = (recipe["lr"], recipe["weight_decay"]) if same else OPTIMIZERS[config["optimizer"]]
    config.setdefault("lr", lr)
    config.setdefault("weight_decay", weight_decay)
    config.setdefault("batch_size", recipe["batch_size"])
    config.setdefault("epochs", recipe["epochs"])
    return config


def _require(name, data_dir, splits):
    """Check that the files of `splits` of dataset `name` are in `data_dir`, fetching missing ones."""
    if name != "digits":
        CLASSES[name].files(data_dir, splits, download=True)


def _dataset(name, data_dir, train):
    """The train or test split of dataset `name`, read from `data_dir`."""
    if name == "digits":
        return Digits(train=train)
    _, _, stats, augment = DATASETS[name]
    tf = transforms.Normalize(*stats)
    if train and augment:
        tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(), tf])
    return CLASSES[name](data_dir, train=train, transform=tf, download=True)


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
    if not isinstance(config.get("data_dir", ""), str):
        bad.append(f"data_dir={config['data_dir']!r}")
    if bad:
        raise CheckpointError(f"{ckpt.path}: damaged run settings: {', '.join(bad)}")
    return config


def _resumed(ckpt, given):
    """The settings of the checkpoint's run, with --epochs when given (other flags must agree)."""
    config = dict(_saved_config(ckpt, FLAGS))
    for k, v in given.items():
        if v != config[k] and k != "epochs":
            flag = "--" + k.replace("_", "-")
            raise UsageError(f"{flag} {v} conflicts with the checkpoint's {flag} {config[k]} "
                             f"(--resume continues the run with its own settings)")
    if given.get("epochs", ckpt.epoch) < ckpt.epoch:
        raise UsageError(f"--epochs {given['epochs']} is fewer than the {ckpt.epoch} epochs {ckpt.path} has "
                         f"already trained")
    config["epochs"] = given.get("epochs", config["epochs"])
    return config


def _check_out(out, force, own):
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


def _interrupted(out, config, resume):
    """What Ctrl-C leaves: which epoch's checkpoint is kept and the exact command to go on."""
    path = out / "checkpoint.npz"
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError:
        return f"no epoch finished; {resume} is as it was" if resume else ("no epoch finished, so there is "
                                                                            "no checkpoint to resume")
    more = "".join(f" --{k.replace('_', '-')} {shlex.quote(str(config[k]))}" for k in ("epochs", "data_dir")
                   if ckpt.config.get(k) != config[k])         # an extension interrupted in its first epoch
    return (f"{path} keeps epoch {ckpt.epoch} of {config['epochs']}; continue with: "
            f"baby train --resume {shlex.quote(str(path))}{more}")


def train(args):
    """`baby train`: train (or resume) a run, writing metrics, curves and checkpoints to --out."""
    start = time.perf_counter()
    given, ckpt = _given(args), None
    if args.resume:
        ckpt = load_checkpoint(args.resume)
        config = _resumed(ckpt, given)
        home = Path(args.resume).parent
        out = Path(args.out) if args.out else home
        own = out.resolve() == home.resolve()
    else:
        config, own = _resolve(given), False
        out = Path(args.out) if args.out else Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    _check_out(out, args.force, own)
    data_dir = args.data_dir or config.get("data_dir") or "data"
    _require(config["dataset"], data_dir, (True, False))
    config["data_dir"] = str(Path(data_dir).resolve())
    try:
        return _train(config, ckpt, out, data_dir, args.force and not own, start)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(_interrupted(out, config, args.resume)) from None


def _train(config, ckpt, out, data_dir, clear, start):
    """Load the data, build (or restore) the run and fit it; returns the exit status."""
    manual_seed(config["seed"])
    train_set, test_set = (_dataset(config["dataset"], data_dir, split) for split in (True, False))
    shape, classes = _shape(train_set)
    if ckpt is None:
        config.update(input_shape=shape, num_classes=classes)
    elif [shape, classes] != [config["input_shape"], config["num_classes"]]:
        raise CheckpointError(f"{ckpt.path}: its {config['model']} takes inputs {config['input_shape']} "
                              f"with {config['num_classes']} classes; --dataset {config['dataset']} has "
                              f"{shape} with {classes}")
    model = _model(config)
    train_loader = DataLoader(train_set, batch_size=config["batch_size"], shuffle=True)
    test_loader = DataLoader(test_set, batch_size=config["batch_size"])
    optimizer = _optimizer(config, model.parameters())
    first, history = 0, []
    if ckpt is not None:
        restore(ckpt, model, optimizer, loader=train_loader)
        first, history = ckpt.epoch, ckpt.history
        grown = "" if ckpt.config["epochs"] == config["epochs"] else f" (was {ckpt.config['epochs']})"
        print(f"resuming {config['model']} on {config['dataset']} after epoch {first} of "
              f"{config['epochs']}{grown}")
    else:
        print(f"training {config['model']} on {config['dataset']}: {_epochs(config['epochs'])}, "
              f"{config['optimizer']} lr {config['lr']:g}, batch {config['batch_size']}; writing to {out}")
    try:
        scheduler = optim.CosineAnnealingLR(optimizer, T_max=config["epochs"], last_epoch=first - 1)
    except ValueError as e:
        raise CheckpointError(f"{ckpt.path}: optimizer state without a schedule ({e})") from None
    if ckpt is not None and ckpt.config["epochs"] != config["epochs"]:
        scheduler.step(first)  # anneal over the new total: the closed form at epoch `first`
    if clear:
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
    history = fit(model, train_loader, test_loader, optimizer, nn.CrossEntropyLoss(), config["epochs"],
                  scheduler, out=out, config=config, start_epoch=first, history=history)
    accuracy = history[-1]["test_acc"] if history else evaluate(model, test_loader).accuracy
    print(f"trained {_epochs(config['epochs'] - first)} in {time.perf_counter() - start:.1f}s")
    print(f"test accuracy: {accuracy:.4f}")
    return 0


def _match_model(ckpt, shape, classes, dataset):
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


def eval_checkpoint(args):
    """`baby eval`: the test accuracy of a checkpoint's model on its dataset's test split (or --dataset's)."""
    ckpt = load_checkpoint(args.checkpoint)
    config = ckpt.config if isinstance(ckpt.config, dict) else {}
    if "model" in config:
        config = _saved_config(ckpt, ("dataset", "model"))
    dataset = args.dataset or config.get("dataset", "digits")
    data_dir = args.data_dir or config.get("data_dir") or "data"
    _require(dataset, data_dir, (False,))
    test_set = _dataset(dataset, data_dir, train=False)
    shape, classes = _shape(test_set)
    if "model" not in config:        # from baby.train.fit(): the weights say which model
        model = _match_model(ckpt, shape, classes, dataset)
    elif [shape, classes] != [list(config["input_shape"]), config["num_classes"]]:
        raise CheckpointError(f"{args.checkpoint}: its {config['model']} takes inputs "
                              f"{config['input_shape']} with {config['num_classes']} classes; --dataset "
                              f"{dataset} has {shape} with {classes}")
    else:
        model = _model(config)
    restore(ckpt, model)
    loader = DataLoader(test_set, batch_size=args.batch_size or config.get("batch_size", 256))
    print(f"test accuracy: {evaluate(model, loader).accuracy:.4f}")
    return 0


def _version():
    """'baby 0.1.0 (numpy 2.x, python 3.x)', from the installed package's metadata."""
    try:
        version = metadata.version("baby")
    except metadata.PackageNotFoundError:
        version = "(not installed)"
    return f"baby {version} (numpy {numpy.__version__}, python {platform.python_version()})"


def _recipes_help():
    """The table of recipes for `baby train --help`."""
    rows = [("model", "dataset", "optimizer", "lr", "decay", "batch", "epochs", "test accuracy (tested)")]
    for (model, dataset), r in RECIPES.items():
        tested = [f"{TESTED[model, d]:.2f}+ on {d}" for d in DATASETS if _recipe(model, d) is r
                  and (model, d) in TESTED]
        rest = "others" if any(m == model and d for m, d in RECIPES) else "any"
        rows.append((model, dataset or rest, r["optimizer"], f"{r['lr']:g}", f"{r['weight_decay']:g}",
                     str(r["batch_size"]), str(r["epochs"]), ", ".join(tested) or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    other = "; ".join(f"{k} lr {lr:g}, decay {wd:g}" for k, (lr, wd) in OPTIMIZERS.items())
    return "\n".join(["recipes (the defaults of unset flags; --dataset picks the model):", *lines,
                      "  another --optimizer than the recipe's gets",
                      f"    {other}",
                      "  lenet needs 12x12 images or larger (not digits); pairs marked - are not trained",
                      "  in the tests (their data is not bundled)"])


DATA_HELP = f"""\
data (files in --data-dir DIR are used as they are; missing ones are downloaded, or named with the URL
to fetch by hand):
  digits         bundled with baby (1797 8x8 images), nothing to fetch
  mnist          in DIR/MNIST/raw/ or DIR/, each .gz or not: train-images-idx3-ubyte,
                 train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte
                 from {MNIST.mirror}<name>.gz
  fashion-mnist  in DIR/FashionMNIST/raw/ or DIR/: the same four names,
                 from {FashionMNIST.mirror}<name>.gz
  cifar10        in DIR/cifar-10-batches-py/ or DIR/: data_batch_1 ... data_batch_5, test_batch;
                 or DIR/{CIFAR10.filename} (extracted there)
                 from {CIFAR10.mirror + CIFAR10.filename}"""
DATA_DIR = "where the datasets are (default: the run's, else ./data)"
RUNS_HELP = """\
runs:
  --out DIR gets metrics.csv, checkpoint.npz (after every epoch) and curves.png. A directory that already
  holds a run is refused (nothing is overwritten): continue it with --resume DIR/checkpoint.npz, or start it
  over with --force. --data-dir is stored in the run, so --resume and `baby eval` find the data again.
  --resume PATH --epochs N with N above the run's epochs extends a run (finished or not): the cosine schedule
  is then over N epochs, from the epoch the checkpoint reached. The extended run equals one started with
  --epochs N only when the checkpoint is from epoch 1 (every cosine starts at the same lr) or already had
  --epochs N (an interrupted run); otherwise its first epochs annealed faster and the lr rises again.
  Ctrl-C keeps the last finished epoch's checkpoint and prints the command that continues the run."""


def build_parser():
    """The argument parser, one subcommand per task."""
    parser = _Parser(prog="baby", description="baby: a small deep-learning library on NumPy.")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", metavar="command")
    positive, count = _number(float, 0, strict=True), _number(int, 1, strict=False)
    p = commands.add_parser(
        "train", help="train a model (default: an MLP on the bundled 8x8 digits)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a model and report its test accuracy. Flags left unset take the recipe of the "
                    "model and dataset (below).",
        epilog="\n\n".join([_recipes_help(), DATA_HELP, RUNS_HELP]))
    p.add_argument("--dataset", choices=list(DATASETS), help="default digits (bundled); the others are read "
                   "from --data-dir (layout below)")
    p.add_argument("--data-dir", metavar="DIR", help=DATA_DIR)
    p.add_argument("--model", choices=list(models.MODELS),
                   help="default: mlp for digits, lenet for mnist and fashion-mnist, resnet9 for cifar10")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS), help="default: the recipe's")
    p.add_argument("--epochs", type=count, help="passes over the training set (default: the recipe's; with "
                   "--resume, a larger number extends the run)")
    p.add_argument("--batch-size", type=count, help="samples per step (default: the recipe's)")
    p.add_argument("--lr", type=positive, metavar="LR", help="learning rate of the first epoch, annealed "
                   "to 0 by a cosine over the epochs (default: the recipe's)")
    p.add_argument("--weight-decay", type=_number(float, 0, strict=False), metavar="WD",
                   help="weight decay: an L2 term for sgd and adam, decoupled for adamw (default: the "
                   "recipe's)")
    p.add_argument("--seed", type=_number(int, 0, strict=False), help="seed for init, shuffling and "
                   "augmentation (default 0)")
    p.add_argument("--out", metavar="DIR", help="run directory (default runs/<timestamp>; with --resume, "
                   "the checkpoint's); must not hold another run")
    p.add_argument("--resume", metavar="PATH", help="continue the run saved in this checkpoint.npz")
    p.add_argument("--force", action="store_true", help="start over in an --out that holds a run, "
                   "deleting its checkpoint, metrics and curves")
    p.set_defaults(run=train)
    e = commands.add_parser("eval", help="test accuracy of a checkpoint",
                            description="Evaluate a checkpoint from `baby train` or `baby.train.fit` on a "
                                        "test split (only that split is read).")
    e.add_argument("--checkpoint", required=True, metavar="PATH", help="a checkpoint.npz")
    e.add_argument("--dataset", choices=list(DATASETS), help="default: the one it was trained on (digits "
                   "for a fit() checkpoint without one)")
    e.add_argument("--data-dir", metavar="DIR", help=DATA_DIR)
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
    keep_freed_memory()  # activations reuse freed memory instead of page-faulting on fresh pages
    try:
        return args.run(args)
    except (UsageError, CheckpointError, MissingData) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except (Diverged, DatasetError, OSError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        print(f"{prog}: interrupted" + (f"; {e}" if str(e) else ""), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
