"""torch.distributed on MPI: process groups and collectives (the optional extra `baby[mpi]`).

Start a job with `mpiexec -n N python script.py`; `init_process_group(backend="mpi")` joins the MPI world.
"""

from .collectives import (
    Work,
    all_gather,
    all_gather_into_tensor,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object_list,
    gather,
    reduce,
    scatter,
)
from .group import (
    Backend,
    GroupMember,
    ProcessGroup,
    ReduceOp,
    abort,
    destroy_process_group,
    get_backend,
    get_global_rank,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_gloo_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    launched_by_mpi,
    new_group,
)
