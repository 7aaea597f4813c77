"""Base layer: dataset specs, loading, validation and units (every module may use it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psplab._lazy import lazy_attributes

if TYPE_CHECKING:
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

# Lazy attributes (PEP 562): ``import psplab.data.commands`` (every ``psplab`` CLI start) must not
# pay for pandas and pint; ``from psplab.data import load_dataset`` imports them on first use.
_EXPORTS = {
    "Dataset": "dataset",
    "InputEncoder": "dataset",
    "load_dataset": "dataset",
    "read_table": "dataset",
    "validate": "dataset",
    "validate_frame": "dataset",
    "ColumnSpec": "spec",
    "DatasetSpec": "spec",
    "Problem": "spec",
    "SpecError": "spec",
    "dumps_toml": "spec",
    "convert": "units",
    "parse_unit": "units",
    "unit_registry": "units",
}
# Sub-modules the package used to import eagerly, so `psplab.data.spec` keeps working as an
# attribute after a bare `import psplab.data`.
_SUBMODULES = ("dataset", "spec", "units")


__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, _SUBMODULES)


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
