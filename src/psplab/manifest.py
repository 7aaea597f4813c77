"""Run-directory manifests: every command that writes a run directory leaves ``manifest.json``.

The manifest records what produced the directory (command line, versions, seed), what is in it
(files by role) and small results, so that ``psplab report RUN_DIR`` can rebuild a report from any
run directory without re-running anything.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "MANIFEST_NAME",
    "MANIFEST_SCHEMA",
    "dump_json",
    "jsonable",
    "machine_info",
    "package_versions",
    "read_manifest",
    "verify_checksums",
    "write_manifest",
]

MANIFEST_NAME = "manifest.json"
# 2: "checksums" (sha256 of every listed file inside the run directory).
MANIFEST_SCHEMA = 2

_VERSIONED_PACKAGES = (
    "psplab",
    "jax",
    "jaxlib",
    "numpyro",
    "optax",
    "numpy",
    "scipy",
    "scikit-learn",
    "scikit-image",
    "pandas",
    "causal-learn",
    "dask",
    "distributed",
)


def package_versions(names: Sequence[str] = _VERSIONED_PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shape results (missing ones are skipped).

    Parameters
    ----------
    names : sequence of str
        Distribution names.

    Returns
    -------
    dict of str to str
        ``{"python": ..., name: version, ...}``.
    """
    versions: dict[str, str] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def machine_info(include_jax: bool = True) -> dict[str, Any]:
    """A short description of the machine, for benchmarks and manifests.

    Parameters
    ----------
    include_jax : bool
        Also record JAX's backend and devices (imports JAX).

    Returns
    -------
    dict
        Platform, processor, CPU count and (optionally) the JAX backend.
    """
    import os

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    if not include_jax:
        return info
    try:
        import jax

        info["jax_backend"] = jax.default_backend()
        info["jax_devices"] = [str(d) for d in jax.devices()]
    except Exception:  # jax absent or broken: the manifest must still be written
        pass
    return info


def jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and paths so that ``json.dump`` accepts them.

    NaN and infinities become ``None`` (JSON has none of them).

    Parameters
    ----------
    value : object
        Nested dicts, lists, tuples, NumPy values, paths and plain values.

    Returns
    -------
    object
        The same structure made of JSON types.
    """
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover - numpy is a hard dependency
        pass
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None  # JSON has no NaN/inf; null says "not available"
    return value


def write_manifest(
    out_dir: str | Path,
    kind: str,
    *,
    files: Mapping[str, str | Path | Sequence[str | Path]] | None = None,
    results: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    command: Sequence[str] | None = None,
) -> Path:
    """Write ``out_dir/manifest.json`` and return its path.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        The run directory.
    kind : str
        What wrote it: ``"fit"``, ``"evaluate"``, ``"simulate"``, ``"causal"``, ``"optimize"``,
        ``"phasemap"``, ``"mechanics"``, ``"demo"``, ...
    files : mapping, optional
        Files by role, paths relative to ``out_dir`` (absolute paths are made relative when
        they lie inside it). Values may be one path or a list of paths.
    results : mapping, optional
        Small JSON-able results (metrics tables, best recipe, ...).
    params : mapping, optional
        The parameters the command ran with (seed, sizes, model names, ...).
    command : sequence of str, optional
        The command line; defaults to ``sys.argv``.

    Returns
    -------
    pathlib.Path
        The manifest's path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def rel(p: str | Path) -> str:
        path = Path(p)
        try:
            return str(path.resolve().relative_to(out.resolve()))
        except ValueError:
            return str(path)

    file_map: dict[str, Any] = {}
    for role, value in (files or {}).items():
        if isinstance(value, str | Path):
            file_map[role] = rel(value)
        else:
            file_map[role] = [rel(v) for v in value]
    checksums = {
        name: _sha256(out / name)
        for value in file_map.values()
        for name in ([value] if isinstance(value, str) else value)
        if not Path(name).is_absolute() and (out / name).is_file()
    }
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "kind": kind,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": list(command) if command is not None else ["psplab", *sys.argv[1:]],
        "versions": package_versions(),
        # JAX's backend only when the run used JAX: importing it here would cost a second.
        "machine": machine_info(include_jax="jax" in sys.modules),
        "params": jsonable(dict(params or {})),
        "files": file_map,
        "results": jsonable(dict(results or {})),
        "checksums": checksums,
    }
    path = out / MANIFEST_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=False))
    tmp.replace(path)  # atomic: a reader never sees half a manifest
    return path


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    """Read ``run_dir/manifest.json``.

    Parameters
    ----------
    run_dir : str or pathlib.Path
        A run directory.

    Returns
    -------
    dict

    Raises
    ------
    FileNotFoundError
        Naming the directory, when it holds no manifest.
    """
    path = Path(run_dir) / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: no {MANIFEST_NAME} (not a psplab run directory)")
    return json.loads(path.read_text())


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_checksums(run_dir: str | Path, names: Sequence[str] | None = None) -> list[str]:
    """Files of a run directory that differ from the checksums its manifest recorded.

    Parameters
    ----------
    run_dir : str or pathlib.Path
        A run directory.
    names : sequence of str, optional
        Files (relative to ``run_dir``) to check; default every file with a checksum. A name
        without a recorded checksum is not checked (manifests before schema 2 record none).

    Returns
    -------
    list of str
        One message per missing or changed file; empty when every checked file matches (or
        the directory has no manifest).
    """
    run = Path(run_dir)
    if not (run / MANIFEST_NAME).is_file():
        return []
    try:
        recorded = json.loads((run / MANIFEST_NAME).read_text()).get("checksums") or {}
    except (OSError, ValueError, AttributeError):
        return [f"{run / MANIFEST_NAME}: damaged (not a JSON object)"]
    if not isinstance(recorded, Mapping):
        return [f"{run / MANIFEST_NAME}: damaged checksums"]
    problems = []
    for name in recorded if names is None else names:
        if name not in recorded:
            continue
        path = run / name
        if not path.is_file():
            problems.append(f"{path}: missing (listed in the manifest)")
        elif _sha256(path) != recorded[name]:
            problems.append(f"{path}: changed since it was written (checksum mismatch)")
    return problems


def dump_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON (NumPy values converted, NaN as ``null``).

    Parameters
    ----------
    path : str or pathlib.Path
        The file (its folder is created).
    obj : object
        What to write (see :func:`jsonable`).

    Returns
    -------
    pathlib.Path
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(jsonable(obj), indent=2))
    return p
