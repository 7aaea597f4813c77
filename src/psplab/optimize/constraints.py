"""Linear constraints between processing parameters, parsed from text without ``eval``.

``"Mg_wt_pct + Si_wt_pct <= 6"`` or ``"Fe + Cr + Ni == 100"`` (a composition sum) become a
:class:`LinearConstraint`; :class:`psplab.optimize.space.SearchSpace` keeps its candidates on
the feasible side.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from psplab.errors import InputError

__all__ = ["LinearConstraint"]


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
            raise InputError(f"constraint operator must be <=, >= or ==, got {self.op!r}")
        if not self.coefficients:
            raise InputError("a constraint needs at least one parameter")
        object.__setattr__(
            self, "coefficients", {k: float(v) for k, v in self.coefficients.items()}
        )
        object.__setattr__(self, "rhs", float(self.rhs))

    @classmethod
    def parse(cls, text: str) -> LinearConstraint:
        """Parse a constraint such as ``"2*a + b - c <= 10"`` (read as an expression tree, never
        evaluated).

        Parameters
        ----------
        text : str
            A linear expression, one of ``<=``, ``>=``, ``==``, and another linear expression.

        Returns
        -------
        LinearConstraint

        Raises
        ------
        psplab.errors.InputError
            Naming the part that is not linear.
        """
        for op in ("<=", ">=", "=="):
            if op in text:
                lhs_text, rhs_text = text.split(op, 1)
                break
        else:
            raise InputError(f"constraint {text!r}: needs one of <=, >=, ==")
        lhs, c_lhs = _linear_terms(lhs_text, text)
        rhs, c_rhs = _linear_terms(rhs_text, text)
        coefs = dict(lhs)
        for name, value in rhs.items():
            coefs[name] = coefs.get(name, 0.0) - value
        coefs = {k: v for k, v in coefs.items() if v != 0.0}
        return cls(coefficients=coefs, op=op, rhs=c_rhs - c_lhs)

    def residual(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """``lhs - rhs``: <= 0 satisfies ``<=``, >= 0 satisfies ``>=``, 0 satisfies ``==``.

        Parameters
        ----------
        values : mapping of str to numpy.ndarray
            Physical values of (at least) the constrained parameters.

        Returns
        -------
        numpy.ndarray
        """
        total = sum(
            coef * np.asarray(values[name], dtype=float) for name, coef in self.coefficients.items()
        )
        return np.asarray(total, dtype=float) - self.rhs

    def scale(self) -> float:
        """Magnitude of the constraint's numbers, for a relative feasibility tolerance."""
        return max(abs(self.rhs), *(abs(c) for c in self.coefficients.values()), 1.0)

    def __str__(self) -> str:
        terms = " + ".join(f"{c:g}*{n}" for n, c in self.coefficients.items())
        return f"{terms} {self.op} {self.rhs:g}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (inverse of :meth:`from_dict`).

        Returns
        -------
        dict
        """
        return {"coefficients": dict(self.coefficients), "op": self.op, "rhs": self.rhs}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LinearConstraint:
        """A constraint from :meth:`to_dict`'s output.

        Parameters
        ----------
        d : mapping
            ``coefficients``, ``op`` and ``rhs``.

        Returns
        -------
        LinearConstraint
        """
        return cls(coefficients=dict(d["coefficients"]), op=str(d["op"]), rhs=float(d["rhs"]))


def _linear_terms(text: str, whole: str) -> tuple[dict[str, float], float]:
    """Coefficients and constant of a linear expression, walking the AST (no eval)."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise InputError(f"constraint {whole!r}: cannot parse {text.strip()!r}") from exc

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
                    raise InputError(f"constraint {whole!r}: division by a parameter is not linear")
                return {k: v / rc for k, v in lt.items()}, lc / rc
            if lt and rt:
                raise InputError(f"constraint {whole!r}: product of parameters is not linear")
            if lt:
                return {k: v * rc for k, v in lt.items()}, lc * rc
            return {k: v * lc for k, v in rt.items()}, lc * rc
        raise InputError(f"constraint {whole!r}: {ast.unparse(node)!r} is not a linear term")

    return walk(tree)
