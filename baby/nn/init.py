"""torch.nn.init at PyTorch's path: importing it gives the very module baby.init (PyTorch's `*_`
initialisers and the book's)."""

import sys

from .. import init

sys.modules[__name__] = init
