"""`python -m baby ...`: the command line (same as the `baby` script)."""

import sys

from .cli import main

sys.exit(main())
