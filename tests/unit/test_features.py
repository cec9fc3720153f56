"""Tests of harxai.features: the joint, velocity, bone and acceleration groups and features.h5."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from harxai import features as ft
from harxai.features import (
    FeatureParams,
    acceleration_features,
    bone_features,
    channel_names,
    compute_feature_file,
    compute_features,
    joint_features,
    lowpass,
    velocity_features,
)
from harxai.io import Array, read_hdf5, write_hdf5
from harxai.skeletons import SkeletonLayout

# pelvis(0) - spine(1, centre) - neck(2) - head(3), hand(4) on the neck
TOY = SkeletonLayout(
    name="toy",
    joints=("pelvis", "spine", "neck", "head", "hand"),
    edges=((0, 1), (2, 1), (3, 2), (4, 2)),
    center=1,
    trunk_top=(2,),
    trunk_bottom=(0,),
)
NO_FILTER = FeatureParams(butterworth=False)


def random_data(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Nonzero coordinates (every person present), shape (sample, channel, frame, joint, person)."""
    return np.random.default_rng(seed).uniform(0.5, 2.0, size=shape)


def test_joint_features_relative_to_centre() -> None:
    x = random_data((2, 3, 4, 5, 2))
    out = joint_features(x, TOY)
    assert out.shape == (2, 6, 4, 5, 2)
    np.testing.assert_array_equal(out[:, :3], x)
    for v in range(5):
        np.testing.assert_allclose(out[:, 3:, :, v], x[:, :, :, v] - x[:, :, :, 1])


def test_velocity_on_linear_trajectory() -> None:
    t = np.arange(7.0)
    slope = np.array([0.5, -2.0])  # per channel
    x = 3.0 + slope[None, :, None, None, None] * t[None, None, :, None, None] * np.ones((1, 2, 7, 5, 1))
    out = velocity_features(x)
    assert out.shape == (1, 4, 7, 5, 1)
    for c in range(2):
        np.testing.assert_allclose(out[0, c, :5], slope[c])  # slow x(t+1) - x(t)
        np.testing.assert_allclose(out[0, 2 + c, :5], slope[c])  # fast (x(t+2) - x(t)) / 2
    np.testing.assert_array_equal(out[0, :, 5:], 0.0)  # last two frames


def test_bone_vectors_and_angles_hand_computed() -> None:
    joints = np.array(
        [[0, 0, 0], [0, 1, 0], [0, 3, 0], [3, 7, 0], [0, 3, -2]], dtype=float
    )  # (joint, channel)
    x = np.zeros((1, 3, 1, 5, 2))
    x[0, :, 0, :, 0] = joints.T + 1.0  # shift: nothing at the origin; person 1 absent
    out = bone_features(x, TOY)
    bones = np.array([[0, -1, 0], [0, 0, 0], [0, 2, 0], [3, 4, 0], [0, 0, -2]], dtype=float)
    lengths = np.array([1.0, 0.0, 2.0, 5.0, 2.0])
    np.testing.assert_allclose(out[0, :3, 0, :, 0], bones.T)
    expected_angles = np.arccos(bones / (lengths[:, None] + 1e-4))
    np.testing.assert_allclose(out[0, 3:, 0, :, 0], expected_angles.T)
    assert out[0, 3, 0, 3, 0] == pytest.approx(np.arccos(3 / 5.0001))
    np.testing.assert_allclose(out[0, 3:, 0, 1, 0], np.pi / 2)  # root bone, as the seed
    np.testing.assert_array_equal(out[..., 1], 0.0)  # absent person: 0, not pi/2


def test_acceleration_of_quadratic_trajectory() -> None:
    t = np.arange(9.0)
    x = 1.0 + 0.25 * t[None, None, :, None, None] ** 2 * np.ones((2, 3, 9, 5, 2))
    out = acceleration_features(x, NO_FILTER)
    assert out.shape == (2, 6, 9, 5, 2)
    np.testing.assert_allclose(out[:, :3, :6], 0.5)  # a_s = 2c, valid where frames t..t+3 exist
    np.testing.assert_allclose(out[:, 3:, :5], 0.5)  # a_f = 2c, valid where frames t..t+4 exist
    np.testing.assert_array_equal(out[:, :3, 6:], 0.0)
    np.testing.assert_array_equal(out[:, 3:, 5:], 0.0)


def _reference_velocity(x: np.ndarray) -> np.ndarray:
    """Seed-style loops: v_s and v_f for t < T - 2, zero in the last two frames."""
    num_channels, num_frames = x.shape[1], x.shape[2]
    v = np.zeros((x.shape[0], 2 * num_channels, *x.shape[2:]))
    for t in range(num_frames - 2):
        v[:, :num_channels, t] = x[:, :, t + 1] - x[:, :, t]
        v[:, num_channels:, t] = (x[:, :, t + 2] - x[:, :, t]) / 2
    return v


def test_butterworth_path_equals_sosfiltfilt_reference() -> None:
    x = np.cumsum(random_data((2, 3, 60, 5, 1), seed=1), axis=2)
    params = FeatureParams(butterworth=True, butterworth_order=8, butterworth_cutoff=0.5)
    out = acceleration_features(x, params)
    v = sosfiltfilt(butter(8, 0.5, output="sos"), _reference_velocity(x), axis=2)
    a_s = v[:, :3, 1:] - v[:, :3, :-1]
    a_f = (v[:, 3:, 2:] - v[:, 3:, :-2]) / 2
    np.testing.assert_allclose(out[:, :3, :56], a_s[:, :, :56], atol=1e-10)
    np.testing.assert_allclose(out[:, 3:, :56], a_f[:, :, :56], atol=1e-10)
    np.testing.assert_array_equal(out[:, :3, 57:], 0.0)
    np.testing.assert_array_equal(out[:, 3:, 56:], 0.0)
    assert not np.allclose(out, acceleration_features(x, NO_FILTER))  # the filter does something


def test_lowpass_short_window_falls_back_to_shorter_padlen() -> None:
    values = random_data((1, 2, 10, 5, 1), seed=2)
    sos = butter(8, 0.5, output="sos")
    with pytest.raises(ValueError, match="padlen"):
        sosfiltfilt(sos, values, axis=2)  # why the fallback is needed
    np.testing.assert_allclose(lowpass(values, 8, 0.5), sosfiltfilt(sos, values, axis=2, padlen=9))
    np.testing.assert_allclose(
        lowpass(random_data((1, 2, 40, 5, 1)), 8, 0.5),
        sosfiltfilt(sos, random_data((1, 2, 40, 5, 1)), axis=2),  # long enough: scipy's default
    )
    assert compute_features(random_data((1, 2, 1, 5, 1)), TOY, FeatureParams()).shape == (1, 4, 4, 1, 5, 1)


def test_compute_features_shapes_group_order_and_dtype() -> None:
    x = random_data((3, 2, 12, 5, 2), seed=3)
    out = compute_features(x, TOY, NO_FILTER)
    assert out.shape == (3, 4, 4, 12, 5, 2)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], joint_features(x, TOY), rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], velocity_features(x), rtol=1e-6)
    np.testing.assert_allclose(out[:, 2], bone_features(x, TOY), rtol=1e-6)
    np.testing.assert_allclose(out[:, 3], acceleration_features(x, NO_FILTER), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(out[:, 1], _reference_velocity(x), rtol=1e-6)


def test_channel_names() -> None:
    names3 = channel_names(3)
    assert list(names3) == ["joint", "velocity", "bone", "acceleration"]
    assert names3["joint"] == ["x", "y", "z", "x_rel", "y_rel", "z_rel"]
    assert names3["velocity"] == ["x_slow", "y_slow", "z_slow", "x_fast", "y_fast", "z_fast"]
    assert names3["bone"] == ["x_vec", "y_vec", "z_vec", "x_angle", "y_angle", "z_angle"]
    assert channel_names(2)["acceleration"] == ["x_slow", "y_slow", "x_fast", "y_fast"]


def test_padded_frames_and_absent_persons_stay_zero() -> None:
    x = np.cumsum(random_data((2, 3, 40, 5, 2), seed=4), axis=2)
    x[0, :, 30:] = 0.0  # zero padding
    x[:, :, :, :, 1] = 0.0  # absent person
    x[1, :, 10:20, :, 0] = 0.0  # person 0 missing for a while
    out = compute_features(x, TOY, FeatureParams())
    np.testing.assert_array_equal(out[0, :, :, 30:], 0.0)
    np.testing.assert_array_equal(out[..., 1], 0.0)
    np.testing.assert_array_equal(out[1, :, :, 10:20, :, 0], 0.0)
    # velocities stop before the gap instead of jumping into the zeros
    np.testing.assert_array_equal(out[0, 1, :, 28:30], 0.0)
    np.testing.assert_allclose(out[0, 1, :, :28], _reference_velocity(x)[0, :, :28], rtol=1e-5)
    np.testing.assert_array_equal(out[1, 1, :, 8:20, :, 0], 0.0)
    assert np.all(out[1, 1, :, 20:38, :, 0] != 0)


def test_params_from_schema_block_and_errors() -> None:
    assert FeatureParams.from_dict({}) == FeatureParams(True, 8, 0.5)
    assert FeatureParams.from_dict({"butterworth": False}).butterworth is False
    with pytest.raises(ValueError, match=r"unknown parameters \['filter'\]"):
        FeatureParams.from_dict({"filter": True})
    with pytest.raises(ValueError, match="butterworth_cutoff must lie in"):
        FeatureParams.from_dict({"butterworth_cutoff": 1.0})
    with pytest.raises(ValueError, match="layout 'toy' has 5"):
        compute_features(random_data((1, 3, 4, 6, 1)), TOY, NO_FILTER)


# ---------------------------------------------------------------- files


def write_windows(path: Path, data: np.ndarray) -> Path:
    """Write a valid windows.h5 holding ``data`` (sample, channel, frame, joint, person)."""
    n = data.shape[0]
    sample = ("sample",)
    arrays = {
        "data": Array(data, ("sample", "channel", "frame", "joint", "person")),
        "label": Array(np.arange(n, dtype=np.int64) % 2, sample),
        "recording_id": Array(np.array([f"rec{i // 2}" for i in range(n)]), sample),
        "group": Array(np.array(["g"] * n), sample),
        "split": Array(np.array(["train"] * n), sample),
        "window_start": Array(np.arange(n, dtype=np.float32) % 2 * 2.5, sample, units="s"),
        "padded": Array((np.arange(n) % 3 == 0).astype(np.int8), sample),
        "interpolated": Array(np.zeros(n, dtype=np.int64), sample),
        "valid_frames": Array(np.full(n, data.shape[2], dtype=np.int64), sample),
        "recording_index": Array(np.arange(n, dtype=np.int64) // 2, sample),
    }
    attrs = {
        "dataset": "toy",
        "layout": TOY.to_dict(),
        "class_names": ["neg", "pos"],
        "task": "binary",
        "num_channels": data.shape[1],
        "fps": 30.0,
        "segment": "windows",
        "kind": "ntu",
        "centre_on": "mid_pelvis",
    }
    return write_hdf5(path, arrays, config={"target_fps": 30.0}, attrs=attrs)


def test_compute_feature_file_round_trip(tmp_path: Path) -> None:
    data = random_data((5, 2, 30, 5, 1), seed=5).astype(np.float32)
    src = write_windows(tmp_path / "windows.h5", data)
    out = tmp_path / "features.h5"
    compute_feature_file(str(src), str(out), {"butterworth": True, "butterworth_order": 4})
    content = read_hdf5(
        out, expected={"features": ("sample", "group", "channel", "frame", "joint", "person")}
    )
    feats = content["features"]
    assert feats.shape == (5, 4, 4, 30, 5, 1)
    assert feats.dtype == np.float32
    np.testing.assert_allclose(feats, compute_features(data, TOY, FeatureParams(True, 4, 0.5)))
    windows = read_hdf5(src)
    for key in ("label", "recording_id", "group", "split", "window_start", "padded", "interpolated"):
        np.testing.assert_array_equal(content[key], windows[key])
        assert content.dims[key] == ("sample",)
    assert content.json_attr("groups") == ["joint", "velocity", "bone", "acceleration"]
    assert content.json_attr("channel_names") == channel_names(2)
    for key in ("dataset", "task", "segment", "fps", "num_channels"):
        assert content.attrs[key] == windows.attrs[key]
    assert SkeletonLayout.from_dict(content.json_attr("layout")) == TOY
    assert json.loads(content.attrs["config"]) == {
        "butterworth": True,
        "butterworth_order": 4,
        "butterworth_cutoff": 0.5,
    }
    assert json.loads(content.attrs["inputs"]) == [str(src)]


def test_compute_feature_file_is_deterministic_and_logs_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(ft, "CHUNK_SAMPLES", 2)
    monkeypatch.setattr(ft, "PROGRESS_EVERY", 2)
    src = write_windows(tmp_path / "windows.h5", random_data((5, 3, 30, 5, 2), seed=6))
    with caplog.at_level(logging.INFO, logger="harxai.features"):
        compute_feature_file(str(src), str(tmp_path / "a.h5"), {})
    assert "features of 2 / 5 samples" in caplog.text
    compute_feature_file(str(src), str(tmp_path / "b.h5"), {})
    np.testing.assert_array_equal(
        read_hdf5(tmp_path / "a.h5")["features"], read_hdf5(tmp_path / "b.h5")["features"]
    )
    # chunking does not change the result
    monkeypatch.setattr(ft, "CHUNK_SAMPLES", 128)
    compute_feature_file(str(src), str(tmp_path / "c.h5"), {})
    np.testing.assert_array_equal(
        read_hdf5(tmp_path / "a.h5")["features"], read_hdf5(tmp_path / "c.h5")["features"]
    )
