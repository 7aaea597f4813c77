"""Fit a dataset, load what was fitted, predict a table: the functions behind the CLI.

``psplab fit`` is :func:`fit_dataset` + :meth:`FittedModel.save`; ``psplab predict`` is
:func:`load_model` + :meth:`FittedModel.predict_table`; ``psplab evaluate`` is
:func:`psplab.models.evaluation.evaluate_dataset`. Everything takes and returns Python objects
and raises :class:`psplab.errors.PsplabError` subclasses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psplab.errors import InputError, ModelFileError
from psplab.models.defaults import calibration_folds, model_params

__all__ = [
    "FIT_INFO",
    "FittedModel",
    "FittedPart",
    "PredictionTable",
    "build_estimator",
    "dataset_arrays",
    "fit_dataset",
    "load_model",
]

FIT_INFO = "fit.json"
# Version of the run-directory layout ``FittedModel.save`` writes (fit.json's "format").
MODEL_FORMAT = 1
#: Parameters handled by :func:`build_estimator` itself rather than by the model.
WRAPPER_PARAMS = (
    "tune", "tune_cv", "tune_metric", "tune_search_params", "calibration_folds",
    "calibration_method",
)  # fmt: skip


def build_estimator(
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    fast: bool = False,
    calibrate: bool = True,
    target_bounds: Sequence[Sequence[float | None]] | None = None,
    n_rows: int = 0,
):
    """The estimator ``psplab fit/evaluate`` use for model ``name``.

    Parameters
    ----------
    name : str
        A registered model name.
    params : mapping, optional
        Constructor parameters over the defaults, plus ``tune`` (``"auto"`` for the model's
        grid, or a list of overrides), ``tune_cv``, ``tune_metric``, ``calibration_folds`` and
        ``calibration_method`` for the wrappers.
    seed : int
        Seed of the model, the tuning and the calibration folds.
    fast : bool
        The model's cheap configuration.
    calibrate : bool
        Wrap in a :class:`~psplab.models.conformal.ConformalRegressor` (CV+).
    target_bounds : sequence of (min, max), optional
        Physical bounds of each target (the spec's ``min``/``max``).
    n_rows : int
        Training rows, which set the number of calibration folds
        (:func:`psplab.models.defaults.calibration_folds`).

    Returns
    -------
    estimator : psplab.models.base.ProbabilisticRegressor
        Unfitted.
    """
    from psplab.models.conformal import ConformalRegressor
    from psplab.models.registry import make_model
    from psplab.models.selection import TunedRegressor

    user = dict(params or {})
    wrap = {k: user.pop(k) for k in WRAPPER_PARAMS if k in user}
    kwargs = {**model_params(name, fast), **user, "seed": user.get("seed", seed)}
    if target_bounds is not None:
        kwargs["target_bounds"] = [list(b) for b in target_bounds]
    estimator = make_model(name, **kwargs)
    if wrap.get("tune") not in (None, "none"):
        grid = wrap["tune"]
        if grid == "auto":
            if name != "bhn":
                raise InputError(f"tune=auto has a grid for bhn only; give {name}.tune a list")
            grid = "bhn"
        estimator = TunedRegressor(
            estimator, grid=grid, cv=int(wrap.get("tune_cv", 3)),
            metric=wrap.get("tune_metric", "nll"), seed=seed,
            search_params=wrap.get("tune_search_params"),
        )  # fmt: skip
    if calibrate:
        folds = wrap.get("calibration_folds", calibration_folds(n_rows, fast))
        method = wrap.get("calibration_method", "plus")
        estimator = ConformalRegressor(estimator, cv=int(folds), method=method, seed=seed)
    return estimator


def check_models(
    models: Sequence[str],
    params: Mapping[str, Mapping[str, Any]],
    X: np.ndarray,
    Y: np.ndarray,
    *,
    fast: bool = False,
    calibrate: bool = True,
    seed: int = 0,
    target_names: Sequence[str] | None = None,
) -> None:
    """Check every model's name and parameters, and every target's rows, before any fit.

    Parameters
    ----------
    models : sequence of str
        Model names.
    params : mapping
        Parameters per model name (see :func:`build_estimator`).
    X : numpy.ndarray
        ``(n, d)`` inputs.
    Y : numpy.ndarray
        ``(n, t)`` targets, NaN where missing.
    fast, calibrate : bool
        As for :func:`build_estimator`.
    seed : int
        Seed.
    target_names : sequence of str, optional
        Names of the targets, for the messages.

    Raises
    ------
    psplab.errors.InputError
        One line per problem found (ResourceError for sizes beyond the bounds).
    """
    if not models:
        raise InputError("no model to fit (give at least one model name)")
    rows = (~np.isnan(Y)).sum(axis=0)
    names = (
        list(target_names) if target_names is not None else [str(j + 1) for j in range(len(rows))]
    )
    few = [f"target {names[j]} has {int(rows[j])} row(s) with a value; a fit needs at least 2"
           for j in np.flatnonzero(rows < 2)]  # fmt: skip
    if few:
        raise InputError(few)
    keep = ~np.isnan(Y[:, int(np.argmax(rows))])
    for name in models:
        est = build_estimator(name, params.get(name), seed=seed, fast=fast, calibrate=calibrate)
        est.check_params(X[keep], np.nan_to_num(Y[keep]))


def dataset_arrays(dataset, targets: Sequence[str] | None = None, group: str | None = None):
    """Inputs, targets, their names and bounds, and the group labels of a dataset.

    Parameters
    ----------
    dataset : psplab.data.Dataset
        A validated dataset.
    targets : sequence of str, optional
        Subset of the targets (default: every numeric structure/property column).
    group : str, optional
        Column whose values label the groups.

    Returns
    -------
    X : numpy.ndarray
        ``(n, d)`` encoded inputs.
    Y : numpy.ndarray
        ``(n, t)`` targets, NaN where missing.
    names : list of str
        Target names.
    bounds : list of (min, max)
        The spec's bounds of each target (``None`` for an open side).
    groups : numpy.ndarray or None
        Group label per row.
    """
    names = list(targets) if targets is not None else list(dataset.target_names)
    if not names:
        raise InputError("the dataset has no numeric structure or property column to predict")
    unknown = [t for t in names if t not in dataset.target_names]
    if unknown:
        raise InputError(f"not a numeric target of the spec: {', '.join(unknown)}")
    X, _ = dataset.input_matrix()
    if X.shape[1] == 0:
        raise InputError("the spec has no processing (input) column")
    Y = dataset.target_matrix(names)
    by_name = {c.name: c for c in dataset.spec.columns}
    bounds = [(by_name[t].min, by_name[t].max) for t in names]
    groups = None
    if group is not None:
        if group not in dataset.frame.columns:
            raise InputError(f"--group {group!r} is not a column of the spec")
        groups = dataset.frame[group].astype(str).to_numpy()
    return X, Y, names, bounds, groups


@dataclass
class FittedPart:
    """One fitted estimator and the targets it predicts (targets sharing missing rows)."""

    targets: list[str]
    estimator: Any
    rows: int


@dataclass
class PredictionTable:
    """What :meth:`FittedModel.predict_table` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        The input rows with ``<target>_mean, _std, _q05, _q95`` (calibrated),
        ``_std_raw, _q05_raw, _q95_raw`` (the model's own), ``_domain`` and ``_in_domain``
        per target, and ``in_domain`` (inside for every target).
    out_of_domain_rows : list of int
        1-based row numbers outside the applicability domain of some target.
    """

    table: pd.DataFrame
    out_of_domain_rows: list[int] = field(default_factory=list)


@dataclass
class FittedModel:
    """A model fitted on every target of a dataset, with the encoder of its inputs."""

    model: str
    params: dict[str, Any]
    parts: list[FittedPart]
    encoder: Any
    spec: Any
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def targets(self) -> list[str]:
        """Every target predicted, in the spec's order."""
        return [t for part in self.parts for t in part.targets]

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Check the processing columns of ``frame`` as ``psplab validate`` does; encode them.

        Parameters
        ----------
        frame : pandas.DataFrame
            A table with (at least) the spec's processing columns.

        Returns
        -------
        X : numpy.ndarray
            Encoded inputs; :class:`psplab.errors.SpecError` lists every bad cell otherwise.
        """
        from psplab.data.dataset import validate_frame
        from psplab.data.spec import Problem, SpecError

        inputs = self.spec.processing
        missing = [
            Problem("input column missing from the file", column=c.name)
            for c in inputs
            if c.name not in frame.columns
        ]
        if missing:
            raise SpecError(missing)
        input_spec = replace(self.spec, columns=tuple(inputs), id=None)
        typed, problems = validate_frame(input_spec, frame[[c.name for c in inputs]])
        if problems:
            raise SpecError(problems)
        return self.encoder.transform(typed)

    def predict_table(self, frame: pd.DataFrame) -> PredictionTable:
        """Predictions with intervals and domain flags for every row of ``frame``.

        Parameters
        ----------
        frame : pandas.DataFrame
            Rows to predict; other columns pass through unchanged.

        Returns
        -------
        result : PredictionTable
            The table and the rows outside the applicability domain.
        """
        X = self.encode(frame)
        result = frame.copy()
        inside = np.ones(len(frame), dtype=bool)
        for part in self.parts:
            p = part.estimator.predict_summary(X)
            for c, name in enumerate(part.targets):
                for suffix, values in (
                    ("mean", p.mean), ("std", p.std), ("q05", p.lo), ("q95", p.hi),
                    ("std_raw", p.std_raw), ("q05_raw", p.lo_raw), ("q95_raw", p.hi_raw),
                ):  # fmt: skip
                    result[f"{name}_{suffix}"] = values[:, c]
                result[f"{name}_domain"] = p.domain
                result[f"{name}_in_domain"] = p.in_domain
            inside &= p.in_domain
        result["in_domain"] = inside
        return PredictionTable(result, [int(i) + 1 for i in np.flatnonzero(~inside)])

    def save(self, out: str | Path) -> dict[str, Any]:
        """Write the run directory (models, encoder, spec copy, ``fit.json``).

        Parameters
        ----------
        out : str or pathlib.Path
            Directory to write (created if missing).

        Returns
        -------
        files : dict
            Written files by role (for the manifest).
        """
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        parts, files = [], []
        for i, part in enumerate(self.parts):
            base = out / f"model_{i}"
            part.estimator.save(base)
            files += [base.with_suffix(".npz"), base.with_suffix(".json")]
            parts.append({"file": base.name, "targets": part.targets, "rows": part.rows})
        (out / "encoder.json").write_text(json.dumps(self.encoder.to_dict(), indent=2))
        self.spec.to_toml(out / "spec.toml")
        info = {"format": MODEL_FORMAT, "model": self.model, "params": self.params,
                "targets": self.targets, "parts": parts, "settings": self.settings}  # fmt: skip
        (out / FIT_INFO).write_text(json.dumps(info, indent=2))
        return {"models": files, "encoder": out / "encoder.json", "spec": out / "spec.toml",
                "fit": out / FIT_INFO}  # fmt: skip


def fit_dataset(
    dataset,
    model: str = "bhn",
    params: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    group: str | None = None,
    fast: bool = False,
    calibrate: bool = True,
    progress: bool = True,
) -> FittedModel:
    """Fit ``model`` on every target of ``dataset`` (targets sharing missing rows share a fit).

    Parameters
    ----------
    dataset : psplab.data.Dataset
        A validated dataset.
    model : str
        A registered model name.
    params : mapping, optional
        See :func:`build_estimator`.
    seed : int
        Seed of the model and the calibration folds.
    group : str, optional
        Column of group labels: the calibration folds hold out whole groups.
    fast : bool
        The model's cheap configuration.
    calibrate : bool
        Conformal (CV+) calibration of the intervals.
    progress : bool
        Show which part is being fitted.

    Returns
    -------
    fitted : FittedModel
        Ready to predict or save.
    """
    from psplab.data.dataset import InputEncoder
    from psplab.models.conformal import ConformalRegressor
    from psplab.models.evaluation import target_groups
    from psplab.progress import stage

    X, Y, names, bounds, groups = dataset_arrays(dataset, None, group)
    params = dict(params or {})
    check_models(
        [model],
        {model: params},
        X,
        Y,
        fast=fast,
        calibrate=calibrate,
        seed=seed,
        target_names=names,
    )
    parts = []
    for cols in target_groups(Y):
        keep = ~np.isnan(Y[:, cols[0]])
        if keep.sum() < 2:
            raise InputError(
                f"{', '.join(names[j] for j in cols)}: {int(keep.sum())} row(s) with a value; "
                "a fit needs at least 2"
            )
        est = build_estimator(model, params, seed=seed, fast=fast, calibrate=calibrate,
                              target_bounds=[bounds[j] for j in cols], n_rows=int(keep.sum()))  # fmt: skip
        fit_args = (X[keep], Y[np.ix_(keep, cols)], None if groups is None else groups[keep])
        if progress and isinstance(est, ConformalRegressor):
            label = f"fitting {model} on {', '.join(names[j] for j in cols)} (full + folds)"
            with stage(label, total=None) as (bar, task):
                est.fit(
                    *fit_args,
                    on_fit=lambda done, total: bar.update(task, completed=done, total=total),
                )
        else:
            est.fit(*fit_args)
        parts.append(FittedPart([names[j] for j in cols], est, int(keep.sum())))
    settings = {"seed": seed, "group": group, "fast": fast, "calibrate": calibrate}
    return FittedModel(
        model, params, parts, InputEncoder.from_dataset(dataset), dataset.spec, settings
    )


def load_model(run_dir: str | Path) -> FittedModel:
    """Load what ``psplab fit`` (or :meth:`FittedModel.save`) wrote to ``run_dir``.

    Parameters
    ----------
    run_dir : str or pathlib.Path
        The run directory.

    Returns
    -------
    fitted : FittedModel
        Predicts exactly as ``psplab predict`` does (:meth:`FittedModel.predict_table`).
    """
    from psplab.data.dataset import InputEncoder
    from psplab.data.spec import DatasetSpec
    from psplab.models.registry import load_estimator

    run = Path(run_dir)
    info_path = run / FIT_INFO
    if not info_path.is_file():
        raise ModelFileError(f"{run}: no {FIT_INFO}: not a `psplab fit` run directory")
    _check_run_files(run)
    try:
        info = json.loads(info_path.read_text())
        if int(info.get("format", 1)) > MODEL_FORMAT:
            raise ModelFileError(
                f"{run}: written by a newer psplab (model format {info['format']})"
            )
        spec = DatasetSpec.from_toml(run / "spec.toml")
        encoder = InputEncoder.from_dict(json.loads((run / "encoder.json").read_text()))
        parts = [
            FittedPart(list(p["targets"]), load_estimator(run / p["file"]), int(p["rows"]))
            for p in info["parts"]
        ]
        fitted = FittedModel(
            info["model"], info.get("params", {}), parts, encoder, spec, info.get("settings", {})
        )
    except (OSError, KeyError, TypeError, AttributeError, ValueError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{run}: cannot read the fitted model ({reason})") from None
    _probe(fitted, run)
    return fitted


def _check_run_files(run: Path) -> None:
    """The manifest's checksums and schema: a changed, truncated or missing file is named."""
    from psplab.manifest import MANIFEST_NAME, MANIFEST_SCHEMA, verify_checksums

    problems = verify_checksums(run)
    try:
        schema = json.loads((run / MANIFEST_NAME).read_text()).get("schema", 1)
    except (OSError, ValueError, AttributeError):
        schema = 1  # no manifest (or a damaged one, named by verify_checksums)
    if isinstance(schema, int) and schema > MANIFEST_SCHEMA:
        problems.append(f"{run}: written by a newer psplab (manifest schema {schema})")
    if problems:
        raise ModelFileError(problems)


def _probe(fitted: FittedModel, run: Path) -> None:
    """Predict one row: arrays of the wrong shape or content fail here, as one clear line."""
    X = np.zeros((1, len(fitted.encoder.feature_names)))
    for part in fitted.parts:
        try:
            summary = part.estimator.predict_summary(X)
            finite = np.isfinite(np.asarray(summary.mean, dtype=float)).all()
        except Exception as exc:  # noqa: BLE001 - any failure means the files do not fit
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFileError(f"{run}: the model files do not fit together ({reason})") from None
        if not finite:
            raise ModelFileError(f"{run}: the model files give non-finite predictions")
