"""`baby train`: train (or resume) a run, writing metrics, curves and checkpoints to --out."""

import argparse
import shlex
import time
from pathlib import Path

from .. import models, nn, optim
from ..data import CIFAR10, MNIST, DataLoader, FashionMNIST
from ..distributed import launch
from ..random import manual_seed
from ..train import CheckpointError, evaluate, fit, load_checkpoint, restore
from ..viz import make_dot
from .common import (
    COUNT,
    DATA_DIR,
    DATASETS,
    OPTIMIZERS,
    RUN_FILES,
    UsageError,
    build_model,
    check_out,
    fits,
    load_dataset,
    number,
    require,
    saved_config,
    shape_of,
)

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
FLAGS = ("dataset", "model", "optimizer", "epochs", "batch_size", "lr", "weight_decay", "seed")


def recipe(model, dataset):
    """The recipe of `model` on `dataset`."""
    return RECIPES.get((model, dataset)) or RECIPES[model, None]


def resolve(given):
    """The run's settings: the flags `given`, the rest from the dataset's model and the pair's recipe."""
    config = {"dataset": "digits", "seed": 0, **given}
    config.setdefault("model", DATASETS[config["dataset"]][0])
    model, dataset = config["model"], config["dataset"]
    if not fits(model, dataset):
        n, fit = models.MIN_SIZE[model], [m for m in models.MODELS if fits(m, dataset)]
        raise UsageError(f"--model {model} does not fit --dataset {dataset} ({model} needs images of at "
                         f"least {n}x{n}): use --model {' or '.join(fit)}, or --dataset "
                         f"{' or '.join(d for d in DATASETS if fits(model, d))}")
    r = recipe(model, dataset)
    config.setdefault("optimizer", r["optimizer"])
    same = config["optimizer"] == r["optimizer"]
    lr, weight_decay = (r["lr"], r["weight_decay"]) if same else OPTIMIZERS[config["optimizer"]]
    config.setdefault("lr", lr)
    config.setdefault("weight_decay", weight_decay)
    config.setdefault("batch_size", r["batch_size"])
    config.setdefault("epochs", r["epochs"])
    return config


def make_optimizer(config, params):
    """The optimizer the config names (SGD with Nesterov momentum 0.9)."""
    lr, wd = config["lr"], config["weight_decay"]
    if config["optimizer"] == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=wd)
    return (optim.Adam if config["optimizer"] == "adam" else optim.AdamW)(params, lr=lr, weight_decay=wd)


def _epochs(n):
    """'1 epoch', '2 epochs'."""
    return f"{n} epoch{'' if n == 1 else 's'}"


def _given(args):
    """The settings flags given on the command line (None means not given)."""
    return {k: getattr(args, k) for k in FLAGS if getattr(args, k) is not None}


def _resumed(ckpt, given):
    """The settings of the checkpoint's run, with --epochs when given (other flags must agree)."""
    config = dict(saved_config(ckpt, FLAGS))
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


def run(args):
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
        config, own = resolve(given), False
        out = Path(args.out) if args.out else Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    check_out(out, args.force, own)
    data_dir = args.data_dir or config.get("data_dir") or "data"
    require(config["dataset"], data_dir, (True, False))
    config["data_dir"] = str(Path(data_dir).resolve())
    try:
        return _train(config, ckpt, out, data_dir, args.force and not own, start, args.graph)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(_interrupted(out, config, args.resume)) from None


def _train(config, ckpt, out, data_dir, clear, start, graph=False):
    """Load the data, build (or restore) the run and fit it; returns the exit status."""
    launch.join()  # under mpiexec -n N: data-parallel (baby/distributed/launch.py)
    say = print if launch.rank() == 0 else lambda *a, **k: None
    manual_seed(config["seed"])
    train_set, test_set = (load_dataset(config["dataset"], data_dir, split) for split in (True, False))
    shape, classes = shape_of(train_set)
    if ckpt is None:
        config.update(input_shape=shape, num_classes=classes)
    elif [shape, classes] != [config["input_shape"], config["num_classes"]]:
        raise CheckpointError(f"{ckpt.path}: its {config['model']} takes inputs {config['input_shape']} "
                              f"with {config['num_classes']} classes; --dataset {config['dataset']} has "
                              f"{shape} with {classes}")
    model = build_model(config)
    train_loader, test_loader = launch.loaders(train_set, test_set, config["batch_size"], config["seed"])
    optimizer = make_optimizer(config, model.parameters())
    first, history = 0, []
    if ckpt is not None:
        restore(ckpt, model, optimizer, loader=train_loader)
        first, history = ckpt.epoch, ckpt.history
        grown = "" if ckpt.config["epochs"] == config["epochs"] else f" (was {ckpt.config['epochs']})"
        say(f"resuming {config['model']} on {config['dataset']} after epoch {first} of "
              f"{config['epochs']}{grown}")
    else:
        say(f"training {config['model']} on {config['dataset']}: {_epochs(config['epochs'])}, "
            f"{config['optimizer']} lr {config['lr']:g}, batch {config['batch_size']}; writing to {out}")
    try:
        scheduler = optim.CosineAnnealingLR(optimizer, T_max=config["epochs"], last_epoch=first - 1)
    except ValueError as e:
        raise CheckpointError(f"{ckpt.path}: optimizer state without a schedule ({e})") from None
    if ckpt is not None and ckpt.config["epochs"] != config["epochs"]:
        scheduler.step(first)  # anneal over the new total: the closed form at epoch `first`
    if clear and launch.rank() == 0:
        for name in (*RUN_FILES, "graph.svg"):
            (out / name).unlink(missing_ok=True)
    if graph and launch.rank() == 0:
        draw_graph(model, train_set, out)
    model = launch.wrap(model, config["seed"])
    history = fit(model, train_loader, test_loader, optimizer, nn.CrossEntropyLoss(), config["epochs"],
                  scheduler, out=out if launch.rank() == 0 else None, config=config, start_epoch=first,
                  history=history, log=say)
    accuracy = history[-1]["test_acc"] if history else evaluate(model, test_loader).accuracy
    say(f"trained {_epochs(config['epochs'] - first)} in {time.perf_counter() - start:.1f}s")
    say(f"test accuracy: {accuracy:.4f}")
    return 0


def draw_graph(model, dataset, out):
    """out/graph.svg: the autograd graph of the model's loss on two training samples (in eval mode, so
    nothing of the run changes)."""
    x, y = next(iter(DataLoader(dataset, batch_size=2)))
    model.eval()
    loss = nn.CrossEntropyLoss()(model(x), y)
    model.train()
    out.mkdir(parents=True, exist_ok=True)
    try:
        dot = make_dot(loss, params=dict(model.named_parameters()))
        dot.render(out / "graph", format="svg", cleanup=True)
    except (ImportError, RuntimeError) as e:
        raise UsageError(f"--graph: {e}") from None
    print(f"wrote {out / 'graph.svg'}")


def _recipes_help():
    """The table of recipes for `baby train --help`."""
    rows = [("model", "dataset", "optimizer", "lr", "decay", "batch", "epochs", "test accuracy (tested)")]
    for (model, dataset), r in RECIPES.items():
        tested = [f"{TESTED[model, d]:.2f}+ on {d}" for d in DATASETS if recipe(model, d) is r
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
RUNS_HELP = """\
runs:
  --out DIR gets metrics.csv, checkpoint.npz (after every epoch), curves.png and, with --graph, graph.svg. A
  directory that already holds a run is refused (nothing is overwritten): continue it with --resume
  DIR/checkpoint.npz, or start it over with --force. --data-dir is stored in the run, so --resume and
  `baby eval` find the data again.
  --resume PATH --epochs N with N above the run's epochs extends a run (finished or not): the cosine schedule
  is then over N epochs, from the epoch the checkpoint reached. The extended run equals one started with
  --epochs N only when the checkpoint is from epoch 1 (every cosine starts at the same lr) or already had
  --epochs N (an interrupted run); otherwise its first epochs annealed faster and the lr rises again.
  Ctrl-C keeps the last finished epoch's checkpoint and prints the command that continues the run."""


def add_parser(commands):
    """The `train` subcommand's arguments."""
    positive = number(float, 0, strict=True)
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
    p.add_argument("--epochs", type=COUNT, help="passes over the training set (default: the recipe's; with "
                   "--resume, a larger number extends the run)")
    p.add_argument("--batch-size", type=COUNT, help="samples per step and process: under mpiexec -n N each "
                   "step takes N x this (default: the recipe's)")
    p.add_argument("--lr", type=positive, metavar="LR", help="learning rate of the first epoch, annealed "
                   "to 0 by a cosine over the epochs (default: the recipe's)")
    p.add_argument("--weight-decay", type=number(float, 0, strict=False), metavar="WD",
                   help="weight decay: an L2 term for sgd and adam, decoupled for adamw (default: the "
                   "recipe's)")
    p.add_argument("--seed", type=number(int, 0, strict=False), help="seed for init, shuffling and "
                   "augmentation (default 0)")
    p.add_argument("--out", metavar="DIR", help="run directory (default runs/<timestamp>; with --resume, "
                   "the checkpoint's); must not hold another run")
    p.add_argument("--resume", metavar="PATH", help="continue the run saved in this checkpoint.npz")
    p.add_argument("--graph", action="store_true", help="also write graph.svg, the model's autograd graph "
                   "(needs Graphviz: apt-get install graphviz)")
    p.add_argument("--force", action="store_true", help="start over in an --out that holds a run, "
                   "deleting its checkpoint, metrics and curves")
    p.set_defaults(run=run)
    return p
