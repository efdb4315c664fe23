"""Process groups on MPI: the default group (the MPI world) and `new_group` subsets, as torch.distributed's.

mpi4py is imported by `init_process_group` only, so `import baby` never needs MPI. A process that raises
after `init_process_group` prints its traceback (tagged with its rank) and aborts the whole MPI job, so a
failing rank ends the job in seconds instead of leaving the others waiting in a collective.
"""

import enum
import importlib.util
import os
import sys
import traceback

SERVED = ("mpi",)
_INSTALL = 'launch with `mpiexec -n N python script.py` (pip install "baby[mpi]" for mpi4py and MPICH)'


class Backend(str):
    """The backend names torch.distributed knows; baby serves "mpi"."""

    MPI, GLOO, NCCL, UCC = "mpi", "gloo", "nccl", "ucc"


class ReduceOp(enum.Enum):
    """How all_reduce / reduce combine the ranks' values."""

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4


class ProcessGroup:
    """A set of ranks with an MPI communicator; `ranks` are their global ranks in group-rank order."""

    def __init__(self, comm, ranks):
        self.comm, self.ranks = comm, tuple(ranks)

    def rank(self):
        """This process's rank within the group."""
        return self.comm.Get_rank()

    def size(self):
        """How many processes the group holds."""
        return len(self.ranks)

    def group_rank(self, rank, name):
        """The group rank of global `rank`; ValueError naming `name` when it is not in the group."""
        if rank not in self.ranks:
            raise ValueError(f"{name}={rank} is not a rank of this group (its global ranks are "
                             f"{list(self.ranks)})")
        return self.ranks.index(rank)

    def __repr__(self):
        return f"ProcessGroup(backend='mpi', ranks={list(self.ranks)})"


class GroupMember:
    """torch.distributed.GroupMember: WORLD (the default group, once made) and NON_GROUP_MEMBER."""

    WORLD = None
    NON_GROUP_MEMBER = object()


group = GroupMember  # torch.distributed.group.WORLD
_mpi = None  # the mpi4py MPI module, once a process group was made
_hook = None  # the excepthook init_process_group replaced


def is_available():
    """Whether baby.distributed can run here: mpi4py (and so an MPI) is installed."""
    return importlib.util.find_spec("mpi4py") is not None


def is_initialized():
    """Whether init_process_group has run (and destroy_process_group has not)."""
    return GroupMember.WORLD is not None


def is_mpi_available():
    """Whether the MPI backend is available (the only one baby has)."""
    return is_available()


def is_gloo_available():
    """False: baby's only backend is MPI."""
    return False


def is_nccl_available():
    """False: baby runs on the CPU, over MPI."""
    return False


def launched_by_mpi():
    """The world size mpiexec announced to this process (MPICH's or Open MPI's variables), 1 without one."""
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 1


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Join the default process group: the MPI world (start the job with `mpiexec -n N`)."""
    global _mpi, _hook
    name = "mpi" if backend is None else str(backend).lower()
    if name not in SERVED:
        raise RuntimeError(f"baby.distributed has no {name!r} backend: it runs on MPI only; use "
                           f'init_process_group(backend="mpi") and {_INSTALL}')
    if is_initialized():
        raise RuntimeError("trying to initialize the default process group twice!")
    if not is_available():
        raise RuntimeError(f"the MPI backend needs mpi4py, which is not installed: {_INSTALL}")
    from mpi4py import MPI

    world = MPI.COMM_WORLD
    for arg, value, real in (("world_size", world_size, world.Get_size()), ("rank", rank, world.Get_rank())):
        if value not in (-1, None, real):
            raise ValueError(f"init_process_group: {arg}={value}, but the MPI world gives {real} (with MPI, "
                             f"mpiexec sets ranks and size: mpiexec -n N)")
    _mpi = MPI
    GroupMember.WORLD = ProcessGroup(world, range(world.Get_size()))
    _hook, sys.excepthook = sys.excepthook, _abort_on_error


def destroy_process_group(group=None):
    """Leave the default group (or free `group`); the excepthook that aborts the job is restored."""
    global _hook
    if group is not None and group is not GroupMember.WORLD:
        if isinstance(group, ProcessGroup):
            group.comm.Free()
        return
    _world("destroy_process_group")
    GroupMember.WORLD = None
    if _hook is not None:
        sys.excepthook, _hook = _hook, None


def _abort_on_error(kind, value, tb):
    """sys.excepthook while a group exists: print the error with this rank, then abort every rank."""
    rank = _mpi.COMM_WORLD.Get_rank()
    text = "".join(traceback.format_exception(kind, value, tb))
    sys.stderr.write(f"[rank {rank}] {text}[rank {rank}] aborting the MPI job\n")
    sys.stderr.flush()
    abort(1)


def abort(code=1):
    """End every process of the MPI job now with exit status `code` (after a rank's fatal error)."""
    sys.stdout.flush()
    sys.stderr.flush()
    _mpi.COMM_WORLD.Abort(code)


def _world(fn):
    """The default group, or the ValueError torch.distributed raises before init_process_group."""
    if GroupMember.WORLD is None:
        raise ValueError(f"{fn}: Default process group has not been initialized, please make sure to call "
                         f"init_process_group.")
    return GroupMember.WORLD


def resolve(group, fn):
    """`group` itself, the default group for None, or None when this process is not in `group`."""
    if group is None or group is GroupMember.WORLD:
        return _world(fn)
    if group is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"{fn}: group must be a ProcessGroup from new_group() or None, got "
                        f"{type(group).__name__}")
    return group


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False):
    """A group over the global `ranks` (every process must call it); NON_GROUP_MEMBER in the others."""
    world = _world("new_group")
    size = world.size()
    ranks = sorted(range(size) if ranks is None else {int(r) for r in ranks})
    bad = [r for r in ranks if not 0 <= r < size]
    if bad:
        raise ValueError(f"new_group: ranks {bad} are outside the world of {size} processes")
    member = world.rank() in ranks
    comm = world.comm.Split(0 if member else _mpi.UNDEFINED, world.rank())
    return ProcessGroup(comm, ranks) if member else GroupMember.NON_GROUP_MEMBER


def get_rank(group=None):
    """This process's rank in `group` (the world by default); -1 when it is not a member."""
    g = resolve(group, "get_rank")
    return -1 if g is None else g.rank()


def get_world_size(group=None):
    """How many processes `group` (the world by default) holds; -1 when this one is not a member."""
    g = resolve(group, "get_world_size")
    return -1 if g is None else g.size()


def get_backend(group=None):
    """"mpi", the backend of every baby process group."""
    resolve(group, "get_backend")
    return Backend.MPI


def get_global_rank(group, group_rank):
    """The global rank of `group_rank` in `group`."""
    return resolve(group, "get_global_rank").ranks[group_rank]


def get_process_group_ranks(group):
    """The global ranks in `group`."""
    return list(resolve(group, "get_process_group_ranks").ranks)


def mpi():
    """The mpi4py MPI module (after init_process_group)."""
    _world("collective")
    return _mpi
