"""Classification metrics computed with ``sklearn.metrics``.

* multiclass: top-1 and top-5 accuracy;
* binary (class index 1 is the positive class): ROC AUC, sensitivity, specificity and
  accuracy on windows, and on recordings after aggregating windowed data as the seed
  study does (DeepInMotion/ShapGCN ``Trainer.evaluate_cp``): the median over a recording's
  windows of P(positive), thresholded (default 0.45); the recording AUC is computed on the
  medians. The window-level AUC is also given with weights 1/(windows of the recording *
  recordings), the seed's recording-balanced variant.

Undefined values (e.g. an AUC when only one class is present) are ``None`` so that the
result stays valid JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import softmax
from sklearn import metrics as skm

POSITIVE = 1


@dataclass(frozen=True)
class RecordingScores:
    """Recording-level aggregation of window scores.

    Attributes
    ----------
    recording_id
        Shape (recording,), sorted.
    probability
        Median over the recording's windows of P(positive), shape (recording,).
    label
        Shape (recording,).
    windows
        Number of windows per recording, shape (recording,).
    window_recording
        Recording (index into ``recording_id``) of each input window, shape (sample,).
    """

    recording_id: np.ndarray
    probability: np.ndarray
    label: np.ndarray
    windows: np.ndarray
    window_recording: np.ndarray


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax over classes of logits (sample, class)."""
    return np.asarray(softmax(np.asarray(logits, dtype=np.float64), axis=1))


def multiclass_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Top-1 and top-5 accuracy.

    Parameters
    ----------
    scores
        Logits or probabilities, shape (sample, class).
    labels
        True class indices, shape (sample,).

    Returns
    -------
    dict
        ``top1``, ``top5`` (1.0 by definition when there are at most 5 classes) and
        ``num_samples``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    n_classes = scores.shape[1]
    if labels.size == 0:
        return {"top1": None, "top5": None, "num_samples": 0}
    top1 = float(skm.accuracy_score(labels, scores.argmax(axis=1)))
    if n_classes <= 5:
        top5 = 1.0
    else:
        top5 = float(skm.top_k_accuracy_score(labels, scores, k=5, labels=np.arange(n_classes)))
    return {"top1": top1, "top5": top5, "num_samples": int(labels.size)}


def binary_metrics(
    probability: np.ndarray,
    labels: np.ndarray,
    threshold: float,
    sample_weight: np.ndarray | None = None,
) -> dict[str, Any]:
    """ROC AUC, sensitivity, specificity and accuracy of P(positive) at a threshold.

    Parameters
    ----------
    probability
        P(positive), shape (sample,).
    labels
        0/1 labels, shape (sample,).
    threshold
        Predicted positive when ``probability >= threshold``.
    sample_weight
        Optional weights for the AUC only.

    Returns
    -------
    dict
        ``auc`` (None when only one class is present), ``sensitivity`` (None without
        positives), ``specificity`` (None without negatives), ``accuracy``, ``num``.
    """
    probability = np.asarray(probability, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    predicted = (probability >= threshold).astype(np.int64)
    present = set(np.unique(labels).tolist())
    out: dict[str, Any] = {"num": int(labels.size)}
    out["auc"] = (
        float(skm.roc_auc_score(labels, probability, sample_weight=sample_weight))
        if present == {0, 1}
        else None
    )
    out["sensitivity"] = (
        float(skm.recall_score(labels, predicted, pos_label=1, zero_division=0.0)) if 1 in present else None
    )
    out["specificity"] = (
        float(skm.recall_score(labels, predicted, pos_label=0, zero_division=0.0)) if 0 in present else None
    )
    out["accuracy"] = float(skm.accuracy_score(labels, predicted)) if labels.size else None
    return out


def aggregate_recordings(
    probability: np.ndarray, labels: np.ndarray, recording_ids: Sequence[str] | np.ndarray
) -> RecordingScores:
    """Median of per-window P(positive) per recording.

    Raises
    ------
    ValueError
        When the windows of one recording carry different labels.
    """
    probability = np.asarray(probability, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    ids = np.asarray(recording_ids).astype(str)
    unique, inverse = np.unique(ids, return_inverse=True)
    med = np.empty(unique.size)
    lab = np.empty(unique.size, dtype=np.int64)
    count = np.bincount(inverse, minlength=unique.size)
    members = np.split(np.argsort(inverse, kind="stable"), np.cumsum(count)[:-1])
    for r, rows in enumerate(members):
        values = np.unique(labels[rows])
        if values.size != 1:
            raise ValueError(
                f"recording {str(unique[r])!r} has windows with different labels {values.tolist()}"
            )
        med[r] = np.median(probability[rows])
        lab[r] = values[0]
    return RecordingScores(
        recording_id=unique, probability=med, label=lab, windows=count, window_recording=inverse
    )


def evaluate_predictions(
    task: str,
    logits: np.ndarray,
    labels: np.ndarray,
    recording_ids: Sequence[str] | np.ndarray,
    threshold: float = 0.45,
) -> dict[str, Any]:
    """All metrics of one task from logits (sample, class).

    Returns
    -------
    dict
        multiclass: ``top1``, ``top5``, ``num_samples``. binary: ``top1`` (arg-max window
        accuracy), ``window_auc``, ``window_auc_weighted``, ``window_sensitivity``,
        ``window_specificity``, ``window_accuracy``, ``recording_auc``,
        ``recording_sensitivity``, ``recording_specificity``, ``recording_accuracy``,
        ``num_windows``, ``num_recordings``, ``threshold``.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    if task == "multiclass":
        return multiclass_metrics(logits, labels)
    if task != "binary":
        raise ValueError(f"task must be multiclass or binary, not {task!r}")
    if logits.shape[1] != 2:
        raise ValueError(f"binary task needs 2 output classes, got {logits.shape[1]}")
    prob = probabilities(logits)[:, POSITIVE]
    rec = aggregate_recordings(prob, labels, recording_ids)
    weights = 1.0 / rec.windows[rec.window_recording]
    window = binary_metrics(prob, labels, threshold)
    weighted = binary_metrics(prob, labels, threshold, sample_weight=weights / rec.recording_id.size)
    recording = binary_metrics(rec.probability, rec.label, threshold)
    out: dict[str, Any] = {
        "top1": multiclass_metrics(logits, labels)["top1"],
        "threshold": float(threshold),
        "num_windows": window["num"],
        "num_recordings": recording["num"],
        "window_auc_weighted": weighted["auc"],
    }
    for level, values in (("window", window), ("recording", recording)):
        for key in ("auc", "sensitivity", "specificity", "accuracy"):
            out[f"{level}_{key}"] = values[key]
    return out
