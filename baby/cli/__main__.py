"""`python -m baby.cli ...`: the command line (same as the `baby` script)."""

import sys

from . import main

sys.exit(main())
