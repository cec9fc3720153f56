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

from ..io.contracts import read_explain_set
from .sources import (
    METHOD_SHAP,
    PathLike,
    gradcam_method,
    method_layer,
    methods_of,
    read_all_scores,
    read_dataset_info,
)
from .tables import write_csv

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


def run_rank_keypoints(
    *,
    features_path: PathLike,
    explain_set_path: PathLike,
    shap_path: PathLike,
    gradcam_paths: Mapping[str, PathLike],
    output_csv: PathLike,
    output_png: PathLike,
    shap_absolute: bool,
    figure_layers: Sequence[str],
) -> pd.DataFrame:
    """Job of rule rank_keypoints: rankings of SHAP and every GradCAM layer, CSV and boxplots.

    Parameters
    ----------
    features_path
        features.h5 (its attributes give the layout and class names).
    explain_set_path
        explain_set.h5 (true labels and sample order).
    shap_path
        shap.h5.
    gradcam_paths
        GradCAM layer -> gradcam/<layer>.h5; every layer is ranked in the CSV.
    output_csv, output_png
        The ranking table and the boxplot figure.
    shap_absolute
        Rank SHAP by absolute instead of signed sums.
    figure_layers
        GradCAM layers drawn next to SHAP in the figure.
    """
    from ..plots import plot_rankings

    info = read_dataset_info(features_path)
    explain = read_explain_set(explain_set_path, with_inputs=False)
    sources: dict[str, PathLike] = {METHOD_SHAP: shap_path}
    sources.update({gradcam_method(layer): path for layer, path in gradcam_paths.items()})
    scores = read_all_scores(sources, explain.sample_index, shap_absolute)
    importance = {m: s.importance for m, s in scores.items()}
    table = rank_keypoints(importance, explain.label, info.class_names, info.layout.joints)
    write_csv(table, output_csv)
    log.info(
        "ranked %d key points for %d methods on %d samples",
        info.layout.num_joints,
        len(scores),
        len(explain.label),
    )
    missing = [layer for layer in figure_layers if gradcam_method(layer) not in importance]
    if missing:
        raise ValueError(
            f"evaluate.figure_layers: {missing} are not among the GradCAM layers {list(gradcam_paths)}"
        )
    shown = {m: importance[m] for m in methods_of(figure_layers)}
    plot_rankings(
        shown,
        explain.label,
        info.class_names,
        info.layout.joints,
        output_png,
        shap_absolute=shap_absolute,
    )
    return table
