"""Dask helpers: one place that starts (or connects to) a cluster and fans tasks out.

``get_client()`` starts a :class:`distributed.LocalCluster` of worker *processes* (JAX and
NumPy release the GIL only partly, so threads would not scale) with one thread each, or
connects to an existing scheduler when given its address. ``map_as_completed`` runs a
function over items on such a cluster, or in this process when ``workers=0`` (tests,
debugging, tiny jobs where starting processes costs more than it saves).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from psplab.errors import InputError
from psplab.limits import format_bytes, require_at_most, require_memory

__all__ = [
    "WORKER_ENV",
    "WORKER_MEMORY_BYTES",
    "check_workers",
    "default_workers",
    "get_client",
    "map_as_completed",
    "worker_env",
]

# Worker processes run JAX on the CPU. When there are at least as many workers as cores each
# gets one intra-op thread, so W workers use W cores instead of fighting over them; with fewer
# workers than cores XLA keeps its own threading (one worker then uses the whole machine).
WORKER_ENV = {
    "JAX_PLATFORMS": "cpu",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PSPLAB_NO_PROGRESS": "1",
}
_SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}


# Memory of one idle worker process with psplab, JAX and NumPy imported; a task's own arrays
# come on top (the callers check those).
WORKER_MEMORY_BYTES = 400 * 1024**2
# More worker processes than this many per core only queue for the same cores.
MAX_WORKERS_PER_CORE = 8


def worker_env(n_workers: int) -> dict[str, str]:
    """Environment of LocalCluster workers (see the comment on :data:`WORKER_ENV`).

    Parameters
    ----------
    n_workers : int
        Number of workers of the cluster.

    Returns
    -------
    dict
        Environment variables for each worker process.
    """
    env = dict(WORKER_ENV)
    if n_workers >= default_workers():
        env.update(_SINGLE_THREAD_ENV)
    return env


def default_workers() -> int:
    """Worker count when none is given: the number of CPU cores (at least 1).

    Returns
    -------
    int
    """
    return max(1, os.cpu_count() or 1)


def check_workers(workers: int, task_bytes: float = 0.0) -> int:
    """Check a requested number of local worker processes before any is started.

    Parameters
    ----------
    workers : int
        Worker processes asked for (at least 1).
    task_bytes : float
        Peak memory of one task on a worker, in bytes (added to each worker's own).

    Returns
    -------
    int
        ``workers``, unchanged.

    Raises
    ------
    psplab.errors.InputError
        For fewer than one worker.
    psplab.errors.ResourceError
        For more than :data:`MAX_WORKERS_PER_CORE` per core, or more memory than is available.
    """
    if workers < 1:
        raise InputError(f"workers must be >= 1 for a LocalCluster, got {workers}")
    limit = MAX_WORKERS_PER_CORE * default_workers()
    require_at_most("--workers", workers, limit, f"this machine has {default_workers()} core(s)")
    per_worker = WORKER_MEMORY_BYTES + task_bytes
    require_memory(
        workers * per_worker,
        f"--workers {workers}",
        f"each worker needs about {format_bytes(per_worker)}; use fewer workers",
    )
    return workers


@contextmanager
def get_client(workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: a fresh LocalCluster, or an existing scheduler.

    Parameters
    ----------
    workers : int, optional
        Number of worker processes of the LocalCluster (default: CPU count). Ignored when
        ``scheduler`` is given. Must be >= 1 (``workers=0`` means "no Dask" to the callers
        that accept it, e.g. :func:`map_as_completed`); checked by :func:`check_workers`.
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``); the cluster's own workers are
        used and nothing is started or shut down here.

    Yields
    ------
    distributed.Client
        Closed (and the LocalCluster shut down) on exit, also after an exception or Ctrl-C.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    n = check_workers(default_workers() if workers is None else int(workers))
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
        env=worker_env(n),
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def map_as_completed(
    func: Callable[..., Any],
    items: Sequence[Any],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    **kwargs: Any,
) -> Iterator[tuple[int, Any]]:
    """Yield ``(i, func(items[i], **kwargs))`` as each call finishes.

    With ``workers=0`` (and no scheduler) the calls run here, in order. Otherwise they run on
    :func:`get_client`'s cluster; ``func`` must be importable (a module-level function) so
    that workers can unpickle it. An exception in a call is re-raised here.

    Parameters
    ----------
    func : callable
        Module-level function called as ``func(item, **kwargs)``.
    items : sequence
        One task per item.
    workers : int, optional
        Worker processes (0: run here; None: one per core).
    scheduler : str, optional
        Address of a running scheduler to use instead.
    **kwargs
        Passed to every call.

    Yields
    ------
    tuple
        ``(index, result)`` in the order the calls finish.
    """
    if scheduler is None and workers == 0:
        for i, item in enumerate(items):
            yield i, func(item, **kwargs)
        return
    from distributed import as_completed

    with get_client(workers=workers, scheduler=scheduler) as client:
        futures = [client.submit(func, item, pure=False, **kwargs) for item in items]
        index = {fut.key: i for i, fut in enumerate(futures)}
        for fut in as_completed(futures):
            yield index[fut.key], fut.result()
            fut.release()  # let the worker drop the result once it is consumed
