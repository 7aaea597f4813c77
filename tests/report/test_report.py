"""The HTML report: self-contained, sections from the runs present, labelled figures, CLI."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from psplab.cli import app
from psplab.measure.plots import nice_scale_bar_um as _nice_length
from psplab.report import build_report, discover_runs
from psplab.report.figures import FigureLabelError, check_axis_labels, render
from psplab.report.section_models import normalize_predictions


def _images(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]


def test_report_is_self_contained(full_report):
    html = full_report.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", html), (
        "only data: URIs and in-page anchors"
    )
    assert "http://" not in html and "https://" not in html
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)


def test_every_image_is_a_valid_png_with_a_caption(full_report):
    html = full_report.read_text(encoding="utf-8")
    images = _images(html)
    assert len(images) == html.count("<figcaption>") == html.count("<figure>")
    for data in images:
        img = Image.open(io.BytesIO(data))
        img.verify()
        assert img.format == "PNG"
        assert min(img.size) > 50
    captions = re.findall(r"<figcaption><b>Figure (\d+)\.</b> ([^<]{40,})</figcaption>", html)
    assert [int(n) for n, _ in captions] == list(range(1, len(images) + 1))


def test_all_sections_present_when_all_runs_are(full_report):
    html = full_report.read_text(encoding="utf-8")
    for key in (
        "dataset",
        "micrographs",
        "predictions",
        "causal",
        "optimization",
        "phasemap",
        "provenance",
    ):
        assert f'<section id="{key}">' in html, key
    # Content from the runs, not boilerplate: dataset rows, the metric table, provenance.
    assert "toy-psp: 60 rows" in html
    assert "psplab simulate --n 60" in html
    assert "R²" in html and "cov. 90%" in html


def test_metrics_table_marks_the_best_model(full_runs, full_report):
    metrics = json.loads((full_runs / "evaluate" / "metrics.json").read_text())
    html = full_report.read_text(encoding="utf-8")
    best = min(metrics, key=lambda m: metrics[m]["yield_strength_MPa"]["mae"])
    value = metrics[best]["yield_strength_MPa"]["mae"]
    assert best == "linear"  # the features carry the signal; the mean model cannot beat it
    assert f"<b>{value:.4g}</b>" in html


def test_sections_without_runs_are_omitted(full_runs, tmp_path):
    only = tmp_path / "only"
    shutil.copytree(full_runs / "optimize", only / "optimize")
    html = build_report(only, out=tmp_path / "r.html").read_text(encoding="utf-8")
    assert '<section id="optimization">' in html
    assert '<section id="provenance">' in html
    for key in ("dataset", "micrographs", "predictions", "causal", "phasemap"):
        assert f'<section id="{key}">' not in html


def test_discover_finds_nested_runs_once(full_runs):
    runs = discover_runs([full_runs, full_runs / "causal"])
    kinds = sorted(r.kind for r in runs)
    assert kinds == ["causal", "evaluate", "optimize", "phasemap", "simulate"]


def test_axis_label_without_unit_is_refused():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("time [s]")
    ax.set_ylabel("strength")
    with pytest.raises(FigureLabelError, match="y axis label 'strength'"):
        check_axis_labels(fig)
    ax.set_ylabel("strength [MPa]")
    check_axis_labels(fig)
    with pytest.raises(ValueError, match="caption"):
        render(fig, "  ")


def test_scale_bar_lengths_are_round_and_fit():
    for span in (3.0, 24.0, 48.0, 100.0, 640.0):
        bar = _nice_length(span)
        mantissa = bar / 10 ** np.floor(np.log10(bar))
        assert np.isclose(mantissa, 1) or np.isclose(mantissa, 2) or np.isclose(mantissa, 5)
        assert span / 10 <= bar <= span / 4


def test_gaussian_intervals_from_mean_and_std():
    import pandas as pd

    frame = pd.DataFrame(
        {"model": "m", "target": "t", "y_true": [0.0], "mean": [10.0], "std": [2.0]}
    )
    out = normalize_predictions(frame)
    assert out["lo"].iloc[0] == pytest.approx(10 - 1.6448536 * 2, rel=1e-6)
    wide = pd.DataFrame(
        {"t_true": [1.0], "t_mean": [2.0], "t_std": [1.0], "t_q05": [0.5], "t_q95": [3.5]}
    )
    out = normalize_predictions(wide)
    assert list(out[["lo", "hi"]].iloc[0]) == [0.5, 3.5]


def test_cli_report_and_bad_input(full_runs, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli.html"
    result = runner.invoke(app, ["report", str(full_runs / "phasemap"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert '<section id="phasemap">' in out.read_text(encoding="utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["report", str(empty)])
    assert result.exit_code == 2
    assert "no manifest.json" in result.output
    result = runner.invoke(app, ["report", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "not a directory" in result.output


@pytest.mark.parametrize(("rhat", "warned"), [(3.76, True), (1.004, False)])
def test_phase_map_section_warns_when_chains_have_not_mixed(tmp_path, rhat, warned):
    from psplab.report.builder import build_report
    from tests.report.conftest import make_phasemap_run

    run = make_phasemap_run(tmp_path, rhat_max=rhat, name="pm")
    out = build_report([run], out=tmp_path / "r.html")
    text = out.read_text(encoding="utf-8")
    assert ("have not mixed" in text) is warned
    if warned:
        assert f"R-hat is {rhat:.2f}" in text
