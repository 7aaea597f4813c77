"""Moments of a clipped log-normal mixture: closed form against the definition and draws."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from psplab.models.lognormal import clipped_lognormal_moments


def test_unclipped_moments_are_the_log_normal_mixture_moments():
    mu, sd = np.array([1.0, 1.5])[:, None, None], np.array([0.5, 2.0])[:, None, None]
    mean, std = clipped_lognormal_moments(mu, sd, np.array([-np.inf]), np.array([np.inf]))
    m1 = np.mean(np.exp(mu + 0.5 * sd**2))
    m2 = np.mean(np.exp(2 * mu + 2 * sd**2))
    assert mean.item() == pytest.approx(m1, rel=1e-12)
    assert std.item() == pytest.approx(np.sqrt(m2 - m1**2), rel=1e-10)


@pytest.mark.parametrize("mu,sd,lo,hi", [(1.0, 0.5, 0.5, 60.0), (2.0, 3.0, 0.01, 50.0)])
def test_clipped_moments_match_the_integral(mu, sd, lo, hi):
    dist = stats.lognorm(s=sd, scale=np.exp(mu))

    def clipped_moment(k):
        inside = integrate.quad(lambda y: y**k * dist.pdf(y), lo, hi, limit=200)[0]
        return lo**k * dist.cdf(lo) + inside + hi**k * dist.sf(hi)

    mean, std = clipped_lognormal_moments(
        np.full((1, 1, 1), mu), np.full((1, 1, 1), sd), np.log([lo]), np.log([hi])
    )
    m1, m2 = clipped_moment(1), clipped_moment(2)
    assert mean.item() == pytest.approx(m1, rel=1e-7)
    assert std.item() == pytest.approx(np.sqrt(m2 - m1**2), rel=1e-6)


def test_a_very_wide_component_stays_finite_and_inside_the_clip():
    # sigma = 40 in log units: the unclipped mean exp(800) overflows; the clipped one cannot.
    mean, std = clipped_lognormal_moments(
        np.zeros((2, 3, 1)), np.full((2, 3, 1), 40.0), np.log([1e-3]), np.log([1e3])
    )
    assert np.all(np.isfinite(mean)) and np.all((mean > 1e-3) & (mean < 1e3))
    assert np.all(np.isfinite(std)) and np.all(std < 1e3)
