"""Self-contained HTML reports of psplab runs, and the end-to-end demo.

``build_report(run_dirs, out)`` reads the ``manifest.json`` of every run directory given (and of
their sub-directories) and writes one HTML file with every figure embedded; ``run_demo(out)``
runs the whole pipeline -- simulate, measure, fit and evaluate, causal influence, optimization,
phase map -- into ``out`` and ends with ``out/report.html``.
"""

from __future__ import annotations

from psplab.report.builder import Run, build_report, build_sections, discover_runs

__all__ = ["Run", "build_report", "build_sections", "discover_runs", "run_demo"]


def __getattr__(name: str):
    # The demo imports every capability; keep `import psplab.report` light.
    if name == "run_demo":
        from psplab.report.demo import run_demo

        return run_demo
    raise AttributeError(name)
