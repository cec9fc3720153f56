"""Reading the explanation files the evaluation stage compares.

Every evaluation compares *methods* (:mod:`harxai.methods`). This module turns
``shap.h5`` and ``gradcam/<layer>.h5`` into per-sample key-point scores and reads the dataset
facts (layout, class names, task) from the attributes of ``features.h5`` / ``windows.h5``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..io import HDF5ContractError, read_hdf5
from ..io.contracts import GRADCAM, SHAP
from ..methods import (
    GRADCAM_PREFIX,
    METHOD_SHAP,
    METHOD_SHAP_ABS,
    gradcam_method,
    method_label,
    method_layer,
    methods_of,
)
from ..skeletons import SkeletonLayout

SELECTIONS = ("most", "least")

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about a dataset stored as root attributes of features.h5 / windows.h5.

    Attributes
    ----------
    layout
        The skeleton layout (joint names, bones).
    class_names
        Names of the classes in label order.
    task
        ``multiclass`` or ``binary``.
    segment
        ``fixed`` (one sample per sequence) or ``windows`` (overlapping windows); None when
        the file does not say.
    """

    layout: SkeletonLayout
    class_names: tuple[str, ...]
    task: str
    segment: str | None = None


def read_dataset_info(path: PathLike) -> DatasetInfo:
    """Read layout, class names, task and segment from the root attributes of an HDF5 file."""
    content = read_hdf5(path, load=())
    attrs = content.attrs
    for key in ("layout", "class_names", "task"):
        if key not in attrs:
            raise HDF5ContractError(f"{content.path}: missing root attribute {key!r}")
    layout = SkeletonLayout.from_dict(content.json_attr("layout"))
    names = tuple(str(c) for c in content.json_attr("class_names"))
    segment = attrs.get("segment")
    return DatasetInfo(layout, names, str(attrs["task"]), None if segment is None else str(segment))


@dataclass(frozen=True)
class KeypointScores:
    """Per-sample key-point scores of one method.

    Attributes
    ----------
    method
        ``shap`` or ``gradcam-<layer>``.
    importance
        Ranking score, shape (sample, joint): higher means more important. SHAP: the signed
        (or absolute) sum over group, channel and person, mean over frames; GradCAM: the
        map's mean over frames.
    counter
        Score of the "least important" selection, shape (sample, joint): its highest
        entries are perturbed first. SHAP signed: ``-importance`` (most negative first);
        SHAP absolute: ``-importance`` (smallest magnitude first); GradCAM: the negated
        map's mean over frames (the counterfactual explanation).
    frame_map
        Per-frame map, shape (sample, frame, joint), at the method's frame resolution.
    sample_index
        Row in features.h5 of each sample, shape (sample,).
    """

    method: str
    importance: np.ndarray
    counter: np.ndarray
    frame_map: np.ndarray
    sample_index: np.ndarray


def read_keypoint_scores(path: PathLike, method: str, shap_absolute: bool = False) -> KeypointScores:
    """Read one method's per-sample key-point scores from shap.h5 or gradcam/<layer>.h5.

    Parameters
    ----------
    path
        ``shap.h5`` for ``method == "shap"``, else the layer's ``gradcam/<layer>.h5``.
    method
        Method name.
    shap_absolute
        Rank SHAP by absolute values (``keypoint_importance_abs``) instead of signed sums.
    """
    if method_layer(method) is None:
        suffix = "_abs" if shap_absolute else ""
        names = [f"keypoint_importance{suffix}", f"keypoint_frame{suffix}", "sample_index"]
        content = SHAP.read(path, load=names)
        importance = content[f"keypoint_importance{suffix}"].astype(np.float64)
        return KeypointScores(
            method,
            importance,
            -importance,
            content[f"keypoint_frame{suffix}"].astype(np.float64),
            content["sample_index"].astype(np.int64),
        )
    content = GRADCAM.read(path, load=["cam", "cam_negated", "sample_index"])
    cam = content["cam"].astype(np.float64)
    return KeypointScores(
        method,
        cam.mean(axis=1),
        content["cam_negated"].astype(np.float64).mean(axis=1),
        cam,
        content["sample_index"].astype(np.int64),
    )


def check_aligned(reference: np.ndarray, other: np.ndarray, what: str, path: PathLike) -> None:
    """Raise when ``other`` (sample indices of ``path``) differs from the reference order."""
    if reference.shape != other.shape or not np.array_equal(reference, other):
        raise HDF5ContractError(
            f"{path}: its samples ({what}) are not the explained samples of explain_set.h5 in the same order"
        )


def read_all_scores(
    sources: Mapping[str, PathLike],
    sample_index: np.ndarray,
    shap_absolute: bool = False,
) -> dict[str, KeypointScores]:
    """Read the scores of several methods and check they cover the same samples in order.

    Parameters
    ----------
    sources
        Method name -> file (shap.h5 or gradcam/<layer>.h5).
    sample_index
        The explained samples' rows in features.h5 (from explain_set.h5), shape (sample,).
    shap_absolute
        Rank SHAP by absolute values.
    """
    out: dict[str, KeypointScores] = {}
    for method, path in sources.items():
        scores = read_keypoint_scores(path, method, shap_absolute)
        check_aligned(sample_index, scores.sample_index, "sample_index", path)
        out[method] = scores
    return out


__all__ = [
    "GRADCAM_PREFIX",
    "METHOD_SHAP",
    "METHOD_SHAP_ABS",
    "SELECTIONS",
    "DatasetInfo",
    "KeypointScores",
    "check_aligned",
    "gradcam_method",
    "method_label",
    "method_layer",
    "methods_of",
    "read_all_scores",
    "read_dataset_info",
    "read_keypoint_scores",
]
