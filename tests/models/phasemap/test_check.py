"""K-fold check of SAGE against a plain GP: which model predicts held-out property readings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from psplab.models.phasemap import PhaseMapModel, PropertySource, SamplingWarning, StructureSource
from psplab.models.phasemap.check import check_phase_map, reference_gp_predict

from .data import TINY, tiny_data

PARAMS = dict(n_regions=2, **TINY)


def _check(yp_fn=None, n_folds: int = 3):
    """3-fold check on SAGE's tiny 2-D test data (two regions split at x0 = 0.5), with the
    property replaced by ``yp_fn(xp)`` if given (the data's own property jumps at the boundary)."""
    xs, ls, xp, yp = tiny_data()
    if yp_fn is not None:
        yp = yp_fn(xp)
    sources = [PropertySource(xp[:20], yp[:20], "hardness", "a"), PropertySource(xp[20:], yp[20:], "hardness", "b")]  # fmt: skip
    return (
        check_phase_map(
            PhaseMapModel(**PARAMS),
            [StructureSource(xs, labels=ls)],
            sources,
            n_folds=n_folds,
            seed=0,
        ),
        xp,
        yp,
    )


def test_check_predicts_each_reading_from_a_fit_that_did_not_see_it():
    check, xp, yp = _check()
    f = check.frame
    # Every reading once, in its source's order, with its coordinates and value.
    assert len(f) == len(yp) and sorted(f["fold"].unique()) == [0, 1, 2]
    np.testing.assert_allclose(f["value"], yp)
    np.testing.assert_allclose(f[["x0", "x1"]], xp)
    assert list(f["source"]) == ["a"] * 20 + ["b"] * 24 and list(f["row"][:3]) == [0, 1, 2]
    # Fold 0 again by hand: the same refit (same seed) on the other readings gives the same
    # predictions, and so does the plain GP.
    xs, ls, _, _ = tiny_data()
    te = np.flatnonzero(f["fold"] == 0)
    tr = np.setdiff1d(np.arange(len(yp)), te)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        model = PhaseMapModel(**PARAMS).fit(
            [StructureSource(xs, labels=ls)],
            [
                PropertySource(xp[tr[tr < 20]], yp[tr[tr < 20]], "hardness", "a"),
                PropertySource(xp[tr[tr >= 20]], yp[tr[tr >= 20]], "hardness", "b"),
            ],
        )
    pred = model.predict(xp[te])
    np.testing.assert_allclose(f["sage_mean"].iloc[te], pred.mean[:, 0], rtol=1e-6)
    np.testing.assert_allclose(f["sage_std"].iloc[te], pred.std[:, 0], rtol=1e-6)
    gp_mean, _ = reference_gp_predict(model, xp[tr], yp[tr], xp[te], seed=0)
    np.testing.assert_allclose(f["gp_mean"].iloc[te], gp_mean, rtol=1e-6)
    # The summary is computed from the frame.
    (row,) = check.summary().to_dict(orient="records")
    sse = np.sum((f["value"] - f["sage_mean"]) ** 2)
    assert row["n"] == len(yp)
    assert row["sage_r2"] == pytest.approx(1 - sse / np.sum((yp - yp.mean()) ** 2))
    inside = np.abs(f["value"] - f["gp_mean"]) <= 1.6448536 * f["gp_std"]
    assert row["gp_coverage90"] == pytest.approx(inside.mean())


def test_check_prefers_the_plain_gp_when_the_property_ignores_the_phases():
    """A smooth property that runs straight across the phase boundary: two regional functions,
    each fitted to half the readings, predict held-out readings worse than one GP."""
    check, _, _ = _check(lambda X: np.sin(3 * X[:, 0]) + 0.5 * X[:, 1])
    (row,) = check.summary().to_dict(orient="records")
    assert row["gp_r2"] > 0.95
    assert check.gp_is_better() == ["hardness"]


def test_check_rejects_bad_fold_counts():
    xs, ls, xp, yp = tiny_data()
    with pytest.raises(ValueError, match=r"n_folds must be in \[2, 44\]"):
        check_phase_map(
            PhaseMapModel(**PARAMS), [StructureSource(xs, labels=ls)], [PropertySource(xp, yp)], 1
        )
    with pytest.raises(ValueError, match="needs property readings"):
        check_phase_map(PhaseMapModel(**PARAMS), [StructureSource(xs, labels=ls)], [], 3)
