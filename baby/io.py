"""baby.io: the book's name for save and load; the code is in baby.serialization (torch.serialization's)."""

from .serialization import load, save, write_atomic

__all__ = ["load", "save", "write_atomic"]
