"""Kinetics-skeleton JSON reader: real ST-GCN samples and a hand-made file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from malformed import kinetics_person, write_kinetics

from harxai.io.readers import read_kinetics_json

V = 18


def _best_person(people: list[dict[str, Any]]) -> int:
    """Independent ranking: highest summed score, then most non-zero coordinates, then file order."""
    keys = [(sum(p["score"]), sum(1 for v in p["pose"] if v != 0)) for p in people]
    return max(range(len(people)), key=lambda i: (keys[i], -i))


def _check_against_raw(path: Path, fps: float = 30.0) -> None:
    raw = json.loads(path.read_text())
    frames = sorted((f for f in raw["data"] if f["skeleton"]), key=lambda f: f["frame_index"])
    rec = read_kinetics_json(path, fps=fps)
    assert rec.coords.shape == (len(frames), 2, V, 2)
    first = frames[0]["frame_index"]
    np.testing.assert_allclose(rec.timestamps, [(f["frame_index"] - first) / fps for f in frames])
    assert np.isfinite(rec.coords).all()
    for t, frame in enumerate(frames):
        people = frame["skeleton"]
        best = people[_best_person(people)]
        pose = np.array(best["pose"]).reshape(V, 2)
        detected = (pose != 0).any(axis=1)
        np.testing.assert_array_equal(rec.coords[t, :, detected, 0], pose[detected])
        if len(people) == 1:
            np.testing.assert_array_equal(rec.coords[t, :, :, 1], 0.0)
        else:
            assert np.abs(rec.coords[t, :, :, 1]).sum() > 0


def test_kinetics_sample(real_data: Path) -> None:
    path = real_data / "kinetics-skeleton" / "--33Lscn6sk.json"
    raw = json.loads(path.read_text())
    assert len(raw["data"]) == 189
    counts = [len(f["skeleton"]) for f in raw["data"]]
    assert counts.count(0) == 26
    assert max(counts) == 3
    _check_against_raw(path)
    rec = read_kinetics_json(path)
    assert rec.num_frames == 189 - 26
    assert rec.label == 129
    assert rec.label_name == "flipping pancake"
    assert rec.recording_id == "--33Lscn6sk"
    assert rec.interpolated > 0


@pytest.mark.parametrize("stem", ["S004C002P003R001A055_rgb", "S004C003P003R001A007_rgb"])
def test_zero_score_files_rank_by_detected_coordinates(real_data: Path, stem: str) -> None:
    path = real_data / "ntu-rgbd-openpose-stgcn-json" / f"{stem}.json"
    raw = json.loads(path.read_text())
    assert {s for f in raw["data"] for p in f["skeleton"] for s in p["score"]} == {0.0}
    _check_against_raw(path)
    rec = read_kinetics_json(path)
    assert rec.label == int(stem[17:20])  # label_index is the 1-based NTU action here
    assert np.abs(rec.coords[..., 0]).sum(axis=(1, 2)).min() > 0


def _q(f: int) -> list[float]:
    """High-scoring person: joint j at (j/32, f/16)."""
    return [v for j in range(V) for v in (j / 32, f / 16)]


def _p() -> list[float]:
    """Low-scoring person: joint j at (1/2 + j/64, 1/2); joint 17 never detected."""
    pose = [v for j in range(V) for v in (0.5 + j / 64, 0.5)]
    pose[34:36] = [0.0, 0.0]
    return pose


def test_hand_made_file(tmp_path: Path) -> None:
    q2 = _q(2)
    q2[6:8] = [0.0, 0.0]  # joint 3 undetected in frame_index 2
    high, low = [0.75] * V, [0.25] * V
    data = [
        {"frame_index": 4, "skeleton": [kinetics_person(_p(), low), kinetics_person(_q(4), high)]},
        {"frame_index": 2, "skeleton": [kinetics_person(q2, high)]},
        {"frame_index": 3, "skeleton": []},
        {"frame_index": 1, "skeleton": [kinetics_person(_q(1), high), kinetics_person(_p(), low)]},
    ]
    rec = read_kinetics_json(write_kinetics(tmp_path / "clip.json", data, "jump", 7), fps=10.0)
    expected = np.zeros((3, V, 2, 2))  # (frame, joint, channel, person)
    for t, f in enumerate((1, 2, 4)):
        expected[t, :, :, 0] = np.reshape(_q(f), (V, 2))  # joint 3 at frame 2 interpolated = _q(2)
    expected[[0, 2], :, :, 1] = np.reshape(_p(), (V, 2))
    np.testing.assert_allclose(rec.coords, expected.transpose(0, 2, 1, 3), rtol=0, atol=1e-15)
    np.testing.assert_allclose(rec.timestamps, [0.0, 0.1, 0.3])
    assert rec.interpolated == 2
    assert (rec.label, rec.label_name, rec.recording_id) == (7, "jump", "clip")


def test_all_zero_scores_rank_by_detected_count(tmp_path: Path) -> None:
    few = [0.25] * 4 + [0.0] * 32
    many = [0.5] * 30 + [0.0] * 6
    data = [
        {"frame_index": 0, "skeleton": [kinetics_person(few, [0.0] * V), kinetics_person(many, [0.0] * V)]}
    ]
    rec = read_kinetics_json(write_kinetics(tmp_path / "z.json", data), max_persons=1)
    assert rec.coords.shape == (1, 2, V, 1)
    np.testing.assert_array_equal(rec.coords[0, :, :15, 0], 0.5)
    np.testing.assert_array_equal(rec.coords[0, :, 15:, 0], 0.0)  # never detected: stays 0
