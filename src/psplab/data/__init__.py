"""Base layer: dataset specs, loading, validation and units (every module may use it)."""

from __future__ import annotations

from psplab._lazy import lazy_package

# Names resolve on first use: ``import psplab.data.commands`` (every ``psplab`` CLI start) must
# not pay for pandas and pint; ``from psplab.data import load_dataset`` imports them then.
__getattr__, __dir__, __all__ = lazy_package(
    __name__,
    {
        "dataset": ("Dataset InputEncoder load_dataset read_table validate validate_frame".split()),
        "spec": ("ColumnSpec", "DatasetSpec", "Problem", "SpecError", "dumps_toml"),
        "units": ("UnitError", "convert", "parse_unit", "unit_registry"),
        "formula": ("FormulaError", "composition_fractions"),
        "draft": ("SpecDraft", "draft_spec"),
        "images": ("ImageDataset", "load_image_dataset", "write_image_table"),
    },
    # Sub-modules reachable as attributes after a bare ``import psplab.data``.
    submodules=("dataset", "draft", "formula", "images", "spec", "tables", "units"),
)
