"""Key-point rankings per class: statistics against numpy, the job's CSV and figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_evaluate_fixtures import JOINTS, LAYERS, V, make_inputs

from harxai.evaluate import jobs as evaluate_jobs
from harxai.evaluate.ranking import RANKING_COLUMNS, rank_keypoints
from harxai.evaluate.sources import gradcam_method, method_layer, read_keypoint_scores
from harxai.io import HDF5ContractError
from harxai.methods import BASELINE_METHODS


def test_rank_keypoints_orders_by_median_per_group() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(10, V))
    labels = np.array([0] * 6 + [1] * 4)
    table = rank_keypoints({"shap": values}, labels, ["a", "b"], JOINTS)
    assert list(table.columns) == list(RANKING_COLUMNS)
    for label, name in enumerate(["a", "b"]):
        part = table[table["group"] == name].sort_values("rank")
        median = np.median(values[labels == label], axis=0)
        assert part["joint"].tolist() == np.argsort(-median, kind="stable").tolist()
        np.testing.assert_allclose(part["median"], np.sort(median)[::-1])
        q1 = np.percentile(values[labels == label], 25, axis=0)
        np.testing.assert_allclose(part.set_index("joint").loc[range(V), "q1"], q1)
        assert (part["n_samples"] == (labels == label).sum()).all()


def test_method_names_round_trip() -> None:
    assert method_layer("shap") is None
    assert method_layer(gradcam_method("main.1.att")) == "main.1.att"
    with pytest.raises(ValueError, match="unknown method"):
        method_layer("lime")


def test_scores_signed_absolute_and_negated(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path)
    signed = read_keypoint_scores(inputs.shap, "shap")
    absolute = read_keypoint_scores(inputs.shap, "shap", shap_absolute=True)
    np.testing.assert_allclose(signed.counter, -signed.importance)
    assert (absolute.importance >= 0).all()
    assert not np.allclose(absolute.importance, signed.importance)
    cam = read_keypoint_scores(inputs.gradcam["main.1.att"], "gradcam:main.1.att")
    assert cam.frame_map.shape[1] == 4
    assert cam.importance.shape == (len(inputs.labels), V)
    with pytest.raises(HDF5ContractError, match="cam"):
        read_keypoint_scores(inputs.shap, "gradcam:main.1.att")


def test_job_writes_every_layer_and_a_figure(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path)
    out = tmp_path / "evaluate"
    evaluate_jobs.rank_keypoints(
        scores_path=inputs.scores,
        output_csv=out / "rankings.csv",
        output_png=out / "rankings.png",
        shap_absolute=False,
        figure_layers=["main.1.tcn.conv"],
    )
    table = pd.read_csv(out / "rankings.csv")
    assert set(table["method"]) == {"shap", *(gradcam_method(x) for x in LAYERS), *BASELINE_METHODS}
    assert set(table["group"]) == {"A001", "A002", "A003"}
    top = table[(table["method"] == "shap") & (table["rank"] <= 2)]
    for group, c in zip(["A001", "A002", "A003"], range(3), strict=True):
        assert set(top[top["group"] == group]["joint"]) == {c, c + 3}  # the planted joints
    assert (out / "rankings.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="figure_layers"):
        evaluate_jobs.rank_keypoints(
            scores_path=inputs.scores,
            output_csv=out / "r.csv",
            output_png=out / "r.png",
            shap_absolute=True,
            figure_layers=["main.0.att"],
        )


def test_figure_shows_the_baselines_next_to_shap_and_the_figure_layers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = make_inputs(tmp_path)
    drawn: list[list[str]] = []
    monkeypatch.setattr(
        evaluate_jobs.plots, "plot_rankings", lambda shown, *a, **k: drawn.append(list(shown))
    )
    evaluate_jobs.rank_keypoints(
        scores_path=inputs.scores,
        output_csv=tmp_path / "r.csv",
        output_png=tmp_path / "r.png",
        shap_absolute=False,
        figure_layers=["main.1.att"],
    )
    assert drawn == [["shap", "gradcam:main.1.att", *BASELINE_METHODS]]
