import json

import numpy as np
import pytest
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


def _labels_file(tmp_path):
    labels = np.repeat(np.repeat(np.arange(16).reshape(4, 4), 16, 0), 16, 1)
    np.save(tmp_path / "g.npy", labels)
    return tmp_path / "g.npy"


@pytest.mark.parametrize("pixel", ["1e-300", "0", "-1", "inf", "nan", "1e300"])
def test_unphysical_pixel_sizes_are_refused(tmp_path, pixel):
    res = runner.invoke(app, ["measure", str(_labels_file(tmp_path)), "--pixel-um", pixel])
    assert res.exit_code == 2
    assert "--pixel-um must be a positive pixel size in micrometres" in res.output


def test_decompression_bomb_is_refused_from_the_header(tmp_path, monkeypatch):
    from PIL import ImageFile

    Image.new("1", (20000, 20000)).save(tmp_path / "bomb.png")  # ~50 kB on disk
    assert (tmp_path / "bomb.png").stat().st_size < 2_000_000

    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    res = runner.invoke(app, ["measure", str(tmp_path / "bomb.png"), "--pixel-um", "1"])
    assert res.exit_code == 2
    assert "image is 20000 x 20000 = 400,000,000 pixels, above the limit" in res.output


def test_an_image_of_one_value_has_no_grains(tmp_path):
    np.save(tmp_path / "z.npy", np.zeros((64, 64), dtype=int))
    res = runner.invoke(
        app, ["measure", str(tmp_path / "z.npy"), "--pixel-um", "1", "--kind", "grains"]
    )
    assert res.exit_code == 2
    assert "no grain boundaries, so no grains to measure" in res.output
    assert "astm" not in res.output.lower()


def test_a_3d_array_is_not_taken_for_an_rgba_picture(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((2, 3, 4), dtype=int))
    res = runner.invoke(app, ["measure", str(tmp_path / "a.npy"), "--pixel-um", "1"])
    assert res.exit_code == 2 and "shape (2, 3, 4)" in res.output


def test_the_npz_of_sim_recipe_is_measured_with_its_own_pixel_size(tmp_path):
    labels = np.repeat(np.repeat(np.arange(16).reshape(4, 4), 16, 0), 16, 1)
    phases = (labels % 3 == 0).astype(np.int8)
    np.savez_compressed(
        tmp_path / "m.npz", grain_labels=labels, phase_labels=phases, pixel_um=np.float64(0.5)
    )
    out = tmp_path / "m.json"
    res = runner.invoke(
        app,
        ["measure", str(tmp_path / "m.npz"), "--kind", "grains", "--periodic", "--json", str(out)],
    )
    assert res.exit_code == 0, res.output
    grains = json.loads(out.read_text())
    assert grains["pixel_um"] == 0.5 and grains["grain_count"] == 16
    # 16 square grains of 16 x 16 pixels of 0.5 um: 8 um sides, equivalent diameter 9.03 um.
    assert grains["mean_diameter_um"] == pytest.approx(8.0 * 2 / np.sqrt(np.pi))
    res = runner.invoke(
        app, ["measure", str(tmp_path / "m.npz"), "--kind", "phases", "--json", str(out)]
    )
    assert res.exit_code == 0
    assert json.loads(out.read_text())["phase_fractions"]["1"] == pytest.approx(phases.mean())


def test_an_npz_of_unknown_arrays_asks_which_one(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros((4, 4)), b=np.ones((4, 4)))
    res = runner.invoke(app, ["measure", str(tmp_path / "x.npz"), "--pixel-um", "1"])
    assert (
        res.exit_code == 2
        and "choose the array to measure with --array (it holds a, b)" in res.output
    )
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not a zip")
    res = runner.invoke(app, ["measure", str(tmp_path / "bad.npz"), "--pixel-um", "1"])
    assert res.exit_code == 2 and "not a readable .npz archive" in res.output


def test_json_of_an_empty_particle_image_is_strict(tmp_path):
    np.save(tmp_path / "e.npy", np.zeros((32, 32), dtype=np.uint8))
    out = tmp_path / "e.json"
    res = runner.invoke(
        app,
        [
            "measure",
            str(tmp_path / "e.npy"),
            "--pixel-um",
            "1",
            "--kind",
            "particles",
            "--json",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output

    def refuse(name):
        raise AssertionError(f"{name} in JSON")

    particles = json.loads(out.read_text(), parse_constant=refuse)["particles"]
    assert particles["count"] == 0 and particles["mean_eq_diameter_um"] is None
