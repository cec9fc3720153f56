"""Tests of harxai.preprocess: resampling, median filter, normalisation, segmentation, files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal

from harxai import preprocess as pp
from harxai.io import Array, read_hdf5, write_hdf5
from harxai.preprocess import (
    PreprocessParams,
    median_filter,
    normalize,
    preprocess_file,
    resample,
    segment_fixed,
    segment_windows,
    window_starts,
)
from harxai.skeletons import SkeletonLayout

# pelvis(0) - spine(1, centre) - neck(2) - head(3), hand(4) on the neck; trunk neck -> pelvis
TOY = SkeletonLayout(
    name="toy",
    joints=("pelvis", "spine", "neck", "head", "hand"),
    edges=((0, 1), (2, 1), (3, 2), (4, 2)),
    center=1,
    trunk_top=(2,),
    trunk_bottom=(0,),
)
TOY_BONES = np.array([[0, 0, 0], [0, 1, 0], [0, 2, 0], [0, 3, 0], [1, 2, 0]], dtype=float)  # (joint, channel)


def toy_recording(num_frames: int, rng: np.random.Generator, persons: int = 2) -> np.ndarray:
    """A moving toy skeleton, shape (frame, channel, joint, person); person 1 absent (zeros)."""
    t = np.arange(num_frames)[:, None, None]
    body = TOY_BONES.T[None] + np.array([5.0, -3.0, 2.0])[None, :, None] + 0.01 * t
    body = body + 0.05 * rng.standard_normal(body.shape)
    out = np.zeros((num_frames, 3, TOY.num_joints, persons))
    out[..., 0] = body
    return out


def write_sequences(path: Path, recordings: list[tuple[np.ndarray, np.ndarray]]) -> Path:
    """Write a valid sequences.h5 holding ``recordings`` [(coords, timestamps)]."""
    lengths = np.array([len(ts) for _, ts in recordings], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    n = len(recordings)
    sample = ("sample",)
    arrays = {
        "coords": Array(np.concatenate([c for c, _ in recordings]), ("frame", "channel", "joint", "person")),
        "timestamps": Array(
            np.concatenate([t for _, t in recordings]), ("frame",), units="s", keep_dtype=True
        ),
        "offsets": Array(offsets, sample),
        "lengths": Array(lengths, sample),
        "label": Array(np.arange(n, dtype=np.int64) % 2, sample),
        "recording_id": Array(np.array([f"rec{i}" for i in range(n)]), sample),
        "group": Array(np.array([f"g{i // 2}" for i in range(n)]), sample),
        "split": Array(np.array(["train", "val"] * n)[:n], sample),
        "fps": Array(np.array([1.0 / (t[1] - t[0]) for _, t in recordings], dtype=np.float32), sample),
        "interpolated": Array(np.arange(n, dtype=np.int64), sample),
    }
    attrs = {
        "dataset": "toy",
        "kind": "synthetic_infant",
        "layout": TOY.to_dict(),
        "class_names": ["neg", "pos"],
        "task": "binary",
        "num_channels": 3,
    }
    return write_hdf5(path, arrays, config={}, attrs=attrs)


# ---------------------------------------------------------------- resample


def test_resample_matches_numpy_interp_on_irregular_timestamps() -> None:
    rng = np.random.default_rng(0)
    ts = np.concatenate([[0.0], np.cumsum(rng.uniform(0.01, 0.08, size=40))])
    coords = rng.standard_normal((41, 2, 3, 2)) + 3.0  # nonzero everywhere: every person present
    out, new_t = resample(coords, ts, 30.0)
    expected_t = np.arange(int(np.floor(ts[-1] * 30.0)) + 1) / 30.0
    np.testing.assert_allclose(new_t, expected_t)
    assert out.shape == (expected_t.size, 2, 3, 2)
    for c in range(2):
        for v in range(3):
            for m in range(2):
                np.testing.assert_allclose(
                    out[:, c, v, m], np.interp(expected_t, ts, coords[:, c, v, m]), atol=1e-12
                )


def test_resample_keeps_last_stamp_and_is_identity_at_same_rate() -> None:
    coords = np.random.default_rng(1).standard_normal((10, 3, 2, 1)) + 5
    ts = np.arange(10) / 25.0
    out, new_t = resample(coords, ts, 25.0)
    assert new_t[-1] == pytest.approx(ts[-1])
    np.testing.assert_allclose(out, coords, atol=1e-12)


def test_resample_zero_persons_are_not_blended() -> None:
    coords = np.ones((6, 2, 1, 2))
    coords[3:, :, :, 1] = 0.0  # person 1 leaves after frame 2; person 0 always present
    ts = np.arange(6) / 10.0
    out, _ = resample(coords, ts, 20.0)  # output frame 5 lies halfway between frames 2 and 3
    np.testing.assert_allclose(out[:, :, :, 0], 1.0)
    person1 = out[:, 0, 0, 1]
    np.testing.assert_allclose(person1[:5], 1.0)
    np.testing.assert_allclose(person1[5:], 0.0)  # 0.5 if it were blended


@pytest.mark.parametrize("ts", [[0.0, 0.1, 0.1, 0.2], [0.0, 0.2, 0.1, 0.3]])
def test_resample_rejects_non_increasing_timestamps(ts: list[float]) -> None:
    with pytest.raises(ValueError, match=r"rec7: time stamps must increase strictly; frame 2"):
        resample(np.ones((4, 2, 1, 1)), np.array(ts), 30.0, name="rec7")


# ---------------------------------------------------------------- median filter


def test_median_filter_interior_equals_medfilt_and_edges_use_nearest() -> None:
    rng = np.random.default_rng(2)
    coords = rng.standard_normal((30, 3, 4, 1)) + 10.0
    out = median_filter(coords, 5)
    for c in range(3):
        for v in range(4):
            ref = scipy.signal.medfilt(coords[:, c, v, 0], kernel_size=5)
            np.testing.assert_allclose(out[2:-2, c, v, 0], ref[2:-2])
    # edges: the sequence extended by repeating its first / last frame
    series = coords[:, 1, 2, 0]
    assert out[0, 1, 2, 0] == np.median([series[0], series[0], series[0], series[1], series[2]])
    assert out[1, 1, 2, 0] == np.median([series[0], series[0], series[1], series[2], series[3]])
    assert out[-1, 1, 2, 0] == np.median([series[-3], series[-2], series[-1], series[-1], series[-1]])
    expected = scipy.ndimage.median_filter(coords, size=(5, 1, 1, 1), mode="nearest")
    np.testing.assert_allclose(out, expected)


def test_median_filter_does_not_drag_edges_to_zero() -> None:
    # a monotone sequence is a fixed point of the nearest-padded median filter
    series = np.arange(12.0, 3.0, -1.0)
    coords = series[:, None, None, None] * np.ones((1, 2, 1, 1))
    np.testing.assert_allclose(median_filter(coords, 5)[:, 1, 0, 0], series)
    # the deviation from medfilt, whose zero padding pulls the first frame from 12 down to 10
    assert scipy.signal.medfilt(series, 5)[0] == 10.0


def test_median_filter_window_one_is_identity_and_even_is_an_error() -> None:
    coords = np.random.default_rng(3).standard_normal((7, 2, 2, 1))
    np.testing.assert_array_equal(median_filter(coords, 1), coords)
    with pytest.raises(ValueError, match="positive odd number of frames, got 4"):
        median_filter(coords, 4)


def test_median_filter_ignores_absent_frames_and_keeps_them_zero() -> None:
    coords = np.zeros((8, 1, 1, 2))
    coords[:, 0, 0, 0] = [1, 2, 3, 4, 5, 6, 7, 8]
    coords[:5, 0, 0, 1] = [-1.0, 5.0, -2.0, 6.0, -3.0]  # person 1 absent from frame 5
    out = median_filter(coords, 3)
    np.testing.assert_allclose(out[:, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7, 8])
    # frame 4: window frames 3..5, frame 5 absent -> median of (6, -3) = 1.5, not median(6, -3, 0) = 0
    np.testing.assert_allclose(out[:, 0, 0, 1], [-1.0, -1.0, 5.0, -2.0, 1.5, 0, 0, 0])


# ---------------------------------------------------------------- normalisation


def _trunk_sequence() -> np.ndarray:
    """Three frames with trunk lengths 1, 2 and 4 (median 2); person 1 present in frame 0 only."""
    coords = np.zeros((3, 3, TOY.num_joints, 2))
    pelvis = np.array([[1.0, 1.0, 0.0], [3.0, 1.0, 0.0], [2.0, 5.0, 1.0]])  # median (2, 1, 0)
    for t, length in enumerate([1.0, 2.0, 4.0]):
        # neck 2 units above the pelvis in TOY_BONES: scale by length / 2 for a trunk of ``length``
        coords[t, :, :, 0] = (
            pelvis[t][:, None] + np.array([0.0, 1.0, 0.0])[:, None] * TOY_BONES[:, 1] * length / 2
        )
        coords[t, :, 4, 0] += [1.0, 0.0, 0.0]
    coords[0, :, :, 1] = 7.0
    return coords


def test_normalize_centres_on_median_mid_pelvis_and_scales_by_trunk() -> None:
    coords = _trunk_sequence()
    out = normalize(coords, TOY, trunk_scale=2.0, centre_on="mid_pelvis")
    unit = 2.0 * 2.0  # trunk_scale x median trunk length
    np.testing.assert_allclose(
        out[..., 0], (coords[..., 0] - np.array([2.0, 1.0, 0.0])[None, :, None]) / unit
    )
    expected = np.broadcast_to((7.0 - np.array([2.0, 1.0, 0.0])[:, None]) / unit, (3, TOY.num_joints))
    np.testing.assert_allclose(out[0, :, :, 1], expected)
    np.testing.assert_array_equal(out[1:, :, :, 1], 0.0)  # absent person-frames stay zero


def test_normalize_fixed_segment_centres_on_centre_joint() -> None:
    coords = _trunk_sequence()
    out = normalize(coords, TOY, trunk_scale=1.0, centre_on="center")
    # spine (centre) = pelvis + (0, trunk / 2, 0): (1, 1.5, 0), (3, 2, 0), (2, 7, 1) -> median (2, 2, 0)
    np.testing.assert_allclose(out[..., 0], (coords[..., 0] - np.array([2.0, 2.0, 0.0])[None, :, None]) / 2.0)


def test_normalize_absent_person_stays_zero() -> None:
    coords = toy_recording(12, np.random.default_rng(4))
    out = normalize(coords, TOY, 2.0, "mid_pelvis")
    np.testing.assert_array_equal(out[..., 1], 0.0)
    assert np.all(out[..., 0] != 0)


def test_normalize_degenerate_trunk_names_the_recording() -> None:
    coords = np.ones((5, 3, TOY.num_joints, 1))
    with pytest.raises(ValueError, match=r"rec3: degenerate median trunk length 0\.0"):
        normalize(coords, TOY, 2.0, "mid_pelvis", name="rec3")
    with pytest.raises(ValueError, match="rec3: person 0 is absent"):
        normalize(np.zeros((5, 3, TOY.num_joints, 1)), TOY, 2.0, "mid_pelvis", name="rec3")


# ---------------------------------------------------------------- segmentation


@pytest.mark.parametrize(
    ("num_frames", "expected"),
    [(300, [0, 75, 150]), (320, [0, 75, 150, 170]), (225, [0, 75]), (150, [0]), (151, [0, 1]), (40, [0])],
)
def test_window_starts(num_frames: int, expected: list[int]) -> None:
    np.testing.assert_array_equal(window_starts(num_frames, 150, 75), expected)


def test_segment_windows_cover_tail_and_pad_short_recordings() -> None:
    coords = np.arange(1, 11, dtype=float)[:, None, None, None] * np.ones((1, 2, 3, 1))
    samples, starts, padded = segment_windows(coords, 4, 3)
    np.testing.assert_array_equal(starts, [0, 3, 6])  # 0..3, 3..6, 6..9 (exact fit, no extra window)
    np.testing.assert_array_equal(samples[:, :, 0, 0, 0], [[1, 2, 3, 4], [4, 5, 6, 7], [7, 8, 9, 10]])
    assert not padded.any()
    samples, starts, padded = segment_windows(coords[:9], 4, 3)
    np.testing.assert_array_equal(starts, [0, 3, 5])  # right-aligned last window
    np.testing.assert_array_equal(samples[-1, :, 0, 0, 0], [6, 7, 8, 9])
    samples, starts, padded = segment_windows(coords[:3], 4, 3)
    assert samples.shape == (1, 4, 2, 3, 1)
    np.testing.assert_array_equal(samples[0, :, 0, 0, 0], [1, 2, 3, 0])
    assert padded.tolist() == [True]


def test_segment_fixed_truncates_and_pads() -> None:
    coords = np.arange(1, 11, dtype=float)[:, None, None, None] * np.ones((1, 3, 2, 2))
    samples, starts, padded = segment_fixed(coords, 6)
    np.testing.assert_array_equal(samples[0, :, 0, 0, 0], [1, 2, 3, 4, 5, 6])
    assert starts.tolist() == [0]
    assert padded.tolist() == [False]
    samples, _, padded = segment_fixed(coords[:4], 6)
    np.testing.assert_array_equal(samples[0, :, 1, 1, 1], [1, 2, 3, 4, 0, 0])
    assert padded.tolist() == [True]


# ---------------------------------------------------------------- parameters


def test_params_from_schema_block_and_errors() -> None:
    p = PreprocessParams.from_dict(
        {"target_fps": 30.0, "window_seconds": 5.0, "window_overlap_seconds": 2.5}, "windows"
    )
    assert (p.window_frames, p.hop_frames, p.sample_frames, p.centre_on) == (150, 75, 150, "mid_pelvis")
    assert PreprocessParams.from_dict({}, "fixed").centre_on == "center"
    with pytest.raises(ValueError, match="unknown parameters \\['median'\\]"):
        PreprocessParams.from_dict({"median": 3}, "windows")
    with pytest.raises(ValueError, match="positive odd number of frames, got 4"):
        PreprocessParams.from_dict({"median_window": 4}, "windows")
    with pytest.raises(ValueError, match="leaves no hop"):
        PreprocessParams.from_dict({"window_overlap_seconds": 5.0}, "windows")
    with pytest.raises(ValueError, match="segment must be one of"):
        PreprocessParams.from_dict({}, "sliding")


# ---------------------------------------------------------------- files


@pytest.fixture
def sequences_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    recordings = []
    for num_frames, fps in [(260, 25.0), (120, 25.0), (95, 20.0)]:  # 10.4 s, 4.8 s, 4.7 s
        ts = np.arange(num_frames) / fps
        recordings.append((toy_recording(num_frames, rng), ts))
    return write_sequences(tmp_path / "sequences.h5", recordings)


WINDOW_PARAMS = {
    "target_fps": 10.0,
    "median_window": 3,
    "normalize": True,
    "trunk_scale": 2.0,
    "window_seconds": 4.0,
    "window_overlap_seconds": 2.0,
    "fixed_frames": 60,
}


def test_preprocess_file_windows(sequences_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "windows.h5"
    preprocess_file(str(sequences_file), str(out), WINDOW_PARAMS, "windows")
    content = read_hdf5(out, expected={"data": ("sample", "channel", "frame", "joint", "person")})
    # recording 0: 10.36 s -> 104 frames at 10 fps, windows of 40 with hop 20: 0, 20, 40, 60 + 64
    # recording 1: 4.76 s -> 48 frames: 0 + 8; recording 2: 4.7 s -> 48 frames: 0 + 8
    np.testing.assert_allclose(content["window_start"], [0, 2, 4, 6, 6.4, 0, 0.8, 0, 0.8], atol=1e-6)
    assert content["data"].shape == (9, 3, 40, TOY.num_joints, 2)
    assert content["data"].dtype == np.float32
    assert content["recording_id"].tolist() == ["rec0"] * 5 + ["rec1"] * 2 + ["rec2"] * 2
    assert content["label"].tolist() == [0] * 5 + [1] * 2 + [0] * 2
    assert content["group"].tolist() == ["g0"] * 7 + ["g1"] * 2
    assert content["split"].tolist() == ["train"] * 5 + ["val"] * 2 + ["train"] * 2
    assert content["interpolated"].tolist() == [0] * 5 + [1] * 2 + [2] * 2
    np.testing.assert_allclose(content["source_fps"], [25] * 7 + [20] * 2)
    assert content["padded"].dtype == np.int8
    assert not content["padded"].any()
    np.testing.assert_array_equal(content["data"][..., 1], 0.0)  # absent person
    assert content.attrs["fps"] == 10.0
    assert content.attrs["segment"] == "windows"
    assert content.json_attr("class_names") == ["neg", "pos"]
    assert SkeletonLayout.from_dict(content.json_attr("layout")) == TOY
    assert json.loads(content.attrs["config"])["segment"] == "windows"
    assert json.loads(content.attrs["inputs"]) == [str(sequences_file)]


def test_preprocess_file_windows_values_match_the_pure_steps(sequences_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "windows.h5"
    preprocess_file(str(sequences_file), str(out), WINDOW_PARAMS, "windows")
    seq = read_hdf5(sequences_file)
    coords, ts = seq["coords"][:260], seq["timestamps"][:260]
    x, _ = resample(coords, ts, 10.0)
    x = normalize(median_filter(x, 3), TOY, 2.0, "mid_pelvis")
    got = read_hdf5(out)["data"]
    np.testing.assert_allclose(got[1].transpose(1, 0, 2, 3), x[20:60], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[4].transpose(1, 0, 2, 3), x[64:104], rtol=1e-5, atol=1e-6)


def test_preprocess_file_fixed_pads_and_flags(sequences_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "windows.h5"
    preprocess_file(str(sequences_file), str(out), WINDOW_PARAMS, "fixed")
    content = read_hdf5(out)
    assert content["data"].shape == (3, 3, 60, TOY.num_joints, 2)
    assert content["padded"].tolist() == [0, 1, 1]
    assert content["valid_frames"].tolist() == [60, 48, 48]
    np.testing.assert_array_equal(content["window_start"], 0.0)
    np.testing.assert_array_equal(content["data"][1, :, 48:], 0.0)
    assert np.all(np.any(content["data"][1, :, :48, :, 0] != 0, axis=(0, 2)))  # person 0 present
    assert content.attrs["centre_on"] == "center"
    # centred on the median centre joint of the whole recording (before truncation)
    seq = read_hdf5(sequences_file)
    x, _ = resample(seq["coords"][:260], seq["timestamps"][:260], 10.0)
    x = median_filter(x, 3)
    centre = np.median(x[:, :, TOY.center, 0], axis=0)
    trunk = np.median(np.linalg.norm(x[:, :, 2, 0] - x[:, :, 0, 0], axis=1))
    expected = (x[:60, :, :, 0] - centre[None, :, None]) / (2.0 * trunk)
    np.testing.assert_allclose(
        content["data"][0, :, :, :, 0], expected.transpose(1, 0, 2), rtol=1e-5, atol=1e-6
    )


def test_preprocess_file_short_recording_becomes_one_padded_window(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    path = write_sequences(tmp_path / "s.h5", [(toy_recording(20, rng), np.arange(20) / 10.0)])
    preprocess_file(str(path), str(tmp_path / "w.h5"), WINDOW_PARAMS, "windows")
    content = read_hdf5(tmp_path / "w.h5")
    assert content["padded"].tolist() == [1]
    assert content["valid_frames"].tolist() == [20]
    np.testing.assert_array_equal(content["data"][0, :, 20:], 0.0)


def test_preprocess_file_error_names_file_and_recording(tmp_path: Path) -> None:
    coords = toy_recording(30, np.random.default_rng(7))
    coords[..., 0] = 1.0  # all joints on one point: zero trunk
    path = write_sequences(tmp_path / "s.h5", [(coords, np.arange(30) / 10.0)])
    with pytest.raises(ValueError, match=r"s\.h5: recording 'rec0': degenerate median trunk length"):
        preprocess_file(str(path), str(tmp_path / "w.h5"), WINDOW_PARAMS, "windows", on_bad_recording="error")
    assert not (tmp_path / "w.h5").exists()
    # under skip the only recording is set aside, and the dataset left cannot train
    with pytest.raises(ValueError, match=r"too few recordings to train.*1 recordings were set aside"):
        preprocess_file(str(path), str(tmp_path / "w.h5"), WINDOW_PARAMS, "windows", tmp_path / "rej.csv")
    assert not (tmp_path / "w.h5").exists()


def test_preprocess_file_is_deterministic(sequences_file: Path, tmp_path: Path) -> None:
    preprocess_file(str(sequences_file), str(tmp_path / "a.h5"), WINDOW_PARAMS, "windows")
    preprocess_file(str(sequences_file), str(tmp_path / "b.h5"), WINDOW_PARAMS, "windows")
    a, b = read_hdf5(tmp_path / "a.h5"), read_hdf5(tmp_path / "b.h5")
    assert a.arrays.keys() == b.arrays.keys()
    for key in a.arrays:
        np.testing.assert_array_equal(a[key], b[key])


def test_preprocess_file_logs_counts_and_progress(
    sequences_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(pp, "PROGRESS_EVERY", 2)
    with caplog.at_level(logging.INFO, logger="harxai.preprocess"):
        preprocess_file(str(sequences_file), str(tmp_path / "w.h5"), WINDOW_PARAMS, "fixed")
    assert "preprocessed 2 / 3 recordings" in caplog.text
    assert "3 recordings -> 3 samples (2 padded)" in caplog.text
