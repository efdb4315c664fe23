"""torch.backends.cudnn: not available (baby runs on the CPU); `enabled`, `benchmark`, `deterministic` and
`allow_tf32` are plain flags that programs may set, with PyTorch's defaults, and change nothing."""

import contextlib

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True
benchmark_limit = None


def is_available():
    """False: there is no cuDNN (baby runs on the CPU)."""
    return False


def version():
    """None: there is no cuDNN."""
    return None


@contextlib.contextmanager
def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False, allow_tf32=True):
    """Set the flags inside a `with` block, restoring them after, as torch.backends.cudnn.flags."""
    g = globals()
    old = {k: g[k] for k in ("enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32")}
    g.update(enabled=enabled, benchmark=benchmark, benchmark_limit=benchmark_limit,
             deterministic=deterministic, allow_tf32=allow_tf32)
    try:
        yield
    finally:
        g.update(old)
