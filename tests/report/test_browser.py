"""The report opens in headless Chromium with every image loaded and no console error."""

from __future__ import annotations

import base64

import pytest

from tests.report.browser import render, require_chromium

pytestmark = pytest.mark.browser


def test_report_renders_without_broken_images_or_console_errors(full_report):
    chromium = require_chromium()
    report = full_report
    verdict = render(report, chromium)
    assert verdict["images"] == report.read_text().count("<img "), verdict
    assert verdict["images"] >= 9
    assert verdict["broken"] == []
    assert verdict["errors"] == []
    assert verdict["console"] == []


def test_probe_catches_a_broken_image_and_a_console_error(tmp_path):
    """The check itself can fail: a truncated PNG and a console.error are both reported."""
    chromium = require_chromium()
    good = base64.b64encode(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5d6d0a4"
            "0000000049454e44ae426082"
        )
    ).decode()
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>t</title></head><body>"
        f'<img src="data:image/png;base64,{good}">'
        '<img src="data:image/png;base64,iVBORw0KGgo=">'
        "<script>console.error('boom')</script></body></html>"
    )
    verdict = render(page, chromium)
    assert verdict["images"] == 2
    assert verdict["broken"] == [1]
    assert any("boom" in e for e in verdict["errors"])
    assert any("boom" in line for line in verdict["console"])
