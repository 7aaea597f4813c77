"""Search spaces over processing parameters: bounds, fixed values, linear constraints, choices.

Candidates live in an *internal* coordinate array ``U`` of shape ``(n, p)`` (one column per
parameter): continuous and integer parameters are scaled to ``[0, 1]`` between their bounds
(log-scaled when ``log=True``), categorical parameters hold the index of their choice. Models see
:meth:`SearchSpace.features` of ``U``: the scaled numbers plus one-hot blocks for categoricals, so a
fitted model's inputs are always well conditioned whatever the physical units.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

KINDS = ("continuous", "integer", "categorical")
_FEAS_TOL = 1e-6  # relative slack on linear constraints (constraints are in physical units)


@dataclass(frozen=True)
class Parameter:
    """One processing parameter of the search.

    Parameters
    ----------
    name
        Column name, e.g. ``"hold_temperature_C"``.
    kind
        ``"continuous"``, ``"integer"`` or ``"categorical"``.
    low, high
        Bounds (numeric kinds), in the parameter's unit.
    choices
        Levels (categorical kind).
    unit
        Unit text for labels.
    log
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
            raise ValueError(
                f"parameter {self.name!r}: unknown kind {self.kind!r} (expected {KINDS})"
            )
        if self.kind == "categorical":
            if not self.choices:
                raise ValueError(f"parameter {self.name!r}: a categorical parameter needs choices")
            object.__setattr__(self, "choices", tuple(self.choices))
            return
        if self.low is None or self.high is None:
            raise ValueError(f"parameter {self.name!r}: needs both low and high bounds")
        low, high = float(self.low), float(self.high)
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            raise ValueError(f"parameter {self.name!r}: bad bounds [{low}, {high}]")
        if self.log and low <= 0:
            raise ValueError(f"parameter {self.name!r}: log scale needs positive bounds")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def is_numeric(self) -> bool:
        return self.kind != "categorical"

    def label(self) -> str:
        return f"{self.name} [{self.unit}]" if self.unit else self.name

    # internal <-> physical, for numeric kinds
    def to_unit(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        lo, hi = float(self.low), float(self.high)
        if hi == lo:
            return np.full_like(x, 0.5)
        if self.log:
            return (np.log(x) - math.log(lo)) / (math.log(hi) - math.log(lo))
        return (x - lo) / (hi - lo)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
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


@dataclass(frozen=True)
class LinearConstraint:
    """``sum(coefficients[name] * x[name]) <op> rhs`` in physical units; ``op`` in ``<=, >=, ==``.

    Build from text with :meth:`parse`, e.g. ``"Mg_wt_pct + Si_wt_pct <= 6"`` or
    ``"Fe + Cr + Ni == 100"`` (composition sums).
    """

    coefficients: Mapping[str, float]
    op: str
    rhs: float

    def __post_init__(self) -> None:
        if self.op not in ("<=", ">=", "=="):
            raise ValueError(f"constraint operator must be <=, >= or ==, got {self.op!r}")
        if not self.coefficients:
            raise ValueError("a constraint needs at least one parameter")
        object.__setattr__(
            self, "coefficients", {k: float(v) for k, v in self.coefficients.items()}
        )
        object.__setattr__(self, "rhs", float(self.rhs))

    @classmethod
    def parse(cls, text: str) -> LinearConstraint:
        """Parse ``"2*a + b - c <= 10"``; raises ``ValueError`` naming what is not linear."""
        for op in ("<=", ">=", "=="):
            if op in text:
                lhs_text, rhs_text = text.split(op, 1)
                break
        else:
            raise ValueError(f"constraint {text!r}: needs one of <=, >=, ==")
        lhs, c_lhs = _linear_terms(lhs_text, text)
        rhs, c_rhs = _linear_terms(rhs_text, text)
        coefs = dict(lhs)
        for name, value in rhs.items():
            coefs[name] = coefs.get(name, 0.0) - value
        coefs = {k: v for k, v in coefs.items() if v != 0.0}
        return cls(coefficients=coefs, op=op, rhs=c_rhs - c_lhs)

    def residual(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """``lhs - rhs``: <= 0 satisfies ``<=``, >= 0 satisfies ``>=``, 0 satisfies ``==``."""
        total = sum(
            coef * np.asarray(values[name], dtype=float) for name, coef in self.coefficients.items()
        )
        return np.asarray(total, dtype=float) - self.rhs

    def scale(self) -> float:
        return max(abs(self.rhs), *(abs(c) for c in self.coefficients.values()), 1.0)

    def __str__(self) -> str:
        terms = " + ".join(f"{c:g}*{n}" for n, c in self.coefficients.items())
        return f"{terms} {self.op} {self.rhs:g}"

    def to_dict(self) -> dict[str, Any]:
        return {"coefficients": dict(self.coefficients), "op": self.op, "rhs": self.rhs}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LinearConstraint:
        return cls(coefficients=dict(d["coefficients"]), op=str(d["op"]), rhs=float(d["rhs"]))


def _linear_terms(text: str, whole: str) -> tuple[dict[str, float], float]:
    """Coefficients and constant of a linear expression, walking the AST (no eval)."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"constraint {whole!r}: cannot parse {text.strip()!r}") from exc

    def walk(node: ast.AST) -> tuple[dict[str, float], float]:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return {}, float(node.value)
        if isinstance(node, ast.Name):
            return {node.id: 1.0}, 0.0
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            terms, const = walk(node.operand)
            sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
            return {k: sign * v for k, v in terms.items()}, sign * const
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
            lt, lc = walk(node.left)
            rt, rc = walk(node.right)
            sign = 1.0 if isinstance(node.op, ast.Add) else -1.0
            out = dict(lt)
            for k, v in rt.items():
                out[k] = out.get(k, 0.0) + sign * v
            return out, lc + sign * rc
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Div):
            lt, lc = walk(node.left)
            rt, rc = walk(node.right)
            if isinstance(node.op, ast.Div):
                if rt:
                    raise ValueError(f"constraint {whole!r}: division by a parameter is not linear")
                return {k: v / rc for k, v in lt.items()}, lc / rc
            if lt and rt:
                raise ValueError(f"constraint {whole!r}: product of parameters is not linear")
            if lt:
                return {k: v * rc for k, v in lt.items()}, lc * rc
            return {k: v * lc for k, v in rt.items()}, lc * rc
        raise ValueError(f"constraint {whole!r}: {ast.unparse(node)!r} is not a linear term")

    return walk(tree)


@dataclass
class SearchSpace:
    """Parameters to search, values held fixed, and linear constraints between parameters.

    Parameters
    ----------
    parameters
        The parameters, in column order.
    fixed
        ``{name: value}`` for parameters held at one value (they stay model inputs, so data
        measured at other values still informs the model).
    constraints
        :class:`LinearConstraint` objects (or their text) over numeric, non-log parameters.
    """

    parameters: Sequence[Parameter]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    constraints: Sequence[LinearConstraint | str] = ()

    def __post_init__(self) -> None:
        self.parameters = list(self.parameters)
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError("parameter names must be unique")
        if not names:
            raise ValueError("a search space needs at least one parameter")
        by_name = {p.name: p for p in self.parameters}
        fixed = {}
        for name, value in dict(self.fixed).items():
            if name not in by_name:
                raise ValueError(f"fixed value for unknown parameter {name!r}")
            p = by_name[name]
            if p.is_numeric:
                value = float(value)
                if not (p.low - 1e-12 <= value <= p.high + 1e-12):
                    raise ValueError(f"fixed {name}={value:g} is outside [{p.low:g}, {p.high:g}]")
            elif value not in p.choices:
                raise ValueError(f"fixed {name}={value!r} is not one of {list(p.choices)}")
            fixed[name] = value
        self.fixed = fixed
        cons = []
        for c in self.constraints:
            c = LinearConstraint.parse(c) if isinstance(c, str) else c
            for name in c.coefficients:
                if name not in by_name:
                    raise ValueError(f"constraint {c}: unknown parameter {name!r}")
                if not by_name[name].is_numeric or by_name[name].log:
                    raise ValueError(
                        f"constraint {c}: {name!r} must be a numeric parameter on a linear scale"
                    )
            cons.append(c)
        self.constraints = cons

    # --- shapes -------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def dim(self) -> int:
        return len(self.parameters)

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(f"no parameter {name!r} in the search space")

    @property
    def feature_names(self) -> list[str]:
        out = []
        for p in self.parameters:
            if p.is_numeric:
                out.append(p.name)
            else:
                out.extend(f"{p.name}={c}" for c in p.choices)
        return out

    # --- conversions --------------------------------------------------------------------
    def to_internal(self, records: pd.DataFrame | Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Internal coordinates of physical records (a frame or a list of dicts)."""
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
                    raise ValueError(f"parameter {p.name!r}: unknown level {bad[0]!r}")
                U[:, j] = [lookup[v] for v in values]
        return U

    def to_records(self, U: np.ndarray) -> list[dict[str, Any]]:
        """Physical ``{name: value}`` dicts (floats, ints for integer kinds, levels)."""
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
        return pd.DataFrame(self.to_records(U), columns=self.names)

    def physical(self, U: np.ndarray) -> dict[str, np.ndarray]:
        """Numeric parameters in physical units, as arrays (for constraints and plots)."""
        U = np.atleast_2d(U)
        return {p.name: p.from_unit(U[:, j]) for j, p in enumerate(self.parameters) if p.is_numeric}

    def features(self, U: np.ndarray) -> np.ndarray:
        """Model inputs: scaled numbers in [0, 1] and one-hot categoricals."""
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
        """True for parameters the optimizer may move."""
        return np.array([p.name not in self.fixed for p in self.parameters])

    def repair(self, U: np.ndarray, iterations: int = 60) -> np.ndarray:
        """Snap ``U`` onto the space: fixed values, bounds, integer grid, linear constraints.

        Constraints are met by alternating projections onto each violated half-space or
        hyperplane (in internal coordinates of the free continuous parameters) and the box; points
        that still violate a constraint are left for :meth:`is_feasible` to discard.
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
        """Which rows satisfy every constraint (bounds and fixed values are enforced by repair)."""
        U = np.atleast_2d(U)
        ok = np.ones(U.shape[0], dtype=bool)
        if not self.constraints:
            return ok
        values = self.physical(U)
        for c in self.constraints:
            r = c.residual(values)
            tol = _FEAS_TOL * c.scale()
            if c.op == "<=":
                ok &= r <= tol
            elif c.op == ">=":
                ok &= r >= -tol
            else:
                ok &= np.abs(r) <= tol
        return ok

    # --- sampling -----------------------------------------------------------------------
    def raw_sample(self, n: int, rng: np.random.Generator, method: str = "sobol") -> np.ndarray:
        """``n`` points in the box (before repair): Sobol, Latin hypercube or uniform random."""
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
            raise ValueError(f"unknown sampling method {method!r} (sobol, lhs, random)")
        U = base.copy()
        for j, p in enumerate(self.parameters):
            if not p.is_numeric:
                U[:, j] = np.minimum(np.floor(base[:, j] * len(p.choices)), len(p.choices) - 1)
        return U

    def sample(self, n: int, seed: int = 0, method: str = "sobol") -> np.ndarray:
        """``n`` feasible points (internal coordinates); raises if constraints leave no room."""
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
            raise ValueError(
                "could not find feasible points: the constraints leave no room inside the bounds"
            )
        # Keep the design's order (a Sobol prefix stays balanced); random draws are shuffled
        # so that rejection by the constraints does not bias which ones are kept.
        return U[rng.permutation(len(U))[:n]] if method == "random" else U[:n]

    def center(self) -> np.ndarray:
        """The centre of the bounds (first choice for categoricals), repaired onto the space."""
        U = np.full((1, self.dim), 0.5)
        for j, p in enumerate(self.parameters):
            if not p.is_numeric:
                U[0, j] = 0.0
        return self.repair(U)

    # --- persistence --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "parameters": [p.to_dict() for p in self.parameters],
            "fixed": dict(self.fixed),
            "constraints": [c.to_dict() for c in self.constraints],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SearchSpace:
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
        columns need their levels in ``choices``. Raises ``ValueError`` naming each column that
        cannot be searched.
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
            raise ValueError("\n".join(problems))
        return cls(parameters=params, fixed=fixed, constraints=list(constraints))
