"""Fixtures of the phase-map tests."""

from __future__ import annotations

import warnings

import pytest

from psplab.models.phasemap import PhaseMapModel, PropertySource, SamplingWarning, StructureSource

from .data import TINY, tiny_data


@pytest.fixture(scope="session")
def tiny_model():
    """The GP phase map fitted to :func:`tiny_data` with the tests' shared settings."""
    xs, ls, xp, yp = tiny_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        model = PhaseMapModel(n_regions=2, **TINY)
        model.fit([StructureSource(xs, labels=ls)], [PropertySource(xp, yp, prop="hardness")])
    return model
