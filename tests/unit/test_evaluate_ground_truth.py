"""Ground truth: precision@k and ranking AUC against sklearn and hand cases, the job."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from test_evaluate_fixtures import JOINTS, LAYERS, V, make_inputs

from harxai.evaluate import jobs as evaluate_jobs
from harxai.evaluate.ground_truth import (
    precision_at_k,
    ranking_auc,
    read_ground_truth,
    score_ground_truth,
)


def test_precision_at_k_by_hand() -> None:
    scores = np.array([0.9, 0.1, 0.8, 0.3, 0.2])
    assert precision_at_k(scores, [0, 2]) == 1.0
    assert precision_at_k(scores, [0, 1]) == 0.5
    assert precision_at_k(scores, [1, 4]) == 0.0


def test_ranking_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        scores = rng.integers(0, 4, size=12).astype(float)  # many ties
        planted = sorted(rng.choice(12, size=3, replace=False).tolist())
        truth = np.isin(np.arange(12), planted)
        assert ranking_auc(scores, planted) == pytest.approx(roc_auc_score(truth, scores))
    assert ranking_auc(np.arange(4.0), [3, 2]) == 1.0
    assert ranking_auc(np.arange(4.0), [0, 1]) == 0.0


def test_perfect_and_reversed_methods() -> None:
    labels = np.array([0, 0, 1, 1])
    truth = {0: (0, 3), 1: (1, 4)}
    good = np.zeros((4, V))
    good[[0, 1], 0] = good[[0, 1], 3] = good[[2, 3], 1] = good[[2, 3], 4] = 1.0
    table = score_ground_truth({"shap": good, "gradcam-x": -good}, labels, truth, ["a", "b"], JOINTS)
    shap = table[table["method"] == "shap"]
    assert (shap["precision_at_k"] == 1).all()
    assert (shap["auc"] == 1).all()
    assert (shap["auc_sample_mean"] == 1).all()
    assert shap["planted"].tolist() == ["head;pelvis", "neck;knee"]
    cam = table[table["method"] == "gradcam-x"]
    assert (cam["precision_at_k"] == 0).all()
    assert (cam["auc"] == 0).all()
    assert (cam["layer"] == "x").all()


def test_read_ground_truth_matches_by_name(tmp_path: Path) -> None:
    spec = {
        "classes": [
            {"label": 0, "name": "B", "joint_indices": [1]},
            {"label": 1, "name": "A", "joint_indices": [2, 5]},
        ]
    }
    (tmp_path / "ground_truth.json").write_text(json.dumps(spec))
    assert read_ground_truth(tmp_path, ["A", "B"], V) == {1: (1,), 0: (2, 5)}
    with pytest.raises(ValueError, match="does not fit"):
        read_ground_truth(tmp_path, ["A", "B"], 3)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match=r"bad\.json"):
        read_ground_truth(tmp_path / "bad.json", ["A"], V)


def test_job_scores_every_method_and_layer(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path, task="binary")
    csv, md = tmp_path / "gt.csv", tmp_path / "gt.md"
    evaluate_jobs.score_ground_truth(
        scores_path=inputs.scores,
        ground_truth_path=inputs.truth,
        output_csv=csv,
        output_md=md,
    )
    table = pd.read_csv(csv)
    assert set(table["method"]) == {"shap", "shap_abs", *(f"gradcam-{x}" for x in LAYERS)}
    assert set(table["class"]) == {"negative", "positive"}
    assert (table["k"] == 2).all()
    signed = table[table["method"] == "shap"]
    assert (signed["precision_at_k"] == 1).all()  # the fixture's SHAP finds the planted joints
    text = md.read_text()
    assert "| SHAP |" in text
    assert "| SHAP (absolute) |" in text
    assert "1.00 / 1.00" in text
