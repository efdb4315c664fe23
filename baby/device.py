"""Devices: baby runs on the CPU; the device-selection lines of PyTorch programs find no accelerator."""


class device:
    """A device name as PyTorch spells it; only 'cpu' (optionally 'cpu:0') exists."""

    def __new__(cls, type="cpu", index=None):
        if isinstance(type, device):
            return type
        if type is None:
            return CPU
        if not isinstance(type, str):
            raise TypeError(f"device must be a string such as 'cpu' or a baby.device, got {type!r}")
        kind, _, idx = type.partition(":")
        if kind != "cpu":
            raise RuntimeError(f"device {type!r} is not available: baby runs on the CPU only (use 'cpu')")
        if idx not in ("", "0") or index not in (None, 0):
            raise RuntimeError(f"device {type!r}: the CPU has index 0 only")
        self = super().__new__(cls)
        self.type, self.index = "cpu", None
        return self

    def __eq__(self, other):
        return isinstance(other, (device, str)) and str(self) == str(other).partition(":")[0]

    def __hash__(self):
        return hash(self.type)

    def __str__(self):
        return self.type

    def __repr__(self):
        return f"device(type='{self.type}')"


CPU = device("cpu")


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


class backends:
    """torch.backends as far as device selection reads it."""

    mps = mps
    cuda = cuda
