"""Write ``docs/api.md``: the public names of every psplab package, from their ``__all__``.

Run ``python -m psplab._apidoc > docs/api.md`` after changing a package's public names;
``tests/test_api_doc.py`` fails while a public name is missing from the page.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys

__all__ = ["PACKAGES", "api_markdown", "public_names"]

# (module, what it is for), in the order of the data flow.
PACKAGES = (
    ("psplab", "the main classes and pipeline functions of every sub-package, loaded on first use"),
    ("psplab.data", "dataset specs, strict table reading, validation, units"),
    ("psplab.sim", "phase-field simulation of processing recipes"),
    ("psplab.measure", "image -> microstructure features"),
    ("psplab.strength", "yield-strength model and FFT mechanics check"),
    ("psplab.models", "regressors with uncertainty, evaluation, the phase-map model"),
    ("psplab.models.phasemap", "phase maps: structure + property data, configs, runs, figures"),
    ("psplab.causal", "causal discovery, effects and influence of processing parameters"),
    ("psplab.optimize", "Bayesian optimization, campaigns, the simulator in the loop"),
    ("psplab.report", "HTML reports of run directories, the demo"),
    ("psplab.errors", "the exceptions psplab raises on purpose"),
    ("psplab.limits", "up-front resource checks"),
    ("psplab.manifest", "run-directory manifests"),
    ("psplab.progress", "progress bars and plain progress lines"),
    ("psplab.distributed", "Dask clusters and task fan-out"),
    ("psplab.plotting", "matplotlib access shared by the plots modules"),
)


def public_names(module_name: str) -> list[str]:
    """The names in a module's ``__all__``.

    Parameters
    ----------
    module_name : str
        A dotted module name.

    Returns
    -------
    list of str
        Empty when the module has no ``__all__``.
    """
    return list(getattr(importlib.import_module(module_name), "__all__", []))


def _summary(obj: object) -> str:
    if not (inspect.isclass(obj) or inspect.isfunction(obj)):
        return ""
    doc = inspect.getdoc(obj) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ")
    # reStructuredText roles and literals -> Markdown code spans
    first = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", first).replace("``", "`")
    return first.replace("|", "\\|")


def api_markdown() -> str:
    """The text of ``docs/api.md``.

    Returns
    -------
    str
    """
    lines = [
        "# Python API",
        "",
        "Every public name of psplab, by package (the `__all__` of each). Import from the",
        "package, e.g. `from psplab.strength import run_mechanics`; the main classes and",
        "pipeline functions are also available from `psplab` itself. Names load on first use, so",
        "`import psplab` is cheap. Each function's docstring gives its parameters, returns and",
        "errors; the user guides in this folder show them at work.",
        "",
        "This page is generated: `python -m psplab._apidoc > docs/api.md`.",
    ]
    for module_name, purpose in PACKAGES:
        module = importlib.import_module(module_name)
        lines += [
            "",
            f"## `{module_name}` — {purpose}",
            "",
            "| name | kind | summary |",
            "|---|---|---|",
        ]
        for name in public_names(module_name):
            obj = getattr(module, name)
            kind = "class" if inspect.isclass(obj) else "function" if callable(obj) else "constant"
            lines.append(f"| `{name}` | {kind} | {_summary(obj)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(api_markdown())
