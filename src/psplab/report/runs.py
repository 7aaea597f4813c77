"""Run directories as the report reads them: manifests, files by role, specs and units.

A *run directory* is anything a psplab command wrote: it holds ``manifest.json`` (see
:mod:`psplab.manifest`) with ``kind``, ``files`` by role, ``params`` and ``results``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from psplab.errors import InputError
from psplab.manifest import MANIFEST_NAME

__all__ = [
    "LeftOut",
    "Run",
    "discover_runs",
    "label",
    "read_table",
    "spec_of",
    "units_of",
]


class LeftOut(Exception):
    """A run (or one of its sections) cannot be shown; the message says why, for the reader."""


@dataclass
class Run:
    """One run directory and its manifest."""

    path: Path
    manifest: dict[str, Any]

    @property
    def kind(self) -> str:
        """What wrote the run (``"evaluate"``, ``"causal"``, ...)."""
        return str(self.manifest.get("kind", ""))

    @property
    def name(self) -> str:
        """The directory's name, as the report shows it."""
        return f"{self.path.name}/"

    @property
    def results(self) -> dict[str, Any]:
        """The manifest's ``results``."""
        return dict(self.manifest.get("results") or {})

    @property
    def params(self) -> dict[str, Any]:
        """The manifest's ``params``."""
        return dict(self.manifest.get("params") or {})

    def _paths(self, role: str) -> list[Path]:
        value = (self.manifest.get("files") or {}).get(role)
        if value is None:
            return []
        items = [value] if isinstance(value, str) else list(value)
        return [Path(p) if Path(p).is_absolute() else self.path / p for p in map(str, items)]

    def file(self, *roles: str) -> Path | None:
        """The first existing file (or folder) listed under any of ``roles``.

        Parameters
        ----------
        *roles : str
            Roles to look under, in order.

        Returns
        -------
        Path or None
            The path, or None when no role lists an existing path.
        """
        for role in roles:
            for p in self._paths(role):
                if p.exists():
                    return p
        return None

    def file_list(self, *roles: str) -> list[Path]:
        """Every existing path listed under ``roles`` (folders expanded one level).

        Parameters
        ----------
        *roles : str
            Roles to look under.

        Returns
        -------
        list of Path
            Existing files, in the order listed.
        """
        out: list[Path] = []
        for role in roles:
            for p in self._paths(role):
                if p.is_dir():
                    out.extend(sorted(q for q in p.iterdir() if q.is_file()))
                elif p.exists():
                    out.append(p)
        return out


def discover_runs(paths: Iterable[str | Path], max_depth: int = 3) -> list[Run]:
    """Every run directory at or below ``paths`` (in the order found, each once).

    Parameters
    ----------
    paths : iterable of str or Path
        Directories given by the user.
    max_depth : int
        How many levels below each path to look for ``manifest.json``.

    Returns
    -------
    list of Run
        The runs.

    Raises
    ------
    InputError
        A path that is not a directory.
    """
    found: dict[Path, Run] = {}
    for root in map(Path, paths):
        if not root.is_dir():
            raise InputError(f"{root}: not a directory")
        candidates = [root / MANIFEST_NAME]
        for depth in range(1, max_depth + 1):
            candidates.extend(sorted(root.glob("/".join(["*"] * depth) + "/" + MANIFEST_NAME)))
        for m in candidates:
            if not m.is_file() or m.parent.resolve() in found:
                continue
            try:
                manifest = json.loads(m.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                continue  # a half-written or foreign file is not a run
            if isinstance(manifest, dict):
                found[m.parent.resolve()] = Run(path=m.parent, manifest=manifest)
    return list(found.values())


def read_table(path: Path) -> pd.DataFrame:
    """A Parquet or CSV table.

    Parameters
    ----------
    path : Path
        ``.parquet``/``.pq`` or anything pandas reads as CSV.

    Returns
    -------
    DataFrame
        The table.
    """
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path)


def spec_path_of(run: Run) -> Path | None:
    """The dataset spec a run used: its ``spec`` file, one beside its data, or ``params.spec``.

    Parameters
    ----------
    run : Run
        Any run; a spec is looked for under the roles ``spec`` and ``dataset_spec``.

    Returns
    -------
    Path or None
        An existing spec file, or None.
    """
    p = run.file("spec", "dataset_spec")
    if p is None:
        data = run.file("dataset", "data", "parquet")
        if data is not None and data.with_suffix(".toml").is_file():
            p = data.with_suffix(".toml")
    if p is None and run.params.get("spec"):
        for cand in (run.path / str(run.params["spec"]), Path(str(run.params["spec"]))):
            if cand.is_file():
                return cand
    return p


def spec_of(run: Run):
    """The run's :class:`psplab.data.spec.DatasetSpec`, or None when it has none or it is invalid.

    Parameters
    ----------
    run : Run
        Any run (see :func:`spec_path_of`).

    Returns
    -------
    DatasetSpec or None
        The parsed spec.
    """
    from psplab.data.spec import DatasetSpec
    from psplab.errors import PsplabError

    p = spec_path_of(run)
    if p is None:
        return None
    try:
        return DatasetSpec.from_toml(p)
    except (PsplabError, OSError, ValueError):
        return None


def units_of(runs: Sequence[Run]) -> dict[str, str]:
    """Column -> unit from the specs and ``results['units']`` of ``runs``.

    Parameters
    ----------
    runs : sequence of Run
        Every run of the report; later runs override earlier ones.

    Returns
    -------
    dict
        Units by column name (columns without a unit are absent).
    """
    units: dict[str, str] = {}
    for run in runs:
        units.update({str(k): str(v) for k, v in (run.results.get("units") or {}).items() if v})
        spec = spec_of(run)
        if spec is not None:
            units.update({c.name: c.unit for c in spec.columns if c.unit})
    return units


def label(name: str, units: dict[str, str]) -> str:
    """``name [unit]`` (``[–]`` without a unit).

    Parameters
    ----------
    name : str
        Column name.
    units : dict
        Units by column name.

    Returns
    -------
    str
        The axis label.
    """
    unit = units.get(name)
    return f"{name} [{unit}]" if unit else f"{name} [–]"
