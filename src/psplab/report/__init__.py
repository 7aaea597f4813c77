"""Self-contained HTML reports of psplab runs, and the end-to-end demo.

``build_report(run_dirs, out)`` reads the ``manifest.json`` of every run directory given (and of
their sub-directories) and writes one HTML file with every figure embedded; ``run_demo(out)``
runs the whole pipeline -- simulate, measure, fit and evaluate, causal influence, optimization,
phase map -- into ``out`` and ends with ``out/report.html``.
"""

from __future__ import annotations

from psplab._lazy import lazy_package

# Names resolve on first use: ``import psplab.report.commands`` (every CLI start) must not pay for
# matplotlib (the builder's figures) nor for the demo, which imports every capability.
__getattr__, __dir__, __all__ = lazy_package(
    __name__,
    {
        "builder": ("Run", "build_report", "build_sections", "discover_runs"),
        "demo": ("run_demo",),
    },
    submodules=("builder", "figures", "html"),
)
