"""Self-contained HTML reports of psplab runs, and the end-to-end demo.

``build_report(run_dirs, out)`` reads the ``manifest.json`` of every run directory given (and of
their sub-directories) and writes one HTML file with every figure embedded; ``run_demo(out)``
runs the whole pipeline -- simulate, measure, fit and evaluate, causal influence, optimization,
phase map -- into ``out`` and ends with ``out/report.html``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psplab._lazy import lazy_attributes

if TYPE_CHECKING:
    from psplab.report.builder import (
        Run,
        build_report,
        build_sections,
        discover_runs,
        register_section,
    )
    from psplab.report.demo import run_demo

# Lazy attributes (PEP 562): `import psplab.report.commands` (every CLI start) must not pay for
# matplotlib (the builder's figures) nor for the demo, which imports every capability.
_EXPORTS = {
    "Run": "builder",
    "build_report": "builder",
    "build_sections": "builder",
    "discover_runs": "builder",
    "register_section": "builder",
    "run_demo": "demo",
}
# Sub-modules the package used to import eagerly; still reachable as attributes.
_SUBMODULES = (
    "builder",
    "figures",
    "html",
    "runs",
    "section_causal",
    "section_data",
    "section_models",
    "section_runs",
)


__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, _SUBMODULES)


__all__ = [
    "Run",
    "build_report",
    "build_sections",
    "discover_runs",
    "register_section",
    "run_demo",
]
