"""Lazy package attributes (PEP 562), shared by the packages' ``__init__`` modules.

``psplab --help`` imports every ``psplab.<pkg>.commands`` module, which runs its package's
``__init__``; re-exporting the public names eagerly there would load JAX, SciPy, pandas or
matplotlib on every CLI start. Each package instead lists, per sub-module, the public names that
sub-module defines, and the names resolve on first use::

    __getattr__, __dir__, __all__ = lazy_package(
        __name__,
        {"model": ("StrengthConstants", "yield_strength_mpa"), "fft": ("effective_stiffness",)},
        submodules=("fft", "model"),
    )
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_attributes", "lazy_package"]


def lazy_attributes(
    package: str, exports: Mapping[str, str], submodules: Sequence[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : mapping of str to str
        Public name -> sub-module (relative to ``package``) that defines it.
    submodules : sequence of str
        Sub-modules reachable as attributes (``psplab.sim.core``) without an explicit import.

    Returns
    -------
    tuple
        ``(__getattr__, __dir__)``; ``__getattr__.exports`` and ``__getattr__.submodules`` hold
        the two arguments (for tests and documentation tools).
    """
    exports = dict(exports)
    submodules = tuple(submodules)

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

    __getattr__.exports = exports  # type: ignore[attr-defined]
    __getattr__.submodules = submodules  # type: ignore[attr-defined]
    return __getattr__, __dir__


def lazy_package(
    package: str,
    names_by_module: Mapping[str, Iterable[str]],
    submodules: Sequence[str] = (),
    eager: Iterable[str] = (),
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` of a package whose public names load on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names_by_module : mapping of str to iterable of str
        Sub-module (relative to ``package``) -> the public names it defines. A sub-module may
        be a sub-package that itself resolves names lazily.
    submodules : sequence of str
        Sub-modules reachable as attributes without an explicit import.
    eager : iterable of str
        Public names the package defines itself (e.g. ``__version__``); listed in ``__all__``.

    Returns
    -------
    tuple
        ``(__getattr__, __dir__, __all__)`` to assign at the package's top level; ``__all__``
        is sorted.

    Raises
    ------
    ValueError
        When one name is listed under two sub-modules.
    """
    exports: dict[str, str] = {}
    for module, names in names_by_module.items():
        for name in names:
            if name in exports:
                raise ValueError(f"{package}: {name!r} listed under {exports[name]} and {module}")
            exports[name] = module
    getattr_, dir_ = lazy_attributes(package, exports, submodules)
    return getattr_, dir_, sorted({*exports, *eager})
