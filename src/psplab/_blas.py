"""One BLAS thread for the small dense linear algebra that psplab repeats many times.

NumPy and SciPy each ship their own OpenBLAS (and JAX's CPU Cholesky and triangular solves call
SciPy's), each with its own thread pool. OpenBLAS threads a factorization or product from a few
dozen rows on; at the sizes of a Gaussian-process fit or a Bayesian-optimization step (tens to a
few hundred rows, thousands of factorizations and products in turn) the extra threads mostly spin
waiting for work, and the two libraries' pools compete for the same cores: such fits run several
times faster on one thread. Above ``ONE_THREAD_MAX_ROWS`` a factorization is large enough for
threads to pay off again, so larger problems keep OpenBLAS's default.
"""

from __future__ import annotations

import contextlib

__all__ = ["ONE_THREAD_MAX_ROWS", "one_blas_thread"]

# Largest matrix (rows) whose linear algebra runs on one BLAS thread.
ONE_THREAD_MAX_ROWS = 512


def one_blas_thread(n_rows: int) -> contextlib.AbstractContextManager:
    """Context limiting NumPy's and SciPy's BLAS/LAPACK to one thread when ``n_rows`` is small.

    Parameters
    ----------
    n_rows : int
        Rows of the largest matrix the block factorizes.

    Returns
    -------
    contextlib.AbstractContextManager
        A ``threadpoolctl`` limit, or a no-op context for large problems.
    """
    if n_rows > ONE_THREAD_MAX_ROWS:
        return contextlib.nullcontext()
    try:
        # SciPy's LAPACK is loaded lazily (JAX loads it on its first compile); load it now so
        # that the limit reaches it.
        import scipy.linalg.cython_lapack  # noqa: F401
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - both come with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
