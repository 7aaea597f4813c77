"""Image tables: write/read round trip, and one clear problem per bad cell or file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psplab.data.images import load_image_dataset, write_image_table
from psplab.data.spec import ColumnSpec
from psplab.errors import SpecError

COLUMNS = [
    ColumnSpec("T", "processing", unit="degC", min=600.0, max=900.0),
    ColumnSpec("route", "processing", kind="categorical"),
]


def _table(tmp_path: Path, n: int = 3, **overrides) -> pd.DataFrame:
    rows = []
    for i in range(n):
        g = tmp_path / f"g{i}.npy"
        p = tmp_path / f"p{i}.npy"
        np.save(g, np.arange(16).reshape(4, 4) // 5 + 1)
        np.save(p, (np.arange(16).reshape(4, 4) % 7 == 0).astype(np.int32))
        base = {"T": 650.0 + 50 * i, "route": "A" if i % 2 else "B", "pixel_um": 0.5 + i}
        rows.append({**base, "path": g, "kind": "grains", "sample": f"s{i}"})
        rows.append({**base, "path": p, "kind": "phases", "sample": f"s{i}"})
    frame = pd.DataFrame(rows)
    for key, value in overrides.items():
        frame.loc[0, key] = value
    return frame


def test_round_trip_groups_fields_and_keeps_values(tmp_path):
    spec = write_image_table(_table(tmp_path), tmp_path / "images.toml", COLUMNS, periodic=True)
    data = load_image_dataset(spec)
    assert data.periodic is True
    assert [f.name for f in data.fields] == ["s0", "s1", "s2"]
    assert data.kinds == ["grains", "phases"]
    assert data.pixel_sizes_um().tolist() == [0.5, 1.5, 2.5]
    frame = data.processing_frame()
    assert frame["T"].tolist() == [650.0, 700.0, 750.0]
    assert frame["route"].tolist() == ["B", "A", "B"]
    # Paths are stored relative to the spec and resolved back to the same files.
    assert data.fields[1].paths["phases"] == (tmp_path / "p1.npy").resolve()
    csv = (tmp_path / "images.csv").read_text()
    assert str(tmp_path) not in csv


def test_without_sample_column_every_row_is_a_field(tmp_path):
    table = _table(tmp_path).drop(columns="sample")
    spec = write_image_table(table, tmp_path / "images.toml", COLUMNS, periodic=False)
    data = load_image_dataset(spec)
    assert len(data.fields) == 6
    assert data.kinds == []  # no kind is in every field
    assert {k for f in data.fields for k in f.paths} == {"grains", "phases"}


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("T", 1000.0, "1000 is above max 900"),
        ("kind", "texture", "unknown kind 'texture'"),
        ("pixel_um", -1.0, "pixel size must be a positive number"),
        ("pixel_um", float("nan"), "pixel size must be a positive number"),
    ],
)
def test_bad_cells_are_named_with_column_and_row(tmp_path, column, value, message):
    frame = _table(tmp_path)
    frame[column] = frame[column].astype(object)
    frame.loc[0, column] = value
    spec = write_image_table(frame, tmp_path / "images.toml", COLUMNS, periodic=True)
    with pytest.raises(SpecError) as info:
        load_image_dataset(spec)
    text = "\n".join(info.value.lines)
    assert message in text
    assert "row 1" in text


def test_missing_or_escaping_files_are_refused(tmp_path):
    spec = write_image_table(_table(tmp_path), tmp_path / "images.toml", COLUMNS, periodic=True)
    csv = tmp_path / "images.csv"
    text = csv.read_text().replace("g1.npy", "gone.npy").replace("p2.npy", "../p2.npy")
    csv.write_text(text)
    with pytest.raises(SpecError) as info:
        load_image_dataset(spec)
    lines = info.value.lines
    assert any("'gone.npy': file not found" in line and "row 3" in line for line in lines)
    assert any("outside the spec's folder" in line and "row 6" in line for line in lines)


def test_a_sample_must_share_pixel_size_and_processing(tmp_path):
    frame = _table(tmp_path)
    frame.loc[1, "pixel_um"] = 9.0  # the phase image of sample s0
    frame.loc[3, "T"] = 800.0  # the phase image of sample s1
    spec = write_image_table(frame, tmp_path / "images.toml", COLUMNS, periodic=True)
    with pytest.raises(SpecError) as info:
        load_image_dataset(spec)
    text = "\n".join(info.value.lines)
    assert "sample 's0': pixel size differs from row 1" in text
    assert "sample 's1': processing values differ from row 3" in text


def test_spec_without_images_table_says_so(tmp_path):
    spec = write_image_table(_table(tmp_path), tmp_path / "images.toml", COLUMNS, periodic=True)
    spec.write_text(spec.read_text().replace("[images]\nperiodic = true\n", ""))
    with pytest.raises(SpecError, match=r"no \[images\] table"):
        load_image_dataset(spec)


def test_writer_refuses_images_outside_the_folder(tmp_path):
    inner = tmp_path / "inner"
    inner.mkdir()
    with pytest.raises(ValueError, match="outside the spec's folder"):
        write_image_table(_table(tmp_path), inner / "images.toml", COLUMNS, periodic=True)


def test_allow_outside_lets_images_live_elsewhere(tmp_path):
    inner = tmp_path / "inner"
    inner.mkdir()
    spec = write_image_table(
        _table(tmp_path), inner / "images.toml", COLUMNS, periodic=True, allow_outside=True
    )
    data = load_image_dataset(spec)
    assert data.fields[0].paths["grains"] == (tmp_path / "g0.npy").resolve()
    # Without the flag the same table is refused, naming the way out.
    spec.write_text(spec.read_text().replace("allow_outside = true\n", ""))
    with pytest.raises(SpecError, match="set allow_outside = true"):
        load_image_dataset(spec)


def test_dataset_image_table_puts_differently_resolved_images_in_fields_of_their_own(tmp_path):
    from psplab.data.images import write_dataset_image_table

    dataset = pd.DataFrame(
        {"T": [700.0, 750.0, 800.0], "route": ["A", "B", "A"], "recipe_index": [0, 1, 2],
         "pixel_um": [1.0, 2.0, 3.0], "fine_pixel_um": [0.01, 0.02, 0.03],
         "error": [None, "failed", None]}
    )  # fmt: skip
    for i in range(3):
        for key in ("g", "p", "q"):
            np.save(tmp_path / f"{key}{i}.npy", np.ones((4, 4), int))

    def files(i: int) -> dict[str, Path]:
        return {key: tmp_path / f"{key}{i}.npy" for key in ("g", "p", "q")}

    layout = {"g": ("grains", "pixel_um", ""), "p": ("phases", "pixel_um", ""),
              "q": ("phases", "fine_pixel_um", "_fine")}  # fmt: skip
    spec = write_dataset_image_table(
        dataset, files, layout, tmp_path / "t.toml", COLUMNS, periodic=True
    )
    data = load_image_dataset(spec)
    # The failed recipe is left out; each recipe gives a coarse field (grains + phases) and a
    # fine one (the second phase image at its own pixel).
    assert [f.name for f in data.fields] == ["0", "0_fine", "2", "2_fine"]
    assert set(data.fields[0].paths) == {"grains", "phases"}
    assert data.pixel_sizes_um().tolist() == [1.0, 0.01, 3.0, 0.03]
