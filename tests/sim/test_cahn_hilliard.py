"""Cahn-Hilliard: mass conservation, energy decay, t^(1/3) coarsening, PFHub benchmark 1."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from psplab.sim import cahn_hilliard as chm


def _length_scale(c: np.ndarray) -> float:
    """Characteristic length 2π / <k> from the first moment of the structure factor."""
    n = c.shape[0]
    s = np.abs(np.fft.fft2(c - c.mean())) ** 2
    f = np.fft.fftfreq(n)
    k = 2 * np.pi * np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    s[0, 0] = 0.0
    return float(2 * np.pi * s.sum() / (k * s).sum())


def test_mass_is_conserved_in_float64():
    rng = np.random.default_rng(0)
    c0 = 0.45 + 0.02 * rng.standard_normal((2, 48, 48))
    with jax.enable_x64(True):
        c = chm.ch_run(jnp.asarray(c0), jnp.asarray([1.0, 5.0]), 300, chm.PFHUB1)
        assert c.dtype == jnp.float64
        c = np.asarray(c)
    rel = np.abs(c.mean(axis=(1, 2)) - c0.mean(axis=(1, 2))) / c0.mean(axis=(1, 2))
    assert np.all(rel < 1e-6), rel
    assert c.std() > 3 * c0.std()  # it did decompose


def test_free_energy_never_increases_pfhub1():
    out = chm.pfhub1(t_end=200.0, dt=1.0, n=100, n_records=12)
    energy = out["free_energy"]
    assert np.all(np.diff(energy) <= 1e-9 * abs(energy[0]))
    assert energy[-1] < 0.5 * energy[0]  # spinodal decomposition lowers F markedly
    np.testing.assert_allclose(out["mean_c"], out["mean_c"][0], rtol=1e-9)
    assert energy[0] == pytest.approx(319.1, abs=0.5)  # PFHub 1a reports F(0) ≈ 319


def test_pfhub1_initial_condition():
    c = chm.pfhub1_initial(200)
    assert c.shape == (200, 200)
    assert 0.47 < c.min() < c.max() < 0.53
    assert c.mean() == pytest.approx(0.5, abs=5e-3)


def test_coarsening_follows_one_third_power_law():
    """Late-stage domain size L(t) ∝ t^n with n in 0.25-0.40 (Lifshitz-Slyozov: 1/3)."""
    rng = np.random.default_rng(1)
    p = chm.CHParams(W=1.0, kappa=1.0)
    c = jnp.asarray(0.5 + 0.02 * rng.standard_normal((2, 64, 64)), dtype="float32")
    dt, t = 2.0, 0.0
    times, lengths = [], []
    for target in np.geomspace(200, 2000, 7):
        n = int(round((target - t) / dt))
        c = chm.ch_run(c, jnp.full((2,), dt, dtype="float32"), n, p)
        t += n * dt
        times.append(t)
        lengths.append(np.mean([_length_scale(x) for x in np.asarray(c)]))
    exponent = np.polyfit(np.log(times), np.log(lengths), 1)[0]
    assert 0.25 <= exponent <= 0.40, exponent


def test_batched_and_plain_paths_agree():
    rng = np.random.default_rng(2)
    c0 = jnp.asarray(0.5 + 0.05 * rng.standard_normal((3, 32, 32)), dtype="float32")
    dt = jnp.asarray([0.5, 1.0, 2.0], dtype="float32")
    a = np.asarray(chm.ch_run(c0, dt, 20, chm.PFHUB1))
    b = np.asarray(chm.ch_run_plain(c0, dt, 20, chm.PFHUB1))
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_nucleated_field_has_exact_mean():
    c = chm.nucleated_field(64, 0.07, 2.5, np.random.default_rng(0))
    assert c.mean() == pytest.approx(0.07, abs=1e-12)
    assert np.all(chm.nucleated_field(32, 0.0, 2.5, np.random.default_rng(0)) == 0)
