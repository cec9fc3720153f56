"""Key-point rankings per class: the per-sample importance distribution of each method.

Follows the seed paper's Fig. 6/7 (Tempel et al., "Choose your explanation", 2025, Sec. 4.5):
each method's importance per sample and key point is the mean over frames (SHAP: the signed
sum over feature groups, channels and persons as in the seed code's
``compute_shap_ordering_*``, or its absolute value with ``shap_absolute``; GradCAM: the
layer's map), and key points are ranked by the median over the samples of a group. Groups are
the classes of a multi-class task, and the positive and negative recordings of a binary task
(the samples are grouped by their true label in both cases).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .sources import (
    method_layer,
)

log = logging.getLogger(__name__)

RANKING_COLUMNS = (
    "group",
    "method",
    "layer",
    "rank",
    "joint",
    "joint_name",
    "median",
    "q1",
    "q3",
    "mean",
    "n_samples",
)


def rank_keypoints(
    importance: Mapping[str, np.ndarray],
    labels: np.ndarray,
    class_names: Sequence[str],
    joint_names: Sequence[str],
) -> pd.DataFrame:
    """Rank key points per group and method by the median importance over samples.

    Parameters
    ----------
    importance
        Method -> per-sample importance, shape (sample, joint).
    labels
        Group (true label) of each sample, shape (sample,).
    class_names
        Group names in label order.
    joint_names
        Key-point names in joint order.

    Returns
    -------
    pandas.DataFrame
        One row per (group, method, joint) with the columns of :data:`RANKING_COLUMNS`;
        ``rank`` 1 is the highest median (ties broken by joint index).
    """
    rows: list[dict[str, object]] = []
    for label in np.unique(labels):
        members = labels == label
        for method, values in importance.items():
            v = np.asarray(values, dtype=np.float64)[members]
            median = np.median(v, axis=0)
            q1, q3 = np.percentile(v, [25, 75], axis=0)
            mean = v.mean(axis=0)
            order = np.argsort(-median, kind="stable")
            for rank, joint in enumerate(order, start=1):
                rows.append(
                    {
                        "group": class_names[int(label)],
                        "method": method,
                        "layer": method_layer(method) or "",
                        "rank": rank,
                        "joint": int(joint),
                        "joint_name": joint_names[joint],
                        "median": float(median[joint]),
                        "q1": float(q1[joint]),
                        "q3": float(q3[joint]),
                        "mean": float(mean[joint]),
                        "n_samples": int(members.sum()),
                    }
                )
    return pd.DataFrame(rows, columns=list(RANKING_COLUMNS))
