"""The `baby` command: `baby train` (digits, MNIST, Fashion-MNIST, CIFAR-10), `baby eval` and `baby export`.

One module per command (`add_parser` and `run`); `common` holds what they share. Errors are one line on
stderr: exit status 2 for bad arguments, an unusable --out, missing dataset files and unusable checkpoints; 1
for runs that fail (divergence, corrupt data, a model ONNX cannot express); 130 when interrupted (Ctrl-C).
"""

import platform
import sys
from importlib import metadata

import numpy

from ..backend import keep_freed_memory
from ..data import DatasetError, MissingData
from ..distributed import launch
from ..onnx import OnnxExporterError
from ..train import CheckpointError, Diverged
from . import eval, export, train
from .common import DATASETS, RUN_FILES, Parser, UsageError
from .train import RECIPES, TESTED

COMMANDS = (train, eval, export)


def _version():
    """'baby 0.1.0 (numpy 2.x, python 3.x)', from the installed package's metadata."""
    try:
        version = metadata.version("baby")
    except metadata.PackageNotFoundError:
        version = "(not installed)"
    return f"baby {version} (numpy {numpy.__version__}, python {platform.python_version()})"


def build_parser():
    """The argument parser, one subcommand per task."""
    parser = Parser(prog="baby", description="baby: a small deep-learning library on NumPy.")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", metavar="command")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status (argument errors raise SystemExit(2))."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_usage(sys.stderr)
        parser.error(f"a command is required ({', '.join(c.__name__.rpartition('.')[2] for c in COMMANDS)})")
    prog = f"{parser.prog} {args.command}"
    keep_freed_memory()  # activations reuse freed memory instead of page-faulting on fresh pages
    try:
        return args.run(args)
    except (UsageError, CheckpointError, MissingData) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return launch.ended(2)
    except (Diverged, DatasetError, OnnxExporterError, OSError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return launch.ended(1)
    except KeyboardInterrupt as e:
        print(f"{prog}: interrupted" + (f"; {e}" if str(e) else ""), file=sys.stderr)
        return launch.ended(130)
