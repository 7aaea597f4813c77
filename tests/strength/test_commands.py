"""``psplab mechanics`` end to end: inputs, outputs, manifest, and one line per bad input."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from psplab.cli import app
from psplab.strength.fft import mechanics_yield_strength

from ._micro import periodic_discs, periodic_voronoi

N = 32


@pytest.fixture(scope="module")
def micro():
    grains = periodic_voronoi(N, 8, seed=11)
    phases = periodic_discs(N, np.random.default_rng(12).uniform(0, N, (4, 2)), radius=2.0)
    return grains, phases


def test_mechanics_npz_writes_run_directory_and_json(tmp_path, micro):
    grains, phases = micro
    src = tmp_path / "micro.npz"
    np.savez(src, grain_labels=grains, phase_labels=phases)
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "mechanics",
            str(src),
            "--pixel-um",
            "0.5",
            "--family",
            "al_mg",
            "--solute",
            "3",
            "--json",
            str(tmp_path / "m.json"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "m.json").read_text())
    assert np.asarray(data["stiffness_gpa"]).shape == (3, 3)
    direct = mechanics_yield_strength(grains, phases, 0.5, "al_mg", solute_wt_pct=3.0)
    assert data["yield_strength_mpa"] == pytest.approx(direct["yield_strength_mpa"], rel=1e-9)
    np.testing.assert_allclose(data["stiffness_gpa"], direct["stiffness_gpa"], rtol=1e-9)
    assert "0.2 % offset yield strength" in result.output

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "mechanics"
    for role in ("curve_csv", "curve_png", "stress_field_png", "results_json"):
        assert (out / manifest["files"][role]).is_file()
    assert manifest["results"]["yield_strength_mpa"] == pytest.approx(data["yield_strength_mpa"])
    with open(out / "curve.csv") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["strain", "stress_MPa"]
    np.testing.assert_allclose([float(r[1]) for r in rows[1:]], direct["curve"]["stress_mpa"])
    field = np.load(out / "stress_at_yield.npy")
    assert field.shape == (N, N) and np.all(field > 0)


def test_mechanics_png_with_separate_phase_image(tmp_path, micro):
    from skimage import io

    grains, phases = micro
    io.imsave(tmp_path / "grains.png", grains.astype(np.uint8), check_contrast=False)
    np.save(tmp_path / "phases.npy", phases)
    result = CliRunner().invoke(
        app,
        [
            "mechanics",
            str(tmp_path / "grains.png"),
            "--pixel-um",
            "0.5",
            "--family",
            "al_mg",
            "--solute",
            "3",
            "--phases",
            str(tmp_path / "phases.npy"),
            "--json",
            str(tmp_path / "m.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["info"]["precipitate_fraction"] == pytest.approx(phases.mean())
    assert data["info"]["n_grains"] == len(np.unique(grains))


def test_mechanics_bad_inputs_exit_2_with_one_line_each(tmp_path):
    np.save(tmp_path / "rgb.npy", np.random.default_rng(0).random((8, 8)))
    result = CliRunner().invoke(
        app,
        [
            "mechanics",
            str(tmp_path / "rgb.npy"),
            "--pixel-um",
            "0",
            "--family",
            "brass",
            "--phases",
            str(tmp_path / "missing.png"),
        ],
    )
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 4, result.output
    assert any("--pixel-um must be a positive number" in line for line in lines)
    assert any(
        "--family 'brass' is not one of al_mg, ferritic_steel, ti_al" in line for line in lines
    )
    assert any("pixel values must be integer labels" in line for line in lines)
    assert any("missing.png: no such file" in line for line in lines)


def test_mechanics_shape_mismatch_is_reported(tmp_path):
    np.save(tmp_path / "g.npy", np.ones((8, 8), int))
    np.save(tmp_path / "p.npy", np.zeros((8, 9), int))
    result = CliRunner().invoke(
        app,
        [
            "mechanics",
            str(tmp_path / "g.npy"),
            "--pixel-um",
            "1",
            "--family",
            "ti_al",
            "--phases",
            str(tmp_path / "p.npy"),
        ],
    )
    assert result.exit_code == 2
    assert "differs from the grain image" in result.output


def _mechanics(*args):
    return CliRunner().invoke(app, ["mechanics", *map(str, args)])


def test_damaged_and_oversized_inputs_exit_2_before_any_solve(tmp_path, monkeypatch):
    from psplab.strength import fft

    def no_solve(*a, **k):
        raise AssertionError("the solver ran")

    monkeypatch.setattr(fft, "uniaxial_curve", no_solve)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    r = _mechanics(broken, "--pixel-um", 1, "--family", "al_mg")
    assert r.exit_code == 2 and "not a readable .npz file" in r.output
    assert len(r.output.strip().splitlines()) == 1
    # An .npz whose header declares a huge array is refused from the header, before loading.
    import zipfile

    header = np.lib.format.header_data_from_array_1_0(np.zeros((2, 2), np.int64))
    header["shape"] = (30_000, 30_000)
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as zf, zf.open("grain_labels.npy", "w") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        fh.write(b"\0" * 64)  # the data is not there: a reader that trusted the header would fail
    r = _mechanics(tmp_path / "huge.npz", "--pixel-um", 1, "--family", "al_mg")
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert "pixels" in r.output and "huge.npz" in r.output


def test_too_many_steps_or_pixels_are_refused(tmp_path, monkeypatch):
    np.save(tmp_path / "g.npy", np.ones((64, 64), int))
    r = _mechanics(tmp_path / "g.npy", "--pixel-um", 1, "--family", "al_mg", "--steps", 10**6)
    assert r.exit_code == 2
    assert r.output.strip() == "--steps must be between 4 and 2000, got 1000000"
    monkeypatch.setattr("psplab.limits.available_memory_bytes", lambda: 2**20)
    r = _mechanics(tmp_path / "g.npy", "--pixel-um", 1, "--family", "al_mg")
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert "a 64×64 image with 40 load steps needs about" in r.output


def test_memory_estimate_tracks_pixels_and_steps():
    from psplab.strength.fft import mechanics_memory_bytes

    base = mechanics_memory_bytes((64, 64), 40)
    assert mechanics_memory_bytes((128, 128), 40) == pytest.approx(4 * base)
    assert mechanics_memory_bytes((64, 64), 400) > 5 * base  # the kept stress images dominate


def test_sim_recipe_npz_is_read_with_its_phase_labels_and_pixel_size(tmp_path, micro):
    grains, phases = micro
    # what `psplab sim recipe` writes: label images plus other arrays
    np.savez_compressed(
        tmp_path / "microstructure.npz",
        grain_labels=grains,
        phase_labels=phases,
        composition=np.ones((N, N)),
        pixel_um=0.5,
    )
    from psplab.strength import read_label_images

    g, p, pixel_um = read_label_images(tmp_path / "microstructure.npz")
    np.testing.assert_array_equal(g, grains)
    np.testing.assert_array_equal(p, phases)
    assert pixel_um == 0.5
    # the stored pixel size is used when --pixel-um is not given
    out = CliRunner().invoke(
        app, ["mechanics", str(tmp_path / "microstructure.npz"), "--family", "al_mg",
              "--steps", "8", "--json", str(tmp_path / "m.json")],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert json.loads((tmp_path / "m.json").read_text())["pixel_um"] == 0.5
    np.save(tmp_path / "g.npy", grains)
    out = CliRunner().invoke(app, ["mechanics", str(tmp_path / "g.npy"), "--family", "al_mg"])
    assert out.exit_code == 2
    assert (
        out.output.strip()
        == f"--pixel-um is needed: {tmp_path / 'g.npy'} does not store its pixel size"
    )


def test_unwritable_outputs_are_refused_before_the_solve(tmp_path):
    np.save(tmp_path / "g.npy", np.ones((8, 8), int))
    (tmp_path / "taken").write_text("a file")
    r = _mechanics(
        tmp_path / "g.npy", "--pixel-um", 1, "--family", "al_mg",
        "--out", tmp_path / "taken", "--json", tmp_path,
    )  # fmt: skip
    assert r.exit_code == 2
    assert sorted(r.output.strip().splitlines()) == [
        f"--json {tmp_path}: is a folder, not a file",
        f"--out {tmp_path / 'taken'}: exists and is not a folder",
    ]
