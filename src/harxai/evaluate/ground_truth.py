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

Each is computed on the class ranking (the mean importance over the class's explained
samples) and per sample (then averaged over the class's samples).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

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
    "precision_at_k_sample_mean",
    "auc_sample_mean",
    "n_samples",
)


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
        Label -> planted joint indices (from :func:`read_ground_truth`).

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
                    "layer": method_layer(method) or "",
                    "class": class_names[int(label)],
                    "planted": ";".join(joint_names[j] for j in planted),
                    "k": len(planted),
                    "precision_at_k": precision_at_k(mean, planted),
                    "auc": ranking_auc(mean, planted),
                    "precision_at_k_sample_mean": float(np.mean([precision_at_k(x, planted) for x in v])),
                    "auc_sample_mean": float(np.nanmean([ranking_auc(x, planted) for x in v])),
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
