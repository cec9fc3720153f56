"""Metrics against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harxai.metrics import (
    aggregate_recordings,
    binary_metrics,
    evaluate_predictions,
    multiclass_metrics,
    probabilities,
)


def _logits_for(prob_positive: list[float]) -> np.ndarray:
    """Two-class logits whose softmax gives the requested P(class 1)."""
    p = np.asarray(prob_positive, dtype=np.float64)
    return np.stack([np.zeros_like(p), np.log(p / (1 - p))], axis=1)


def test_top1_top5_by_hand() -> None:
    # 7 classes; sample 0: true class ranked 1st, sample 1: ranked 3rd, sample 2: ranked 6th
    scores = np.array(
        [
            [9, 1, 2, 3, 4, 5, 6],  # label 0 -> rank 1
            [1, 7, 6, 5, 2, 3, 4],  # label 5 -> values 7,6,5 above 3 -> rank 4
            [0, 1, 2, 3, 4, 5, 6],  # label 1 -> rank 6
        ],
        dtype=float,
    )
    labels = np.array([0, 5, 1])
    out = multiclass_metrics(scores, labels)
    assert out["top1"] == pytest.approx(1 / 3)
    assert out["top5"] == pytest.approx(2 / 3)
    assert out["num_samples"] == 3


def test_top5_is_one_with_at_most_five_classes() -> None:
    scores = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1]])
    out = multiclass_metrics(scores, np.array([2, 0]))
    assert out["top1"] == pytest.approx(0.5)
    assert out["top5"] == 1.0


def test_binary_auc_sensitivity_specificity_by_hand() -> None:
    prob = np.array([0.1, 0.4, 0.35, 0.8])
    labels = np.array([0, 0, 1, 1])
    out = binary_metrics(prob, labels, threshold=0.45)
    # positive/negative pairs ranked correctly: (0.35>0.1), (0.8>0.1), (0.8>0.4); not (0.35>0.4)
    assert out["auc"] == pytest.approx(3 / 4)
    # predictions at 0.45: [0, 0, 0, 1]
    assert out["sensitivity"] == pytest.approx(1 / 2)
    assert out["specificity"] == pytest.approx(1.0)
    assert out["accuracy"] == pytest.approx(3 / 4)


def test_threshold_is_inclusive_and_configurable() -> None:
    prob = np.array([0.3, 0.45, 0.5, 0.7])
    labels = np.array([0, 1, 0, 1])
    at_045 = binary_metrics(prob, labels, threshold=0.45)
    at_060 = binary_metrics(prob, labels, threshold=0.6)
    assert at_045["sensitivity"] == 1.0  # 0.45 >= 0.45 counts as positive
    assert at_045["specificity"] == pytest.approx(0.5)
    assert at_060["sensitivity"] == pytest.approx(0.5)
    assert at_060["specificity"] == 1.0


def test_single_class_gives_undefined_auc() -> None:
    out = binary_metrics(np.array([0.2, 0.9]), np.array([1, 1]), threshold=0.5)
    assert out["auc"] is None
    assert out["specificity"] is None
    assert out["sensitivity"] == pytest.approx(0.5)


def test_recording_median_aggregation() -> None:
    prob = np.array([0.1, 0.9, 0.2, 0.6, 0.7, 0.3, 0.3])
    labels = np.array([0, 0, 0, 1, 1, 0, 0])
    ids = np.array(["b", "b", "b", "a", "a", "c", "c"])
    rec = aggregate_recordings(prob, labels, ids)
    assert rec.recording_id.tolist() == ["a", "b", "c"]
    np.testing.assert_allclose(rec.probability, [0.65, 0.2, 0.3])
    assert rec.label.tolist() == [1, 0, 0]
    assert rec.windows.tolist() == [2, 3, 2]


def test_recording_with_mixed_labels_fails() -> None:
    with pytest.raises(ValueError, match="recording 'x'"):
        aggregate_recordings(np.array([0.1, 0.2]), np.array([0, 1]), np.array(["x", "x"]))


def test_evaluate_binary_from_logits() -> None:
    # recordings: r1 (neg) medians 0.2; r2 (pos) 0.5; r3 (neg) 0.6; r4 (pos) 0.9
    prob = [0.1, 0.2, 0.3, 0.5, 0.4, 0.6, 0.6, 0.9, 0.95, 0.85]
    ids = ["r1", "r1", "r1", "r2", "r2", "r2", "r3", "r4", "r4", "r4"]
    labels = [0, 0, 0, 1, 1, 1, 0, 1, 1, 1]
    out = evaluate_predictions("binary", _logits_for(prob), np.array(labels), np.array(ids), threshold=0.45)
    # recording level: medians neg {0.2, 0.6}, pos {0.5, 0.9}: pairs (0.5>0.2), (0.9>0.2), (0.9>0.6)
    assert out["recording_auc"] == pytest.approx(3 / 4)
    assert out["recording_sensitivity"] == 1.0
    assert out["recording_specificity"] == pytest.approx(0.5)
    assert out["recording_accuracy"] == pytest.approx(3 / 4)
    assert out["num_recordings"] == 4
    assert out["num_windows"] == 10
    # window level: 4 negatives {0.1, 0.2, 0.3, 0.6}, 6 positives {0.5, 0.4, 0.6, 0.9, 0.95, 0.85}
    pos, neg = np.array(prob)[np.array(labels) == 1], np.array(prob)[np.array(labels) == 0]
    pairs = [(p > n) + 0.5 * (p == n) for p in pos for n in neg]
    assert out["window_auc"] == pytest.approx(sum(pairs) / len(pairs))
    assert out["window_sensitivity"] == pytest.approx(5 / 6)  # 0.4 < 0.45
    assert out["window_specificity"] == pytest.approx(3 / 4)  # 0.6 >= 0.45
    assert out["threshold"] == 0.45
    assert out["window_auc_weighted"] is not None


def test_weighted_window_auc_balances_recordings() -> None:
    # r1 (neg): one window 0.5; r2 (neg): three windows 0.1; r3 (pos): one window 0.3
    prob = [0.5, 0.1, 0.1, 0.1, 0.3]
    ids = ["r1", "r2", "r2", "r2", "r3"]
    labels = [0, 0, 0, 0, 1]
    out = evaluate_predictions("binary", _logits_for(prob), np.array(labels), np.array(ids))
    # unweighted: positive beats 3 of 4 negative windows
    assert out["window_auc"] == pytest.approx(3 / 4)
    # weighted: r1 weight 1, r2 windows 1/3 each -> positive beats weight 1 of 2
    assert out["window_auc_weighted"] == pytest.approx(1 / 2)


def test_probabilities_are_softmax() -> None:
    p = probabilities(np.array([[0.0, math.log(3.0)]]))
    np.testing.assert_allclose(p, [[0.25, 0.75]])


def test_evaluate_multiclass_and_bad_task() -> None:
    out = evaluate_predictions("multiclass", np.eye(3), np.array([0, 1, 0]), np.array(["a", "b", "c"]))
    assert out["top1"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="task"):
        evaluate_predictions("regression", np.eye(3), np.array([0, 1, 2]), np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match="2 output classes"):
        evaluate_predictions("binary", np.eye(3), np.array([0, 1, 0]), np.array(["a", "b", "c"]))
