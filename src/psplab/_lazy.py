"""Lazy package attributes (PEP 562), shared by the sub-packages' ``__init__`` modules.

``psplab --help`` imports every ``psplab.<pkg>.commands`` module, which runs its package's
``__init__``; re-exporting the public names eagerly there would load JAX, SciPy, pandas or
matplotlib on every CLI start. Each package instead maps its public names to the sub-module
that defines them and resolves them on first use.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_attributes(
    package: str, exports: Mapping[str, str], submodules: Sequence[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``.

    Parameters
    ----------
    package
        The package's ``__name__``.
    exports
        Public name -> sub-module (relative to ``package``) that defines it.
    submodules
        Sub-modules reachable as attributes (``psplab.sim.core``) without an explicit import.
    """

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        elif name in submodules:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        vars(sys.modules[package])[name] = value  # resolved once, then a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports, *submodules})

    return __getattr__, __dir__
