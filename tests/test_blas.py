from __future__ import annotations

import scipy.linalg.cython_lapack  # noqa: F401  (SciPy's LAPACK, the one JAX's CPU linalg calls)
from threadpoolctl import threadpool_info

from psplab._blas import ONE_THREAD_MAX_ROWS, one_blas_thread


def blas_threads() -> dict[str, int]:
    return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def test_small_problems_run_on_one_blas_thread_and_restore_it():
    before = blas_threads()
    with one_blas_thread(64):
        inside = blas_threads()
    assert inside.keys() == before.keys() and inside
    assert set(inside.values()) == {1}
    assert blas_threads() == before


def test_large_problems_keep_blas_threads():
    before = blas_threads()
    with one_blas_thread(ONE_THREAD_MAX_ROWS + 1):
        assert blas_threads() == before
