"""Processing values -> the generator's standardized input features (JSON-serializable)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from psplab.errors import InputError

WIDE_RANGE_FACTOR = 20.0  # a positive column spanning more than this factor enters as its log


@dataclass
class FeatureMap:
    """How processing columns become features: one-hot categoricals, logs, standardization.

    A numeric column whose training values are all positive and span more than
    :data:`WIDE_RANGE_FACTOR` (hold times, cooling rates) enters as its logarithm, so that
    equal ratios are equal steps; every feature is then standardized with the training mean
    and standard deviation.

    Attributes
    ----------
    names : list of str
        Processing columns, in input order.
    levels : dict of str to list of str
        Levels of each categorical column (one-hot, in this order).
    log_columns : list of str
        Numeric columns taken as logarithms.
    mean, scale : list of float
        Standardization of the encoded features.
    minimum, maximum : dict of str to float
        Training range of each numeric column (to flag extrapolation).
    """

    names: list[str]
    levels: dict[str, list[str]]
    log_columns: list[str]
    mean: list[float]
    scale: list[float]
    minimum: dict[str, float]
    maximum: dict[str, float]

    @classmethod
    def fit(cls, frame: pd.DataFrame, categorical: list[str]) -> FeatureMap:
        """Learn the map from the training fields' processing values."""
        names = [str(c) for c in frame.columns]
        levels = {c: sorted({str(v) for v in frame[c]}) for c in names if c in categorical}
        numeric = [c for c in names if c not in levels]
        logs = []
        for c in numeric:
            v = frame[c].to_numpy(dtype=float)
            if np.all(v > 0) and v.max() > WIDE_RANGE_FACTOR * v.min():
                logs.append(c)
        fm = cls(names, levels, logs, [], [], {}, {})
        raw = fm._encode(frame)
        scale = raw.std(axis=0)
        fm.mean = raw.mean(axis=0).tolist()
        fm.scale = np.where(scale > 1e-12, scale, 1.0).tolist()
        fm.minimum = {c: float(frame[c].astype(float).min()) for c in numeric}
        fm.maximum = {c: float(frame[c].astype(float).max()) for c in numeric}
        return fm

    @property
    def n_features(self) -> int:
        """Length of a feature vector."""
        return len(self.mean)

    def _encode(self, frame: pd.DataFrame) -> np.ndarray:
        blocks = []
        for c in self.names:
            if c in self.levels:
                values = frame[c].astype(str).to_numpy()
                blocks.append((values[:, None] == np.array(self.levels[c])[None, :]).astype(float))
            else:
                v = frame[c].to_numpy(dtype=float)
                blocks.append((np.log(v) if c in self.log_columns else v)[:, None])
        return np.hstack(blocks)

    def transform(self, recipes: Any) -> np.ndarray:
        """Standardized features ``(n, n_features)`` of recipes.

        Parameters
        ----------
        recipes : pandas.DataFrame, mapping or array
            A table with the processing columns (extra columns ignored), one recipe as a
            mapping, or an array ``(n, n_columns)`` of numeric columns in :attr:`names` order.

        Raises
        ------
        InputError
            Naming a missing column, a non-numeric or non-finite value, a non-positive value
            of a log column or an unknown category.
        """
        frame = self._as_frame(recipes)
        problems = [f"recipe column {c!r} is missing" for c in self.names if c not in frame]
        if problems:
            raise InputError(problems)
        for c in self.names:
            if c in self.levels:
                bad = sorted({str(v) for v in frame[c]} - set(self.levels[c]))
                if bad:
                    problems.append(f"{c}: unknown level(s) {', '.join(map(repr, bad))}")
                continue
            v = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
            if not np.all(np.isfinite(v)):
                row = int(np.flatnonzero(~np.isfinite(v))[0]) + 1
                problems.append(f"{c}: missing or non-numeric value in recipe {row}")
            elif c in self.log_columns and np.any(v <= 0):
                problems.append(f"{c}: must be positive (the model uses its logarithm)")
            frame[c] = v
        if problems:
            raise InputError(problems)
        return (self._encode(frame) - np.asarray(self.mean)) / np.asarray(self.scale)

    def _as_frame(self, recipes: Any) -> pd.DataFrame:
        if isinstance(recipes, pd.DataFrame):
            return recipes.copy()
        if isinstance(recipes, dict):
            return pd.DataFrame([recipes])
        arr = np.atleast_2d(np.asarray(recipes, dtype=float))
        if self.levels or arr.shape[1] != len(self.names):
            raise InputError(
                f"recipes as an array need {len(self.names)} numeric columns "
                f"({', '.join(self.names)}); got shape {arr.shape}"
            )
        return pd.DataFrame(arr, columns=self.names)

    def outside_training_range(self, recipes: Any) -> list[str]:
        """One line per numeric column where some recipe lies outside the training range.

        Raises
        ------
        InputError
            For recipes :meth:`transform` refuses (a missing column, a non-numeric value).
        """
        self.transform(recipes)
        frame = self._as_frame(recipes)
        lines = []
        for c, lo in self.minimum.items():
            v = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
            hi = self.maximum[c]
            if np.any(v < lo) or np.any(v > hi):
                lines.append(f"{c}: outside the training range [{lo:g}, {hi:g}]")
        return lines

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "names": self.names,
            "levels": self.levels,
            "log_columns": self.log_columns,
            "mean": self.mean,
            "scale": self.scale,
            "minimum": self.minimum,
            "maximum": self.maximum,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureMap:
        """Inverse of :meth:`to_dict`."""
        fm = cls(
            names=[str(n) for n in d["names"]],
            levels={str(k): [str(x) for x in v] for k, v in d["levels"].items()},
            log_columns=[str(c) for c in d["log_columns"]],
            mean=[float(x) for x in d["mean"]],
            scale=[float(x) for x in d["scale"]],
            minimum={str(k): float(v) for k, v in d["minimum"].items()},
            maximum={str(k): float(v) for k, v in d["maximum"].items()},
        )
        if len(fm.mean) != len(fm.scale) or not all(math.isfinite(s) and s > 0 for s in fm.scale):
            raise ValueError("feature standardization is inconsistent")
        return fm
