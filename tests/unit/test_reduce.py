"""SHAP reductions against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from harxai.explain.reduce import (
    frame_importance,
    group_importance,
    keypoint_frame,
    keypoint_importance,
    shap_reductions,
)
from harxai.explain.shap_api import completeness_error


@pytest.fixture
def values() -> np.ndarray:
    """(sample=1, group=2, channel=1, frame=2, joint=2, person=2) with hand-chosen entries."""
    v = np.zeros((1, 2, 1, 2, 2, 2), np.float32)
    v[0, 0, 0, 0, 0] = [1.0, -3.0]  # group 0, frame 0, joint 0, persons 0/1
    v[0, 1, 0, 0, 0] = [2.0, 0.0]  # group 1, frame 0, joint 0
    v[0, 0, 0, 1, 1] = [0.5, 0.5]  # group 0, frame 1, joint 1
    v[0, 1, 0, 1, 0] = [-4.0, 1.0]  # group 1, frame 1, joint 0
    return v


def test_keypoint_frame_signed_and_abs(values: np.ndarray) -> None:
    # frame 0 joint 0: 1 - 3 + 2 = 0 (abs 6); frame 1 joint 0: -4 + 1 = -3 (abs 5); frame 1 joint 1: 1
    np.testing.assert_allclose(keypoint_frame(values), [[[0.0, 0.0], [-3.0, 1.0]]])
    np.testing.assert_allclose(keypoint_frame(values, absolute=True), [[[6.0, 0.0], [5.0, 1.0]]])


def test_keypoint_importance_is_frame_mean(values: np.ndarray) -> None:
    np.testing.assert_allclose(keypoint_importance(values), [[-1.5, 0.5]])
    np.testing.assert_allclose(keypoint_importance(values, absolute=True), [[5.5, 0.5]])


def test_group_and_frame_importance(values: np.ndarray) -> None:
    # group 0: 1 - 3 + 0.5 + 0.5 = -1 (abs 5); group 1: 2 - 4 + 1 = -1 (abs 7)
    np.testing.assert_allclose(group_importance(values), [[-1.0, -1.0]])
    np.testing.assert_allclose(group_importance(values, absolute=True), [[5.0, 7.0]])
    np.testing.assert_allclose(frame_importance(values), [[0.0, -2.0]])


def test_completeness_error(values: np.ndarray) -> None:
    # total = -2; output - expected = 1 - 2.5 = -1.5 -> |error| 0.5, relative to 1.5
    assert completeness_error([values], np.asarray([1.0]), np.asarray([2.5])) == pytest.approx(1 / 3)
    # two samples: the second (exact: total -2 = 1 - 3) sets the scale 2 of the first's 0.5
    two = np.concatenate([values, values])
    assert completeness_error([two], np.asarray([1.0, 1.0]), np.asarray([2.5, 3.0])) == pytest.approx(0.25)
    assert completeness_error([values[:0]], np.zeros(0), np.zeros(0)) == 0.0


def test_reductions_consistent_on_random_values() -> None:
    v = np.random.default_rng(0).normal(size=(3, 4, 2, 5, 6, 2)).astype(np.float32)
    out = shap_reductions(v)
    assert out["keypoint_frame"].shape == (3, 5, 6)
    assert out["group_importance"].shape == (3, 4)
    for name in ("keypoint_frame", "group_importance", "frame_importance"):
        assert out[name].dtype == np.float32
    total = v.astype(np.float64).sum(axis=(1, 2, 3, 4, 5))
    np.testing.assert_allclose(out["group_importance"].sum(axis=1), total, rtol=1e-5)
    np.testing.assert_allclose(out["frame_importance"].sum(axis=1), total, rtol=1e-5)
    np.testing.assert_allclose(out["keypoint_importance"].sum(axis=1) * 5, total, rtol=1e-5)
    assert (out["keypoint_frame_abs"].data >= np.abs(out["keypoint_frame"].data) - 1e-6).all()
    with pytest.raises(ValueError, match="SHAP values must be"):
        keypoint_frame(v[0])
