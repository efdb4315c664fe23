"""Run under mpiexec: the last rank raises while the others wait in an all-reduce; the job must end."""

import time

import baby
import baby.distributed as dist

dist.init_process_group("mpi")
if dist.get_rank() == dist.get_world_size() - 1:
    time.sleep(0.5)
    raise ValueError("rank failed on purpose")
dist.all_reduce(baby.ones(3))  # never completes: the failing rank does not join
print("the all-reduce completed", flush=True)
