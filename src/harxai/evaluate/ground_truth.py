"""Key-point rankings against the planted joints of the synthetic datasets (not in the seed).

The synthetic generators (:mod:`harxai.synthetic`) make the classes differ only by the
motion of a few planted joints per class, listed in ``ground_truth.json``. A method that
finds them ranks those joints first. For each method and class two scores are given, both
with the planted joints as positives and every other key point as negative:

precision@k
    The fraction of planted joints among the k highest-ranked key points, k = the number
    of planted joints.
AUC
    The ROC AUC of the key-point scores (the probability that a planted joint outranks a
    non-planted one; ties count one half), the Mann-Whitney U statistic.

AUPRC
    The average precision of the key-point scores (``sklearn.metrics.average_precision_score``;
    chance is the planted share, k / joints).

Each is computed on the class ranking (the mean importance over the class's explained
samples) and per sample (then averaged over the class's samples).

Temporal ground truth. Burst classes (``temporal`` in ``ground_truth.json``) move their
planted joints only inside known time segments. :func:`truth_masks` turns them into joint x
frame masks of each input sample: frame ``t`` of a sample whose window starts at frame ``s0``
of the recording resampled to ``fps`` lies at ``(s0 + t) / fps`` seconds from the recording
start, and a cell (t, j) is true when j is planted and that time is inside a segment.
:func:`score_temporal` scores maps with a time axis against them per sample: the AUPRC of the
cells (chance: the true share of the cells) and the precision in the top-k cells (k = true
cells). Maps at a coarser frame resolution are first brought to input frames by
:func:`to_input_frames`.

Only classes the model-reliance oracle verified (:mod:`harxai.evaluate.oracle`) should be
scored: pass the restricted ground truth (:func:`harxai.evaluate.oracle.verified_truth`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import average_precision_score

from .sources import (
    PathLike,
    method_label,
    method_layer,
)
from .tables import markdown_table

log = logging.getLogger(__name__)

GROUND_TRUTH_FILE = "ground_truth.json"
GROUND_TRUTH_COLUMNS = (
    "method",
    "layer",
    "class",
    "planted",
    "k",
    "precision_at_k",
    "auc",
    "auprc",
    "precision_at_k_sample_mean",
    "auc_sample_mean",
    "auprc_sample_mean",
    "n_samples",
)
TEMPORAL_COLUMNS = (
    "method",
    "layer",
    "class",
    "planted",
    "segments_s",
    "auprc_time",
    "auprc_time_chance",
    "precision_time",
    "precision_time_chance",
    "n_samples",
)


@dataclass(frozen=True)
class ClassTruth:
    """Ground truth of one class.

    Attributes
    ----------
    joints
        Planted joint indices.
    burst
        None when the planted motion lasts the whole recording, else ``(start_s, duration_s,
        period_s)`` with ``period_s`` None for a single burst.
    """

    joints: tuple[int, ...]
    burst: tuple[float, float, float | None] | None = None

    @property
    def temporal(self) -> bool:
        """Whether the planted motion occupies known time segments."""
        return self.burst is not None

    def segments(self, seconds: float) -> list[tuple[float, float]]:
        """(start, end) seconds of the planted motion within ``[0, seconds]``."""
        if self.burst is None:
            return [(0.0, seconds)]
        start, duration, period = self.burst
        if period is None:
            return [(start, start + duration)]
        out, t = [], start
        while t < seconds:
            out.append((t, t + duration))
            t += period
        return out


def read_ground_truth(
    path: PathLike, class_names: Sequence[str], num_joints: int
) -> dict[int, tuple[int, ...]]:
    """Planted joints of every class, by the dataset's label index.

    Parameters
    ----------
    path
        ``ground_truth.json`` or the folder holding it.
    class_names
        The dataset's class names; ground-truth classes are matched by name, else by label.
    num_joints
        Number of key points of the layout (indices are checked against it).
    """
    p = Path(path)
    if p.is_dir():
        p = p / GROUND_TRUTH_FILE
    try:
        spec = json.loads(p.read_text(encoding="utf-8"))
        classes = spec["classes"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{p}: not a readable ground-truth file ({exc})") from exc
    out: dict[int, tuple[int, ...]] = {}
    for entry in classes:
        name, label = str(entry.get("name", "")), int(entry["label"])
        index = list(class_names).index(name) if name in class_names else label
        joints = tuple(int(j) for j in entry["joint_indices"])
        if not 0 <= index < len(class_names) or any(not 0 <= j < num_joints for j in joints):
            raise ValueError(
                f"{p}: class {name!r} (label {label}) does not fit the dataset's classes or joints"
            )
        out[index] = joints
    return out


def read_ground_truth_classes(
    path: PathLike, class_names: Sequence[str], num_joints: int
) -> dict[int, ClassTruth]:
    """Like :func:`read_ground_truth`, with each class's time segments (``burst``)."""
    joints = read_ground_truth(path, class_names, num_joints)
    p = Path(path)
    p = p / GROUND_TRUTH_FILE if p.is_dir() else p
    spec = json.loads(p.read_text(encoding="utf-8"))
    out: dict[int, ClassTruth] = {}
    for entry in spec["classes"]:
        name, label = str(entry.get("name", "")), int(entry["label"])
        index = list(class_names).index(name) if name in class_names else label
        burst = entry.get("burst")
        timing = None
        if burst is not None and entry.get("temporal", True) and burst.get("start_s") is not None:
            try:
                period = burst.get("period_s")
                timing = (
                    float(burst["start_s"]),
                    float(burst["duration_s"]),
                    None if period is None else float(period),
                )
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise ValueError(f"{p}: class {name!r}: malformed burst {burst!r} ({exc})") from exc
            if timing[1] <= 0 or (timing[2] is not None and timing[2] <= 0):
                raise ValueError(f"{p}: class {name!r}: burst duration and period must be > 0, got {burst!r}")
        out[index] = ClassTruth(joints[index], timing)
    return out


def truth_masks(
    classes: Mapping[int, ClassTruth],
    labels: np.ndarray,
    window_start: np.ndarray,
    frames: int,
    fps: float,
    num_joints: int,
) -> np.ndarray:
    """(sample, frame, joint) bool masks of the planted cells of every sample.

    Parameters
    ----------
    classes
        Label -> ground truth (:func:`read_ground_truth_classes`).
    labels
        (sample,) labels; a sample of a class not in ``classes`` gets an all-false mask.
    window_start
        (sample,) first frame of each sample in its recording resampled to ``fps``
        (``windows.h5``'s ``window_start``; 0 for ``fixed`` segments).
    frames
        Frames per sample.
    fps
        The preprocessing's target rate.
    """
    labels = np.asarray(labels)
    starts = np.asarray(window_start, dtype=np.float64)
    out = np.zeros((len(labels), frames, num_joints), dtype=bool)
    for i, (label, s0) in enumerate(zip(labels.tolist(), starts.tolist(), strict=True)):
        truth = classes.get(int(label))
        if truth is None:
            continue
        t = (s0 + np.arange(frames)) / fps
        inside = np.zeros(frames, dtype=bool)
        for a, b in truth.segments(float(t[-1]) + 1.0 / fps):
            inside |= (t >= a) & (t < b)
        out[i][np.ix_(inside, np.asarray(truth.joints, dtype=np.int64))] = True
    return out


def to_input_frames(maps: np.ndarray, frames: int) -> np.ndarray:
    """(sample, frame', joint) maps at a coarser frame rate brought to ``frames`` input frames.

    Input frame ``t`` takes the value of map frame ``floor(t * frame' / frames)`` (the map cell
    whose input span holds it, exact for strided temporal layers)."""
    m = np.asarray(maps)
    if m.ndim != 3:
        raise ValueError(f"to_input_frames: maps must be (sample, frame, joint), got shape {m.shape}")
    if m.shape[1] == frames:
        return m
    index = np.minimum((np.arange(frames) * m.shape[1]) // frames, m.shape[1] - 1)
    return m[:, index, :]


def cell_precision(scores: np.ndarray, mask: np.ndarray) -> float:
    """Fraction of true cells among the ``mask.sum()`` highest scores (ties by position)."""
    s, m = np.ravel(scores), np.ravel(mask).astype(bool)
    k = int(m.sum())
    if k == 0:
        return float("nan")
    top = np.argsort(-s, kind="stable")[:k]
    return float(m[top].mean())


def auprc(scores: np.ndarray, mask: np.ndarray) -> float:
    """Average precision of the scores with the mask's true cells as positives (NaN when all
    cells are one kind)."""
    m = np.ravel(mask).astype(bool)
    if m.all() or not m.any():
        return float("nan")
    return float(average_precision_score(m, np.ravel(scores).astype(np.float64)))


def score_temporal(
    maps: Mapping[str, np.ndarray],
    labels: np.ndarray,
    masks: np.ndarray,
    classes: Mapping[int, ClassTruth],
    class_names: Sequence[str],
    joint_names: Sequence[str],
) -> pd.DataFrame:
    """AUPRC and top-k cell precision of joint x frame maps against the temporal masks.

    Parameters
    ----------
    maps
        Method -> (sample, frame, joint) maps, at input frames or coarser
        (:func:`to_input_frames` is applied).
    labels
        (sample,) labels.
    masks
        (sample, frame, joint) from :func:`truth_masks`.
    classes
        Label -> ground truth; only ``temporal`` classes are scored (restrict it to verified
        classes first).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TEMPORAL_COLUMNS`, per method and temporal class: means over the
        class's samples (``*_chance``: the mean true share of the cells, the expected value of
        a random map).
    """
    labels = np.asarray(labels)
    masks = np.asarray(masks, dtype=bool)
    rows = []
    for method, values in maps.items():
        m = to_input_frames(np.asarray(values, dtype=np.float64), masks.shape[1])
        if m.shape != masks.shape:
            raise ValueError(f"{method}: map shape {m.shape} does not match the masks {masks.shape}")
        for label in np.unique(labels).tolist():
            truth = classes.get(int(label))
            if truth is None or not truth.temporal:
                continue
            rows_of = np.flatnonzero(labels == label)
            ap = [auprc(m[i], masks[i]) for i in rows_of]
            prec = [cell_precision(m[i], masks[i]) for i in rows_of]
            share = [masks[i].mean() for i in rows_of]
            rows.append(
                {
                    "method": method,
                    "layer": _layer_of(method),
                    "class": class_names[int(label)],
                    "planted": ";".join(joint_names[j] for j in truth.joints),
                    "segments_s": _segments_text(truth),
                    "auprc_time": _nanmean(ap),
                    "auprc_time_chance": float(np.mean(share)),
                    "precision_time": _nanmean(prec),
                    "precision_time_chance": float(np.mean(share)),
                    "n_samples": len(rows_of),
                }
            )
    return pd.DataFrame(rows, columns=list(TEMPORAL_COLUMNS))


def _layer_of(method: str) -> str:
    """The GradCAM layer of a method name, "" for any other method (baselines included)."""
    try:
        return method_layer(method) or ""
    except ValueError:
        return ""


def _nanmean(values: Sequence[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    return float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else float("nan")


def _segments_text(truth: ClassTruth) -> str:
    if truth.burst is None:
        return ""
    start, duration, period = truth.burst
    text = f"{start:g}-{start + duration:g}"
    return text if period is None else f"{text} every {period:g}"


def precision_at_k(scores: np.ndarray, planted: Sequence[int]) -> float:
    """Fraction of planted joints among the ``len(planted)`` highest scores (ties by joint index)."""
    k = len(planted)
    top = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return float(len(set(top.tolist()) & set(planted)) / k)


def ranking_auc(scores: np.ndarray, planted: Sequence[int]) -> float:
    """ROC AUC of the scores with the planted joints as positives (Mann-Whitney U / (n+ n-))."""
    s = np.asarray(scores, dtype=np.float64)
    positive = np.zeros(len(s), dtype=bool)
    positive[list(planted)] = True
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = stats.rankdata(s)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def planted_auprc(scores: np.ndarray, planted: Sequence[int]) -> float:
    """Average precision of key-point scores with the planted joints as positives."""
    mask = np.zeros(len(np.asarray(scores)), dtype=bool)
    mask[list(planted)] = True
    return auprc(scores, mask)


def score_ground_truth(
    importance: Mapping[str, np.ndarray],
    labels: np.ndarray,
    truth: Mapping[int, Sequence[int]],
    class_names: Sequence[str],
    joint_names: Sequence[str],
) -> pd.DataFrame:
    """Precision@k and AUC of every method's key-point ranking per class.

    Parameters
    ----------
    importance
        Method -> per-sample importance, shape (sample, joint).
    labels
        True label of each sample, shape (sample,).
    truth
        Label -> planted joint indices (from :func:`read_ground_truth`); restrict it to the
        classes the oracle verified (:func:`harxai.evaluate.oracle.verified_truth`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`GROUND_TRUTH_COLUMNS`, one row per method and class present.
    """
    rows = []
    for method, values in importance.items():
        for label in np.unique(labels):
            planted = truth.get(int(label))
            if not planted:
                continue
            v = np.asarray(values, dtype=np.float64)[labels == label]
            mean = v.mean(axis=0)
            rows.append(
                {
                    "method": method,
                    "layer": _layer_of(method),
                    "class": class_names[int(label)],
                    "planted": ";".join(joint_names[j] for j in planted),
                    "k": len(planted),
                    "precision_at_k": precision_at_k(mean, planted),
                    "auc": ranking_auc(mean, planted),
                    "auprc": planted_auprc(mean, planted),
                    "precision_at_k_sample_mean": float(np.mean([precision_at_k(x, planted) for x in v])),
                    "auc_sample_mean": float(np.nanmean([ranking_auc(x, planted) for x in v])),
                    "auprc_sample_mean": _nanmean([planted_auprc(x, planted) for x in v]),
                    "n_samples": len(v),
                }
            )
    return pd.DataFrame(rows, columns=list(GROUND_TRUTH_COLUMNS))


def ground_truth_markdown(table: pd.DataFrame, title: str = "") -> str:
    """Markdown table: one row per method, one column per class, cells ``P@k / AUC``."""
    labels = {m: method_label(m) for m in table["method"]}
    cells = table.assign(
        method=[labels[m] for m in table["method"]],
        cell=[f"{p:.2f} / {a:.2f}" for p, a in zip(table["precision_at_k"], table["auc"], strict=True)],
    )
    pivot = cells.pivot(index="method", columns="class", values="cell").reindex(
        list(dict.fromkeys(cells["method"]))
    )
    pivot = pivot.reset_index()
    planted = "; ".join(
        f"{c}: {p}" for c, p in dict(zip(table["class"], table["planted"], strict=True)).items()
    )
    head = f"# Ground truth{': ' + title if title else ''}\n\n"
    note = (
        "precision@k / AUC of each method's class ranking (mean importance over the class's samples) "
        f"against the planted joints ({planted}).\n\n"
    )
    return head + note + markdown_table(pivot)
