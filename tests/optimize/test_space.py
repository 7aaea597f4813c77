"""Search space: bounds, fixed values, linear constraints, integers and categoricals."""

from __future__ import annotations

import numpy as np
import pytest

from psplab.data.spec import DatasetSpec
from psplab.optimize.space import LinearConstraint, Parameter, SearchSpace


def test_parse_linear_constraint():
    c = LinearConstraint.parse("2*a + b - 0.5*c + 1 <= 10 - a")
    assert c.coefficients == {"a": 3.0, "b": 1.0, "c": -0.5}
    assert c.op == "<=" and c.rhs == 9.0
    eq = LinearConstraint.parse("Fe + Cr + Ni == 100")
    assert eq.op == "==" and eq.rhs == 100.0
    with pytest.raises(ValueError, match="not linear"):
        LinearConstraint.parse("a * b <= 3")
    with pytest.raises(ValueError, match="needs one of"):
        LinearConstraint.parse("a + b")


def test_composition_sum_and_inequality_are_met_by_samples():
    space = SearchSpace(
        [
            Parameter("Cr_wt_pct", low=10.0, high=30.0),
            Parameter("Ni_wt_pct", low=0.0, high=20.0),
            Parameter("Fe_wt_pct", low=50.0, high=90.0),
            Parameter("T_C", low=800.0, high=1200.0),
        ],
        constraints=["Cr_wt_pct + Ni_wt_pct + Fe_wt_pct == 100", "Cr_wt_pct - Ni_wt_pct >= 5"],
    )
    U = space.sample(200, seed=3)
    x = space.physical(U)
    total = x["Cr_wt_pct"] + x["Ni_wt_pct"] + x["Fe_wt_pct"]
    np.testing.assert_allclose(total, 100.0, atol=1e-3)
    assert np.all(x["Cr_wt_pct"] - x["Ni_wt_pct"] >= 5.0 - 1e-3)
    for name, p in zip(space.names, space.parameters, strict=True):
        assert np.all((x[name] >= p.low) & (x[name] <= p.high))
    # Samples still spread over the free temperature axis.
    assert np.ptp(x["T_C"]) > 300.0


def test_fixed_integer_categorical_and_log_parameters():
    space = SearchSpace(
        [
            Parameter("passes", "integer", low=1, high=6),
            Parameter("atmosphere", "categorical", choices=("air", "argon", "vacuum")),
            Parameter("time_s", low=1.0, high=1e4, log=True),
            Parameter("T_C", low=500.0, high=700.0),
        ],
        fixed={"T_C": 650.0},
    )
    recs = space.to_records(space.sample(64, seed=0))
    assert all(isinstance(r["passes"], int) and 1 <= r["passes"] <= 6 for r in recs)
    assert {r["atmosphere"] for r in recs} == {"air", "argon", "vacuum"}
    assert all(r["T_C"] == 650.0 for r in recs)
    times = np.array([r["time_s"] for r in recs])
    # log scale: about half the samples lie below the geometric mean 100 s
    assert 0.3 < np.mean(times < 100.0) < 0.7
    assert set(np.unique([r["passes"] for r in recs])) == set(range(1, 7))
    F = space.features(space.to_internal(recs))
    assert F.shape == (64, 1 + 3 + 1 + 1)
    np.testing.assert_array_equal(F[:, 1:4].sum(1), 1.0)  # one-hot
    # round trip of records through internal coordinates
    again = space.to_records(space.to_internal(recs))
    assert again == recs or all(
        a["passes"] == b["passes"]
        and a["atmosphere"] == b["atmosphere"]
        and np.isclose(a["time_s"], b["time_s"])
        for a, b in zip(again, recs, strict=True)
    )
    # serialization
    assert SearchSpace.from_dict(space.to_dict()).to_dict() == space.to_dict()


def test_bad_spaces_are_refused_with_the_parameter_named():
    with pytest.raises(ValueError, match="fixed x=2 is outside"):
        SearchSpace([Parameter("x", low=0.0, high=1.0)], fixed={"x": 2.0})
    with pytest.raises(ValueError, match="unknown parameter 'y'"):
        SearchSpace([Parameter("x", low=0.0, high=1.0)], constraints=["x + y <= 1"])
    with pytest.raises(ValueError, match="no room"):
        SearchSpace(
            [Parameter("a", low=0.0, high=1.0), Parameter("b", low=0.0, high=1.0)],
            constraints=["a + b >= 3"],
        ).sample(4)


def test_from_spec_uses_processing_bounds_and_names_unsearchable_columns():
    spec = DatasetSpec.from_dict(
        {
            "name": "t",
            "column": [
                {"name": "T_C", "role": "processing", "unit": "degC", "min": 100, "max": 500},
                {"name": "t_s", "role": "processing", "unit": "s"},
                {"name": "route", "role": "processing", "kind": "categorical"},
                {"name": "YS", "role": "property", "unit": "MPa"},
            ],
        }
    )
    with pytest.raises(ValueError) as err:
        SearchSpace.from_spec(spec)
    assert "'t_s': needs min and max" in str(err.value)
    assert "'route': categorical" in str(err.value)
    space = SearchSpace.from_spec(spec, fixed={"t_s": 60.0}, choices={"route": ["A", "B"]})
    assert space.names == ["T_C", "t_s", "route"]
    assert space.parameter("T_C").low == 100.0 and space.parameter("T_C").unit == "degC"
    assert space.to_records(space.sample(3))[0]["t_s"] == 60.0
