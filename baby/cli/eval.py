"""`baby eval`: the test accuracy of a checkpoint's model on its dataset's test split (or --dataset's)."""

from ..data import DataLoader
from ..train import CheckpointError, evaluate, load_checkpoint, restore
from .common import (
    COUNT,
    DATA_DIR,
    DATASETS,
    build_model,
    load_dataset,
    match_model,
    require,
    saved_config,
    shape_of,
)


def run(args):
    """`baby eval`: the test accuracy of a checkpoint's model on its dataset's test split (or --dataset's)."""
    ckpt = load_checkpoint(args.checkpoint)
    config = ckpt.config if isinstance(ckpt.config, dict) else {}
    if "model" in config:
        config = saved_config(ckpt, ("dataset", "model"))
    dataset = args.dataset or config.get("dataset", "digits")
    data_dir = args.data_dir or config.get("data_dir") or "data"
    require(dataset, data_dir, (False,))
    test_set = load_dataset(dataset, data_dir, train=False)
    shape, classes = shape_of(test_set)
    if "model" not in config:        # from baby.train.fit(): the weights say which model
        model = match_model(ckpt, shape, classes, dataset)
    elif [shape, classes] != [list(config["input_shape"]), config["num_classes"]]:
        raise CheckpointError(f"{args.checkpoint}: its {config['model']} takes inputs "
                              f"{config['input_shape']} with {config['num_classes']} classes; --dataset "
                              f"{dataset} has {shape} with {classes}")
    else:
        model = build_model(config)
    restore(ckpt, model)
    loader = DataLoader(test_set, batch_size=args.batch_size or config.get("batch_size", 256))
    print(f"test accuracy: {evaluate(model, loader).accuracy:.4f}")
    return 0


def add_parser(commands):
    """The `eval` subcommand's arguments."""
    e = commands.add_parser("eval", help="test accuracy of a checkpoint",
                            description="Evaluate a checkpoint from `baby train` or `baby.train.fit` on a "
                                        "test split (only that split is read).")
    e.add_argument("--checkpoint", required=True, metavar="PATH", help="a checkpoint.npz")
    e.add_argument("--dataset", choices=list(DATASETS), help="default: the one it was trained on (digits "
                   "for a fit() checkpoint without one)")
    e.add_argument("--data-dir", metavar="DIR", help=DATA_DIR)
    e.add_argument("--batch-size", type=COUNT, help="samples per batch (default: the training batch size)")
    e.set_defaults(run=run)
    return e
