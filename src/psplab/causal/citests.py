"""Conditional-independence tests with a batched interface.

Every test is built from a data matrix and answers ``pvalues(i, j, S)`` for *many* triples at
once (``i``, ``j`` integer arrays of length ``m``, ``S`` an ``(m, l)`` integer array), so that the
PC skeleton can run one level as one vectorized call.

* :class:`FisherZ` — Gaussian partial correlation. All partial correlations of a level come from
  batched inverses of the ``(l+2) x (l+2)`` correlation submatrices (the precision-matrix
  identity ``rho_ij.S = -P_ij / sqrt(P_ii P_jj)``), then Fisher's z.
* :class:`RCoT` — randomized conditional correlation test (Strobl, Zhang & Visweswaran 2019,
  J. Causal Inference 7): random Fourier features of X, Y and Z, ridge regression of the X and Y
  features on the Z features, and the squared Frobenius norm of the residual cross-covariance,
  whose null law (a weighted sum of chi-squares) is approximated by a moment-matched gamma.
  Detects nonlinear dependence at O(n) cost per test.
* :class:`CausalLearnTest` — any causal-learn CIT (``"kci"``, ``"fisherz"``, ...) for comparison.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from psplab.errors import InputError


class CITest:
    """Base class: ``pvalues(i, j, S)`` for batches of triples."""

    vectorized = False

    def __init__(self, data: np.ndarray):
        self.data = np.asarray(data, dtype=float)
        self.n, self.p = self.data.shape

    def pvalues(self, i: np.ndarray, j: np.ndarray, S: np.ndarray) -> np.ndarray:
        """p-values of ``X_i`` independent of ``X_j`` given ``X_S`` for a batch of triples.

        Parameters
        ----------
        i, j : numpy.ndarray
            Variable indices, one per test.
        S : numpy.ndarray
            Conditioning sets, one row of indices per test.

        Returns
        -------
        numpy.ndarray
            One p-value per test (the base class calls :meth:`pvalue` for each).
        """
        return np.array(
            [
                self.pvalue(int(a), int(b), tuple(int(s) for s in c))
                for a, b, c in zip(i, j, S, strict=True)
            ]
        )

    def pvalue(self, i: int, j: int, S: tuple[int, ...]) -> float:
        """p-value of ``X_i`` independent of ``X_j`` given ``X_S``.

        A subclass overrides this or the batched :meth:`pvalues`.

        Parameters
        ----------
        i, j : int
            Variable indices.
        S : tuple of int
            The conditioning set.

        Returns
        -------
        float
            The p-value.
        """
        raise TypeError(
            f"{type(self).__name__} defines neither pvalue() nor a vectorized pvalues(): "
            "a conditional-independence test must override one of them"
        )


class FisherZ(CITest):
    """Fisher-z test of partial correlation, vectorized over a batch of conditioning sets.

    Parameters
    ----------
    data : numpy.ndarray or None
        ``(n, p)`` matrix; or pass ``corr`` and ``n`` directly.
    corr : numpy.ndarray or None
        Precomputed ``(p, p)`` correlation matrix (bootstrap reuses this path).
    n : int or None
        Sample size behind ``corr``.
    """

    vectorized = True

    def __init__(
        self, data: np.ndarray | None = None, corr: np.ndarray | None = None, n: int | None = None
    ):
        if corr is None:
            if data is None:
                raise ValueError("FisherZ needs data or a correlation matrix")
            data = np.asarray(data, dtype=float)
            corr = np.corrcoef(data, rowvar=False)
            n = data.shape[0]
        if n is None:
            raise ValueError("FisherZ with a correlation matrix needs the sample size n")
        self.corr = np.asarray(corr, dtype=float)
        self.n = int(n)
        self.p = self.corr.shape[0]

    def partial_correlations(self, i: np.ndarray, j: np.ndarray, S: np.ndarray) -> np.ndarray:
        """Partial correlations of ``(i, j)`` given ``S`` for a batch of triples.

        Parameters
        ----------
        i, j : numpy.ndarray
            First and second variable of each triple.
        S : numpy.ndarray
            ``(batch, size)`` conditioning sets, all of one size.

        Returns
        -------
        numpy.ndarray
            ``-P_ij / sqrt(P_ii P_jj)`` with ``P`` the inverse correlation submatrix of each triple.
        """
        i = np.asarray(i, dtype=np.intp)
        j = np.asarray(j, dtype=np.intp)
        S = np.asarray(S, dtype=np.intp).reshape(len(i), -1)
        if S.shape[1] == 0:
            return self.corr[i, j]
        idx = np.concatenate([i[:, None], j[:, None], S], axis=1)
        sub = self.corr[idx[:, :, None], idx[:, None, :]]
        try:
            prec = np.linalg.inv(sub)
        except np.linalg.LinAlgError:
            prec = np.linalg.pinv(sub, hermitian=True)
        return -prec[:, 0, 1] / np.sqrt(np.abs(prec[:, 0, 0] * prec[:, 1, 1]))

    def pvalues(self, i: np.ndarray, j: np.ndarray, S: np.ndarray) -> np.ndarray:
        """Two-sided Fisher-z p-values, ``z = sqrt(n - |S| - 3) atanh(r)``, for a batch.

        Parameters
        ----------
        i, j : numpy.ndarray
            The tested pair of each test.
        S : numpy.ndarray
            Conditioning sets of one size, one row per test.

        Returns
        -------
        numpy.ndarray
            One p-value per test.
        """
        S = np.asarray(S, dtype=np.intp).reshape(len(i), -1)
        r = np.clip(self.partial_correlations(i, j, S), -1 + 1e-12, 1 - 1e-12)
        dof = max(self.n - S.shape[1] - 3, 1)
        z = np.sqrt(dof) * np.arctanh(r)
        return special.erfc(np.abs(z) / np.sqrt(2.0))

    def pvalue(self, i: int, j: int, S: tuple[int, ...]) -> float:
        """The Fisher-z p-value of one triple (see :meth:`pvalues`).

        Parameters
        ----------
        i, j : int
            The two variables tested.
        S : tuple of int
            Variables conditioned on (any size).

        Returns
        -------
        float
            Two-sided p-value of the partial correlation.
        """
        return float(
            self.pvalues(np.array([i]), np.array([j]), np.array([S], dtype=np.intp).reshape(1, -1))[
                0
            ]
        )


class RCoT(CITest):
    """Randomized conditional correlation test (RCoT; Strobl et al. 2019).

    Parameters
    ----------
    data : numpy.ndarray
        ``(n, p)`` matrix (columns are standardized internally).
    num_f : int
        Random Fourier features for the conditioning set Z.
    num_f2 : int
        Random Fourier features for each of X and Y.
    ridge : float
        Ridge penalty of the regression of the X/Y features on the Z features.
    seed : int
        Seed of the random features: one fixed draw per variable and per conditioning set
        (derived from their indices), so results do not depend on the order of the tests.
    """

    def __init__(
        self, data: np.ndarray, num_f: int = 50, num_f2: int = 5, ridge: float = 1e-3, seed: int = 0
    ):
        super().__init__(data)
        sd = self.data.std(axis=0)
        sd[sd == 0] = 1.0
        self.z = (self.data - self.data.mean(axis=0)) / sd
        self.num_f = num_f
        self.num_f2 = num_f2
        self.ridge = ridge
        self.seed = seed
        # Caches: kernel widths, one feature map per single variable, and per conditioning set
        # its features with the ridge projector (reused by every pair tested given that set).
        self._width: dict[tuple[int, ...], float] = {}
        self._single: dict[int, np.ndarray] = {}
        self._cond: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._max_cond_cache = 256

    def _features(self, cols: tuple[int, ...], n_feat: int, rng: np.random.Generator) -> np.ndarray:
        x = self.z[:, list(cols)]
        sigma = self._width.get(cols)
        if sigma is None:
            sub = x[: min(300, self.n)]
            d = np.sqrt(((sub[:, None, :] - sub[None, :, :]) ** 2).sum(-1))
            sigma = float(np.median(d[d > 0])) if np.any(d > 0) else 1.0
            self._width[cols] = sigma
        w = rng.standard_normal((x.shape[1], n_feat)) / sigma
        b = rng.uniform(0, 2 * np.pi, n_feat)
        f = np.sqrt(2.0) * np.cos(x @ w + b)
        return f - f.mean(axis=0)

    def _single_features(self, i: int) -> np.ndarray:
        f = self._single.get(i)
        if f is None:
            f = self._features((i,), self.num_f2, np.random.default_rng([self.seed, 1, i]))
            self._single[i] = f
        return f

    def _conditioning(self, S: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Features ``fz`` of the set and ``P = (fz'fz + ridge n I)^-1 fz'`` (residual = f - fz P f)."""
        hit = self._cond.get(S)
        if hit is None:
            fz = self._features(S, self.num_f, np.random.default_rng([self.seed, 2, *S]))
            gram = fz.T @ fz + self.ridge * self.n * np.eye(fz.shape[1])
            hit = (fz, np.linalg.solve(gram, fz.T))
            if len(self._cond) >= self._max_cond_cache:
                self._cond.pop(next(iter(self._cond)))  # drop the oldest entry
            self._cond[S] = hit
        return hit

    def pvalue(self, i: int, j: int, S: tuple[int, ...]) -> float:
        """The RCoT p-value: residual cross-covariance of random Fourier features.

        Parameters
        ----------
        i, j : int
            Columns of the variables whose independence is tested.
        S : tuple of int
            The conditioning set (its features and ridge projector are cached).

        Returns
        -------
        float
            The p-value under the moment-matched gamma approximation of the null.
        """
        a, b = min(i, j), max(i, j)
        fx = self._single_features(a)
        fy = self._single_features(b)
        n = self.n
        if S:
            fz, proj = self._conditioning(tuple(sorted(S)))
            both = np.concatenate([fx, fy], axis=1)
            res = both - fz @ (proj @ both)
            rx, ry = res[:, : fx.shape[1]], res[:, fx.shape[1] :]
        else:
            rx, ry = fx, fy
        cxy = rx.T @ ry / n
        stat = n * float(np.sum(cxy**2))
        # Null: stat ~ sum_k lambda_k chi2_1, lambda = eigenvalues of Cov(vec(rx_i ry_i^T)).
        prod = (rx[:, :, None] * ry[:, None, :]).reshape(n, -1)
        prod = prod - prod.mean(axis=0)
        lam = np.linalg.eigvalsh(prod.T @ prod / n)
        lam = lam[lam > 1e-12]
        if lam.size == 0:
            return 1.0
        mean, var = lam.sum(), 2.0 * np.sum(lam**2)
        shape, scale = mean**2 / var, var / mean
        return float(special.gammaincc(shape, stat / scale))


class CausalLearnTest(CITest):
    """A causal-learn CIT (``"kci"``, ``"fisherz"``, ``"rcit"`` is not in causal-learn) by name."""

    def __init__(self, data: np.ndarray, method: str = "kci", **kwargs):
        super().__init__(data)
        from causallearn.utils.cit import CIT

        self._cit = CIT(self.data, method, **kwargs)

    def pvalue(self, i: int, j: int, S: tuple[int, ...]) -> float:
        """causal-learn's p-value for one triple.

        Parameters
        ----------
        i, j : int
            Columns of the two variables.
        S : tuple of int
            Columns conditioned on.

        Returns
        -------
        float
            What causal-learn's ``CIT`` returns.
        """
        return float(self._cit(i, j, list(S)))


TESTS = ("fisherz", "rcot", "kci")


def make_test(name: str, data: np.ndarray, seed: int = 0) -> CITest:
    """A conditional-independence test by name.

    Parameters
    ----------
    name : str
        ``fisherz``, ``rcot`` (nonlinear) or ``kci`` (causal-learn's kernel test).
    data : numpy.ndarray
        The ``(n, p)`` data.
    seed : int
        Seed of the random features (``rcot``).

    Returns
    -------
    CITest
        The test.

    Raises
    ------
    InputError
        An unknown name.
    """
    if name == "fisherz":
        return FisherZ(data)
    if name in ("rcot", "rcit"):
        return RCoT(data, seed=seed)
    if name == "kci":
        return CausalLearnTest(data, "kci")
    raise InputError(f"unknown CI test {name!r} (expected one of {', '.join(TESTS)})")
