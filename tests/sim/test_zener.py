"""Zener pinning by immobile particles (Moelans, Blanpain & Wollants 2006; Fan & Chen 1997)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from psplab.errors import InputError
from psplab.sim import get_family, simulate_batch
from psplab.sim import grain_growth as gg

FRACTIONS = (0.0, 0.12, 0.3)
GRID = 64


@pytest.fixture(scope="module")
def pinned_runs():
    """One initial structure (140 grains, 64²), particles r = 2 px at f = 0, 0.12, 0.3."""
    rng = np.random.default_rng(0)
    labels0 = gg.voronoi_labels(GRID, 140, rng)
    particles = [gg.random_particles(GRID, f, 2.0, rng) for f in FRACTIONS]
    pin = np.stack([gg.pinning_field(p) for p in particles])
    _, trackers, hist, final = gg.run_grain_growth(
        [labels0] * 3, np.full(3, gg.DT_MAX), 1000, n_order=10, pin=pin, record=True, seed=0
    )
    return labels0, particles, trackers, hist, final


def _matrix_area(hist: dict, particles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reduced times and mean grain area of the *matrix* (particles are not grain)."""
    n = np.asarray(hist["n_grains"], dtype=float)
    return np.asarray(hist["t"]), (1.0 - particles.mean()) * particles.size / n


def test_random_particles_cover_the_requested_fraction():
    rng = np.random.default_rng(1)
    for f in (0.05, 0.2, 0.4):
        p = gg.random_particles(64, f, 2.5, rng)
        assert abs(p.mean() - f) <= 0.5 * 21 / 64**2  # within half a disc (21 px at r = 2.5)
        # discs do not touch: each connected particle is one disc
        lab, n = gg.periodic_label(p, connectivity=1)
        assert np.all(np.bincount(lab.ravel())[1:] == 21)
    with pytest.raises(ValueError, match="area fraction"):
        gg.random_particles(64, 0.7, 2.0, rng)
    with pytest.raises(ValueError, match="smaller fraction"):
        gg.random_particles(14, 0.4, 3.0, np.random.default_rng(0))  # jams at 0.30
    with pytest.raises(ValueError, match="radius"):
        gg.random_particles(64, 0.1, 0.5, rng)


def test_no_grain_inside_particles():
    """With ε_p > 1/2, η_i = 0 is the stable state inside a particle."""
    rng = np.random.default_rng(0)
    labels0 = gg.voronoi_labels(32, 12, rng)
    p = gg.random_particles(32, 0.2, 2.0, rng)
    eta, *_ = gg.run_grain_growth(
        [labels0], np.full(1, gg.DT_MAX), 64, pin=gg.pinning_field(p)[None], n_order=6
    )
    core = p & ~np.logical_or.reduce([np.roll(~p, s, a) for s in (1, -1) for a in (0, 1)])
    # η decays into a particle over 1/sqrt(2ε_p - 1) ≈ 0.6 px
    assert eta[0].max(axis=0)[core].max() < 0.2
    assert eta[0].max(axis=0)[core].mean() < 0.1
    assert np.mean(eta[0].max(axis=0)[~p] > 0.5) > 0.8  # grains fill the matrix
    with pytest.raises(ValueError, match="1/2"):
        gg.pinning_field(p, strength=0.4)


def test_particles_stagnate_growth_and_refine_grains(pinned_runs):
    """Pinned growth stalls (late rate ≪ unpinned) at a smaller grain size; more f, finer."""
    _, particles, _, hist, _ = pinned_runs
    final, rate = [], []
    for h, p in zip(hist, particles, strict=True):
        t, area = _matrix_area(h, p)
        late = t >= 0.5 * t[-1]
        rate.append(np.polyfit(t[late], area[late], 1)[0])
        final.append(area[-1])
    assert final[0] > final[1] > final[2]
    assert final[2] < 0.4 * final[0]
    assert rate[2] < 0.15 * rate[0], rate
    assert rate[1] < 0.6 * rate[0], rate
    # until the boundaries meet the particles, pinned and free growth start alike
    t, a0 = _matrix_area(hist[0], particles[0])
    _, a2 = _matrix_area(hist[2], particles[2])
    assert a2[1] < 1.5 * a0[1]


def test_pinned_grains_never_merge(pinned_runs):
    labels0, _, trackers, _, final = pinned_runs
    for tr, lab in zip(trackers, final, strict=True):
        assert sorted(np.unique(lab)) == list(range(1, int(lab.max()) + 1))
        per_label = [np.unique(tr._ident[lab == k]) for k in range(1, int(lab.max()) + 1)]
        assert all(len(v) == 1 for v in per_label)
        ids = [int(v[0]) for v in per_label]
        assert len(set(ids)) == len(ids) and max(ids) <= labels0.max()
        assert tr.merge_events <= 0.05 * labels0.max()  # caught and split, rare


def test_recipe_pinning_options():
    """Off by default; (f, r_um) pins with given particles and refines the grains of a long,
    hot hold (same initial grains, same adaptive pixel); the simulated precipitates are far
    below the grain pixel and cannot pin (clear error)."""
    al = get_family("al_mg")
    hot = dataclasses.replace(al.baseline_recipe(), hold_temperature_C=500.0, hold_time_s=3600.0)
    px = simulate_batch([hot], grid=48, seed=0)[0].pixel_um
    off = simulate_batch([hot, hot], grid=48, seed=0)
    given = simulate_batch([hot, hot], grid=48, seed=0, zener_pinning=(0.3, 2.0 * px))
    assert not any(r.info["pinning"] for r in off)
    for g in given:
        assert g.info["pinning"]
        assert g.info["pinning_particles"].mean() == pytest.approx(0.3, abs=0.01)
    area_off = np.mean([48 * 48 / r.grain_labels.max() for r in off])
    area_on = np.mean([48 * 48 * 0.7 / r.grain_labels.max() for r in given])
    assert area_on < 0.6 * area_off
    with pytest.raises(InputError, match="zener_pinning"):
        simulate_batch([hot], grid=32, zener_pinning=(0.6, 4.0))
    with pytest.raises(InputError, match="below one pixel"):
        simulate_batch([hot], grid=32, zener_pinning=(0.1, 0.5 * px))
    with pytest.raises(InputError, match="nanometres"):
        simulate_batch([hot], grid=32, zener_pinning=True)
