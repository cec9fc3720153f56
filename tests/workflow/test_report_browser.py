"""The mini workflow's report.html renders in headless Chromium: every image loads, no console error."""

from __future__ import annotations

import os

import pytest
from browser import check_page, find_chromium
from mini_run import MiniRun

pytestmark = pytest.mark.e2e


def test_mini_run_report_in_headless_chromium(mini_run: MiniRun) -> None:
    binary = find_chromium()
    if binary is None:
        if os.environ.get("HARXAI_REQUIRE_BROWSER") == "1":
            pytest.fail("HARXAI_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    report = mini_run.workdir / "results" / "report.html"
    result = check_page(report, binary)
    assert result.errors == []
    assert result.broken_images == []
    assert len(result.images) == report.read_text(encoding="utf-8").count("<img ")
    assert result.images, "the report has no figures"
