"""The self-contained HTML report built from hand-made evaluation outputs."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from test_evaluate_fixtures import make_inputs, write_oracle

from harxai.evaluate import jobs as evaluate_jobs
from harxai.plots.style import new_figure, save_figure
from harxai.report import build_report, flatten, image_tag, top_rankings


def test_flatten_nested_metrics() -> None:
    flat = flatten({"a": 1, "b": {"c": 0.5, "d": [1, 2]}})
    assert flat == {"a": 1, "b.c": 0.5, "b.d": "[1, 2]"}


def test_image_tag_embeds_the_file(tmp_path: Path) -> None:
    fig = new_figure(1, 1)
    png = save_figure(fig, tmp_path / "x.png")
    tag = image_tag(png, 'a "quoted" alt')
    data = re.search(r'src="data:image/png;base64,([^"]+)"', tag).group(1)
    assert base64.b64decode(data) == png.read_bytes()
    assert "&quot;quoted&quot;" in tag
    with pytest.raises(ValueError, match="PNG and SVG"):
        image_tag(tmp_path / "x.pdf", "x")


def test_top_rankings_rows() -> None:
    table = pd.DataFrame(
        {"group": ["g"] * 3, "method": ["shap"] * 3, "rank": [2, 1, 3], "joint_name": ["b", "a", "c"]}
    )
    assert top_rankings(table, top=2).to_dict("records") == [
        {"group": "g", "method": "shap", "1": "a", "2": "b"}
    ]


def _dataset_files(root: Path) -> dict[str, Path]:
    inputs = make_inputs(root)
    ev = root / "evaluate"
    evaluate_jobs.rank_keypoints(
        scores_path=inputs.scores,
        output_csv=ev / "rankings.csv",
        output_png=ev / "rankings.png",
        shap_absolute=False,
        figure_layers=["main.1.att"],
    )
    evaluate_jobs.correlate_layers(
        gradcam_paths=inputs.gradcam,
        reference="main.1.att",
        output_csv=ev / "corr.csv",
        output_md=ev / "corr.md",
    )
    evaluate_jobs.score_ground_truth(
        scores_path=inputs.scores,
        explain_set_path=inputs.explain_set,
        ground_truth_path=inputs.truth,
        oracle_csv=write_oracle(ev / "oracle.csv", ["A001", "A002", "A003"]),
        output_csv=ev / "gt.csv",
        output_time_csv=ev / "gt_time.csv",
        output_md=ev / "gt.md",
        fps=10.0,
    )
    summary = pd.DataFrame(
        {"method": ["shap"], "selection": ["most"], "panel": ["all"], "difference": [-0.25]}
    )
    summary.to_csv(ev / "summary.csv", index=False)
    fig = new_figure(2, 2)
    fig.subplots().plot([0, 1], [1, 0])
    save_figure(fig, ev / "perturbation.svg")
    return {
        "metrics": inputs.metrics,
        "rankings_csv": ev / "rankings.csv",
        "rankings_png": ev / "rankings.png",
        "perturbation_png": ev / "perturbation.svg",
        "perturbation_summary_csv": ev / "summary.csv",
        "correlation_csv": ev / "corr.csv",
        "ground_truth_csv": ev / "gt.csv",
        "skeletons_png": ev / "rankings.png",
    }


def test_report_is_self_contained_with_every_part(tmp_path: Path) -> None:
    files = _dataset_files(tmp_path / "toy")
    runtime = pd.DataFrame(
        {
            "dataset": ["toy"],
            "stage": ["gradcam"],
            "item": ["main.1.att"],
            "core_s": [0.5],
            "job_s": [3.0],
            "cpu": ["Test CPU"],
            "cores": [2],
            "gpu": ["none"],
        }
    )
    runtime.to_csv(tmp_path / "runtime.csv", index=False)
    config = {
        "report": {"title": "<b>x</b>"},
        "evaluate": {"thresh": 0.35},
        "datasets": {"toy": {"kind": "synthetic_ntu"}},
    }
    out = build_report(
        output=tmp_path / "report.html",
        title="Toy & report",
        config_json=json.dumps(config),
        datasets={"toy": {k: str(v) for k, v in files.items()}},
        runtime_csv=tmp_path / "runtime.csv",
    )
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "<title>Toy &amp; report</title>" in text
    assert text.count("data:image/png;base64,") == 2
    assert text.count("data:image/svg+xml;base64,") == 1
    assert not re.search(r'(src|href)="(http|file|/|\.\.)', text), "no external references"
    for heading in (
        "Model metrics",
        "Key-point rankings",
        "Perturbation",
        "GradCAM layer correlation",
        "Ground truth",
        "Runtime",
        "Configuration",
    ):
        assert heading in text
    assert "per_class.A001" in text
    assert "Test CPU" in text
    assert "branches.*.init_bn" in text
    assert "&lt;b&gt;x&lt;/b&gt;" in text
    assert "<b>x</b>" not in text
    assert '"thresh": 0.35' in text
    assert "<td>-0.250</td>" in text  # the perturbation summary, rounded
