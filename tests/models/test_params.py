"""Constructor parameters: stored as given (scikit-learn), counts checked before any work."""

from __future__ import annotations

import numpy as np
import pytest

from psplab.errors import InputError, ResourceError
from psplab.limits import require_count
from psplab.models import MODEL_NAMES, make_model
from psplab.models.base import store_params


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_constructor_argument_is_stored_as_the_same_object(name):
    # A distinct object per parameter: get_params must hand back exactly what was passed
    # (scikit-learn's clone checks identity), not a copy or a converted value.
    defaults = make_model(name).get_params(deep=False)
    given = {key: [key] for key in defaults}
    est = type(make_model(name))(**given)
    for key, value in given.items():
        assert est.get_params(deep=False)[key] is value


def test_store_params_skips_star_arguments_and_stores_nothing_else():
    class Toy:
        def __init__(self, a, b=2, *args, **kwargs):
            local = "not a parameter"  # noqa: F841
            store_params(self, locals())

    toy = Toy(1, 5, 7, c=3)
    assert vars(toy) == {"a": 1, "b": 5}


def test_require_count_accepts_counts_and_refuses_the_rest():
    assert require_count("x.n", 3, 10) == 3
    assert require_count("x.n", np.int64(10), 10) == 10
    assert require_count("x.n", "4", 10) == 4
    for bad in (0, -2, "many", None):
        with pytest.raises(InputError, match=r"x\.n must be a positive integer"):
            require_count("x.n", bad, 10)
    with pytest.raises(ResourceError, match=r"x\.n 11 is above the limit of 10: why"):
        require_count("x.n", 11, 10, "why")


@pytest.mark.parametrize(
    ("name", "param"),
    [("ensemble", "n_members"), ("rf", "n_estimators"), ("bhn", "n_members")],
)
def test_a_zero_count_is_refused_by_name_before_fitting(name, param):
    X, y = np.random.default_rng(0).normal(size=(8, 2)), np.arange(8.0)
    with pytest.raises(InputError, match=rf"{name}\.{param} must be a positive integer"):
        make_model(name, **{param: 0}).check_params(X, y)
