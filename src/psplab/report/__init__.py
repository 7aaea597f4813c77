"""Self-contained HTML reports of psplab runs, and the end-to-end demo.

``build_report(run_dirs, out)`` reads the ``manifest.json`` of every run directory given (and of
their sub-directories) and writes one HTML file with every figure embedded, a section per run
(``register_section`` adds the sections of a new kind of run); ``run_demo(out)``
runs the whole pipeline -- simulate, measure, fit and evaluate, causal influence, optimization,
phase map -- into ``out`` and ends with ``out/report.html``.
"""

from __future__ import annotations

from psplab._lazy import lazy_package

# Names load on first use: `import psplab.report.commands` (every CLI start) must not pay for
# matplotlib nor for the demo, which imports every capability.
__getattr__, __dir__, __all__ = lazy_package(
    __name__,
    {
        "builder": ("build_report", "build_sections", "register_section"),
        "runs": ("LeftOut", "Run", "discover_runs"),
        "demo": ("run_demo",),
    },
    submodules=(
        "builder",
        "demo",
        "demo_stages",
        "figures",
        "html",
        "runs",
        "section_causal",
        "section_data",
        "section_models",
        "section_runs",
    ),
)
