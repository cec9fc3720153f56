"""Scores of the (perturbed) model on the explained samples, one value per figure panel.

Multi-class tasks: top-1 accuracy over all samples (panel ``all``) and per class (panel =
class name). Binary tasks: ROC AUC of P(positive) at recording level (panel ``recordings``:
the median of the per-window P(positive) of each recording, aggregated by
:func:`harxai.metrics.aggregate_recordings` as the seed code's ``Trainer.evaluate_cp``) and
at window level (panel ``windows``). The metrics come from :mod:`harxai.metrics`.

Both tasks also get the panel ``confidence``: the mean over the explained samples of the
predicted probability of the true class. It is not in the seed paper; it moves when a
perturbation weakens the evidence even where the ranking-based AUC (or the arg-max accuracy)
is saturated, as on easy synthetic data with few recordings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import metrics


@dataclass(frozen=True)
class Panel:
    """One scored quantity: a panel of the perturbation figure.

    Attributes
    ----------
    name
        ``all`` or a class name (multi-class); ``recordings`` or ``windows`` (binary);
        ``confidence`` (both).
    metric
        ``accuracy``, ``auc`` or ``true_class_probability``.
    label
        Class index the accuracy is restricted to, or -1 for all samples.
    """

    name: str
    metric: str
    label: int = -1


def scoring_panels(task: str, class_names: Sequence[str], labels: np.ndarray) -> tuple[Panel, ...]:
    """Panels of a task: overall and per-class accuracy, or recording- and window-level AUC; then confidence.

    Only classes present among ``labels`` get a panel.
    """
    confidence = Panel("confidence", "true_class_probability")
    if task == "binary":
        return (Panel("recordings", "auc"), Panel("windows", "auc"), confidence)
    if task != "multiclass":
        raise ValueError(f"unknown task {task!r}: expected multiclass or binary")
    present = [int(c) for c in np.unique(labels)]
    return (Panel("all", "accuracy"), *(Panel(class_names[c], "accuracy", c) for c in present), confidence)


def score_panels(
    probabilities: np.ndarray,
    labels: np.ndarray,
    recording_ids: np.ndarray,
    panels: Sequence[Panel],
) -> np.ndarray:
    """Score probabilities for every panel.

    Parameters
    ----------
    probabilities
        Shape (sample, class).
    labels
        True labels, shape (sample,).
    recording_ids
        Recording of each sample (window), shape (sample,).
    panels
        From :func:`scoring_panels`.

    Returns
    -------
    numpy.ndarray
        One value per panel, shape (item,); NaN where undefined (an AUC with one class only).
    """
    out = np.full(len(panels), np.nan)
    for i, panel in enumerate(panels):
        if panel.metric == "accuracy":
            members = np.ones(len(labels), bool) if panel.label < 0 else labels == panel.label
            top1 = metrics.multiclass_metrics(probabilities[members], labels[members])["top1"]
            out[i] = np.nan if top1 is None else top1
        elif panel.metric == "true_class_probability":
            out[i] = float(np.mean(probabilities[np.arange(len(labels)), labels]))
        elif panel.name == "recordings":
            out[i] = recording_auc(probabilities[:, 1], labels, recording_ids)
        else:
            out[i] = _auc(probabilities[:, 1], labels)
    return out


def _auc(positive: np.ndarray, labels: np.ndarray) -> float:
    auc = metrics.binary_metrics(positive, labels, threshold=0.5)["auc"]
    return float("nan") if auc is None else float(auc)


def recording_auc(positive: np.ndarray, labels: np.ndarray, recording_ids: np.ndarray) -> float:
    """ROC AUC of the per-recording median P(positive) (NaN when one class only).

    Parameters
    ----------
    positive
        P(positive) per window, shape (sample,).
    labels
        0/1 label per window, shape (sample,).
    recording_ids
        Recording of each window, shape (sample,).
    """
    rec = metrics.aggregate_recordings(positive, labels, recording_ids)
    return _auc(rec.probability, rec.label)
