import os

import pytest

from psplab.distributed import get_client, map_as_completed


def _square_and_pid(x, offset=0):
    return x * x + offset, os.getpid()


def test_in_process_map_keeps_order_and_kwargs():
    out = list(map_as_completed(_square_and_pid, [1, 2, 3], workers=0, offset=10))
    assert [i for i, _ in out] == [0, 1, 2]
    assert [r for _, (r, _) in out] == [11, 14, 19]
    assert {pid for _, (_, pid) in out} == {os.getpid()}


def test_local_cluster_runs_tasks_in_worker_processes():
    items = list(range(6))
    out = dict(map_as_completed(_square_and_pid, items, workers=1, offset=1))
    assert sorted(out) == items
    assert [out[i][0] for i in items] == [i * i + 1 for i in items]
    # processes=True: the work ran outside this process.
    assert os.getpid() not in {pid for _, pid in out.values()}


def test_worker_errors_reach_the_caller():
    with pytest.raises(TypeError):
        list(map_as_completed(_square_and_pid, ["a"], workers=0))


def test_get_client_needs_a_worker():
    with pytest.raises(ValueError, match="workers must be >= 1"):
        with get_client(workers=0):
            pass


def test_worker_counts_are_checked_before_any_process_starts(monkeypatch):
    from psplab import distributed
    from psplab.errors import ResourceError

    cores = distributed.default_workers()
    with pytest.raises(ResourceError, match=r"--workers .* is above the limit"):
        with get_client(workers=distributed.MAX_WORKERS_PER_CORE * cores + 1):
            pass
    # Within the per-core limit, memory decides: a task too large for every worker is refused.
    monkeypatch.setattr(distributed, "MAX_WORKERS_PER_CORE", 10**6)
    with pytest.raises(ResourceError, match="each worker needs about"):
        distributed.check_workers(2, task_bytes=10**18)
    assert distributed.check_workers(1) == 1
