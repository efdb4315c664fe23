"""What the benchmarks share: timing each library clear of the other's spinning threads, and the optional
allocator switch.

By default glibc hands large freed blocks back to the system and the next allocation of that size
page-faults on fresh memory (~0.25 ms per MiB here); when that happens depends on the history of both
libraries' frees. baby's arena (baby/arena.py) keeps the memory of its large per-step arrays (conv, norm,
ReLU) for reuse, so the scripts time both libraries as a user's script runs them, with no process-wide
switch; `--keep-freed-memory` calls `keep_freed_memory` (baby.backend) first, which makes malloc keep freed
memory for both libraries.
"""

import time

from baby.backend import keep_freed_memory  # noqa: F401  (the benchmarks' allocator policy)

WARM_S = 0.2  # untimed calls before each timed one: longer than the other library's idle threads spin


def timed(fn, *args):
    """Seconds for one call of fn, right after untimed calls of it for at least WARM_S. Idle threads spin
    after their library's calls, on the cores the other library needs: PyTorch's OpenMP threads (libgomp)
    for ~14 ms, OpenBLAS's (NumPy, so baby) for up to ~0.1 s. Measured on this suite: PyTorch's strided 1x1
    forward took 1.1 ms alone and 28-32 ms within 5-100 ms of a baby call; baby's depthwise forward 1.9 ms
    alone and 3.4 ms right after a PyTorch call. Sleeping instead lets the cores idle down and slows both."""
    t = time.perf_counter()
    while True:
        fn(*args)
        if time.perf_counter() - t >= WARM_S:
            break
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t
