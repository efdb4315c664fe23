"""Devices: baby runs on the CPU; the device-selection lines of PyTorch programs find no accelerator."""


_TYPES = ("cpu", "cuda", "mps", "xpu", "meta")


class device:
    """A device as PyTorch names it ('cpu', 'cuda:0', ...); tensors can only be placed on the CPU."""

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device must be a string such as 'cpu' or a baby.device, got {type!r}")
        kind, _, idx = type.partition(":")
        if kind not in _TYPES or (idx and not idx.isdigit()):
            raise RuntimeError(f"invalid device string {type!r}: expected one of {', '.join(_TYPES)}, "
                               "optionally with ':index'")
        self.type, self.index = kind, int(idx) if idx else index

    def __eq__(self, other):
        other = device(other) if isinstance(other, str) else other
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"


CPU = device("cpu")


def as_device(d):
    """`d` (None, a name or a device) as the CPU device; any other device is a clear error."""
    if d is None or d is CPU:
        return CPU
    d = device(d)
    if d.type != "cpu":
        raise RuntimeError(f"device {str(d)!r} is not available: baby runs on the CPU only (use 'cpu')")
    return CPU


def set_default_device(d):
    """Only the CPU can be the default device."""
    as_device(d)


def get_default_device():
    """The default device: the CPU."""
    return CPU


class _Absent:
    """An accelerator family that this machine (and baby) does not have."""

    def __init__(self, name):
        self.name = name

    def is_available(self):
        """False: baby runs on the CPU."""
        return False

    def device_count(self):
        """0: no such device."""
        return 0

    def current_accelerator(self):
        """None: no accelerator."""
        return None

    def manual_seed(self, seed):
        """Nothing to seed (no such device); returns None as PyTorch does without CUDA."""
        return None

    def manual_seed_all(self, seed):
        """Nothing to seed (no such device)."""
        return None

    def __repr__(self):
        return f"<baby.{self.name}: not available, baby runs on the CPU>"


cuda, mps, accelerator = _Absent("cuda"), _Absent("mps"), _Absent("accelerator")
