"""Image datasets: a table with one row per image file, its processing, pixel size and kind.

An image spec is a dataset spec (:mod:`psplab.data.spec`) with one more table, ``[images]``:

.. code-block:: toml

    name = "steel-micrographs"
    source = "images.csv"         # CSV or Parquet, relative to the spec file
    [images]
    periodic = false              # true for simulation domains (images wrap around)
    [[column]]
    name = "hold_temperature_C"
    role = "processing"
    unit = "degC"
    min = 650
    max = 850

Besides its processing columns (validated exactly as in any dataset spec: units, bounds,
missing values) the table holds the image columns:

``path``
    The image file (``.npy``, ``.png``, ``.tif``, ``.tiff``), relative to the spec's folder and
    inside it (unless the spec says ``allow_outside = true``, as a dataset spec may for its
    source: then paths may also be absolute or lead out of the folder).
``kind``
    ``grains`` (grain labels: every connected region of one value is a grain), ``phases``
    (phase labels; the precipitate phase is label 1) or ``particles`` (binary particle mask).
``pixel_um``
    Pixel size in micrometres (> 0). It may differ from image to image (e.g. a simulator that
    picks each recipe's resolution, or micrographs at several magnifications).
``sample`` (optional)
    Rows with the same value are images of one field of view, e.g. the grain and the phase
    labels of one simulation: they must share the processing values and the pixel size and
    have different kinds. Without it every row is a field of its own.

The image columns need not be listed under ``[[column]]``; when they are, their entries are
kept as written (their role is ignored: image columns are never model inputs).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psplab.data.dataset import Dataset, read_table, validate_frame
from psplab.data.spec import ColumnSpec, DatasetSpec, Problem, dumps_toml
from psplab.errors import SpecError

IMAGE_KINDS = ("grains", "phases", "particles")
IMAGE_SUFFIXES = (".npy", ".png", ".tif", ".tiff")
PATH_COLUMN, KIND_COLUMN, PIXEL_COLUMN, SAMPLE_COLUMN = "path", "kind", "pixel_um", "sample"
IMAGE_COLUMNS = (PATH_COLUMN, KIND_COLUMN, PIXEL_COLUMN, SAMPLE_COLUMN)
_IMAGES_KEYS = {"periodic"}
_MAX_PROBLEMS = 20

__all__ = [
    "IMAGE_COLUMNS",
    "IMAGE_KINDS",
    "ImageDataset",
    "ImageField",
    "load_image_dataset",
    "write_dataset_image_table",
    "write_image_table",
]


@dataclass(frozen=True)
class ImageField:
    """One field of view: its images by kind, processing values and pixel size.

    Attributes
    ----------
    name : str
        The ``sample`` value (or the row number from 1 when the table has no ``sample``).
    paths : dict of str to Path
        Absolute path of each image, keyed by kind.
    pixel_um : float
        Pixel size in µm.
    row : int
        Row (from 0) of the field's first image in the validated table.
    """

    name: str
    paths: dict[str, Path]
    pixel_um: float
    row: int


@dataclass
class ImageDataset:
    """A validated image table: the processing columns as a :class:`Dataset`, and the fields.

    Attributes
    ----------
    dataset : Dataset
        The table and spec, one row per image file (image columns typed as text / float).
    fields : list of ImageField
        The fields of view in the order of their first row.
    periodic : bool
        Whether the images are periodic domains.
    """

    dataset: Dataset
    fields: list[ImageField]
    periodic: bool

    @property
    def processing_names(self) -> list[str]:
        """Names of the processing columns (the model inputs)."""
        return self.dataset.input_names

    @property
    def kinds(self) -> list[str]:
        """Image kinds present in every field, in :data:`IMAGE_KINDS` order."""
        common = set(IMAGE_KINDS)
        for f in self.fields:
            common &= set(f.paths)
        return [k for k in IMAGE_KINDS if k in common]

    def processing_frame(self) -> pd.DataFrame:
        """One row per field: its processing values (categoricals as text)."""
        rows = [f.row for f in self.fields]
        return self.dataset.inputs().iloc[rows].reset_index(drop=True)

    def pixel_sizes_um(self) -> np.ndarray:
        """Pixel size of each field in µm, ``(n_fields,)``."""
        return np.array([f.pixel_um for f in self.fields], dtype=float)


def load_image_dataset(spec_path: str | Path) -> ImageDataset:
    """Read and validate an image spec and its table.

    Parameters
    ----------
    spec_path : str or Path
        The image spec (TOML) with an ``[images]`` table.

    Returns
    -------
    ImageDataset
        The validated table and its fields of view.

    Raises
    ------
    SpecError
        Listing every problem found: the spec's, the processing cells' (units, bounds, missing
        values) and the image columns' (missing file, path outside the spec's folder,
        unsupported file type, unknown kind, non-positive pixel size, inconsistent sample).
    """
    p = Path(spec_path)
    if not p.is_file():
        raise SpecError([Problem(f"image spec {str(p)!r} not found")])
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError([Problem(f"image spec {str(p)!r} is not valid TOML: {exc}")]) from exc
    base = p.resolve().parent
    images = raw.pop("images", None)
    if not isinstance(images, Mapping):
        raise SpecError(
            [
                Problem(
                    f"{p.name}: no [images] table; an image spec needs one (see docs/generator.md)"
                )
            ]
        )
    problems = [Problem(f"[images]: unknown key {k!r}") for k in images if k not in _IMAGES_KEYS]
    periodic = images.get("periodic", False)
    if not isinstance(periodic, bool):
        problems.append(Problem(f"[images]: periodic must be true or false, got {periodic!r}"))
    spec = DatasetSpec.from_dict(raw, base_dir=base)
    if not spec.processing:
        problems.append(Problem("the spec has no processing column"))
    if spec.source is None:
        problems.append(Problem("the spec has no 'source' table"))
    if problems:
        raise SpecError(problems)
    frame = read_table(spec.source)
    absent = [c for c in IMAGE_COLUMNS[:3] if c not in frame.columns]
    if absent:
        raise SpecError([Problem("image column missing from the table", column=c) for c in absent])
    spec = _with_image_columns(spec, frame.columns)
    typed, problems = validate_frame(spec, frame)
    if problems:
        raise SpecError(problems)
    fields, problems = _fields(typed, spec, base)
    if problems:
        raise SpecError(problems)
    return ImageDataset(Dataset(spec=spec, frame=typed), fields, bool(periodic))


def _with_image_columns(spec: DatasetSpec, present: Sequence[str]) -> DatasetSpec:
    """The spec with the table's image columns added (as ``ignore``) where it does not list them."""
    names = {c.name for c in spec.columns}
    extra = [
        ColumnSpec(name=n, role="ignore", kind="categorical")
        for n in IMAGE_COLUMNS
        if n not in names and n in present
    ]
    cols = [
        replace(c, role="ignore") if c.name in IMAGE_COLUMNS and c.role != "ignore" else c
        for c in spec.columns
    ]
    return replace(spec, columns=tuple(cols + extra))


def _resolve_path(cell: Any, base: Path, allow_outside: bool) -> tuple[Path | None, str | None]:
    """The image file of one ``path`` cell, or the reason it cannot be used."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)) or str(cell).strip() == "":
        return None, "missing image path"
    rel = Path(str(cell).strip())
    if rel.is_absolute() and not allow_outside:
        return None, (
            f"{str(rel)!r} is absolute; give it relative to the spec's folder "
            "(or set allow_outside = true)"
        )
    full = (base / rel).resolve()
    if not allow_outside and not full.is_relative_to(base):
        return None, f"{str(rel)!r} points outside the spec's folder (set allow_outside = true)"
    if full.suffix.lower() not in IMAGE_SUFFIXES:
        return None, f"{str(rel)!r}: unsupported file type (expected {', '.join(IMAGE_SUFFIXES)})"
    if not full.is_file():
        return None, f"{str(rel)!r}: file not found"
    return full, None


def _pixel_size(cell: Any) -> float | None:
    try:
        value = float(cell)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def _fields(
    frame: pd.DataFrame, spec: DatasetSpec, base: Path
) -> tuple[list[ImageField], list[Problem]]:
    """Group the validated rows into fields of view; every problem of the image columns."""
    problems: list[Problem] = []
    has_sample = SAMPLE_COLUMN in frame.columns and frame[SAMPLE_COLUMN].notna().any()
    inputs = [c.name for c in spec.processing]
    groups: dict[str, ImageField] = {}
    for i, row in enumerate(frame.to_dict("records")):
        path, why = _resolve_path(row[PATH_COLUMN], base, spec.allow_outside)
        if why:
            problems.append(Problem(why, PATH_COLUMN, i + 1))
        kind = str(row[KIND_COLUMN]).strip()
        if kind not in IMAGE_KINDS:
            problems.append(
                Problem(
                    f"unknown kind {kind!r} (expected {', '.join(IMAGE_KINDS)})", KIND_COLUMN, i + 1
                )
            )
        pixel = _pixel_size(row[PIXEL_COLUMN])
        if pixel is None:
            problems.append(
                Problem(
                    f"pixel size must be a positive number, got {row[PIXEL_COLUMN]!r}",
                    PIXEL_COLUMN,
                    i + 1,
                )
            )
        if why or pixel is None or kind not in IMAGE_KINDS:
            continue
        name = (
            str(row[SAMPLE_COLUMN]) if has_sample and row[SAMPLE_COLUMN] is not None else str(i + 1)
        )
        first = groups.get(name)
        if first is None:
            groups[name] = ImageField(name, {kind: path}, pixel, i)
            continue
        if kind in first.paths:
            problems.append(Problem(f"sample {name!r} has two {kind} images", KIND_COLUMN, i + 1))
        if not math.isclose(pixel, first.pixel_um, rel_tol=1e-9):
            problems.append(
                Problem(
                    f"sample {name!r}: pixel size differs from row {first.row + 1}",
                    PIXEL_COLUMN,
                    i + 1,
                )
            )
        ref = frame.iloc[first.row]
        if any(not _same(row[c], ref[c]) for c in inputs):
            problems.append(
                Problem(
                    f"sample {name!r}: processing values differ from row {first.row + 1}", row=i + 1
                )
            )
        first.paths[kind] = path
    if len(problems) > _MAX_PROBLEMS:
        extra = len(problems) - _MAX_PROBLEMS
        problems = problems[:_MAX_PROBLEMS] + [Problem(f"... and {extra} more problems")]
    return list(groups.values()), problems


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def write_image_table(
    table: pd.DataFrame,
    spec_path: str | Path,
    processing: Sequence[ColumnSpec],
    *,
    periodic: bool,
    name: str | None = None,
    description: str = "",
    allow_outside: bool = False,
) -> Path:
    """Write an image table (CSV beside the spec) and its spec; return the spec's path.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per image: the processing columns and ``path`` (absolute, or relative to the
        spec's folder; the files must lie inside that folder), ``kind``, ``pixel_um`` and
        optionally ``sample``.
    spec_path : str or Path
        Where to write the spec (``.toml``); the table goes to ``<stem>.csv`` beside it.
    processing : sequence of ColumnSpec
        The processing columns (units and bounds).
    periodic : bool
        Whether the images are periodic domains.
    name, description : str
        Spec name (default: the spec file's stem) and description.
    allow_outside : bool
        Let images lie outside the spec's folder (they are then written as absolute paths);
        the spec says ``allow_outside = true``.

    Returns
    -------
    Path
        The spec file.
    """
    spec_file = Path(spec_path)
    base = spec_file.resolve().parent
    base.mkdir(parents=True, exist_ok=True)
    missing = [c for c in (PATH_COLUMN, KIND_COLUMN, PIXEL_COLUMN) if c not in table.columns]
    missing += [c.name for c in processing if c.name not in table.columns]
    if missing:
        raise ValueError(f"image table lacks the column(s) {', '.join(missing)}")
    out = table.copy()
    out[PATH_COLUMN] = [_relative(Path(p), base, allow_outside) for p in out[PATH_COLUMN]]
    keep = [c.name for c in processing] + [c for c in IMAGE_COLUMNS if c in out.columns]
    csv_path = spec_file.with_suffix(".csv")
    out[keep].to_csv(csv_path, index=False)
    spec = {
        "name": name or spec_file.stem,
        "source": csv_path.name,
        "description": description,
        "images": {"periodic": bool(periodic)},
        "column": [replace(c, role="processing").to_dict() for c in processing],
    }
    if not description:
        del spec["description"]
    if allow_outside:
        spec["allow_outside"] = True
    spec_file.write_text(dumps_toml(spec), encoding="utf-8")
    return spec_file


def _relative(path: Path, base: Path, allow_outside: bool) -> str:
    full = (path if path.is_absolute() else base / path).resolve()
    try:
        return full.relative_to(base).as_posix()
    except ValueError:
        if allow_outside:
            return full.as_posix()
        raise ValueError(
            f"image {str(path)!r} lies outside the spec's folder {str(base)!r}"
        ) from None


def write_dataset_image_table(
    dataset: pd.DataFrame,
    image_files: Any,
    layout: Mapping[str, tuple[str, str, str]],
    spec_path: str | Path,
    processing: Sequence[ColumnSpec],
    *,
    periodic: bool,
    id_column: str = "recipe_index",
) -> Path:
    """Write the image table of a dataset whose rows each saved several images.

    Parameters
    ----------
    dataset : pandas.DataFrame
        One row per recipe: the processing columns, ``id_column``, the pixel-size columns named
        in ``layout`` and ``error`` (rows with an error are skipped).
    image_files : callable
        ``image_files(id) -> {file_key: path}``: the images a row saved.
    layout : mapping of str to (str, str, str)
        ``file_key -> (kind, pixel column, sample suffix)``: each file's kind, the column with
        its pixel size, and what its field's ``sample`` adds to the row id (files with the same
        suffix form one field of view and must share the pixel column).
    spec_path : str or Path
        Where to write the spec; the table goes beside it (``<stem>.csv``).
    processing : sequence of ColumnSpec
        The processing columns.
    periodic : bool
        Whether the images are periodic domains.
    id_column : str
        The row id column.

    Returns
    -------
    Path
        The spec file.
    """
    names = [c.name for c in processing]
    ok = dataset if "error" not in dataset else dataset[dataset["error"].isna()]
    rows = []
    for rec in ok.to_dict("records"):
        rid = int(rec[id_column])
        files = image_files(rid)
        for key, (kind, pixel_column, suffix) in layout.items():
            path = Path(files[key])
            if path.is_file():
                rows.append(
                    {**{n: rec[n] for n in names}, "path": path, "kind": kind,
                     "pixel_um": float(rec[pixel_column]), "sample": f"{rid}{suffix}"}
                )  # fmt: skip
    return write_image_table(pd.DataFrame(rows), spec_path, processing, periodic=periodic)
