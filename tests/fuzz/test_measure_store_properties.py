"""Property-based tests of measurement and of the campaign store (hypothesis)."""

from __future__ import annotations

import math
import struct

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from psplab.data.spec import DatasetSpec
from psplab.measure import measure_grains, measure_particles
from psplab.measure.image import read_image
from psplab.optimize.store import CampaignStore, read_export

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

labels = hnp.arrays(
    np.int64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=24),
    elements=st.integers(-3, 5),
)


@SETTINGS
@given(labels, st.permutations(range(9)))
def test_grain_measures_do_not_depend_on_the_label_values(image, perm):
    assume(np.unique(image).size >= 2)
    _, index = np.unique(image, return_inverse=True)  # values 0..k-1, k <= 9
    relabelled = np.asarray(perm)[index.reshape(image.shape)]
    a = measure_grains(image, 1.0)
    b = measure_grains(relabelled, 1.0)
    for key in ("grain_count", "grain_count_effective", "astm_g_planimetric", "astm_g_intercept"):
        assert a[key] == pytest.approx(b[key], nan_ok=True)
    assert math.isfinite(a["astm_g_planimetric"]) and a["grain_count"] >= 1


@SETTINGS
@given(labels, st.sampled_from([0.1, 2.0, 37.5]))
def test_grain_sizes_scale_with_the_pixel_and_counts_with_a_transpose(image, k):
    assume(np.unique(image).size >= 2)
    a = measure_grains(image, 1.0)
    b = measure_grains(image, k)
    assert b["mean_diameter_um"] == pytest.approx(k * a["mean_diameter_um"])
    assert b["mean_intercept_um"] == pytest.approx(k * a["mean_intercept_um"])
    t = measure_grains(image.T, 1.0)
    assert t["grain_count"] == a["grain_count"]
    assert t["astm_g_planimetric"] == pytest.approx(a["astm_g_planimetric"])


@SETTINGS
@given(labels)
def test_an_image_of_one_value_is_refused_never_measured(image):
    flat = np.full_like(image, image.flat[0])
    with pytest.raises(ValueError, match="no grains"):
        measure_grains(flat, 1.0)


@SETTINGS
@given(
    hnp.arrays(np.bool_, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=24)),
    st.booleans(),
)
def test_particle_area_fraction_is_the_mask_mean(mask, periodic):
    p = measure_particles(mask, 0.5, periodic=periodic)
    assert p["area_fraction"] == pytest.approx(mask.mean())
    assert p["count"] >= 0 and (p["count"] == 0) == (not mask.any())


@SETTINGS
@given(st.binary(max_size=2000), st.sampled_from([".png", ".npy", ".npz", ".tif"]))
def test_arbitrary_bytes_as_an_image_are_one_clean_error(tmp_path, data, suffix):
    path = tmp_path / f"x{suffix}"
    path.write_bytes(data)
    try:
        image = read_image(path)
    except (ValueError, FileNotFoundError) as exc:
        assert str(exc)
        return
    assert image.ndim == 2


# --- campaign store ----------------------------------------------------------------------------

SPEC = DatasetSpec.from_dict(
    {
        "name": "prop",
        "column": [
            {"name": "T", "role": "processing", "min": 0, "max": 1000},
            {"name": "route", "role": "processing", "kind": "categorical"},
            {"name": "y", "role": "property"},
        ],
    }
)
finite = st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False)
row = st.tuples(st.floats(0, 1000, allow_nan=False), st.sampled_from(["A", "B", 'é,"x"']), finite)


def _frame(rows) -> pd.DataFrame:
    return pd.DataFrame([{"T": t, "route": r, "y": y} for t, r, y in rows])


@SETTINGS
@given(st.lists(st.lists(row, min_size=1, max_size=5), min_size=1, max_size=4), st.data())
def test_observe_stores_each_row_once_per_replicate_whatever_file_it_comes_in(
    tmp_path_factory, files, data
):
    from psplab.optimize.space import SearchSpace

    d = tmp_path_factory.mktemp("store")
    space = SearchSpace.from_spec(SPEC, choices={"route": ["A", "B", 'é,"x"']})
    store = CampaignStore.create(d / "c.db", SPEC, "y", space=space)
    # Files may repeat rows of earlier files and hold replicates of their own.
    pool = [r for f in files for r in f]
    files = files + [data.draw(st.lists(st.sampled_from(pool), max_size=6))]
    expected: dict[tuple, int] = {}
    for i, rows in enumerate(files):
        if rows:
            store.observe_frame(_frame(rows), source=f"f{i}")
        for key in set(rows):
            expected[key] = max(expected.get(key, 0), rows.count(key))
    obs = store.observations()
    got: dict[tuple, int] = {}
    for t, r, y in zip(obs["T"], obs["route"], obs["y"], strict=True):
        got[(t, r, y)] = got.get((t, r, y), 0) + 1
    assert got == expected
    # Export and read back: every double bit for bit.
    for suffix in (".csv", ".parquet"):
        back = read_export(store.export(d / f"e{suffix}"))
        for name in ("T", "y"):
            assert [struct.pack("<d", v) for v in back[name]] == [
                struct.pack("<d", v) for v in obs[name]
            ]
    store.close()
