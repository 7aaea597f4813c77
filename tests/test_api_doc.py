"""docs/api.md lists every public name of every package, and every listed name imports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from psplab._apidoc import PACKAGES, public_names

API_MD = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def _sections() -> dict[str, set[str]]:
    names: dict[str, set[str]] = {}
    current = None
    for line in API_MD.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"## `([\w.]+)`", line)
        if heading:
            current = heading.group(1)
            names[current] = set()
        elif current and line.startswith("| `"):
            names[current].add(line.split("`")[1])
    return names


@pytest.mark.parametrize("module", [m for m, _ in PACKAGES])
def test_api_page_lists_every_public_name(module):
    listed = _sections().get(module)
    assert listed is not None, f"docs/api.md has no section for {module}"
    missing = set(public_names(module)) - listed
    assert not missing, f"regenerate docs/api.md (python -m psplab._apidoc): {sorted(missing)}"
    gone = listed - set(public_names(module))
    assert not gone, f"docs/api.md lists names {module} no longer exports: {sorted(gone)}"


def test_every_top_level_name_resolves():
    import psplab

    for name in psplab.__all__:
        assert getattr(psplab, name) is not None, name
    namespace: dict = {}
    exec("from psplab import *", namespace)
    assert set(psplab.__all__) <= set(namespace)
