"""Ground truth: precision@k and ranking AUC against sklearn and hand cases, the job."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score
from test_evaluate_fixtures import JOINTS, LAYERS, V, make_inputs, write_oracle

from harxai.evaluate import jobs as evaluate_jobs
from harxai.evaluate.ground_truth import (
    ClassTruth,
    auprc,
    cell_precision,
    precision_at_k,
    ranking_auc,
    read_ground_truth,
    read_ground_truth_classes,
    score_ground_truth,
    score_temporal,
    to_input_frames,
    truth_masks,
)
from harxai.methods import BASELINE_METHODS


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
    table = score_ground_truth({"shap": good, "gradcam:x": -good}, labels, truth, ["a", "b"], JOINTS)
    shap = table[table["method"] == "shap"]
    assert (shap["precision_at_k"] == 1).all()
    assert (shap["auc"] == 1).all()
    assert (shap["auc_sample_mean"] == 1).all()
    assert shap["planted"].tolist() == ["head;pelvis", "neck;knee"]
    cam = table[table["method"] == "gradcam:x"]
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


def _score(inputs, tmp_path: Path, unverified: tuple[str, ...] = ()) -> tuple[Path, Path, Path]:
    names = ["negative", "positive"] if len(set(inputs.labels.tolist())) == 2 else ["A001", "A002", "A003"]
    oracle = write_oracle(tmp_path / "oracle.csv", names, unverified)
    csv, time_csv, md = tmp_path / "gt.csv", tmp_path / "gt_time.csv", tmp_path / "gt.md"
    evaluate_jobs.score_ground_truth(
        scores_path=inputs.scores,
        explain_set_path=inputs.explain_set,
        ground_truth_path=inputs.truth,
        oracle_csv=oracle,
        output_csv=csv,
        output_time_csv=time_csv,
        output_md=md,
        fps=10.0,
    )
    return csv, time_csv, md


def test_job_scores_every_method_and_layer(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path, task="binary")
    csv, time_csv, md = _score(inputs, tmp_path)
    table = pd.read_csv(csv)
    assert set(table["method"]) == {"shap", "shap_abs", *(f"gradcam:{x}" for x in LAYERS), *BASELINE_METHODS}
    assert set(table["class"]) == {"negative", "positive"}
    assert (table["k"] == 2).all()
    signed = table[table["method"] == "shap"]
    assert (signed["precision_at_k"] == 1).all()  # the fixture's SHAP finds the planted joints
    assert pd.read_csv(time_csv).empty  # the fixture's classes have no time segments
    text = md.read_text()
    assert "| SHAP |" in text
    assert "| SHAP (absolute) |" in text
    assert "| motion energy |" in text
    assert "1.00 / 1.00" in text
    assert "Unverified" not in text


def test_job_leaves_unverified_classes_out_and_names_them(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path)
    csv, _, md = _score(inputs, tmp_path, unverified=("A002",))
    table = pd.read_csv(csv)
    assert set(table["class"]) == {"A001", "A003"}
    text = md.read_text()
    assert "Unverified classes" in text
    assert "A002" in text.split("Unverified classes")[1]


# --------------------------------------------------------------------------- temporal ground truth
def test_truth_masks_follow_window_starts_and_periodic_bursts() -> None:
    classes = {
        0: ClassTruth((1, 2), (1.0, 0.5, None)),  # one burst 1.0-1.5 s
        1: ClassTruth((3,), (0.2, 0.3, 1.0)),  # 0.2-0.5, 1.2-1.5, 2.2-2.5 ... s
        2: ClassTruth((4,), None),  # whole recording
    }
    labels = np.array([0, 0, 1, 2, 3])
    starts = np.array([0, 10, 20, 5, 0])  # frames at 10 fps
    m = truth_masks(classes, labels, starts, frames=20, fps=10.0, num_joints=6)
    assert m.shape == (5, 20, 6)
    assert m.dtype == bool
    t0 = np.arange(20) / 10.0
    np.testing.assert_array_equal(m[0][:, 1], (t0 >= 1.0) & (t0 < 1.5))
    np.testing.assert_array_equal(m[0][:, 2], m[0][:, 1])
    assert not m[0][:, [0, 3, 4, 5]].any()
    np.testing.assert_array_equal(m[1][:, 1], (t0 + 1.0 >= 1.0) & (t0 + 1.0 < 1.5))  # window from 1 s
    t2 = t0 + 2.0
    want = np.zeros(20, dtype=bool)
    for a in (0.2, 1.2, 2.2, 3.2):
        want |= (t2 >= a - 1e-9) & (t2 < a + 0.3 - 1e-9)
    np.testing.assert_array_equal(m[2][:, 3], want)
    assert m[3][:, 4].all()
    assert m[3].sum() == 20
    assert not m[4].any()  # a class without ground truth (unverified) has no cells


def test_to_input_frames_maps_strided_cells() -> None:
    maps = np.arange(2 * 4 * 3, dtype=float).reshape(2, 4, 3)
    out = to_input_frames(maps, 8)
    np.testing.assert_array_equal(out[:, ::2], maps)
    np.testing.assert_array_equal(out[:, 1::2], maps)
    assert to_input_frames(maps, 4) is maps
    with pytest.raises(ValueError, match="sample, frame, joint"):
        to_input_frames(maps[0], 8)


def test_cell_scores_by_hand_and_against_sklearn() -> None:
    mask = np.zeros((4, 3), dtype=bool)
    mask[1:3, 0] = True
    scores = np.zeros((4, 3))
    scores[1, 0], scores[2, 1] = 3.0, 2.0  # one true cell first, then a false one
    assert cell_precision(scores, mask) == 0.5
    assert auprc(scores, mask) == pytest.approx(average_precision_score(mask.ravel(), scores.ravel()))
    assert cell_precision(mask.astype(float), mask) == 1.0
    assert auprc(mask.astype(float), mask) == 1.0
    assert np.isnan(auprc(scores, np.ones_like(mask)))
    assert np.isnan(cell_precision(scores, ~np.ones_like(mask)))


def test_score_temporal_ranks_a_localised_map_above_a_static_one() -> None:
    rng = np.random.default_rng(0)
    classes = {0: ClassTruth((1,), (0.5, 1.0, None)), 1: ClassTruth((2,), None)}
    labels = np.array([0, 0, 0, 1])
    masks = truth_masks(classes, labels, np.zeros(4), frames=30, fps=10.0, num_joints=5)
    exact = masks + 0.1 * rng.random(masks.shape)
    static = np.repeat(masks.any(axis=1, keepdims=True), 30, axis=1) + 0.1 * rng.random(masks.shape)
    coarse = exact[:, ::3]  # 10 cells of 3 frames: still localised after to_input_frames
    table = score_temporal(
        {"shap": exact, "motion_energy": static, "gradcam:main.1.tcn": coarse},
        labels,
        masks,
        classes,
        ["a", "b"],
        ["j0", "j1", "j2", "j3", "j4"],
    ).set_index("method")
    assert list(table["class"]) == ["a"] * 3  # only the temporal class
    assert table.loc["shap", "auprc_time"] == pytest.approx(1.0)
    assert table.loc["shap", "precision_time"] == 1.0
    assert table.loc["motion_energy", "precision_time"] < 0.5  # right joint, wrong time
    assert table.loc["gradcam:main.1.tcn", "auprc_time"] > table.loc["motion_energy", "auprc_time"]
    assert table.loc["shap", "auprc_time_chance"] == pytest.approx(10 / 150)
    assert table.loc["gradcam:main.1.tcn", "layer"] == "main.1.tcn"
    assert table.loc["shap", "layer"] == ""
    with pytest.raises(ValueError, match="does not match"):
        score_temporal({"shap": exact[:, :, :4]}, labels, masks, classes, ["a", "b"], ["j"] * 5)


def test_read_ground_truth_classes_reads_bursts(tmp_path: Path) -> None:
    spec: dict = {
        "classes": [
            {
                "label": 0,
                "name": "A001",
                "joint_indices": [1],
                "temporal": False,
                "burst": {
                    "start_s": None,
                    "duration_s": 2.0,
                    "period_s": None,
                    "random_start_range_s": [0, 1],
                },
            },
            {
                "label": 1,
                "name": "A002",
                "joint_indices": [2, 3],
                "temporal": True,
                "burst": {"start_s": 0.8, "duration_s": 2.0, "period_s": None},
            },
            {
                "label": 2,
                "name": "A003",
                "joint_indices": [4],
                "temporal": True,
                "burst": {"start_s": 0.1, "duration_s": 1.5, "period_s": 2.5},
            },
        ]
    }
    (tmp_path / "ground_truth.json").write_text(json.dumps(spec))
    out = read_ground_truth_classes(tmp_path, ["A001", "A002", "A003"], 25)
    assert out[0] == ClassTruth((1,), None)
    assert not out[0].temporal
    assert out[1] == ClassTruth((2, 3), (0.8, 2.0, None))
    assert out[1].segments(5.0) == [(0.8, 2.8)]
    assert out[2].segments(5.0) == [(0.1, 1.6), (2.6, 4.1)]
    spec["classes"][1]["burst"]["duration_s"] = 0
    (tmp_path / "ground_truth.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="duration"):
        read_ground_truth_classes(tmp_path, ["A001", "A002", "A003"], 25)


def test_spatial_auprc_against_sklearn() -> None:
    scores = np.array([0.1, 0.9, 0.3, 0.8, 0.2])
    table = score_ground_truth({"shap": scores[None]}, np.array([0]), {0: (1, 2)}, ["a"], list("vwxyz"))
    want = average_precision_score([0, 1, 1, 0, 0], scores)
    assert table.loc[0, "auprc"] == pytest.approx(want)
    assert table.loc[0, "auprc_sample_mean"] == pytest.approx(want)


# --------------------------------------------------------------------------- motion energy on distractor data
def _simulate(designs: tuple, label: int, index: int, distractors: bool) -> np.ndarray:
    """(channel, frame, joint, 1) NTU-layout coordinates at 30 fps (5 s) in trunk lengths."""
    from harxai.skeletons import NTU25
    from harxai.synthetic.motion import IdleMotion, distractor_motion, idle_motion, planted_motion

    rng = np.random.default_rng([3, label, index])
    times = np.arange(150) / 30.0
    motion = idle_motion(rng, NTU25, times, np.array([0.0, 1.0, 0.0]), IdleMotion())
    motion += planted_motion(rng, designs[label], times, 25)
    if distractors:
        motion += distractor_motion(rng, designs, label, times, 25)
    return np.transpose(motion, (2, 0, 1))[..., None]


@pytest.mark.parametrize("seed", [1234, 5])
def test_motion_energy_is_at_chance_on_distractor_data(seed: int) -> None:
    """The hand-made check of the benchmark: a motion detector scores chance on data with
    distractors and perfect scores on the same classes without them."""
    from harxai.explain.baselines import joint_speed
    from harxai.synthetic import SyntheticParams, class_designs

    designs = class_designs(SyntheticParams.from_mapping({"kind": "synthetic_ntu"}, seed=seed))
    truth = {d.label: d.joints for d in designs}
    labels = np.repeat(np.arange(4), 12)
    scores = {}
    for distractors in (True, False):
        x = np.stack([_simulate(designs, int(y), i, distractors) for i, y in enumerate(labels)])
        energy = joint_speed(x).mean(axis=1)
        scores[distractors] = score_ground_truth(
            {"motion_energy": energy}, labels, truth, list("abcd"), [str(j) for j in range(25)]
        )
    with_d, without = scores[True], scores[False]
    assert without["precision_at_k"].mean() == 1.0
    assert without["precision_at_k_sample_mean"].mean() > 0.9
    # the class ranking of a motion detector is the same for every class: at most one class's
    # set on top, so the mean over 4 disjoint sets is <= 0.25 + ties; per sample about 3 of 12
    assert with_d["precision_at_k"].mean() <= 0.5
    assert with_d["precision_at_k_sample_mean"].mean() < 0.45
    # AUC: planted joints still outrank the 13 joints no class moves, and are at chance among
    # the 9 distractor joints: (13 + 9 / 2) / 22 = 0.80 expected, against 1.0 without distractors
    assert with_d["auc"].mean() < 0.9
    assert without["auc"].mean() == 1.0
