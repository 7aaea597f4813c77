"""Render an HTML file in headless Chromium and report broken images and console errors.

No Python dependency: a copy of the page gets a small probe script at the top of ``<head>``
(the report itself has no JavaScript) that records resource-load failures, script errors and
``console.error`` calls, and on ``load`` writes a JSON verdict into the DOM, which
``--dump-dom`` prints. Chromium's own console log (``--enable-logging=stderr``) is read too, so
a message the probe could not intercept still fails the check.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

PROBE = """<script>
window.__psplab_errors = [];
window.addEventListener('error', function (e) {
  var t = e.target;
  window.__psplab_errors.push(t && t.tagName ? 'failed to load ' + t.tagName + ' ' + String(t.src || t.href || '').slice(0, 60)
                                             : 'script error: ' + e.message);
}, true);
var __psplab_ce = console.error;
console.error = function () {
  window.__psplab_errors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
  __psplab_ce.apply(console, arguments);
};
window.addEventListener('load', function () {
  var imgs = document.images, broken = [];
  for (var i = 0; i < imgs.length; i++) {
    if (!(imgs[i].complete && imgs[i].naturalWidth > 0 && imgs[i].naturalHeight > 0)) broken.push(i);
  }
  var out = document.createElement('pre');
  out.id = 'psplab-probe';
  out.textContent = JSON.stringify({images: imgs.length, broken: broken, errors: window.__psplab_errors});
  document.body.appendChild(out);
});
</script>"""

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def require_chromium() -> str:
    """Chromium's path; skip without it, unless PSPLAB_REQUIRE_BROWSER=1 (then fail)."""
    path = find_chromium()
    if path is None:
        if os.environ.get("PSPLAB_REQUIRE_BROWSER", "") not in ("", "0", "false", "False"):
            pytest.fail(
                "PSPLAB_REQUIRE_BROWSER=1 but neither chromium nor chromium-browser is on PATH"
            )
        pytest.skip("chromium not installed")
    return path


def render(html_path: Path, chromium: str, timeout_s: float = 90.0) -> dict:
    """Load ``html_path`` (a probed copy) headless; return ``{images, broken, errors, console}``."""
    text = Path(html_path).read_text(encoding="utf-8")
    if "<head>" not in text:
        raise ValueError(f"{html_path}: no <head> element")
    with tempfile.TemporaryDirectory(prefix="psplab-chromium-") as tmp:
        probed = Path(tmp) / "probed.html"
        probed.write_text(text.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
        cmd = [
            chromium,
            *FLAGS,
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            "--dump-dom",
            probed.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    match = re.search(r'<pre id="psplab-probe">(.*?)</pre>', proc.stdout, re.S)
    if match is None:
        raise RuntimeError(
            f"chromium did not render the page (exit {proc.returncode}): {proc.stderr[-2000:]}"
        )
    verdict = json.loads(
        match.group(1)
        .replace("&quot;", '"')
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
    )
    # Console messages of the page (any level): the report has no scripts, so any is a problem.
    verdict["console"] = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return verdict
