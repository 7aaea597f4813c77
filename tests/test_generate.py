import json
import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import typer
from scipy.stats import spearmanr
from typer.testing import CliRunner

from psplab.data.dataset import load_dataset, validate
from psplab.data.images import load_image_dataset
from psplab.data.spec import SpecError
from psplab.errors import InputError
from psplab.generate import (
    ID_COLUMN,
    LOG_PARAMS,
    PROPERTY_COLUMNS,
    RECIPE_PARAMS,
    STRUCTURE_COLUMNS,
    dataset_spec_for,
    default_simulator,
    evaluate_recipes,
    failures_path_for,
    generate_dataset,
    load_design_config,
    parts_dir_for,
    sample_recipes,
    spec_path_for,
    true_causal_edges,
    write_simulated_image_table,
)
from psplab.generate_commands import register
from psplab.sim import FAMILIES, Recipe, get_family

GRID = 32
DATA_GRID = 64
CHUNK = 4


@pytest.fixture(scope="module")
def steel_dataset(tmp_path_factory):
    """An 8-recipe LHS dataset of the real simulator, generated in-process."""
    out = tmp_path_factory.mktemp("gen") / "steel.parquet"
    recipes = sample_recipes("ferritic_steel", 8, seed=3)
    generate_dataset(recipes, out, grid=DATA_GRID, seed=5, workers=0, chunk_size=CHUNK)
    return recipes, out


def test_lhs_recipes_fill_every_stratum_within_bounds():
    n = 12
    recipes = sample_recipes("al_mg", n, design="lhs", seed=1)
    bounds = get_family("al_mg").bounds
    for name in RECIPE_PARAMS:
        lo, hi = bounds[name]
        v = np.array([getattr(r, name) for r in recipes])
        assert np.all((v >= lo) & (v <= hi))
        if name in LOG_PARAMS:
            u = (np.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))
        else:
            u = (v - lo) / (hi - lo)
        # Latin hypercube: exactly one sample in each of the n strata of every parameter.
        assert sorted(np.floor(u * n).astype(int).tolist()) == list(range(n))
    assert sample_recipes("al_mg", n, seed=1) == recipes
    assert sample_recipes("al_mg", n, seed=2) != recipes


def test_bounds_override_narrows_and_fixes_parameters():
    recipes = sample_recipes(
        "ti_al", 6, seed=0, bounds={"hold_time_s": (60, 120), "solute_wt_pct": (5.0, 5.0)}
    )
    assert all(60 <= r.hold_time_s <= 120 for r in recipes)
    assert all(r.solute_wt_pct == 5.0 for r in recipes)
    with pytest.raises(ValueError, match="outside the ti_al bounds"):
        sample_recipes("ti_al", 3, bounds={"hold_temperature_C": (500, 700)})
    with pytest.raises(ValueError, match="unknown recipe parameter 'speed'"):
        sample_recipes("ti_al", 3, bounds={"speed": (1, 2)})
    with pytest.raises(ValueError, match="design"):
        sample_recipes("ti_al", 3, design="sobolish")


def test_design_config_toml(tmp_path):
    cfg = tmp_path / "b.toml"
    cfg.write_text('family = "al_mg"\n[bounds]\nhold_time_s = [60, 600]\n')
    assert load_design_config(cfg) == ("al_mg", {"hold_time_s": [60, 600]})
    cfg.write_text("cooling_rate_K_per_s = [1, 2]\ncolour = 3\n")
    with pytest.raises(ValueError, match="unknown keys colour"):
        load_design_config(cfg)


def test_generated_dataset_validates_against_its_own_spec(steel_dataset):
    recipes, out = steel_dataset
    spec_path = spec_path_for(out)
    dataset, problems = validate(spec_path)
    assert problems == []
    assert dataset.n_rows == len(recipes)
    assert dataset.input_names == list(RECIPE_PARAMS)
    assert dataset.target_names == [*STRUCTURE_COLUMNS, *PROPERTY_COLUMNS]
    assert dataset.spec.tiers()["hold_time_s"] == 0
    assert dataset.spec.tiers()["grain_size_um"] == 1
    assert dataset.spec.tiers()["yield_strength_MPa"] == 2
    frame = dataset.frame
    assert frame[ID_COLUMN].astype(int).tolist() == list(range(len(recipes)))
    assert frame["yield_strength_MPa"].notna().all() and frame["error"].isna().all()
    # The spec is the one dataset_spec_for writes, and a row outside it is caught.
    bad = pd.read_parquet(out)
    bad.loc[0, "hold_temperature_C"] = 2000.0
    with pytest.raises(SpecError, match="above max 850"):
        load_dataset(dataset_spec_for("ferritic_steel"), frame=bad)
    assert not parts_dir_for(out).exists()  # parts are removed once the table is assembled


def test_strength_falls_as_grain_size_grows(tmp_path):
    # Within one family, recipes that differ only in strain and hold time: the measured grain
    # size changes, and with no solute there is no solid solution or Orowan term to mask
    # Hall-Petch.
    bounds = {"solute_wt_pct": (0.0, 0.0), "cooling_rate_K_per_s": (5.0, 5.0)}
    recipes = sample_recipes("ferritic_steel", CHUNK, seed=0, bounds=bounds)
    frame = evaluate_recipes(recipes, grid=GRID, seed=1, chunk_size=CHUNK)
    assert frame["error"].isna().all()
    assert (frame["precipitate_fraction"] == 0).all()
    d = frame["grain_size_um"].to_numpy()
    assert d.max() / d.min() > 1.3
    rho = spearmanr(d, frame["yield_strength_MPa"]).statistic
    assert rho == pytest.approx(-1.0)


def test_rows_follow_the_family_laws(steel_dataset):
    """Each row's measured structure is its recipe's kinetics, in µm: grain size vs
    sqrt(d0² + K_gg) (64² fields hold ≈ 29 grains: seed-to-seed spread ≈ 6 %), precipitate
    fraction vs the lever rule and mean diameter vs twice the LSW radius (≈ 50 particles:
    spread ≈ 0.001 and 5 %), and the pixel columns are the plan's."""
    from psplab.sim import families as fam_mod
    from psplab.sim import plan_recipe

    recipes, out = steel_dataset
    frame = pd.read_parquet(out)
    for r, (_, row) in zip(recipes, frame.iterrows(), strict=True):
        plan = plan_recipe(r, DATA_GRID)
        assert row["grain_size_um"] == pytest.approx(fam_mod.final_grain_size_um(r), rel=0.2)
        assert row["pixel_um"] == pytest.approx(plan.pixel_um)
        assert row["precipitate_fraction"] == pytest.approx(plan.precipitate_fraction, abs=0.003)
        if plan.precipitate_fraction > 0:
            d = 2 * plan.precipitate_radius_um
            assert row["precipitate_mean_diameter_um"] == pytest.approx(d, rel=0.15)
            assert row["precipitate_pixel_um"] == pytest.approx(plan.precipitate_pixel_um)


def test_resume_after_interruption_gives_every_recipe_once(tmp_path):
    recipes = sample_recipes("al_mg", 8, seed=4)
    out = tmp_path / "ds.parquet"
    calls: list[int] = []

    def interrupted(batch, grid, seed):
        if seed == 11 + CHUNK:  # the second chunk: the run is killed here
            raise KeyboardInterrupt
        calls.append(seed)
        return default_simulator(batch, grid, seed)

    with pytest.raises(KeyboardInterrupt):
        generate_dataset(
            recipes, out, grid=GRID, seed=11, workers=0, chunk_size=CHUNK, simulator=interrupted
        )
    parts = parts_dir_for(out)
    first = pd.read_parquet(parts / "chunk-00000000.parquet")
    assert first[ID_COLUMN].tolist() == list(range(CHUNK))
    assert not out.exists()

    def counting(batch, grid, seed):
        calls.append(seed)
        return default_simulator(batch, grid, seed)

    calls.clear()
    generate_dataset(
        recipes, out, grid=GRID, seed=11, workers=0, chunk_size=CHUNK, simulator=counting
    )
    assert calls == [11 + CHUNK]  # only the unfinished chunk ran again
    table = pd.read_parquet(out)
    assert table[ID_COLUMN].tolist() == list(range(8))
    pd.testing.assert_frame_equal(table.iloc[:CHUNK].reset_index(drop=True), first)
    # A different run cannot pick up these parts by mistake.
    parts.mkdir()
    (parts / "run.json").write_text(json.dumps({"fingerprint": "other"}))
    with pytest.raises(ValueError, match="different run"):
        generate_dataset(recipes, out, grid=GRID, seed=11, workers=0, chunk_size=CHUNK)


def test_failing_recipe_is_recorded_not_fatal(tmp_path):
    good = sample_recipes("ti_al", 2, seed=2)
    hot = Recipe("ti_al", 5.0, 0.4, 1500.0, 100.0, 1.0)  # far above the ti_al bounds
    out = tmp_path / "f.parquet"
    images = tmp_path / "img"
    generate_dataset(
        [good[0], hot, good[1]],
        out,
        grid=GRID,
        seed=0,
        workers=0,
        chunk_size=CHUNK,
        images_dir=images,
    )
    table = pd.read_parquet(out)
    assert table[ID_COLUMN].tolist() == [0, 1, 2]
    assert table.loc[1, "error"].startswith("InputError")
    assert "hold_temperature_C" in table.loc[1, "error"]  # the simulator names the bad parameter
    assert table.loc[1, list(STRUCTURE_COLUMNS)].isna().all()
    others = table.drop(index=1)
    assert others["error"].isna().all() and others["yield_strength_MPa"].notna().all()
    failures = json.loads(failures_path_for(out).read_text())
    assert [f[ID_COLUMN] for f in failures] == [1]
    assert failures[0]["recipe"]["hold_temperature_C"] == 1500.0
    # Label images of the recipes that worked, none for the failed one.
    g = np.load(images / "recipe_000000_grains.npy")
    assert g.shape == (GRID, GRID) and g.min() >= 1
    assert set(np.unique(np.load(images / "recipe_000002_phases.npy"))) <= {0, 1}
    precipitates = np.load(images / "recipe_000002_precipitates.npy")
    assert precipitates.mean() == pytest.approx(table.loc[2, "precipitate_fraction"])
    assert not (images / "recipe_000001_grains.npy").exists()
    # The image table lists the images of the recipes that worked: per recipe a field of grain
    # and phase labels at its grain pixel, and its precipitate image at its own pixel.
    data = load_image_dataset(write_simulated_image_table(out, images))
    assert [f.name for f in data.fields] == ["0", "0_p", "2", "2_p"]
    assert set(data.fields[0].paths) == {"grains", "phases"}
    assert data.pixel_sizes_um().tolist() == [
        table.loc[0, "pixel_um"], table.loc[0, "precipitate_pixel_um"],
        table.loc[2, "pixel_um"], table.loc[2, "precipitate_pixel_um"],
    ]  # fmt: skip
    assert data.processing_frame()["hold_temperature_C"].tolist() == [
        good[0].hold_temperature_C, good[0].hold_temperature_C,
        good[1].hold_temperature_C, good[1].hold_temperature_C,
    ]  # fmt: skip
    grains_only = load_image_dataset(write_simulated_image_table(out, images, kinds=["grains"]))
    assert [set(f.paths) for f in grains_only.fields] == [{"grains"}, {"grains"}]
    with pytest.raises(InputError, match="image kinds"):
        write_simulated_image_table(out, images, kinds=["grains", "texture"])


def test_true_causal_edges_form_a_tiered_dag_over_the_columns():
    spec = dataset_spec_for("al_mg")
    tiers = spec.tiers()
    for family in FAMILIES:
        edges = true_causal_edges(family)
        graph = nx.DiGraph(edges)
        assert nx.is_directed_acyclic_graph(graph)
        assert set(graph.nodes) == set(tiers)
        assert all(tiers[a] <= tiers[b] for a, b in edges)
        for name in (*STRUCTURE_COLUMNS, *PROPERTY_COLUMNS):
            assert graph.in_degree(name) > 0
        # The simulator runs without Zener pinning: solute does not reach grain size.
        assert not graph.has_edge("solute_wt_pct", "grain_size_um")
    with pytest.raises(KeyError, match="unknown alloy family"):
        true_causal_edges("brass")


def _cli():
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        pass

    return app


def test_simulate_cli_writes_dataset_spec_and_manifest(tmp_path):
    cfg = tmp_path / "bounds.toml"
    cfg.write_text('family = "al_mg"\n[bounds]\nhold_time_s = [60, 600]\n')
    out = tmp_path / "run" / "ds.parquet"
    args = ["simulate", "--design-config", str(cfg), "--n", "2", "--grid", str(GRID)]
    res = CliRunner().invoke(_cli(), [*args, "--workers", "0", "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_parquet(out)
    assert len(table) == 2 and set(table["family"]) == {"al_mg"}
    assert table["hold_time_s"].between(60, 600).all()
    assert validate(spec_path_for(out))[1] == []
    manifest = json.loads((out.parent / "manifest.json").read_text())
    assert manifest["kind"] == "simulate"
    assert manifest["files"]["dataset"] == "ds.parquet"
    assert manifest["params"]["bounds"] == {"hold_time_s": [60, 600]}
    assert "image_table" not in manifest["files"]  # no --images, no image table


def test_simulate_cli_with_images_writes_an_image_table(tmp_path):
    out = tmp_path / "run" / "ds.parquet"
    args = ["simulate", "--family", "al_mg", "--n", "2", "--grid", str(GRID), "--workers", "0"]
    res = CliRunner().invoke(_cli(), [*args, "--images", str(tmp_path / "img"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out.parent / "manifest.json").read_text())
    spec = out.parent / manifest["files"]["image_table"]
    assert spec == tmp_path / "img" / "images.toml"
    data = load_image_dataset(spec)
    assert len(data.fields) == 4 and data.periodic  # grains + phases, precipitates, per recipe
    # The processing columns keep the dataset spec's units and bounds.
    columns = {c.name: c for c in data.dataset.spec.processing}
    dataset_columns = {c.name: c for c in load_dataset(spec_path_for(out)).spec.processing}
    assert columns == dataset_columns


@pytest.mark.parametrize(
    "args, message",
    [
        (["--n", "0"], "--n must be >= 1"),
        (["--family", "brass"], "--family 'brass'"),
        (["--workers", "2", "--scheduler", "tcp://x:1"], "either --workers or --scheduler"),
        (["--design", "grid"], "--design 'grid'"),
    ],
)
def test_simulate_cli_bad_inputs_exit_2(tmp_path, args, message):
    res = CliRunner().invoke(_cli(), ["simulate", "--out", str(tmp_path / "x.parquet"), *args])
    assert res.exit_code == 2
    assert message in res.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--grid", "100000"], "--grid 100000 is above the limit of 4096"),
        (["--n", "2000000"], "--n 2e+06 is above the limit of 1e+06"),
        (["--workers", "500"], "--workers 500 is above the limit"),
    ],
)
def test_simulate_cli_refuses_oversized_requests_up_front(tmp_path, args, message):
    out = tmp_path / "x.parquet"
    res = CliRunner().invoke(_cli(), ["simulate", "--out", str(out), *args])
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output
    assert not out.exists() and not parts_dir_for(out).exists()


def test_generation_request_is_checked_against_memory(monkeypatch):
    import psplab.limits
    from psplab.errors import ResourceError
    from psplab.generate import check_generation_request

    check_generation_request(64, 128, workers=1)  # a normal request passes
    monkeypatch.setattr(psplab.limits, "available_memory_bytes", lambda: 512 * 1024**2)
    with pytest.raises(ResourceError, match=r"1 worker\(s\) at --grid 128 needs about"):
        check_generation_request(64, 128, workers=1)
