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
from ..io.contracts import BASELINES, GRADCAM, SCORES, SHAP, read_explain_set
from ..methods import (
    GRADCAM_PREFIX,
    METHOD_SHAP,
    METHOD_SHAP_ABS,
    gradcam_method,
    is_baseline,
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
        ``shap`` or ``gradcam:<layer>``.
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
    if is_baseline(method):
        raise ValueError(f"{method!r} is a baseline: its maps are in baselines.h5 (read_baseline_scores)")
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


def check_aligned(expected: np.ndarray, other: np.ndarray, what: str, path: PathLike) -> None:
    """Raise when ``other`` (sample indices of ``path``) differs from the ``expected`` order."""
    if expected.shape != other.shape or not np.array_equal(expected, other):
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
    "Scores",
    "check_aligned",
    "collect_scores",
    "gradcam_method",
    "method_label",
    "method_layer",
    "methods_of",
    "read_all_scores",
    "read_baseline_scores",
    "read_dataset_info",
    "read_keypoint_scores",
    "read_scores",
    "resample_frames",
]


def resample_frames(frame_map: np.ndarray, frames: int) -> np.ndarray:
    """Map (sample, frame', joint) onto ``frames`` input frames: input frame t takes coarse
    frame ``floor(t * frame' / frames)`` (each coarse frame covers its share of the input)."""
    coarse = frame_map.shape[1]
    if coarse == frames:
        return frame_map
    index = np.minimum((np.arange(frames) * coarse) // frames, coarse - 1)
    return frame_map[:, index]


@dataclass(frozen=True)
class Scores:
    """Typed content of ``evaluate/scores.h5`` (:data:`harxai.io.contracts.SCORES`)."""

    methods: tuple[str, ...]
    importance: np.ndarray  # (method, sample, joint)
    counter: np.ndarray  # (method, sample, joint)
    frame_map: np.ndarray  # (method, sample, frame, joint)
    sample_index: np.ndarray
    target: np.ndarray
    label: np.ndarray
    recording_id: np.ndarray
    info: DatasetInfo

    def of(self, method: str) -> KeypointScores:
        """The scores of one method."""
        if method not in self.methods:
            raise ValueError(f"scores.h5 holds no method {method!r} (has {list(self.methods)})")
        i = self.methods.index(method)
        return KeypointScores(
            method, self.importance[i], self.counter[i], self.frame_map[i], self.sample_index
        )


def read_baseline_scores(path: PathLike, sample_index: np.ndarray) -> list[KeypointScores]:
    """The trivial baselines of ``baselines.h5`` as key-point scores, checked to cover ``sample_index`` in order.

    ``importance`` is the map's mean over frames, ``counter`` its negation (the least important
    first), ``frame_map`` the map at the input's frames.
    """
    content = BASELINES.read(path, load=["method", "map", "sample_index"])
    check_aligned(sample_index, content["sample_index"].astype(np.int64), "sample_index", path)
    out = []
    for name, m in zip(content["method"], content["map"], strict=True):
        frame_map = np.asarray(m, dtype=np.float64)
        importance = frame_map.mean(axis=1)
        out.append(
            KeypointScores(
                str(name), importance, -importance, frame_map, content["sample_index"].astype(np.int64)
            )
        )
    return out


def collect_scores(
    explain_set_path: PathLike,
    features_path: PathLike,
    shap_path: PathLike,
    gradcam_paths: Mapping[str, PathLike],
    baselines_path: PathLike | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Every method's aligned scores (the arrays and attributes of ``scores.h5``).

    Methods in order: ``shap``, ``shap_abs``, ``gradcam:<layer>`` in the order of
    ``gradcam_paths``, then the baselines of ``baselines_path`` (``motion_energy``, ``random``,
    ``input_x_gradient``). Every file must cover the explain set's samples in its order.
    """
    explain = read_explain_set(explain_set_path, with_inputs=False)
    info = read_dataset_info(features_path)
    sources: dict[str, PathLike] = {gradcam_method(layer): path for layer, path in gradcam_paths.items()}
    scores = [
        *read_all_scores({METHOD_SHAP: shap_path}, explain.sample_index).values(),
        KeypointScores(METHOD_SHAP_ABS, *_fields(read_keypoint_scores(shap_path, METHOD_SHAP, True))),
        *read_all_scores(sources, explain.sample_index).values(),
    ]
    if baselines_path is not None:
        scores += read_baseline_scores(baselines_path, explain.sample_index)
    check_aligned(explain.sample_index, scores[1].sample_index, "sample_index", shap_path)
    frames = scores[0].frame_map.shape[1]
    arrays: dict[str, np.ndarray] = {
        "method": np.array([s.method for s in scores]),
        "importance": np.stack([s.importance for s in scores]),
        "counter": np.stack([s.counter for s in scores]),
        "frame_map": np.stack([resample_frames(s.frame_map, frames) for s in scores]),
        "sample_index": explain.sample_index,
        "target": explain.target,
        "label": explain.label,
        "recording_id": explain.recording_id,
    }
    attrs: dict[str, object] = {
        "layout": info.layout.to_dict(),
        "class_names": list(info.class_names),
        "task": info.task,
        "segment": info.segment or "",
    }
    return arrays, attrs


def _fields(s: KeypointScores) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return s.importance, s.counter, s.frame_map, s.sample_index


def read_scores(path: PathLike) -> Scores:
    """Typed read of ``scores.h5``."""
    c = SCORES.read(path)
    segment = str(c.attrs.get("segment", ""))
    info = DatasetInfo(
        SkeletonLayout.from_dict(c.json_attr("layout")),
        tuple(str(n) for n in c.json_attr("class_names")),
        str(c.attrs["task"]),
        segment or None,
    )
    return Scores(
        methods=tuple(str(m) for m in c["method"]),
        importance=c["importance"].astype(np.float64),
        counter=c["counter"].astype(np.float64),
        frame_map=c["frame_map"].astype(np.float64),
        sample_index=c["sample_index"].astype(np.int64),
        target=c["target"].astype(np.int64),
        label=c["label"].astype(np.int64),
        recording_id=c["recording_id"],
        info=info,
    )
