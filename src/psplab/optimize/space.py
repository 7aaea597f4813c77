"""Search spaces over processing parameters: bounds, fixed values, linear constraints, choices.

Candidates live in an *internal* coordinate array ``U`` of shape ``(n, p)`` (one column per
parameter): continuous and integer parameters are scaled to ``[0, 1]`` between their bounds
(log-scaled when ``log=True``), categorical parameters hold the index of their choice. Models see
:meth:`SearchSpace.features` of ``U``: the scaled numbers plus one-hot blocks for categoricals, so a
fitted model's inputs are always well conditioned whatever the physical units.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from psplab.errors import InputError
from psplab.optimize.constraints import LinearConstraint

__all__ = ["KINDS", "LinearConstraint", "Parameter", "SearchSpace"]

KINDS = ("continuous", "integer", "categorical")
# Relative slack on linear constraints (constraints are in physical units).
FEASIBILITY_TOL = 1e-6


@dataclass(frozen=True)
class Parameter:
    """One processing parameter of the search.

    Parameters
    ----------
    name : str
        Column name, e.g. ``"hold_temperature_C"``.
    kind : str
        ``"continuous"``, ``"integer"`` or ``"categorical"``.
    low, high : float, optional
        Bounds (numeric kinds), in the parameter's unit.
    choices : tuple, optional
        Levels (categorical kind).
    unit : str, optional
        Unit text for labels.
    log : bool
        Search on a log scale (positive bounds only); handy for times and rates spanning decades.
    """

    name: str
    kind: str = "continuous"
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    unit: str | None = None
    log: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(
                f"parameter {self.name!r}: unknown kind {self.kind!r} (expected {KINDS})"
            )
        if self.kind == "categorical":
            if not self.choices:
                raise InputError(f"parameter {self.name!r}: a categorical parameter needs choices")
            object.__setattr__(self, "choices", tuple(self.choices))
            return
        if self.low is None or self.high is None:
            raise InputError(f"parameter {self.name!r}: needs both low and high bounds")
        low, high = float(self.low), float(self.high)
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            raise InputError(f"parameter {self.name!r}: bad bounds [{low}, {high}]")
        if self.log and low <= 0:
            raise InputError(f"parameter {self.name!r}: log scale needs positive bounds")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def is_numeric(self) -> bool:
        """Whether the parameter is continuous or integer (not categorical)."""
        return self.kind != "categorical"

    def label(self) -> str:
        """``name [unit]`` for axis labels.

        Returns
        -------
        str
        """
        return f"{self.name} [{self.unit}]" if self.unit else self.name

    # internal <-> physical, for numeric kinds
    def to_unit(self, x: np.ndarray) -> np.ndarray:
        """Physical values -> internal coordinates in ``[0, 1]`` (log-scaled when ``log``).

        Parameters
        ----------
        x : numpy.ndarray
            Values in the parameter's unit.

        Returns
        -------
        numpy.ndarray
        """
        x = np.asarray(x, dtype=float)
        lo, hi = float(self.low), float(self.high)
        if hi == lo:
            return np.full_like(x, 0.5)
        if self.log:
            return (np.log(x) - math.log(lo)) / (math.log(hi) - math.log(lo))
        return (x - lo) / (hi - lo)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Internal coordinates -> physical values, clipped to the bounds (rounded for integers).

        Parameters
        ----------
        u : numpy.ndarray
            Internal coordinates (clipped to ``[0, 1]``).

        Returns
        -------
        numpy.ndarray
        """
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        lo, hi = float(self.low), float(self.high)
        if self.log:
            x = np.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
        else:
            x = lo + u * (hi - lo)
        if self.kind == "integer":
            x = np.clip(np.round(x), math.ceil(lo), math.floor(hi))
        return np.clip(x, lo, hi)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (inverse of :meth:`from_dict`).

        Returns
        -------
        dict
        """
        d: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.is_numeric:
            d.update(low=self.low, high=self.high, log=self.log)
        else:
            d["choices"] = list(self.choices or ())
        if self.unit:
            d["unit"] = self.unit
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Parameter:
        """A parameter from :meth:`to_dict`'s output.

        Parameters
        ----------
        d : mapping
            ``name``, ``kind`` and the bounds or choices.

        Returns
        -------
        Parameter
        """
        choices = d.get("choices")
        return cls(
            name=str(d["name"]),
            kind=str(d.get("kind", "continuous")),
            low=d.get("low"),
            high=d.get("high"),
            choices=None if choices is None else tuple(choices),
            unit=d.get("unit"),
            log=bool(d.get("log", False)),
        )


@dataclass
class SearchSpace:
    """Parameters to search, values held fixed, and linear constraints between parameters.

    Methods that take ``U`` expect internal coordinates, an array of shape ``(n, dim)``.

    Parameters
    ----------
    parameters : sequence of Parameter
        The parameters, in column order.
    fixed : mapping, optional
        ``{name: value}`` for parameters held at one value (they stay model inputs, so data
        measured at other values still informs the model).
    constraints : sequence of LinearConstraint or str
        :class:`LinearConstraint` objects (or their text) over numeric, non-log parameters.
    """

    parameters: Sequence[Parameter]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    constraints: Sequence[LinearConstraint | str] = ()

    def __post_init__(self) -> None:
        self.parameters = list(self.parameters)
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise InputError("parameter names must be unique")
        if not names:
            raise InputError("a search space needs at least one parameter")
        by_name = {p.name: p for p in self.parameters}
        fixed = {}
        for name, value in dict(self.fixed).items():
            if name not in by_name:
                raise InputError(f"fixed value for unknown parameter {name!r}")
            p = by_name[name]
            if p.is_numeric:
                value = float(value)
                if not (p.low - 1e-12 <= value <= p.high + 1e-12):
                    raise InputError(f"fixed {name}={value:g} is outside [{p.low:g}, {p.high:g}]")
            elif value not in p.choices:
                raise InputError(f"fixed {name}={value!r} is not one of {list(p.choices)}")
            fixed[name] = value
        self.fixed = fixed
        cons = []
        for c in self.constraints:
            c = LinearConstraint.parse(c) if isinstance(c, str) else c
            for name in c.coefficients:
                if name not in by_name:
                    raise InputError(f"constraint {c}: unknown parameter {name!r}")
                if not by_name[name].is_numeric or by_name[name].log:
                    raise InputError(
                        f"constraint {c}: {name!r} must be a numeric parameter on a linear scale"
                    )
            cons.append(c)
        self.constraints = cons

    # --- shapes -------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Parameter names, in column order."""
        return [p.name for p in self.parameters]

    @property
    def dim(self) -> int:
        """Number of parameters (columns of the internal coordinates)."""
        return len(self.parameters)

    def parameter(self, name: str) -> Parameter:
        """The parameter called ``name``.

        Parameters
        ----------
        name : str
            Its name.

        Returns
        -------
        Parameter
        """
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(f"no parameter {name!r} in the search space")

    @property
    def feature_names(self) -> list[str]:
        """Names of the model inputs of :meth:`features` (``name=level`` for one-hot columns)."""
        out = []
        for p in self.parameters:
            if p.is_numeric:
                out.append(p.name)
            else:
                out.extend(f"{p.name}={c}" for c in p.choices)
        return out

    # --- conversions --------------------------------------------------------------------
    def to_internal(self, records: pd.DataFrame | Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Internal coordinates of physical records.

        Parameters
        ----------
        records : pandas.DataFrame or sequence of mapping
            One record per point, with a column per parameter.

        Returns
        -------
        numpy.ndarray
            ``(n, dim)``.
        """
        frame = records if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
        U = np.zeros((len(frame), self.dim))
        for j, p in enumerate(self.parameters):
            if p.name not in frame.columns:
                raise KeyError(f"records lack parameter column {p.name!r}")
            if p.is_numeric:
                U[:, j] = np.clip(p.to_unit(frame[p.name].to_numpy(dtype=float)), 0.0, 1.0)
            else:
                lookup = {str(c): i for i, c in enumerate(p.choices)}
                values = [str(v) for v in frame[p.name]]
                bad = [v for v in values if v not in lookup]
                if bad:
                    raise InputError(f"parameter {p.name!r}: unknown level {bad[0]!r}")
                U[:, j] = [lookup[v] for v in values]
        return U

    def to_records(self, U: np.ndarray) -> list[dict[str, Any]]:
        """Physical ``{name: value}`` dicts (floats, ints for integer kinds, levels).

        Parameters
        ----------
        U : numpy.ndarray
            Points in internal coordinates, one row each.

        Returns
        -------
        list of dict
        """
        U = np.atleast_2d(U)
        cols = {}
        for j, p in enumerate(self.parameters):
            if p.is_numeric:
                values = p.from_unit(U[:, j])
                cols[p.name] = [int(v) if p.kind == "integer" else float(v) for v in values]
            else:
                idx = np.clip(np.round(U[:, j]).astype(int), 0, len(p.choices) - 1)
                cols[p.name] = [p.choices[i] for i in idx]
        return [{name: cols[name][i] for name in self.names} for i in range(U.shape[0])]

    def to_frame(self, U: np.ndarray) -> pd.DataFrame:
        """:meth:`to_records` as a frame with one column per parameter.

        Parameters
        ----------
        U : numpy.ndarray
            The points to convert.

        Returns
        -------
        pandas.DataFrame
        """
        return pd.DataFrame(self.to_records(U), columns=self.names)

    def physical(self, U: np.ndarray) -> dict[str, np.ndarray]:
        """Numeric parameters in physical units, as arrays (for constraints and plots).

        Parameters
        ----------
        U : numpy.ndarray
            Points; values outside [0, 1] are clipped to the bounds.

        Returns
        -------
        dict of str to numpy.ndarray
        """
        U = np.atleast_2d(U)
        return {p.name: p.from_unit(U[:, j]) for j, p in enumerate(self.parameters) if p.is_numeric}

    def features(self, U: np.ndarray) -> np.ndarray:
        """Model inputs: scaled numbers in [0, 1] and one-hot categoricals.

        Parameters
        ----------
        U : numpy.ndarray
            Points to encode for the model.

        Returns
        -------
        numpy.ndarray
            ``(n, len(feature_names))``.
        """
        U = np.atleast_2d(U)
        blocks = []
        for j, p in enumerate(self.parameters):
            if p.is_numeric:
                # Snap integers so the model sees the value that will actually be run.
                blocks.append(p.to_unit(p.from_unit(U[:, j]))[:, None])
            else:
                idx = np.clip(np.round(U[:, j]).astype(int), 0, len(p.choices) - 1)
                blocks.append(np.eye(len(p.choices))[idx])
        return np.hstack(blocks)

    # --- feasibility --------------------------------------------------------------------
    def _fixed_internal(self) -> dict[int, float]:
        out = {}
        for j, p in enumerate(self.parameters):
            if p.name in self.fixed:
                value = self.fixed[p.name]
                out[j] = (
                    float(p.to_unit(np.array([value]))[0])
                    if p.is_numeric
                    else float(p.choices.index(value))
                )
        return out

    def free_mask(self) -> np.ndarray:
        """True for parameters the optimizer may move.

        Returns
        -------
        numpy.ndarray
            ``(dim,)`` booleans.
        """
        return np.array([p.name not in self.fixed for p in self.parameters])

    def repair(self, U: np.ndarray, iterations: int = 60) -> np.ndarray:
        """Snap ``U`` onto the space: fixed values, bounds, integer grid, linear constraints.

        Constraints are met by alternating projections onto each violated half-space or
        hyperplane (in internal coordinates of the free continuous parameters) and the box; points
        that still violate a constraint are left for :meth:`is_feasible` to discard.

        Parameters
        ----------
        U : numpy.ndarray
            Points to repair (a copy is returned).
        iterations : int
            Rounds of alternating projections.

        Returns
        -------
        numpy.ndarray
            A repaired copy.
        """
        U = np.array(np.atleast_2d(U), dtype=float, copy=True)
        fixed = self._fixed_internal()
        for j, p in enumerate(self.parameters):
            if p.is_numeric:
                U[:, j] = np.clip(U[:, j], 0.0, 1.0)
            else:
                U[:, j] = np.clip(np.round(U[:, j]), 0, len(p.choices) - 1)
        for j, v in fixed.items():
            U[:, j] = v
        if self.constraints:
            index = {p.name: j for j, p in enumerate(self.parameters)}
            movable = [
                j
                for j, p in enumerate(self.parameters)
                if p.kind == "continuous" and p.name not in self.fixed
            ]
            # a.x in physical units = (a*w).u + a.low for linear parameters.
            rows = []
            for c in self.constraints:
                a = np.zeros(self.dim)
                offset = 0.0
                for name, coef in c.coefficients.items():
                    p = self.parameters[index[name]]
                    a[index[name]] = coef * (p.high - p.low)
                    offset += coef * p.low
                rows.append((a, c.rhs - offset, c.op))
            move = np.zeros(self.dim, dtype=bool)
            move[movable] = True
            for _ in range(iterations):
                for a, b, op in rows:
                    am = np.where(move, a, 0.0)
                    norm2 = float(am @ am)
                    if norm2 == 0.0:
                        continue
                    r = U @ a - b
                    if op == "<=":
                        r = np.maximum(r, 0.0)
                    elif op == ">=":
                        r = np.minimum(r, 0.0)
                    U -= np.outer(r / norm2, am)
                U[:, movable] = np.clip(U[:, movable], 0.0, 1.0)
            for j, p in enumerate(self.parameters):
                if p.kind == "integer":
                    U[:, j] = p.to_unit(p.from_unit(U[:, j]))
        return U

    def is_feasible(self, U: np.ndarray) -> np.ndarray:
        """Which rows satisfy every constraint (bounds and fixed values are enforced by repair).

        Parameters
        ----------
        U : numpy.ndarray
            Candidate points, after :meth:`repair`.

        Returns
        -------
        numpy.ndarray
            ``(n,)`` booleans.
        """
        U = np.atleast_2d(U)
        ok = np.ones(U.shape[0], dtype=bool)
        if not self.constraints:
            return ok
        values = self.physical(U)
        for c in self.constraints:
            r = c.residual(values)
            tol = FEASIBILITY_TOL * c.scale()
            if c.op == "<=":
                ok &= r <= tol
            elif c.op == ">=":
                ok &= r >= -tol
            else:
                ok &= np.abs(r) <= tol
        return ok

    # --- sampling -----------------------------------------------------------------------
    def raw_sample(self, n: int, rng: np.random.Generator, method: str = "sobol") -> np.ndarray:
        """``n`` points in the box (before repair): Sobol, Latin hypercube or uniform random.

        Parameters
        ----------
        n : int
            Number of points.
        rng : numpy.random.Generator
            Source of the design's seed.
        method : str
            ``"sobol"``, ``"lhs"`` or ``"random"``.

        Returns
        -------
        numpy.ndarray
            Internal coordinates ``(n, dim)`` (see the class docstring).
        """
        if n <= 0:
            return np.zeros((0, self.dim))
        from scipy.stats import qmc

        seed = int(rng.integers(2**31 - 1))
        if method == "sobol":
            m = max(1, math.ceil(math.log2(n)))
            base = qmc.Sobol(d=self.dim, scramble=True, seed=seed).random_base2(m)[:n]
        elif method == "lhs":
            base = qmc.LatinHypercube(d=self.dim, seed=seed).random(n)
        elif method == "random":
            base = rng.random((n, self.dim))
        else:
            raise InputError(f"unknown sampling method {method!r} (sobol, lhs, random)")
        U = base.copy()
        for j, p in enumerate(self.parameters):
            if not p.is_numeric:
                U[:, j] = np.minimum(np.floor(base[:, j] * len(p.choices)), len(p.choices) - 1)
        return U

    def sample(self, n: int, seed: int = 0, method: str = "sobol") -> np.ndarray:
        """``n`` feasible points in internal coordinates.

        Parameters
        ----------
        n : int
            Number of points.
        seed : int
            Seed of the design.
        method : str
            ``"sobol"``, ``"lhs"`` or ``"random"``.

        Returns
        -------
        numpy.ndarray
            ``(n, dim)``.

        Raises
        ------
        psplab.errors.InputError
            When the constraints leave no room inside the bounds.
        """
        rng = np.random.default_rng(seed)
        out: list[np.ndarray] = []
        have = 0
        for _ in range(20):
            U = self.repair(self.raw_sample(max(2 * (n - have), 8), rng, method))
            U = U[self.is_feasible(U)]
            out.append(U)
            have += len(U)
            if have >= n:
                break
        U = np.vstack(out)
        if len(U) < n:
            raise InputError(
                "could not find feasible points: the constraints leave no room inside the bounds"
            )
        # Keep the design's order (a Sobol prefix stays balanced); random draws are shuffled
        # so that rejection by the constraints does not bias which ones are kept.
        return U[rng.permutation(len(U))[:n]] if method == "random" else U[:n]

    def center(self) -> np.ndarray:
        """The centre of the bounds (first choice for categoricals), repaired onto the space.

        Returns
        -------
        numpy.ndarray
            ``(1, dim)`` internal coordinates.
        """
        U = np.full((1, self.dim), 0.5)
        for j, p in enumerate(self.parameters):
            if not p.is_numeric:
                U[0, j] = 0.0
        return self.repair(U)

    # --- persistence --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (inverse of :meth:`from_dict`).

        Returns
        -------
        dict
        """
        return {
            "parameters": [p.to_dict() for p in self.parameters],
            "fixed": dict(self.fixed),
            "constraints": [c.to_dict() for c in self.constraints],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SearchSpace:
        """A space from :meth:`to_dict`'s output.

        Parameters
        ----------
        d : mapping
            ``parameters``; ``fixed`` and ``constraints`` may be left out (none).

        Returns
        -------
        SearchSpace
            Checked as the constructor checks any space.
        """
        return cls(
            parameters=[Parameter.from_dict(p) for p in d["parameters"]],
            fixed=dict(d.get("fixed", {})),
            constraints=[LinearConstraint.from_dict(c) for c in d.get("constraints", [])],
        )

    @classmethod
    def from_spec(
        cls,
        spec: Any,
        *,
        fixed: Mapping[str, Any] | None = None,
        constraints: Iterable[str | LinearConstraint] = (),
        integers: Iterable[str] = (),
        choices: Mapping[str, Sequence[Any]] | None = None,
        log: Iterable[str] = (),
    ) -> SearchSpace:
        """A space over a :class:`psplab.data.spec.DatasetSpec`'s processing columns.

        Numeric columns need ``min`` and ``max`` in the spec (or a fixed value); categorical
        columns need their levels in ``choices``.

        Parameters
        ----------
        spec : psplab.data.spec.DatasetSpec
            The dataset spec.
        fixed : mapping, optional
            ``{column: value}`` held fixed.
        constraints : iterable of str or LinearConstraint
            Linear constraints.
        integers : iterable of str
            Columns searched on whole numbers.
        choices : mapping, optional
            ``{column: levels}`` of categorical columns.
        log : iterable of str
            Columns searched on a log scale.

        Returns
        -------
        SearchSpace

        Raises
        ------
        psplab.errors.InputError
            Naming each column that cannot be searched.
        """
        fixed = dict(fixed or {})
        choices = dict(choices or {})
        integers, log = set(integers), set(log)
        params, problems = [], []
        names = {c.name for c in spec.processing}
        for name in [*fixed, *choices, *integers, *log]:
            if name not in names:
                problems.append(f"column {name!r}: not a processing column of the spec")
        for col in spec.processing:
            if col.is_numeric:
                low, high = col.min, col.max
                if low is None or high is None:
                    if col.name in fixed:
                        low = high = float(fixed[col.name])
                    else:
                        problems.append(
                            f"column {col.name!r}: needs min and max in the spec (or a fixed value)"
                        )
                        continue
                kind = "integer" if col.name in integers else "continuous"
                params.append(
                    Parameter(col.name, kind, low, high, unit=col.unit, log=col.name in log)
                )
            else:
                levels = choices.get(col.name)
                if not levels:
                    if col.name in fixed:
                        levels = [fixed[col.name]]
                    else:
                        problems.append(
                            f"column {col.name!r}: categorical; give its levels with --choices"
                        )
                        continue
                params.append(
                    Parameter(col.name, "categorical", choices=tuple(levels), unit=col.unit)
                )
        if problems:
            raise InputError(problems)
        return cls(parameters=params, fixed=fixed, constraints=list(constraints))
