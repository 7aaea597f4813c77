"""Bayesian optimization over a :class:`~psplab.optimize.space.SearchSpace` with any psplab model.

:class:`BayesianOptimizer` is stateless about data: every :meth:`~BayesianOptimizer.suggest` call
gets all observations (and the suggestions still pending) and refits the model. That is what lets a
campaign resume from its database after a crash — the stored rows *are* the state — and lets
several users share one campaign.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from psplab._blas import one_blas_thread
from psplab.errors import InputError
from psplab.models.base import ProbabilisticRegressor, store_params
from psplab.optimize.acquisition import (
    ACQUISITIONS,
    estimate_lipschitz,
    expected_improvement,
    local_penalty,
    parego_scalarize,
    upper_confidence_bound,
)
from psplab.optimize.space import SearchSpace

BATCH_STRATEGIES = ("penalize", "believer")
_MIN_SEPARATION = 1e-3  # feature-space distance under which two recipes count as the same


@dataclass
class Suggestion:
    """One recipe to try next.

    Attributes
    ----------
    params : dict
        Parameter values of the recipe.
    acquisition : str
        How it was chosen (``"initial"``, ``"ei"``, ``"ucb"``, ``"ts"``).
    score : float
        Acquisition value.
    predicted_mean, predicted_std : list of float
        Model prediction at the recipe, in the objective's units (empty for initial points).
    """

    params: dict[str, Any]
    acquisition: str
    score: float = float("nan")
    predicted_mean: list[float] = field(default_factory=list)
    predicted_std: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The suggestion as a JSON-able dictionary.

        Returns
        -------
        dict
        """
        return {
            "params": self.params,
            "acquisition": self.acquisition,
            "score": self.score,
            "predicted_mean": self.predicted_mean,
            "predicted_std": self.predicted_std,
        }


ModelSpec = str | ProbabilisticRegressor | Callable[[], ProbabilisticRegressor]


def build_model(
    model: ModelSpec, params: Mapping[str, Any] | None = None
) -> ProbabilisticRegressor:
    """A fresh, unfitted regressor.

    Parameters
    ----------
    model : str, ProbabilisticRegressor or callable
        A psplab model name (``"gp"``, ``"bhn"``, ...), ``"fastgp"`` (the GP with a Matérn-5/2
        kernel, one optimizer start and short prior length scales, which keep a handful of
        observations exploratory), a template instance (``sklearn.base.clone`` with ``params``
        set) or a factory.
    params : mapping, optional
        Constructor parameters.

    Returns
    -------
    model : ProbabilisticRegressor
        Unfitted.
    """
    from sklearn.base import clone

    params = dict(params or {})
    if isinstance(model, str):
        from psplab.models import make_model

        if model == "fastgp":
            fast = {"kernel": "matern52", "n_restarts": 0, "length_scale_prior": 0.3}
            return make_model("gp", **{**fast, "target_transform": "none", **params})
        return make_model(model, **params)
    if isinstance(model, ProbabilisticRegressor):
        return clone(model).set_params(**params)
    return model()


class BayesianOptimizer:
    """Suggest recipes by Bayesian optimization.

    Parameters
    ----------
    space : SearchSpace
        What may be varied and how.
    model : str, ProbabilisticRegressor or callable
        A psplab model name (``"gp"``, ``"bhn"``, ``"ensemble"``, ...), ``"fastgp"``, a factory,
        or a template :class:`~psplab.models.base.ProbabilisticRegressor`.
    acquisition : str
        ``"ei"`` (expected improvement, from ``predict_dist``), ``"ucb"`` (upper confidence bound,
        from ``predict_dist``) or ``"ts"`` (Thompson sampling, from ``sample``); with two
        objectives ``"ts"`` falls back to EI on each ParEGO scalarization.
    maximize : bool or sequence of bool
        Direction of the objective; a pair for two objectives (then ParEGO scalarization is used
        with the chosen acquisition on each random weighting).
    n_initial : int, optional
        Observations needed before the model is used; below that, space-filling points
        (greedy maximin over a Sobol set) are suggested. Default ``dim + 1``.
    batch : str
        How batch members are kept apart: ``"penalize"`` (local penalization, González et al.
        2016; one model fit per batch) or ``"believer"`` (Kriging believer: refit with the
        predicted mean as a fantasy observation; one fit per batch member). Thompson sampling
        batches use one posterior draw per member.
    n_candidates : int
        Sobol candidates per acquisition maximization (plus local ones around the best points).
    refine_rounds : int
        Rounds of shrinking-radius local search from the best candidates.
    ucb_beta : float
        Standard deviations in UCB.
    model_params : mapping, optional
        Keyword arguments for the model constructor.
    seed : int
        Base seed; each call derives its own seed from it and the data size, so a campaign that
        resumes makes the same suggestion it would have made.
    """

    def __init__(
        self,
        space: SearchSpace,
        model: ModelSpec = "gp",
        acquisition: str = "ei",
        maximize: bool | Sequence[bool] = True,
        n_initial: int | None = None,
        batch: str = "penalize",
        n_candidates: int = 1024,
        refine_rounds: int = 6,
        ucb_beta: float = 2.0,
        model_params: Mapping[str, Any] | None = None,
        seed: int = 0,
    ):
        store_params(self, locals())
        if acquisition not in ACQUISITIONS:
            raise InputError(
                f"unknown acquisition {acquisition!r} (expected one of {ACQUISITIONS})"
            )
        if batch not in BATCH_STRATEGIES:
            raise InputError(
                f"unknown batch strategy {batch!r} (expected one of {BATCH_STRATEGIES})"
            )

    # --- helpers ------------------------------------------------------------------------
    @property
    def directions(self) -> list[bool]:
        """Whether each objective is maximized (one entry per objective)."""
        return (
            [bool(self.maximize)]
            if isinstance(self.maximize, bool)
            else [bool(m) for m in self.maximize]
        )

    def _initial_points(self, U_seen: np.ndarray, n: int, seed: int) -> np.ndarray:
        pool = self.space.sample(max(256, 8 * n), seed=seed, method="sobol")
        F_pool = self.space.features(pool)
        F_seen = self.space.features(U_seen) if len(U_seen) else np.zeros((0, F_pool.shape[1]))
        chosen: list[int] = []
        for _ in range(n):
            ref = np.vstack([F_seen, F_pool[chosen]]) if chosen else F_seen
            if len(ref) == 0:
                # Nothing seen yet: start at the point nearest the centre of the space.
                d = np.sqrt(((F_pool - self.space.features(self.space.center())) ** 2).sum(-1))
                chosen.append(int(np.argmin(d)))
                continue
            dmin = np.sqrt(((F_pool[:, None, :] - ref[None, :, :]) ** 2).sum(-1)).min(1)
            dmin[chosen] = -1.0
            chosen.append(int(np.argmax(dmin)))
        return pool[chosen]

    def _local(
        self, centres: np.ndarray, n_each: int, sigma: float, rng: np.random.Generator
    ) -> np.ndarray:
        if len(centres) == 0:
            return np.zeros((0, self.space.dim))
        U = np.repeat(centres, n_each, axis=0)
        free = self.space.free_mask()
        for j, p in enumerate(self.space.parameters):
            if not free[j]:
                continue
            if p.is_numeric:
                U[:, j] = U[:, j] + sigma * rng.standard_normal(len(U))
            else:
                flip = rng.random(len(U)) < 0.2
                U[flip, j] = rng.integers(0, len(p.choices), int(flip.sum()))
        U = self.space.repair(U)
        return U[self.space.is_feasible(U)]

    def _maximize(
        self, acq: Callable[[np.ndarray], np.ndarray], starts: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, float]:
        """Best point of ``acq`` from Sobol + local candidates, refined by shrinking local search."""
        cand = self.space.sample(
            self.n_candidates, seed=int(rng.integers(2**31 - 1)), method="sobol"
        )
        cand = np.vstack([cand, starts, self._local(starts, 16, 0.05, rng)])
        values = acq(cand)
        k = min(5, len(cand))
        top = np.argsort(-values)[:k]
        elites, elite_values = cand[top], values[top]
        for r in range(self.refine_rounds):
            local = self._local(elites, 24, 0.1 * 0.5**r, rng)
            if len(local) == 0:
                continue
            lv = acq(local)
            pool = np.vstack([elites, local])
            pv = np.concatenate([elite_values, lv])
            order = np.argsort(-pv)[:k]
            elites, elite_values = pool[order], pv[order]
        i = int(np.argmax(elite_values))
        return elites[i : i + 1], float(elite_values[i])

    # --- the main entry -----------------------------------------------------------------
    def suggest(self, *args: Any, **kwargs: Any) -> list[Suggestion]:
        """``n`` diverse recipes to try next (see :meth:`_suggest` for the parameters).

        The model fits and acquisition maximizations of one suggestion are many small dense
        problems, run on one BLAS thread (:func:`psplab._blas.one_blas_thread`).

        Parameters
        ----------
        *args, **kwargs
            ``observed, y, n=1, pending=None, seed=None`` as for :meth:`_suggest`.

        Returns
        -------
        list of Suggestion
        """
        observed = args[0] if args else kwargs.get("observed", ())
        with one_blas_thread(len(observed)):
            return self._suggest(*args, **kwargs)

    def _suggest(
        self,
        observed: pd.DataFrame | Sequence[Mapping[str, Any]],
        y: np.ndarray,
        n: int = 1,
        pending: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
        seed: int | None = None,
    ) -> list[Suggestion]:
        """``n`` diverse recipes to try next, given observations and still-pending suggestions.

        Parameters
        ----------
        observed : pandas.DataFrame or sequence of mapping
            Parameter values of the observed recipes (frame or list of dicts).
        y : numpy.ndarray
            Objective values ``(n_obs,)``, or ``(n_obs, 2)`` for two objectives; NaN rows are
            ignored by the model.
        n : int
            Batch size.
        pending : pandas.DataFrame or sequence of mapping, optional
            Suggested recipes not observed yet; new suggestions keep away from them.
        seed : int, optional
            Overrides the derived seed.
        """
        if n < 1:
            raise InputError("n must be at least 1")
        frame = observed if isinstance(observed, pd.DataFrame) else pd.DataFrame(list(observed))
        dirs = self.directions
        Y = np.asarray(y, dtype=float).reshape(len(frame), -1 if len(frame) else len(dirs))
        if Y.shape[1] != len(dirs):
            raise InputError(f"y has {Y.shape[1]} objective(s) but maximize gives {len(dirs)}")
        ok = np.all(np.isfinite(Y), axis=1)
        U_obs = self.space.to_internal(frame[ok]) if ok.any() else np.zeros((0, self.space.dim))
        Y = Y[ok]
        pend = (
            pending
            if pending is None or isinstance(pending, pd.DataFrame)
            else pd.DataFrame(list(pending))
        )
        U_pend = (
            self.space.to_internal(pend)
            if pend is not None and len(pend)
            else np.zeros((0, self.space.dim))
        )
        if seed is None:
            seed = self.seed * 1_000_003 + 7919 * len(U_obs) + 104_729 * len(U_pend)
        rng = np.random.default_rng(seed)
        n_init = self.n_initial if self.n_initial is not None else self.space.dim + 1
        if len(U_obs) < max(n_init, 2):
            U = self._initial_points(np.vstack([U_obs, U_pend]), n, int(rng.integers(2**31 - 1)))
            return [Suggestion(params=r, acquisition="initial") for r in self.space.to_records(U)]

        sign = np.where(np.asarray(dirs), 1.0, -1.0)
        chosen: list[np.ndarray] = []
        out: list[Suggestion] = []
        if len(dirs) == 1:
            score = Y[:, 0] * sign[0]
            if self.acquisition == "ts":
                return self._thompson(U_obs, score, U_pend, n, sign[0], rng)
            model = None
        for _ in range(n):
            if len(dirs) == 2:
                w1 = rng.random()
                score = parego_scalarize(Y, np.array([w1, 1.0 - w1]), maximize=dirs)
                model = None  # a new weighting needs a new fit
            if model is None or self.batch == "believer":
                model, F_fit, s_fit = self._fit(U_obs, score, U_pend, chosen)
            U_next, value = self._pick(model, F_fit, s_fit, U_obs, U_pend, chosen, rng)
            chosen.append(U_next)
            out.append(self._describe(U_next, value, sign if len(dirs) == 1 else None, model=model))
        return out

    def _fit(self, U_obs, score, U_pend, chosen):
        """Fit the model; with the believer strategy, pending and chosen points join as fantasies
        at the current model's predicted mean."""
        F_obs = self.space.features(U_obs)
        model = build_model(self.model, self.model_params).fit(F_obs, score)
        F_fit, s_fit = F_obs, score
        extra = [U_pend] + chosen
        U_extra = np.vstack(extra) if any(len(e) for e in extra) else np.zeros((0, self.space.dim))
        if self.batch == "believer" and len(U_extra):
            F_extra = self.space.features(U_extra)
            fantasy = np.asarray(model.predict(F_extra), dtype=float).reshape(-1)
            F_fit = np.vstack([F_obs, F_extra])
            s_fit = np.concatenate([score, fantasy])
            model = build_model(self.model, self.model_params).fit(F_fit, s_fit)
        return model, F_fit, s_fit

    def _pick(self, model, F_fit, s_fit, U_obs, U_pend, chosen, rng):
        best = float(np.max(s_fit))
        spread = float(np.std(s_fit)) or 1.0
        avoid_U = [U_obs, U_pend, *chosen]
        F_avoid = self.space.features(np.vstack(avoid_U))
        penal: list[tuple[np.ndarray, float, float]] = []
        lip = None
        if self.batch == "penalize":
            U_pen = (
                np.vstack([U_pend, *chosen])
                if (len(U_pend) or chosen)
                else np.zeros((0, self.space.dim))
            )
            if len(U_pen):
                probe = self.space.sample(256, seed=int(rng.integers(2**31 - 1)))
                F_probe = self.space.features(probe)
                lip = estimate_lipschitz(F_probe, np.asarray(model.predict(F_probe)).reshape(-1))
                F_pen = self.space.features(U_pen)
                m_pen, s_pen = model.predict_dist(F_pen)
                penal = [
                    (F_pen[i], float(np.ravel(m_pen)[i]), float(np.ravel(s_pen)[i]))
                    for i in range(len(F_pen))
                ]

        def acq(U: np.ndarray) -> np.ndarray:
            F = self.space.features(U)
            mean, std = model.predict_dist(F)
            mean, std = np.ravel(mean), np.ravel(std)
            if self.acquisition == "ucb":
                # Softplus keeps the value positive so that penalties can multiply it.
                z = (upper_confidence_bound(mean, std, self.ucb_beta) - best) / spread
                value = np.logaddexp(0.0, z)
            else:
                value = expected_improvement(mean, std, best)
            for centre, m_c, s_c in penal:
                value = value * local_penalty(F, centre, m_c, s_c, lip, best)
            dmin = np.sqrt(((F[:, None, :] - F_avoid[None, :, :]) ** 2).sum(-1)).min(1)
            return np.where(dmin < _MIN_SEPARATION, -1.0, value)

        # Start local search from the best observed recipes as well as from candidates.
        n_best = min(5, len(s_fit))
        idx = np.argsort(-s_fit[: len(U_obs)])[:n_best] if len(U_obs) else []
        starts = U_obs[idx] if len(idx) else np.zeros((0, self.space.dim))
        return self._maximize(acq, starts, rng)

    def _thompson(self, U_obs, score, U_pend, n, sign, rng) -> list[Suggestion]:
        """One joint posterior draw per batch member; each member is its draw's argmax."""
        F_obs = self.space.features(U_obs)
        model = build_model(self.model, self.model_params).fit(F_obs, score)
        n_cand = min(self.n_candidates, 512)  # joint draws cost O(n^3)
        cand = self.space.sample(n_cand, seed=int(rng.integers(2**31 - 1)), method="sobol")
        top = U_obs[np.argsort(-score)[: min(5, len(score))]]
        cand = np.vstack([cand, self._local(top, 32, 0.05, rng), self._local(top, 32, 0.01, rng)])
        F = self.space.features(cand)
        F_avoid = self.space.features(np.vstack([U_obs, U_pend]))
        dmin = np.sqrt(((F[:, None, :] - F_avoid[None, :, :]) ** 2).sum(-1)).min(1)
        draws = np.asarray(model.sample(F, n_samples=n, seed=int(rng.integers(2**31 - 1))))
        draws = draws.reshape(n, len(F))
        out, taken = [], np.zeros(len(F), dtype=bool)
        for b in range(n):
            value = np.where((dmin < _MIN_SEPARATION) | taken, -np.inf, draws[b])
            i = int(np.argmax(value))
            taken[i] = True
            # later members also keep away from earlier ones
            dmin = np.minimum(dmin, np.sqrt(((F - F[i]) ** 2).sum(-1)))
            out.append(
                self._describe(cand[i : i + 1], float(draws[b, i]), np.array([sign]), model=model)
            )
        return out

    def _describe(
        self, U: np.ndarray, value: float, sign: np.ndarray | None, model=None
    ) -> Suggestion:
        params = self.space.to_records(U)[0]
        out = Suggestion(params=params, acquisition=self.acquisition, score=value)
        if model is not None and sign is not None:
            # The model was fitted on sign * y; report the prediction in the objective's units.
            mean, std = model.predict_dist(self.space.features(U))
            out.predicted_mean = [float(sign[0] * np.ravel(mean)[0])]
            out.predicted_std = [float(np.ravel(std)[0])]
        return out

    # --- convenience: predictions in the objective's units -------------------------------
    def predict(self, observed, y, query) -> tuple[np.ndarray, np.ndarray]:
        """Model mean and std of a single objective at ``query`` records, fitted on the data.

        Parameters
        ----------
        observed : pandas.DataFrame or sequence of mapping
            Parameter values of the observed recipes.
        y : numpy.ndarray
            Their objective values (NaN rows are left out).
        query : pandas.DataFrame or sequence of mapping
            Recipes to predict.

        Returns
        -------
        tuple of numpy.ndarray
            ``(mean, std)`` at the query recipes, in the objective's units.
        """
        frame = observed if isinstance(observed, pd.DataFrame) else pd.DataFrame(list(observed))
        yv = np.asarray(y, dtype=float).reshape(-1)
        ok = np.isfinite(yv)
        model = build_model(self.model, self.model_params).fit(
            self.space.features(self.space.to_internal(frame[ok])), yv[ok]
        )
        q = query if isinstance(query, pd.DataFrame) else pd.DataFrame(list(query))
        mean, std = model.predict_dist(self.space.features(self.space.to_internal(q)))
        return np.ravel(mean), np.ravel(std)


def run_optimization(
    objective: Callable[[list[dict[str, Any]]], np.ndarray],
    space: SearchSpace,
    budget: int,
    *,
    method: str = "bo",
    initial: Sequence[Mapping[str, Any]] = (),
    batch_size: int = 1,
    seed: int = 0,
    optimizer: BayesianOptimizer | None = None,
    callback: Callable[[int, list[dict[str, Any]], np.ndarray], None] | None = None,
) -> pd.DataFrame:
    """Run ``budget`` evaluations of ``objective`` and return the history.

    Parameters
    ----------
    objective : callable
        Maps a list of recipes (dicts) to values ``(k,)`` or ``(k, n_obj)``; called once per batch.
    space : SearchSpace
        The search space.
    budget : int
        Total evaluations, including ``initial``.
    method : str
        ``"bo"`` (``optimizer``, default EI with the psplab GP), ``"random"`` (uniform) or
        ``"lhs"`` (one Latin hypercube of the remaining budget).
    initial : sequence of mapping
        Recipes evaluated first (e.g. the baseline recipe).
    batch_size : int
        Recipes per objective call.
    seed : int
        Seed of the method.
    optimizer : BayesianOptimizer, optional
        The optimizer for ``method="bo"`` (default: EI with the psplab GP, seeded by ``seed``).
    callback : callable, optional
        Called as ``callback(batch_index, recipes, values)`` after each objective call.

    Returns
    -------
    pandas.DataFrame
        One row per evaluation: ``evaluation`` (1-based), ``batch``, ``method``, the parameters,
        and ``objective`` (or ``objective_0``, ``objective_1`` for two).
    """
    if budget < 1:
        raise InputError("budget must be at least 1")
    records: list[dict[str, Any]] = []
    values: list[np.ndarray] = []
    batches: list[int] = []

    def evaluate(batch: list[dict[str, Any]]) -> None:
        if not batch:
            return
        v = np.asarray(objective(batch), dtype=float).reshape(len(batch), -1)
        b = (batches[-1] + 1) if batches else 0
        records.extend(batch)
        values.extend(v)
        batches.extend([b] * len(batch))
        if callback is not None:
            callback(b, batch, v)

    init = [dict(r) for r in initial][:budget]
    for i in range(0, len(init), batch_size):
        evaluate(init[i : i + batch_size])
    remaining = budget - len(records)
    if method in ("random", "lhs") and remaining > 0:
        U = space.sample(remaining, seed=seed, method=method)
        recs = space.to_records(U)
        for i in range(0, len(recs), batch_size):
            evaluate(recs[i : i + batch_size])
    elif method == "bo":
        opt = optimizer if optimizer is not None else BayesianOptimizer(space, seed=seed)
        while len(records) < budget:
            k = min(batch_size, budget - len(records))
            Y = np.vstack(values) if values else np.zeros((0, 1))
            sugg = opt.suggest(
                pd.DataFrame(records, columns=space.names),
                Y if len(opt.directions) > 1 else Y[:, 0],
                n=k,
            )
            evaluate([s.params for s in sugg])
    elif method not in ("random", "lhs"):
        raise InputError(f"unknown method {method!r} (bo, random, lhs)")
    V = np.vstack(values)
    hist = pd.DataFrame(records, columns=space.names)
    hist.insert(0, "method", method)
    hist.insert(0, "batch", batches)
    hist.insert(0, "evaluation", np.arange(1, len(hist) + 1))
    if V.shape[1] == 1:
        hist["objective"] = V[:, 0]
    else:
        for k in range(V.shape[1]):
            hist[f"objective_{k}"] = V[:, k]
    return hist
