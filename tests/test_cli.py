"""CLI start-up: command modules import only typer/rich/stdlib; packages resolve names lazily.

``psplab --help`` imports every ``psplab.<pkg>.commands`` module, so a module-level import of
JAX, matplotlib, pint, SciPy or pandas in any of them (or in a package ``__init__`` they pull in)
costs every CLI call seconds. These tests import the modules in fresh interpreters and check
which heavy top-level packages ended up in ``sys.modules``.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from types import ModuleType

import pytest

import psplab
import psplab.cli

# Top-level packages that take a noticeable time to import.
HEAVY = (
    "causallearn",
    "dask",
    "jax",
    "matplotlib",
    "networkx",
    "numpy",
    "numpyro",
    "optax",
    "pandas",
    "pint",
    "pyarrow",
    "scipy",
    "skimage",
    "sklearn",
)

COMMAND_MODULES = tuple(psplab.cli._COMMAND_MODULES)

_PROBE = """
import importlib, json, sys
heavy = set(sys.argv[1].split(","))
for name in sys.argv[2:]:
    if name == "--help":
        import psplab.cli
        sys.argv = ["psplab", "--help"]
        try:
            psplab.cli.main()
        except SystemExit as exc:
            assert exc.code in (0, None), exc.code
    else:
        importlib.import_module(name)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & heavy)))
"""


def _heavy_after(*steps: str) -> set[str]:
    """Heavy top-level packages loaded by a fresh interpreter after importing ``steps``."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, ",".join(HEAVY), *steps],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_command_module_imports_no_heavy_package(module):
    assert _heavy_after(module) == set()


def test_import_psplab_loads_no_heavy_package():
    assert _heavy_after("psplab") == set()


def test_cli_help_loads_no_heavy_package():
    assert _heavy_after("psplab.cli", "--help") == set()


def test_models_package_resolves_base_names_lazily():
    import psplab.models as models
    from psplab.models import base, pipeline

    assert models.ProbabilisticRegressor is base.ProbabilisticRegressor
    assert models.load_model is pipeline.load_model
    assert isinstance(models.make_model("rf"), base.ProbabilisticRegressor)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        models.nope  # noqa: B018


LAZY_PACKAGES = (
    "psplab.data",
    "psplab.sim",
    "psplab.measure",
    "psplab.strength",
    "psplab.causal",
    "psplab.report",
)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_package_exports_the_defining_modules_objects(package):
    pkg = importlib.import_module(package)
    exports, submodules = pkg.__getattr__.exports, pkg.__getattr__.submodules
    assert set(pkg.__all__) <= set(exports)
    for name, where in exports.items():
        source = importlib.import_module(f"{package}.{where}")
        assert getattr(pkg, name) is getattr(source, name), name
    namespace: dict = {}
    exec(f"from {package} import *", namespace)
    assert {n for n in namespace if n != "__builtins__"} == set(pkg.__all__)
    for sub in submodules:
        assert isinstance(getattr(pkg, sub), ModuleType)
        assert getattr(pkg, sub) is sys.modules[f"{package}.{sub}"]
    assert set(pkg.__all__) <= set(dir(pkg))
    with pytest.raises(AttributeError, match="no_such_name"):
        pkg.no_such_name  # noqa: B018


def test_public_from_imports_work():
    from psplab.causal import discover
    from psplab.data import DatasetSpec, load_dataset
    from psplab.measure import measure_grains
    from psplab.report import build_report, run_demo
    from psplab.sim import FAMILIES, Recipe, simulate_recipe
    from psplab.strength import yield_strength_mpa

    assert discover.__module__ == "psplab.causal.pc"
    assert load_dataset.__module__ == "psplab.data.dataset"
    assert DatasetSpec.__module__ == "psplab.data.spec"
    assert measure_grains.__module__ == "psplab.measure.grains"
    assert build_report.__module__ == "psplab.report.builder"
    assert run_demo.__module__ == "psplab.report.demo"
    assert simulate_recipe.__module__ == "psplab.sim.core"
    assert isinstance(FAMILIES["al_mg"].baseline_recipe(), Recipe)
    assert yield_strength_mpa.__module__ == "psplab.strength.model"


def test_errors_are_one_line_and_debug_shows_the_traceback(tmp_path):
    data = tmp_path / "t.csv"
    data.write_text("Ni,hardness\n1,200\n2,210\n")
    taken = tmp_path / "taken.toml"
    taken.write_text("# mine\n")
    args = [sys.executable, "-m", "psplab.cli", "spec", "init", str(data), "--out", str(taken)]
    plain = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert plain.returncode == 2
    assert plain.stderr.strip() == f"{taken}: file exists (use --force to replace it)"
    assert "Traceback" not in plain.stderr + plain.stdout
    args.insert(3, "--debug")
    debug = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "InputError" in debug.stderr


def test_version_prints_the_version():
    out = subprocess.run(
        [sys.executable, "-m", "psplab.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and out.stdout.strip() == f"psplab {psplab.__version__}"
