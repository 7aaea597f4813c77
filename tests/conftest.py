"""Test-wide settings: JAX on the CPU, shared reference data, optional browser."""

from __future__ import annotations

import os
from pathlib import Path

# Tests force the CPU and quiet logs before JAX is imported anywhere.
os.environ["JAX_PLATFORMS"] = "cpu"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PSPLAB_NO_PROGRESS", "1")
# Small GP/linear-algebra problems: BLAS threads only add contention with XLA's own threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Many tests fit fresh closures of the same shapes; a persistent compilation cache lets XLA reuse
# compiled programs across them (and across processes the CLI tests start).
_CACHE = Path(__file__).resolve().parents[1] / ".pytest_cache" / "jax-compilation-cache"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_CACHE))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import pytest  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _truthy(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "False")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ``../shared/data``; skips (or fails under PSPLAB_REQUIRE_SHARED=1) when absent."""
    if not SHARED_DATA.is_dir():
        if _truthy("PSPLAB_REQUIRE_SHARED"):
            pytest.fail(f"shared reference data required but {SHARED_DATA} is absent")
        pytest.skip(f"shared reference data not found at {SHARED_DATA}")
    return SHARED_DATA


def pytest_collection_modifyitems(config, items):
    """Tests marked ``shared_data`` skip when the folder is absent unless it is required."""
    if SHARED_DATA.is_dir():
        return
    if _truthy("PSPLAB_REQUIRE_SHARED"):
        return  # the fixture fails them loudly
    skip = pytest.mark.skip(reason=f"shared reference data not found at {SHARED_DATA}")
    for item in items:
        if "shared_data" in item.keywords:
            item.add_marker(skip)
