"""report.html opens with the verdict and renders in a real browser (headless Chromium)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from browser import PageCheck, check_page, find_chromium
from test_report import _dataset_files

from harxai.evaluate.verdict import Estimate, verdict_paragraph, verdict_table, write_verdict
from harxai.report import build_report


def _chromium() -> str:
    binary = find_chromium()
    if binary is None:
        if os.environ.get("HARXAI_REQUIRE_BROWSER") == "1":
            pytest.fail("HARXAI_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    return binary


def _report(root: Path) -> tuple[Path, str]:
    files = {k: str(v) for k, v in _dataset_files(root / "toy").items()}
    table = verdict_table(
        ["shap", "gradcam:main.1.att", "motion_energy", "random"],
        {
            ("shap", "deletion_area"): Estimate(-0.2, -0.3, -0.1),
            ("gradcam:main.1.att", "deletion_area"): Estimate(0.01, -0.05, 0.07),
            ("random", "deletion_area"): 0.0,
            ("motion_energy", "sanity_rho"): Estimate(1.0, 1.0, 1.0),
            ("shap", "sanity_rho"): Estimate(0.05, -0.1, 0.2),
        },
    )
    ev = root / "toy" / "evaluate"
    paragraph = write_verdict(table, ev / "verdict.csv", ev / "verdict.png", "toy")
    files.update(verdict_csv=str(ev / "verdict.csv"), verdict_png=str(ev / "verdict.png"))
    runtime = pd.DataFrame(
        {
            "dataset": ["toy"],
            "stage": ["gradcam"],
            "item": ["x"],
            "core_s": [0.5],
            "job_s": [3.0],
            "cpu": ["c"],
            "cores": [2],
            "gpu": ["none"],
        }
    )
    runtime.to_csv(root / "runtime.csv", index=False)
    out = build_report(
        output=root / "report.html",
        title="Toy",
        config_json=json.dumps({"datasets": {"toy": {}}}),
        datasets={"toy": files},
        runtime_csv=root / "runtime.csv",
    )
    return out, paragraph


def test_report_opens_with_the_verdict(tmp_path: Path) -> None:
    out, paragraph = _report(tmp_path)
    text = out.read_text(encoding="utf-8")
    verdict_at = text.index('<h2 id="verdict">')
    assert verdict_at < text.index('<h2 id="ds-toy">')
    assert (
        verdict_at < text.index("data:image/png") < text.index('<h2 id="ds-toy">')
    )  # the verdict figure first
    assert text.index('href="#verdict"') < text.index('href="#ds-toy"')
    assert paragraph
    assert paragraph in text.replace("&#x27;", "'")
    assert "-0.2 [-0.3, -0.1]" in text
    assert paragraph == verdict_paragraph(pd.read_csv(tmp_path / "toy" / "evaluate" / "verdict.csv"))


def test_report_without_a_verdict_has_no_verdict_section(tmp_path: Path) -> None:
    files = {k: str(v) for k, v in _dataset_files(tmp_path / "toy").items()}
    pd.DataFrame({"dataset": [], "cpu": []}).to_csv(tmp_path / "runtime.csv", index=False)
    out = build_report(
        output=tmp_path / "r.html",
        title="T",
        config_json="{}",
        datasets={"toy": files},
        runtime_csv=tmp_path / "runtime.csv",
    )
    assert 'id="verdict"' not in out.read_text(encoding="utf-8")


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    binary = _chromium()
    out, _ = _report(tmp_path)
    result = check_page(out, binary)
    assert result.errors == []
    assert result.broken_images == []
    assert len(result.images) == out.read_text(encoding="utf-8").count("<img ")
    assert len(result.images) >= 4


def test_the_browser_check_sees_broken_images_and_console_errors(tmp_path: Path) -> None:
    binary = _chromium()
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>'
        '<img alt="fine" src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==">'
        '<img alt="truncated" src="data:image/png;base64,iVBORw0KGgo=">'
        '<img alt="remote" src="http://example.invalid/x.png">'
        "<script>console.error('boom'); undefined_function();</script></body></html>",
        encoding="utf-8",
    )
    result: PageCheck = check_page(page, binary)
    assert result.broken_images == ["truncated", "remote"]
    assert any("boom" in e for e in result.errors)
    assert any("undefined_function" in e for e in result.errors)
