"""Reductions of SHAP values (sample, group, channel, frame, joint, person) to smaller views.

All sums are taken in float64 and returned as float32. Signed views keep the direction of each
contribution (the seed code ranks key points by signed sums, seed study 2(c)); ``_abs`` views sum
``|phi|`` so that opposite contributions do not cancel.
"""

from __future__ import annotations

import numpy as np

from ..io.contracts import SHAP

VALUE_AXES = SHAP.dims("values")
_GROUP, _CHANNEL, _FRAME, _JOINT, _PERSON = 1, 2, 3, 4, 5


def _check(values: np.ndarray) -> np.ndarray:
    if values.ndim != len(VALUE_AXES):
        raise ValueError(f"SHAP values must be ({', '.join(VALUE_AXES)}), got shape {values.shape}")
    return np.asarray(values, dtype=np.float64)


def keypoint_frame(values: np.ndarray, absolute: bool = False) -> np.ndarray:
    """Sum over group, channel and person.

    Parameters
    ----------
    values
        (sample, group, channel, frame, joint, person).
    absolute
        Sum ``|values|`` instead of the signed values.

    Returns
    -------
    numpy.ndarray
        float32 (sample, frame, joint).
    """
    v = _check(values)
    v = np.abs(v) if absolute else v
    return np.asarray(v.sum(axis=(_GROUP, _CHANNEL, _PERSON)), dtype=np.float32)


def keypoint_importance(values: np.ndarray, absolute: bool = False) -> np.ndarray:
    """Mean over frame of :func:`keypoint_frame` -> float32 (sample, joint)."""
    v = _check(values)
    v = np.abs(v) if absolute else v
    return np.asarray(v.sum(axis=(_GROUP, _CHANNEL, _PERSON)).mean(axis=1), dtype=np.float32)


def group_importance(values: np.ndarray, absolute: bool = False) -> np.ndarray:
    """Sum over channel, frame, joint and person -> float32 (sample, group)."""
    v = _check(values)
    v = np.abs(v) if absolute else v
    return np.asarray(v.sum(axis=(_CHANNEL, _FRAME, _JOINT, _PERSON)), dtype=np.float32)


def frame_importance(values: np.ndarray) -> np.ndarray:
    """Signed sum over group, channel, joint and person -> float32 (sample, frame)."""
    return np.asarray(_check(values).sum(axis=(_GROUP, _CHANNEL, _JOINT, _PERSON)), dtype=np.float32)


def shap_reductions(values: np.ndarray) -> dict[str, np.ndarray]:
    """Every reduction stored in ``shap.h5`` (dims in :data:`harxai.io.contracts.SHAP`).

    Returns
    -------
    dict
        ``keypoint_frame``, ``keypoint_frame_abs`` (sample, frame, joint); ``keypoint_importance``,
        ``keypoint_importance_abs`` (sample, joint); ``group_importance``,
        ``group_importance_abs`` (sample, group); ``frame_importance`` (sample, frame).
    """
    return {
        "keypoint_frame": keypoint_frame(values),
        "keypoint_frame_abs": keypoint_frame(values, absolute=True),
        "keypoint_importance": keypoint_importance(values),
        "keypoint_importance_abs": keypoint_importance(values, absolute=True),
        "group_importance": group_importance(values),
        "group_importance_abs": group_importance(values, absolute=True),
        "frame_importance": frame_importance(values),
    }
