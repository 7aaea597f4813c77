"""Base layer: dataset specs, loading, validation and units (every module may use it)."""

from psplab.data.dataset import (
    Dataset,
    InputEncoder,
    load_dataset,
    read_table,
    validate,
    validate_frame,
)
from psplab.data.spec import ColumnSpec, DatasetSpec, Problem, SpecError, dumps_toml
from psplab.data.units import convert, parse_unit, unit_registry

__all__ = [
    "ColumnSpec",
    "Dataset",
    "DatasetSpec",
    "InputEncoder",
    "Problem",
    "SpecError",
    "convert",
    "dumps_toml",
    "load_dataset",
    "parse_unit",
    "read_table",
    "unit_registry",
    "validate",
    "validate_frame",
]
