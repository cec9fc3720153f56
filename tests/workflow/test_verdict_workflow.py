"""The mini workflow's verdict: one verdict.csv per dataset from the criteria jobs, the report
opening with it, the oracle on the synthetic sets, and the cost of each new stage in runtime.csv."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import yaml
from mini_run import MINI_CONFIG, MiniRun

from harxai.evaluate.verdict import CRITERIA, VERDICT_COLUMNS, read_verdict_csv
from harxai.methods import verdict_methods

pytestmark = pytest.mark.e2e

CONFIG = yaml.safe_load(MINI_CONFIG.read_text())
DATASETS = list(CONFIG["datasets"])
LAYERS = CONFIG["evaluate"].get("verdict", {}).get("layers") or CONFIG["evaluate"]["perturbation_layers"]
VERDICT_RULES = ("explain_baselines", "oracle", "faithfulness", "sanity_check", "robustness", "verdict")


def _evaluate(run: MiniRun, dataset: str) -> object:
    return run.workdir / "results" / dataset / "tiny" / "evaluate"


@pytest.mark.parametrize("dataset", DATASETS)
def test_verdict_of_every_dataset(mini_run: MiniRun, dataset: str) -> None:
    ev = _evaluate(mini_run, dataset)
    table = read_verdict_csv(ev / "verdict.csv")
    assert tuple(table.columns) == VERDICT_COLUMNS
    assert list(dict.fromkeys(table["method"])) == verdict_methods(LAYERS)
    assert list(dict.fromkeys(table["criterion"])) == list(CRITERIA)
    values = table.set_index(["method", "criterion"])["value"]
    for method in verdict_methods(LAYERS):
        for criterion in (
            "deletion_area",
            "insertion_area",
            "time_deletion_area",
            "sanity_rho",
            "infidelity",
        ):
            assert math.isfinite(values[(method, criterion)]), f"{dataset}: {method} / {criterion} is empty"
    for method in ("shap", f"gradcam:{LAYERS[0]}", "motion_energy", "input_x_gradient"):
        assert math.isfinite(values[(method, "runtime_s")])
    # the synthetic sets have a ground truth; the verified classes are scored
    oracle = pd.read_csv(ev / "oracle.csv")
    if oracle["verified"].any():
        assert math.isfinite(values[("shap", "gt_precision")])
    # motion energy and random never look at the model: the sanity check fails them
    assert values[("motion_energy", "sanity_rho")] > 0.99
    assert values[("random", "sanity_rho")] > 0.99
    assert (ev / "verdict.png").stat().st_size > 0
    assert "mean rank" in (ev / "verdict.md").read_text()


def test_report_opens_with_the_verdict(mini_run: MiniRun) -> None:
    html = (mini_run.workdir / "results" / "report.html").read_text(encoding="utf-8")
    verdict = html.index('<h2 id="verdict">')
    for dataset in DATASETS:
        assert f'id="verdict-{dataset}"' in html
        assert verdict < html.index(f'<h2 id="ds-{dataset}">')
    for section in ("faithfulness", "sanity", "robustness", "rejected"):
        assert f'id="ds-{DATASETS[0]}-{section}"' in html


def test_runtime_lists_the_cost_of_each_new_stage(mini_run: MiniRun) -> None:
    runtime = pd.read_csv(mini_run.workdir / "results" / "runtime.csv")
    stages = runtime[runtime["stage"] == "evaluate"]
    for dataset in DATASETS:
        items = set(stages[stages["dataset"] == dataset]["item"])
        assert items == set(VERDICT_RULES), f"{dataset}: {sorted(items)}"
    assert (stages["job_s"] > 0).all()
