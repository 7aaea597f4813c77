"""Search-space fixtures for the optimizer tests."""

from __future__ import annotations

import pytest

from psplab.optimize.space import Parameter, SearchSpace


@pytest.fixture
def branin_space() -> SearchSpace:
    return SearchSpace([Parameter("x1", low=-5.0, high=10.0), Parameter("x2", low=0.0, high=15.0)])


@pytest.fixture
def hartmann_space() -> SearchSpace:
    return SearchSpace([Parameter(f"x{i}", low=0.0, high=1.0) for i in range(6)])


@pytest.fixture
def recipe_space() -> SearchSpace:
    return SearchSpace(
        [
            Parameter("solute_wt_pct", low=0.0, high=2.5, unit="wt%"),
            Parameter("hold_temperature_C", low=650.0, high=850.0, unit="degC"),
            Parameter("hold_time_s", low=10.0, high=3600.0, unit="s", log=True),
        ]
    )
