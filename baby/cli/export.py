"""`baby export`: a checkpoint's model as an ONNX file (batch axis dynamic), for ONNX Runtime and others."""

from pathlib import Path

from .. import onnx
from ..creation import randn
from ..train import load_checkpoint, restore
from .common import COUNT, DATASETS, UsageError, build_model, match_model, saved_config

CLASSES = 10  # every dataset `baby train` knows has 10 classes


def _model(ckpt, dataset):
    """(name, model, input shape [C, H, W], dataset) of a checkpoint, its weights restored."""
    config = ckpt.config if isinstance(ckpt.config, dict) else {}
    if "model" in config:
        config = saved_config(ckpt, ("dataset", "model"))
        name, shape, model = config["model"], list(config["input_shape"]), build_model(config)
        dataset = config["dataset"]
    else:                            # from baby.train.fit(): the weights say which model
        dataset = dataset or "digits"
        shape = list(DATASETS[dataset][1])
        model = match_model(ckpt, shape, CLASSES, dataset)
        name = type(model).__name__
    restore(ckpt, model)
    return name, model, shape, dataset


def _check_out(out, force):
    """Raise UsageError unless `out` can be written: not a directory, in one, and new unless `force`."""
    if out.is_dir():
        raise UsageError(f"--out {out}: is a directory; name the .onnx file to write")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: {out.parent} is not a directory")
    if out.exists() and not force:
        raise UsageError(f"--out {out} exists: replace it with --force")


def run(args):
    """`baby export`: write the checkpoint's model to --out as ONNX, its batch axis dynamic."""
    out = Path(args.out)
    _check_out(out, args.force)
    ckpt = load_checkpoint(args.checkpoint)
    name, model, shape, dataset = _model(ckpt, args.dataset)
    try:
        onnx.export(model, randn(args.batch_size, *shape), out, input_names=["image"],
                    output_names=["logits"], dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                    opset_version=args.opset)
    except ModuleNotFoundError as e:
        raise UsageError(str(e)) from None
    stats = DATASETS[dataset][2]
    inputs = (f"images normalized with mean {list(stats[0])}, std {list(stats[1])}" if stats else
              "images scaled to [0, 1]")
    print(f"exported {name} to {out} (opset {args.opset}): image (batch, {', '.join(map(str, shape))}) "
          f"-> logits (batch, {CLASSES}); it takes {dataset} {inputs}, as in training")
    return 0


def add_parser(commands):
    """The `export` subcommand's arguments."""
    x = commands.add_parser("export", help="a checkpoint's model as an ONNX file",
                            description="Write the model of a checkpoint from `baby train` or "
                                        "`baby.train.fit` as an ONNX file (batch axis dynamic) that ONNX "
                                        "Runtime and other runtimes run. Needs the onnx package: pip "
                                        "install 'baby[onnx]'.")
    x.add_argument("--checkpoint", required=True, metavar="PATH", help="a checkpoint.npz")
    x.add_argument("--out", required=True, metavar="FILE", help="the .onnx file to write")
    x.add_argument("--dataset", choices=list(DATASETS), help="the images a fit() checkpoint without run "
                   "settings takes (default digits); a `baby train` checkpoint knows its own")
    x.add_argument("--opset", type=int, choices=list(onnx.OPSETS), default=18, metavar="N",
                   help=f"ONNX opset version, {onnx.OPSETS[0]} to {onnx.OPSETS[-1]} (default 18)")
    x.add_argument("--batch-size", type=COUNT, default=1, metavar="N", help="the batch the model is traced "
                   "with (default 1; the file runs any batch)")
    x.add_argument("--force", action="store_true", help="replace an existing --out")
    x.set_defaults(run=run)
    return x
