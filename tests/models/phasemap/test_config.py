"""Phase-map configs: every problem is one line naming the field, or the column and rows."""

from __future__ import annotations

import numpy as np
import pytest

from psplab.errors import ConfigError
from psplab.models.phasemap.config import load_config

GOOD = """
regions = 2
units = "at. fraction"
[inference]
num_samples = 50
seed = 3
[[structure]]
label = "phase"
coords = ["x", "y"]
source = "s.csv"
[[property]]
value = "hv"
coords = ["x", "y"]
source = "p.csv"
"""


def _write(tmp_path, config: str = GOOD, s_csv: str | None = None, p_csv: str | None = None):
    (tmp_path / "s.csv").write_text(s_csv or "x,y,phase\n0.1,0.2,a\n0.7,0.3,b\n0.4,0.9,a\n")
    (tmp_path / "p.csv").write_text(p_csv or "x,y,hv\n0.2,0.2,310\n0.8,0.5,402.5\n")
    (tmp_path / "pm.toml").write_text(config)
    return tmp_path / "pm.toml"


def _problems(path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.lines


def test_a_good_config_gives_sources_and_model_parameters(tmp_path):
    cfg = load_config(_write(tmp_path))
    assert cfg.coords == ["x", "y"] and cfg.units == "at. fraction"
    (s,), (p,) = cfg.structure, cfg.properties
    np.testing.assert_allclose(s.X, [[0.1, 0.2], [0.7, 0.3], [0.4, 0.9]])
    assert list(s.labels) == ["a", "b", "a"]
    np.testing.assert_allclose(p.y, [310.0, 402.5])
    assert p.prop == "hv"
    model = cfg.model()
    assert model.n_regions == 2 and model.num_samples == 50 and model.seed == 3


def test_every_problem_is_reported_at_once_with_its_field(tmp_path):
    config = GOOD.replace("regions = 2", 'regions = 1\nshared_trned = true\nicm = "yes"')
    config = config.replace("num_samples = 50", "num_samples = 12.5\nwarmup = 3")
    config = config.replace('value = "hv"', 'value = "HV"')
    lines = _problems(_write(tmp_path, config))
    expected = (
        "'regions' must be an integer >= 2, got 1",
        "config: unknown key 'shared_trned'",
        "'icm' must be true or false, got 'yes'",
        "[inference] num_samples must be an integer, got 12.5",
        "[inference]: unknown key 'warmup'",
        "[[property]] #1: value column 'HV' not in p.csv",
    )
    for text in expected:
        assert sum(text in line for line in lines) == 1, (text, lines)
    assert all(line.startswith(str(tmp_path / "pm.toml")) for line in lines)


def test_bad_cells_name_the_column_and_rows(tmp_path):
    p_csv = "x,y,hv\n0.2,0.2,310\n0.8,oops,402\n0.5,0.5,\n"
    lines = _problems(_write(tmp_path, p_csv=p_csv))
    assert any("column 'y', row 2: not a finite number" in line for line in lines), lines
    assert any("column 'hv', row 3: not a finite number" in line for line in lines), lines


def test_empty_labels_and_mismatched_coords_are_refused(tmp_path):
    s_csv = "x,y,phase\n0.1,0.2,a\n0.7,0.3,\n"
    config = GOOD.replace('value = "hv"\ncoords = ["x", "y"]', 'value = "hv"\ncoords = ["y", "x"]')
    lines = _problems(_write(tmp_path, config, s_csv=s_csv))
    assert any("label column 'phase', row 2: empty" in line for line in lines), lines
    assert any("coords ['y', 'x'] differ" in line for line in lines), lines


def test_size_options_are_bounded_before_any_work(tmp_path):
    config = GOOD.replace("num_samples = 50", "num_samples = 1000000000\nnum_chains = 0")
    lines = _problems(_write(tmp_path, config))
    assert any("num_chains must be an integer >= 1, got 0" in line for line in lines), lines
    config = GOOD.replace("num_samples = 50", "num_samples = 1000000000")
    lines = _problems(_write(tmp_path, config))
    assert any("num_samples 1e+09 is above the limit of 100000" in line for line in lines), lines


def test_tables_outside_the_config_folder_need_permission(tmp_path):
    (tmp_path / "secret.csv").write_text("x,y,hv\n0,0,1\n")
    sub = tmp_path / "cfg"
    sub.mkdir()
    config = GOOD.replace('source = "p.csv"', 'source = "../secret.csv"')
    lines = _problems(_write(sub, config))
    assert any("../secret.csv is outside the config's folder" in line for line in lines), lines
    cfg = load_config(_write(sub, "allow_outside = true\n" + config))
    np.testing.assert_allclose(cfg.properties[0].y, [1.0])


def test_missing_and_invalid_files(tmp_path):
    assert "no such config file" in _problems(tmp_path / "nope.toml")[0]
    (tmp_path / "bad.toml").write_text("regions = [")
    assert "invalid TOML" in _problems(tmp_path / "bad.toml")[0]


def test_malformed_tables_are_reported_through_the_config(tmp_path):
    """Tables are read by psplab's strict reader; its problems become config problems."""
    lines = _problems(_write(tmp_path, p_csv="x,y,hv\n0.2,0.2,310,\n0.8,0.5,402,\n"))
    assert any("[[property]] #1" in line and "trailing ','" in line for line in lines), lines
    (tmp_path / "s.csv").write_bytes("x,y,phase\n0.1,0.2,\xb5\n".encode("latin-1"))
    (tmp_path / "p.csv").write_text("x,x,hv\n0,0,1\n")
    lines = _problems(tmp_path / "pm.toml")
    assert any("[[structure]] #1" in line and "not UTF-8" in line for line in lines), lines
    assert any("'x' appears twice" in line for line in lines), lines


def test_numeric_labels_are_numbers(tmp_path):
    s_csv = "x,y,phase\n0.1,0.2,1\n0.7,0.3,2.0\n0.4,0.9,1\n"
    (s,) = load_config(_write(tmp_path, s_csv=s_csv)).structure
    assert s.labels.tolist() == [1, 2, 1] and s.labels.dtype.kind == "i"
