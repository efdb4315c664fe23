"""DataLoader workers: processes that fetch batches in parallel while the main process keeps their order.

Each worker holds one duplex pipe: tasks (epoch, task index, batch of indices) come in, results go out. Tasks
go to the workers round-robin, at most `prefetch_factor` per worker ahead; results are put back in task order,
so the batches are those of `num_workers=0`. Arrays travel out of band (pickle protocol 5): a 1.5 MB
batch costs ~1 ms instead of ~2.4 ms through one pickled message. A worker that raises sends its
exception, which the main process raises again naming the worker and the samples; a worker that dies shows
as an end of file on its pipe.
"""

import contextlib
import itertools
import multiprocessing
import os
import pickle
import random as pyrandom
import signal
import traceback
import weakref
from dataclasses import dataclass
from multiprocessing.connection import wait

import numpy as np

from .. import parallel
from .. import random as baby_random

POLL_SECONDS = 5.0  # how often a waiting worker checks that the main process still exists
_ENDED = "ended"  # a worker's fetcher once its copy of an iterable dataset has run out
_info = None


@dataclass
class WorkerInfo:
    """What `get_worker_info()` gives in a worker: its id, the worker count, its seed, its dataset copy."""

    id: int
    num_workers: int
    seed: int
    dataset: object


def get_worker_info():
    """This worker's WorkerInfo inside a DataLoader worker; None in the main process."""
    return _info


class Fetcher:
    """Turns a batch of indices into a batch (map-style), or pulls the next batch off a stream (iterable).

    As torch's fetcher does, a dataset's `__getitems__` (when defined and not None) gives the samples of a
    batch in one call, else `__getitem__` gives them one by one; `collate_fn` then makes the batch. `where`
    names the samples being read, for the message of an exception raised in a worker.
    """

    def __init__(self, dataset, iterable, auto_collation, collate_fn, drop_last):
        self.dataset, self.auto, self.collate_fn = dataset, auto_collation, collate_fn
        self.drop_last = drop_last
        self.stream = iter(dataset) if iterable else None
        self.getitems = None if iterable else getattr(dataset, "__getitems__", None)
        self._doing = None  # (what, index or indices, whether indices): formatted only when asked

    @property
    def where(self):
        """What the fetcher was doing when it stopped, e.g. 'loading samples [3, 1]'; None before it began."""
        if self._doing is None:
            return None
        what, at, many = self._doing
        return what if at is None else f"{what} {list(at) if many else at}"

    def __call__(self, indices):
        if self.stream is not None:
            return self._next_stream(indices)
        if not self.auto:
            self._doing = "loading sample", indices, False
            return self.collate_fn(self.dataset[indices])
        if self.getitems:
            self._doing = "loading samples", indices, True
            samples = self.getitems(indices)
        else:
            samples = []
            for i in indices:
                self._doing = "loading sample", i, False
                samples.append(self.dataset[i])
        self._doing = "collating samples", indices, True
        return self.collate_fn(samples)

    def _next_stream(self, indices):
        """The next sample (indices None) or up to len(indices) collated; StopIteration at the end."""
        self._doing = "loading from the dataset's stream", None, False
        if not self.auto:
            return self.collate_fn(next(self.stream))
        batch = list(itertools.islice(self.stream, len(indices)))
        if not batch or (self.drop_last and len(batch) < len(indices)):
            raise StopIteration
        return self.collate_fn(batch)


class Exhausted:
    """A worker's reply once its copy of an iterable dataset has run out."""


class _Shown(str):
    """A message that a KeyError shows as written (it shows its argument's repr)."""

    def __repr__(self):
        return str(self)


class WorkerError:
    """An exception raised in a worker, carried to the main process as its type, where, and traceback."""

    def __init__(self, exc, worker_id, doing):
        self.type, self.text = type(exc), "".join(traceback.format_exception(exc))
        self.where = f"in DataLoader worker process {worker_id}" + (f" while {doing}" if doing else "")
        try:
            pickle.dumps(self.type)
        except Exception:  # a type defined in a function can't travel: say RuntimeError
            self.type = RuntimeError

    def reraise(self):
        """Raise the worker's exception type here, the message naming the worker, the samples, the cause."""
        msg = f"Caught {self.type.__name__} {self.where}.\nOriginal {self.text}"
        if issubclass(self.type, KeyError):
            msg = _Shown(msg)
        try:
            exc = self.type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exc


def send(conn, message):
    """Send `message` down `conn`, its arrays' memory written out of band, straight from the arrays."""
    buffers = []
    head = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
    raw = [b.raw() for b in buffers]
    conn.send((head, [r.nbytes for r in raw]))
    for r in raw:
        conn.send_bytes(r)


def receive(conn):
    """A message sent by `send`, its arrays in fresh writable memory."""
    head, sizes = conn.recv()
    buffers = [bytearray(n) for n in sizes]
    for b in buffers:
        conn.recv_bytes_into(b)
    return pickle.loads(head, buffers=buffers)


def _seed(seed):
    """Seed Python's, NumPy's legacy and baby's generators, as torch seeds a worker with base_seed + id."""
    pyrandom.seed(seed)
    np.random.seed(seed % (1 << 32))
    baby_random.manual_seed(seed)


def _reply(conn, epoch, idx, data, worker_id):
    """Send a task's result; one that can't be pickled becomes the error that says so."""
    try:
        send(conn, (epoch, idx, data))
    except OSError:
        raise
    except Exception as e:  # pickling fails before anything is written: the pipe is still clean
        send(conn, (epoch, idx, WorkerError(e, worker_id, "sending the batch to the main process")))


def _loop(conn, info, make_fetcher, worker_init_fn, parent):
    """A worker: answer each task on `conn` until told to stop (None), the pipe closes or `parent` dies."""
    global _info
    _info, fetcher, epoch, init_error = info, None, None, None
    parallel.set_num_threads(1)  # the workers are the parallelism
    _seed(info.seed)
    try:
        if worker_init_fn is not None:
            worker_init_fn(info.id)
    except Exception as e:
        init_error = WorkerError(e, info.id, "running worker_init_fn")
    try:
        while True:
            if not conn.poll(POLL_SECONDS):
                if os.getppid() != parent:
                    return
                continue
            task = conn.recv()
            if task is None:
                return
            task_epoch, idx, indices = task
            if task_epoch != epoch:  # a new epoch: a new pass over the dataset
                epoch, fetcher = task_epoch, None
            if init_error is not None:
                data = init_error
            elif fetcher is _ENDED:  # this worker's stream has run out for this epoch
                continue
            else:
                try:
                    if fetcher is None:
                        fetcher = make_fetcher(info.dataset)
                    data = fetcher(indices)
                except StopIteration:
                    fetcher, data = _ENDED, Exhausted()
                except Exception as e:
                    data = WorkerError(e, info.id, getattr(fetcher, "where", None))
            _reply(conn, task_epoch, idx, data, info.id)
    except (KeyboardInterrupt, EOFError, OSError):  # Ctrl-C reaches the main process too; a closed pipe ends
        return


def _context(method):
    """A multiprocessing context: the given one or start-method name, else fork where the OS has it."""
    if method is None:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method) if isinstance(method, str) else method


def _shutdown(procs, conns):
    """Ask every worker to stop, close the pipes, and reap them (terminating any that hang)."""
    for c in conns:
        with contextlib.suppress(OSError):  # a worker that died has closed its end already
            c.send(None)
        c.close()
    for p in procs:
        p.join(timeout=0.5)
        if p.is_alive():
            p.terminate()
            p.join()


class WorkerPool:
    """`num_workers` processes, each with a copy of the dataset and a pipe; stopped when dropped."""

    def __init__(self, loader, base_seed):
        ctx, n = _context(loader.multiprocessing_context), loader.num_workers
        make = _FetcherFactory(loader)
        self.conns, self.procs, self.epoch = [], [], 0
        for wid in range(n):
            here, there = ctx.Pipe()
            info = WorkerInfo(wid, n, base_seed + wid, loader.dataset)
            p = ctx.Process(target=_loop, args=(there, info, make, loader.worker_init_fn, os.getpid()),
                            daemon=True)
            p.start()
            there.close()
            self.conns.append(here)
            self.procs.append(p)
        self._finalizer = weakref.finalize(self, _shutdown, self.procs, self.conns)

    def shutdown(self):
        """Stop the workers now."""
        self._finalizer()


class _FetcherFactory:
    """Builds a worker's Fetcher from its dataset copy (a picklable stand-in for a closure)."""

    def __init__(self, loader):
        self.iterable, self.auto = loader._iterable, loader.batch_sampler is not None
        self.collate_fn, self.drop_last = loader.collate_fn, loader.drop_last

    def __call__(self, dataset):
        return Fetcher(dataset, self.iterable, self.auto, self.collate_fn, self.drop_last)


class MultiProcessIter:
    """One pass over a DataLoader with workers: tasks out round-robin, batches back in the sampler's order."""

    def __init__(self, loader, pool, persistent):
        self.pool, self.persistent, self.timeout = pool, persistent, loader.timeout
        self.sent = self.received = 0
        self.tasks = {}  # task index -> [worker id], or [worker id, data] once its data came early
        pool.epoch += 1
        self.epoch, self.indices = pool.epoch, iter(loader._index_sampler)
        n = len(pool.conns)
        self.active, self.turn = [True] * n, itertools.cycle(range(n))
        for _ in range(max(loader.prefetch_factor, 1) * n):
            self._send()

    def __iter__(self):
        return self

    def _send(self):
        """Give the next batch of indices to the next active worker (none left: nothing)."""
        for _ in range(len(self.active)):
            wid = next(self.turn)
            if self.active[wid]:
                break
        else:
            return
        indices = next(self.indices, StopIteration)
        if indices is StopIteration:
            return
        try:
            self.pool.conns[wid].send((self.epoch, self.sent, indices))
        except OSError:  # BrokenPipeError: the worker is gone
            self._died(wid)
        self.tasks[self.sent] = [wid]
        self.sent += 1

    def __next__(self):
        if self.epoch != self.pool.epoch:  # a newer pass over the same persistent workers took over
            raise StopIteration
        while True:
            task = self._oldest()
            if task is None:
                self._finish()
                raise StopIteration
            if len(task) == 2:
                return self._deliver(task[1])
            idx, data = self._receive()
            if isinstance(data, Exhausted):
                self.active[self.tasks.pop(idx)[0]] = False
            elif idx == self.received:
                return self._deliver(data)
            else:
                self.tasks[idx].append(data)

    def _oldest(self):
        """The oldest task still to deliver, past those of workers whose stream ended; None when all done."""
        while self.received < self.sent:
            task = self.tasks.get(self.received)
            if task is not None and (len(task) == 2 or self.active[task[0]]):
                return task
            self.tasks.pop(self.received, None)
            self.received += 1
            self._send()
        return None

    def _deliver(self, data):
        """Hand out the batch of the oldest task and send the next one."""
        del self.tasks[self.received]
        self.received += 1
        self._send()
        if isinstance(data, WorkerError):
            self._finish()
            data.reraise()
        return data

    def _receive(self):
        """(task index, data) of this pass's next result from any worker; raise if one died or timed out."""
        conns = self.pool.conns
        while True:
            ready = wait(conns, self.timeout or POLL_SECONDS)
            if not ready and self.timeout:
                self._finish()
                raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds")
            for c in ready:
                wid = conns.index(c)
                try:
                    epoch, idx, data = receive(c)
                except (EOFError, OSError):
                    self._died(wid)
                if epoch == self.epoch:
                    return idx, data

    def _died(self, wid):
        """Raise PyTorch's error for worker `wid`, whose pipe broke: killed by a signal, or exited."""
        p = self.pool.procs[wid]
        p.join(timeout=5)
        self._finish()
        code = p.exitcode
        if code is not None and code < 0:
            raise RuntimeError(f"DataLoader worker (pid {p.pid}) is killed by signal: "
                               f"{signal.strsignal(-code)}.") from None
        raise RuntimeError(f"DataLoader worker (pid(s) {p.pid}) exited unexpectedly (exit code {code})") \
            from None

    def _finish(self):
        """End of the pass (done, failed or dropped): nothing more to deliver; stop the workers unless they
        persist (their late replies carry this pass's epoch and are ignored)."""
        self.indices, self.received = iter(()), self.sent
        self.tasks.clear()
        if not self.persistent:
            self.pool.shutdown()

    def __del__(self):
        self._finish()
