"""The training loop: epochs with a progress bar, metrics.csv, curves.png, atomic checkpoints and resume.

A checkpoint is one `.npz` readable with `allow_pickle=False` (it can never run code). Its keys:
    format                  "baby-checkpoint-1"
    epoch                   the number of finished epochs (int64)
    config, history         JSON strings: the run's settings, and one metrics record per finished epoch
    rng, loader_rng         JSON strings: `baby.get_rng_state()` and the train loader's own generator (if any)
    world_size, rank_rng    under mpiexec: the number of processes, and JSON: every rank's `get_rng_state()`
    model/<name>            the model's state_dict, one array per parameter or buffer
    optim/type              the optimizer's class name
    optim/param_groups      JSON: the groups' hyperparameters (parameters as indices)
    optim/state/<i>/<key>   per-parameter state arrays, e.g. optim/state/3/exp_avg; "step" as int64
    sched                   JSON: the LR scheduler's state_dict
Every random draw of epoch e+1 (shuffling, augmentation, dropout) comes from the RNG state saved at the end
of epoch e, so a resumed run repeats an uninterrupted one exactly.
"""

import csv
import io
import json
import math
import sys
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import random
from .distributed import all_gather_object, launch
from .grad_mode import no_grad
from .nn.parallel import DistributedDataParallel
from .serialization.files import ZIP_MAGIC, read_all, read_npz, write_atomic

FORMAT = "baby-checkpoint-1"
COLUMNS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds")

Metrics = namedtuple("Metrics", ["loss", "accuracy"])
Checkpoint = namedtuple("Checkpoint", ["path", "epoch", "config", "history", "model", "optim", "sched", "rng",
                                       "loader_rng", "world_size", "rank_rng"], defaults=(1, None))


class Diverged(RuntimeError):
    """Training met a NaN or infinite loss."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that does not fit the model, optimizer or run."""


def _images(loader):
    """How many samples one pass over `loader` yields (on every rank together under mpiexec)."""
    n = len(loader.dataset) if launch.world() == 1 else len(loader.sampler)  # the sampler pads the shards
    return min(len(loader) * loader.batch_size, n) * launch.world()


def _correct(logits, y):
    """How many rows of `logits` have their largest value at the label in `y`."""
    return int((logits._data.argmax(axis=1) == y._data).sum())


def train_epoch(model, loader, optimizer, loss_fn, epoch=1, progress=True, desc="train"):
    """Train `model` for one pass over `loader`; returns Metrics(mean loss, accuracy) over its samples.

    The tqdm bar (on stderr, when it is a terminal and `progress` is true) shows images/s and the running
    loss. A NaN or infinite loss raises Diverged naming `epoch` and the step, before the weights change.
    """
    model.train()
    total, correct, seen = 0.0, 0, 0
    with tqdm(total=_images(loader), desc=desc, unit="img", unit_scale=True, leave=False,
              disable=None if progress and launch.rank() == 0 else True) as bar:
        for step, (x, y) in enumerate(loader, 1):
            logits = model(x)
            loss = loss_fn(logits, y)
            value = loss.item()
            if not math.isfinite(value):
                raise Diverged(f"loss is {value} at epoch {epoch}, step {step}")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, correct, seen = total + value * len(y), correct + _correct(logits, y), seen + len(y)
            bar.update(len(y) * launch.world())
            bar.set_postfix(loss=f"{total / seen:.4f}", refresh=False)
    total, correct, seen = launch.summed(total, correct, seen)
    return Metrics(total / max(seen, 1), correct / max(seen, 1))


def evaluate(model, loader, loss_fn=None):
    """Mean loss (None without `loss_fn`) and top-1 accuracy of `model` over `loader`, in eval mode (under
    mpiexec: over every rank's `loader`, which may differ in length, so DDP's forward is left out)."""
    model = model.module if isinstance(model, DistributedDataParallel) else model
    model.eval()
    total, correct, seen = 0.0, 0, 0
    with no_grad():
        for x, y in loader:
            logits = model(x)
            if loss_fn is not None:
                total += loss_fn(logits, y).item() * len(y)
            correct += _correct(logits, y)
            seen += len(y)
    total, correct, seen = launch.summed(total, correct, seen)
    seen = max(seen, 1)
    return Metrics(total / seen if loss_fn is not None else None, correct / seen)


def fit(model, train_loader, test_loader, optimizer, loss_fn, epochs, scheduler=None, out=None, config=None,
        start_epoch=0, history=(), progress=True, log=print):
    """Train from `start_epoch` up to `epochs`, evaluating after each; returns one record per epoch.

    Each record has the metrics.csv columns. With `out` (a directory), every epoch rewrites
    out/metrics.csv and out/checkpoint.npz (atomically), and curves.png is drawn when training stops,
    titled with `config`'s model and dataset (when given) and `epochs`. A non-finite loss raises Diverged;
    the checkpoint of the last finished epoch is left as it was.
    """
    history = [dict(r) for r in history]
    out = None if out is None else Path(out)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name in ("checkpoint.npz", "metrics.csv", "curves.png"):  # left by a run killed mid-write
            for stale in out.glob(f".{name}.*.tmp"):
                stale.unlink(missing_ok=True)
        if history:
            write_metrics(out / "metrics.csv", history)
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a bad loss raises Diverged
            for epoch in range(start_epoch + 1, epochs + 1):
                if hasattr(train_loader.sampler, "set_epoch"):
                    train_loader.sampler.set_epoch(epoch)
                start = time.perf_counter()
                train = _train_or_explain(model, train_loader, optimizer, loss_fn, epoch, epochs, progress,
                                          out)
                train_seconds = time.perf_counter() - start
                if scheduler is not None:
                    scheduler.step()
                test = evaluate(model, test_loader, loss_fn)
                history.append(dict(epoch=epoch, train_loss=train.loss, train_acc=train.accuracy,
                                    test_loss=test.loss, test_acc=test.accuracy,
                                    seconds=time.perf_counter() - start))
                log(f"epoch {epoch}/{epochs}  train loss {train.loss:.4f}  acc {train.accuracy:.4f}  "
                    f"test loss {test.loss:.4f}  acc {test.accuracy:.4f}  "
                    f"({_images(train_loader) / train_seconds:.0f} img/s)")
                rngs = _rank_rngs()
                if out is not None:
                    save_checkpoint(out / "checkpoint.npz", model, optimizer, scheduler, epoch, config,
                                    history, train_loader, rngs)
                    write_metrics(out / "metrics.csv", history)
    finally:
        if out is not None and history and not plot_curves(out / "curves.png", history,
                                                           _title(model, config, epochs)):
            print("matplotlib is not installed: no curves.png (pip install matplotlib)", file=sys.stderr)
    return history


def _rank_rngs():
    """Every rank's generator state under mpiexec (all ranks must call it), None when alone."""
    if launch.world() == 1:
        return None
    states = [None] * launch.world()
    all_gather_object(states, random.get_rng_state())
    return states


def _title(model, config, epochs):
    """'cnn on digits, 4 epochs' (the model's class name without a config)."""
    config = config or {}
    name = config.get("model", type(model).__name__)
    data = f" on {config['dataset']}" if "dataset" in config else ""
    return f"{name}{data}, {epochs} epoch{'' if epochs == 1 else 's'}"


def _train_or_explain(model, loader, optimizer, loss_fn, epoch, epochs, progress, out):
    """train_epoch, with a Diverged message that says which checkpoint is the last good one."""
    try:
        return train_epoch(model, loader, optimizer, loss_fn, epoch, progress, desc=f"epoch {epoch}/{epochs}")
    except Diverged as e:
        path = None if out is None else out / "checkpoint.npz"
        kept = (f"the last good checkpoint {path} (epoch {epoch - 1}) is kept"
                if epoch > 1 and path is not None and path.exists() else "no checkpoint was written")
        raise Diverged(f"training diverged: {e}; {kept}") from None


def write_metrics(path, history):
    """Write metrics.csv atomically: a header of COLUMNS, then a row per epoch (empty for a missing value)."""
    text = io.StringIO()
    rows = csv.writer(text, lineterminator="\n")
    rows.writerow(COLUMNS)
    for r in history:
        rows.writerow([r["epoch"], *(_cell(r.get(k), 6) for k in COLUMNS[1:-1]), _cell(r.get("seconds"), 3)])
    write_atomic(path, lambda f: f.write(text.getvalue().encode()))


def _cell(value, digits):
    """A metrics.csv cell: `value` with `digits` decimals, or empty for None."""
    return "" if value is None else f"{value:.{digits}f}"


def plot_curves(path, history, title=None):
    """Draw train and test loss and accuracy per epoch to `path` (a PNG); False when matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return False
    fig = Figure(figsize=(9, 3.8))
    for ax, (metric, key) in zip(fig.subplots(1, 2), (("loss", "loss"), ("accuracy", "acc")), strict=True):
        for split, marker in (("train", "o-"), ("test", "s-")):
            rows = [r for r in history if r.get(f"{split}_{key}") is not None]  # older runs lack test loss
            ax.plot([r["epoch"] for r in rows], [r[f"{split}_{key}"] for r in rows], marker, label=split)
        ax.set(xlabel="epoch", ylabel=metric, title=metric)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=100))
    return True


def _text(obj):
    """`obj` as JSON in a 0-d numpy unicode array."""
    return np.array(json.dumps(obj))


def save_checkpoint(path, model, optimizer=None, scheduler=None, epoch=0, config=None, history=(),
                    loader=None, rank_rngs=None):
    """Write everything needed to resume after `epoch` finished epochs to the .npz `path`, atomically
    (`rank_rngs`: every rank's generator state, from a run under mpiexec)."""
    model = model.module if isinstance(model, DistributedDataParallel) else model
    arrays = {"format": np.array(FORMAT), "epoch": np.array(epoch, dtype=np.int64),
              "config": _text(config or {}), "history": _text(list(history)),
              "rng": np.array(random.get_rng_state())}
    arrays.update((f"model/{k}", v) for k, v in model.state_dict().items())
    if optimizer is not None:
        state = optimizer.state_dict()
        arrays["optim/type"] = np.array(type(optimizer).__name__)
        arrays["optim/param_groups"] = _text(state["param_groups"])
        for i, s in state["state"].items():
            arrays.update((f"optim/state/{i}/{k}", np.asarray(v)) for k, v in s.items())
    if scheduler is not None:
        arrays["sched"] = _text(scheduler.state_dict())
    generator = getattr(loader, "_generator", None)
    if generator is not None:
        arrays["loader_rng"] = _text(generator.bit_generator.state)
    if rank_rngs is not None:
        arrays["world_size"], arrays["rank_rng"] = np.array(len(rank_rngs), dtype=np.int64), _text(rank_rngs)
    write_atomic(path, lambda f: np.savez(f, **arrays))


def _read(path):
    """The bytes of the checkpoint at `path`, refused from its first bytes unless it starts as a zip
    archive (as every .npz does); CheckpointError if it cannot be read."""
    def refuse(head, size):
        if head[:4] not in ZIP_MAGIC:
            raise CheckpointError(f"{path}: not a baby checkpoint (a checkpoint is a .npz zip archive; this "
                                  f"file starts with {head[:4]!r})")

    try:
        with open(path, "rb") as f:
            return read_all(f, str(path), refuse)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint file") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read it ({e.strerror})") from None


def load_checkpoint(path):
    """Read the .npz at `path` (never unpickling) into a Checkpoint; CheckpointError if it is not one.

    Every member's declared shape is checked against its size before it is read, and the arrays are views
    into the file's one read; the stored run settings are checked to be in range (see `check_config`)."""
    data = read_npz(_read(path), str(path), CheckpointError)
    if data.get("format", np.array("")).item() != FORMAT:
        raise CheckpointError(f"{path}: not a baby checkpoint (no format key {FORMAT!r})")
    try:
        bad = [k for k, v in data.items()
               if k.startswith(("model/", "optim/state/")) and v.dtype.kind not in "biuf"]
        if bad:
            raise ValueError(f"{bad[0]!r} holds {data[bad[0]].dtype} data, not numbers")
        optim = None
        if "optim/type" in data:
            state = {}
            for key, v in data.items():
                if key.startswith("optim/state/"):
                    i, name = key[len("optim/state/"):].split("/", 1)
                    state.setdefault(int(i), {})[name] = int(v) if name == "step" else v
            optim = {"type": data["optim/type"].item(), "state": state,
                     "param_groups": json.loads(data["optim/param_groups"].item())}
        load = {k: json.loads(data[k].item()) if k in data else None for k in ("config", "history", "sched")}
        epoch = data["epoch"].item()
        if type(epoch) is not int or epoch < 0 or not isinstance(load["history"] or [], list):
            raise ValueError(f"epoch {epoch!r} and history of type {type(load['history']).__name__}")
        ckpt = Checkpoint(str(path), epoch, load["config"], load["history"],
                          {k[6:]: v for k, v in data.items() if k.startswith("model/")}, optim, load["sched"],
                          data["rng"].item(), data["loader_rng"].item() if "loader_rng" in data else None,
                          data["world_size"].item() if "world_size" in data else 1,
                          json.loads(data["rank_rng"].item()) if "rank_rng" in data else None)
        ranks = ckpt.rank_rng
        if type(ckpt.world_size) is not int or ckpt.world_size < 1 or not (
                ranks is None or isinstance(ranks, list) and len(ranks) == ckpt.world_size):
            raise ValueError(f"world_size {ckpt.world_size!r} and {type(ckpt.rank_rng).__name__} rank_rng")
    except (KeyError, ValueError, TypeError, AttributeError, RecursionError) as e:
        raise CheckpointError(f"{path}: incomplete or damaged checkpoint ({type(e).__name__}: {e})") from None
    check_config(ckpt)
    return ckpt


_COUNTS = {"epochs": 0, "batch_size": 1, "seed": 0}  # int settings: the least each may be
_RATES = ("lr", "weight_decay")  # real settings: finite and >= 0


def check_config(ckpt):
    """Raise CheckpointError unless the stored run settings that are present are in range: integer counts,
    finite non-negative rates, strings for names, a 3-d input shape and at most as many classes as the
    model has weights (a hostile num_classes of 10**9 would otherwise allocate gigabytes)."""
    config = ckpt.config
    if config is None:
        return
    if not isinstance(config, dict):
        raise CheckpointError(f"{ckpt.path}: damaged run settings (a {type(config).__name__}, not a mapping)")
    weights = sum(v.size for v in ckpt.model.values())
    bad = [f"{k}={config[k]!r}" for k, least in _COUNTS.items()
           if k in config and not (type(config[k]) is int and config[k] >= least)]
    bad += [f"{k}={config[k]!r}" for k in _RATES if k in config and not (
        type(config[k]) in (int, float) and math.isfinite(config[k]) and config[k] >= 0)]
    bad += [f"{k}={config[k]!r}" for k in ("dataset", "model", "optimizer", "data_dir")
            if k in config and not isinstance(config[k], str)]
    shape, classes = config.get("input_shape", [1, 1, 1]), config.get("num_classes", 1)
    if not (isinstance(shape, list) and len(shape) == 3 and all(type(n) is int and 1 <= n <= 2 ** 16
                                                                 for n in shape)):
        bad.append(f"input_shape={shape!r}")
    if not (type(classes) is int and 1 <= classes <= max(weights, 1)):
        bad.append(f"num_classes={classes!r}")
    if bad:
        raise CheckpointError(f"{ckpt.path}: damaged run settings: {', '.join(bad)} out of range")


def _check_model(ckpt, model):
    """Raise CheckpointError unless the checkpoint's model state has exactly `model`'s keys and shapes."""
    own = model.state_dict()
    missing, unexpected = [k for k in own if k not in ckpt.model], [k for k in ckpt.model if k not in own]
    if missing or unexpected:
        raise CheckpointError(f"{ckpt.path} holds another model than {type(model).__name__}: "
                              f"{len(missing)} missing keys {missing[:3]}, {len(unexpected)} unexpected keys "
                              f"{unexpected[:3]}")
    for k, v in own.items():
        if ckpt.model[k].shape != v.shape:
            raise CheckpointError(f"{ckpt.path}: {k!r} has shape {tuple(ckpt.model[k].shape)} in the "
                                  f"checkpoint, "
                                  f"but {tuple(v.shape)} in the {type(model).__name__} model")


def restore(ckpt, model, optimizer=None, scheduler=None, loader=None):
    """Load a Checkpoint into the model (and optimizer, scheduler, RNG and loader generator when given).
    Under mpiexec the run must have as many processes as the one that wrote it (CheckpointError if not)."""
    if ckpt.world_size != launch.world():
        raise CheckpointError(f"{ckpt.path} was written by {_procs(ckpt.world_size)} and this run has "
                              f"{_procs(launch.world())}: resume it with "
                              f"{f'mpiexec -n {ckpt.world_size} ' if ckpt.world_size > 1 else 'no mpiexec, '}"
                              f"as its data shards and random streams depend on the number")
    model = model.module if isinstance(model, DistributedDataParallel) else model
    _check_model(ckpt, model)
    model.load_state_dict(ckpt.model)
    if optimizer is not None:
        name = type(optimizer).__name__
        if ckpt.optim is None:
            raise CheckpointError(f"{ckpt.path}: holds no optimizer state")
        if ckpt.optim["type"] != name:
            raise CheckpointError(f"{ckpt.path}: holds optimizer state for {ckpt.optim['type']}, not {name}")
        try:
            optimizer.load_state_dict({k: ckpt.optim[k] for k in ("state", "param_groups")})
        except (KeyError, ValueError, TypeError, AttributeError, IndexError) as e:
            raise CheckpointError(f"{ckpt.path}: optimizer state does not fit ({e})") from None
    if scheduler is not None:
        if ckpt.sched is None:
            raise CheckpointError(f"{ckpt.path}: holds no scheduler state")
        scheduler.load_state_dict(ckpt.sched)
    generator = getattr(loader, "_generator", None)
    try:
        random.set_rng_state(ckpt.rng if ckpt.rank_rng is None else ckpt.rank_rng[launch.rank()])
        if generator is not None and ckpt.loader_rng is not None:
            generator.bit_generator.state = json.loads(ckpt.loader_rng)
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{ckpt.path}: damaged random-number state ({type(e).__name__}: {e})") from None


def _procs(n):
    """'1 process', '2 processes'."""
    return f"{n} process{'' if n == 1 else 'es'}"
