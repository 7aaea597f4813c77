"""Analytic objectives with known optima, shared by the optimizer tests."""

from __future__ import annotations

import numpy as np

BRANIN_MIN = 0.397887357729739  # Branin-Hoo global minimum (three minimizers)
HARTMANN6_MIN = -3.32236801141551  # at (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)

_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def branin(records) -> np.ndarray:
    x1 = np.array([r["x1"] for r in records], dtype=float)
    x2 = np.array([r["x2"] for r in records], dtype=float)
    b, c, t = 5.1 / (4 * np.pi**2), 5 / np.pi, 1 / (8 * np.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * np.cos(x1) + 10


def hartmann6(records) -> np.ndarray:
    X = np.array([[r[f"x{i}"] for i in range(6)] for r in records], dtype=float)
    inner = np.einsum("ij,nij->ni", _H6_A, (X[:, None, :] - _H6_P[None]) ** 2)
    return -(np.exp(-inner) @ _H6_ALPHA)


def hall_petch_strength(records) -> np.ndarray:
    """A toy recipe -> strength law with a known optimum inside the bounds.

    Grain size grows with hold temperature and time (parabolic growth), solid solution adds
    ``k_ss sqrt(c)`` and precipitates need solute above 1 wt% but coarsen (lose Orowan strength)
    as the hold gets hotter: sigma = 50 + 400/sqrt(d) + 120 sqrt(c) + 150 * f(c) * g(T).
    """
    T = np.array([r["hold_temperature_C"] for r in records], dtype=float)
    t = np.array([r["hold_time_s"] for r in records], dtype=float)
    c = np.array([r["solute_wt_pct"] for r in records], dtype=float)
    d_um = np.sqrt(4.0**2 + 2e-2 * t * np.exp(-(900.0 - T) / 60.0) * 50.0)
    precip = np.clip(c - 1.0, 0.0, None) * np.exp(-(((T - 700.0) / 60.0) ** 2))
    return 50.0 + 400.0 / np.sqrt(d_um) + 120.0 * np.sqrt(c) + 150.0 * precip


# Cheap optimizer settings for tests (NumPy GP, few candidates).
FAST = {"model": "fastgp", "n_candidates": 256, "refine_rounds": 3, "model_params": {"n_restarts": 0}}
