import json

import numpy as np
import typer
from PIL import Image
from typer.testing import CliRunner

from psplab.measure.commands import register

from ._synth import discs, separated_seeds, voronoi_labels

runner = CliRunner()
# A private app with only this command keeps the test off the other packages' import time.
app = typer.Typer()
register(app)


@app.callback()
def _root() -> None:
    pass


def test_measure_grains_npy_writes_json(tmp_path):
    seeds = separated_seeds(25, 128, 16.0, seed=0, periodic=False)
    path = tmp_path / "grains.npy"
    np.save(path, voronoi_labels(seeds, 128, periodic=False))
    out = tmp_path / "m.json"
    res = runner.invoke(app, ["measure", str(path), "--pixel-um", "0.5", "--json", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["kind"] == "grains" and data["grain_count"] == 25
    for key in ("astm_g_intercept", "astm_g_planimetric", "mean_diameter_um"):
        assert isinstance(data[key], float)
    assert data["phase_fractions"] is None and data["particles"] is None


def test_measure_particles_png(tmp_path):
    img = discs(np.array([[20.0, 20.0], [60.0, 50.0]]), 5.0, 80)
    path = tmp_path / "p.png"
    Image.fromarray(img.astype(np.uint8) * 255).save(path)
    out = tmp_path / "p.json"
    res = runner.invoke(app, ["measure", str(path), "--pixel-um", "1", "--json", str(out)])
    assert res.exit_code == 0, res.output
    p = json.loads(out.read_text())["particles"]
    assert p["count"] == 2
    assert p["area_fraction"] == img.mean()
    for key in ("mean_eq_diameter_um", "median_eq_diameter_um", "number_density_per_mm2"):
        assert p[key] > 0


def test_measure_phases_tiff_with_background(tmp_path):
    import tifffile

    labels = np.zeros((10, 10), dtype=np.int8)
    labels[:, :3] = -1
    labels[:5, 3:] = 2
    path = tmp_path / "ph.tif"
    tifffile.imwrite(path, labels)
    out = tmp_path / "ph.json"
    args = ["measure", str(path), "--pixel-um", "1", "--kind", "phases", "--background", "-1"]
    res = runner.invoke(app, [*args, "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["phase_fractions"] == {"0": 0.5, "2": 0.5}


def test_bad_inputs_exit_2_with_one_line(tmp_path):
    res = runner.invoke(app, ["measure", str(tmp_path / "nope.npy"), "--pixel-um", "1"])
    assert res.exit_code == 2 and "not found" in res.output
    np.save(tmp_path / "x.npy", np.zeros((4, 4), dtype=int))
    res = runner.invoke(app, ["measure", str(tmp_path / "x.npy"), "--pixel-um", "0"])
    assert res.exit_code == 2 and "--pixel-um" in res.output
    res = runner.invoke(app, ["measure", str(tmp_path / "x.npy"), "--pixel-um", "1", "--kind", "x"])
    assert res.exit_code == 2 and "--kind" in res.output
    (tmp_path / "x.bmp").write_bytes(b"")
    res = runner.invoke(app, ["measure", str(tmp_path / "x.bmp"), "--pixel-um", "1"])
    assert res.exit_code == 2 and "unsupported extension" in res.output
