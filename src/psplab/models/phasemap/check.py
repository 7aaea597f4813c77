"""Held-out check of a phase map against one plain GP: K-fold refits over the property readings.

A piecewise model whose pieces follow the structure regions can predict new property readings
worse than one smooth GP over the whole synthesis space, when the property does not change where
the structure does. :func:`check_phase_map` says which on the user's own data: the property
readings are split into K folds; for each fold the phase map is refitted on the other readings
(every structure measurement kept: structure and properties come from different instruments,
and a new property reading is usually taken where the structure is known) and predicts the
held-out readings, and so does a plain GP on the same inputs.

Why refits and not an approximate leave-one-out (Pareto-smoothed importance sampling over the
posterior draws): a reading pulls the phase boundary towards itself and the draws keep that pull
when the reading is left out, so the approximation is far too optimistic for this model.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

__all__ = ["PhaseMapCheck", "check_phase_map", "reference_gp_predict"]

import numpy as np

from psplab.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from psplab.models.phasemap.estimator import PhaseMapModel
    from psplab.models.phasemap.sources import PropertySource, StructureSource


@dataclass
class PhaseMapCheck:
    """Out-of-fold predictions of every property reading by the phase map and by a plain GP.

    Attributes
    ----------
    n_folds : int
        Folds of the check.
    frame : pandas.DataFrame
        One row per reading: ``fold``, ``source``, ``property``, ``row`` (within its source),
        the coordinates (``x0, x1, ...``), ``value``, ``sage_mean``, ``sage_std``, ``gp_mean``,
        ``gp_std``.
    """

    n_folds: int
    frame: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Scores of both models per property.

        Returns
        -------
        summary : pandas.DataFrame
            Per property: readings ``n``, R² pooled over folds, 90 % interval coverage and the
            mean Gaussian negative log predictive density (original units) of the phase map
            (``sage_*``) and of the plain GP (``gp_*``).
        """
        import pandas as pd

        from psplab.models.metrics import central_coverage, gaussian_nll, r2_score

        rows = []
        for name, g in self.frame.groupby("property", sort=False):
            row: dict[str, Any] = {"property": name, "n": len(g)}
            y = g["value"].to_numpy()
            for m in ("sage", "gp"):
                mu, sd = g[f"{m}_mean"].to_numpy(), g[f"{m}_std"].to_numpy()
                row[f"{m}_r2"] = r2_score(y, mu)
                row[f"{m}_coverage90"] = float(central_coverage(y, mu, sd, np.array([0.9]))[0])
                row[f"{m}_nll"] = float(np.mean(gaussian_nll(y, mu, sd)))
            rows.append(row)
        return pd.DataFrame(rows)

    def gp_is_better(self) -> list[str]:
        """Properties whose held-out readings the plain GP predicts better in both R² and NLL.

        Returns
        -------
        names : list of str
        """
        s = self.summary()
        worse = (s["gp_r2"] > s["sage_r2"]) & (s["gp_nll"] < s["sage_nll"])
        return [str(p) for p in s.loc[worse, "property"]]


def reference_gp_predict(
    model: PhaseMapModel, X_tr: np.ndarray, y_tr: np.ndarray, X_te: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A plain GP's predictions of held-out readings, on the inputs the phase map models.

    The reference is psplab's regression GP (:class:`psplab.models.gp.GaussianProcess`) with
    the phase map's kernel family, on the same inputs (the model's independent columns scaled
    to the unit cube) and the same target scale (no log transform): one smooth function over the
    whole space, the alternative the check weighs the piecewise model against.

    Parameters
    ----------
    model : PhaseMapModel
        A fitted phase map (its input scaling is used).
    X_tr, y_tr : numpy.ndarray
        Training points ``(n, n_dim)`` and readings ``(n,)`` of one property.
    X_te : numpy.ndarray
        Points to predict ``(m, n_dim)``.
    seed : int
        Seeds the optimizer restarts.

    Returns
    -------
    mean, std : numpy.ndarray
        ``(m,)`` each; the std includes the noise.
    """
    from psplab.models.gp import GaussianProcess

    gp = GaussianProcess(
        kernel=model.kernel, n_restarts=2, input_transform="none", target_transform="none",
        seed=seed,
    )  # fmt: skip
    gp.fit(model.scale_inputs(X_tr), y_tr)
    mean, std = gp.predict_dist(model.scale_inputs(X_te))
    return np.ravel(mean), np.ravel(std)


def check_phase_map(
    model: PhaseMapModel,
    structure: Sequence[StructureSource],
    properties: Sequence[PropertySource],
    n_folds: int = 5,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> PhaseMapCheck:
    """K-fold check of a phase map against a plain GP on the property readings.

    Parameters
    ----------
    model : PhaseMapModel
        The model to check (unfitted or fitted; each fold fits a clone of it).
    structure : sequence of StructureSource
        Used whole in every fold.
    properties : sequence of PropertySource
        The folds split the readings (all sources pooled).
    n_folds : int
        Number of folds (2 to the number of readings).
    seed : int
        Shuffles the folds; seeds the plain GP's optimizer restarts.
    progress : callable, optional
        Called as ``progress(done, n_folds)`` after each fold.

    Returns
    -------
    check : PhaseMapCheck

    Raises
    ------
    InputError
        No property readings, a bad fold count, or a property with too few readings.
    """
    import pandas as pd
    from sklearn.base import clone
    from sklearn.model_selection import KFold

    from psplab.models.phasemap.estimator import SamplingWarning
    from psplab.models.phasemap.sources import PropertySource, coerce_property

    properties = coerce_property(properties)
    if not properties:
        raise InputError("check_phase_map needs property readings")
    sizes = [len(p.y) for p in properties]
    n = sum(sizes)
    if isinstance(n_folds, bool) or not isinstance(n_folds, int) or not 2 <= n_folds <= n:
        raise InputError(f"n_folds must be in [2, {n}] (the number of readings), got {n_folds}")
    owner = np.repeat(np.arange(len(properties)), sizes)  # source of each pooled reading
    local = np.concatenate([np.arange(s) for s in sizes])  # its row within the source
    X_all = np.concatenate([np.asarray(p.X, dtype=float) for p in properties])
    y_all = np.concatenate([np.asarray(p.y, dtype=float) for p in properties])
    props = np.array([p.prop for p in properties], dtype=object)[owner]
    cols = {"fold": np.zeros(n, int)}
    cols.update({key: np.zeros(n) for key in ("sage_mean", "sage_std", "gp_mean", "gp_std")})
    splits = KFold(int(n_folds), shuffle=True, random_state=seed).split(np.arange(n))
    for fold, (_, te) in enumerate(splits):
        held = np.zeros(n, bool)
        held[te] = True
        train = [
            PropertySource(X_all[(owner == i) & ~held], y_all[(owner == i) & ~held], p.prop, p.name)
            for i, p in enumerate(properties)
            if np.any((owner == i) & ~held)
        ]
        missing = set(props[te]) - set(props[~held])
        if missing:
            raise InputError(
                f"property {sorted(missing)[0]!r} has too few readings for a {n_folds}-fold check"
            )
        with warnings.catch_warnings():
            # The main fit already reported its sampling diagnostics.
            warnings.simplefilter("ignore", SamplingWarning)
            fold_model = clone(model).fit(list(structure), train)
        pred = fold_model.predict(X_all[te])
        t_index = [fold_model.property_names_.index(props[i]) for i in te]
        cols["fold"][te] = fold
        cols["sage_mean"][te] = pred.mean[np.arange(len(te)), t_index]
        cols["sage_std"][te] = pred.std[np.arange(len(te)), t_index]
        for name in np.unique(props[te]):
            tr_m = (props == name) & ~held
            te_m = (props == name) & held
            mu, sd = reference_gp_predict(fold_model, X_all[tr_m], y_all[tr_m], X_all[te_m], seed)
            cols["gp_mean"][te_m], cols["gp_std"][te_m] = mu, sd
        if progress is not None:
            progress(fold + 1, int(n_folds))
    frame = pd.DataFrame(
        {"fold": cols.pop("fold"), "source": [properties[i].name for i in owner], "property": props}
    )
    frame["row"] = local
    for j in range(X_all.shape[1]):
        frame[f"x{j}"] = X_all[:, j]
    frame["value"] = y_all
    for key, values in cols.items():
        frame[key] = values
    return PhaseMapCheck(n_folds=int(n_folds), frame=frame)
