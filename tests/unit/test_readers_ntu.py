"""NTU RGB+D ``.skeleton`` reader: real samples against independent parses, hand-made files."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from malformed import NTU_JOINTS, write_ntu

from harxai.io.readers import (
    NTU_NAME,
    parse_ntu_name,
    parse_ntu_skeleton,
    read_ignore_list,
    read_ntu_skeleton,
)
from harxai.io.readers.ntu import NTUDenoise

NO_DENOISE = NTUDenoise(noise_length=0, noise_spread_fraction=2.0)
"""Toy files below have few frames and flat bodies: the field's noise filter would drop them."""

REAL_FILES = (
    "S001C001P001R001A001",
    "S001C001P001R001A011",
    "S001C003P008R002A058",
    "S002C001P003R001A003",
    "S003C001P015R001A034",
    "S004C002P003R001A017",
)
FRAMES = {
    "S001C001P001R001A001": 103,
    "S001C001P001R001A011": 82,
    "S001C003P008R002A058": 70,
    "S002C001P003R001A003": 100,
    "S003C001P015R001A034": 71,
    "S004C002P003R001A017": 124,
}


def naive_parse(path: Path) -> tuple[int, dict[str, dict[int, np.ndarray]]]:
    """Line-by-line parse in the style of the ST-GCN / EfficientGCN readers (independent oracle)."""
    bodies: dict[str, dict[int, np.ndarray]] = {}
    with open(path) as fh:
        num_frames = int(fh.readline())
        for f in range(num_frames):
            for _ in range(int(fh.readline())):
                body_id = fh.readline().split()[0]
                num_joints = int(fh.readline())
                xyz = [[float(v) for v in fh.readline().split()[:3]] for _ in range(num_joints)]
                bodies.setdefault(body_id, {})[f] = np.array(xyz)
    return num_frames, bodies


def seed_energy(frames: dict[int, np.ndarray]) -> float:
    """Seed rule: sum over x, y, z of the std over non-zero frames and joints."""
    s = np.stack([frames[f] for f in sorted(frames)])
    s = s[s.sum(axis=(1, 2)) != 0]
    return float(s[:, :, 0].std() + s[:, :, 1].std() + s[:, :, 2].std())


@pytest.fixture
def ntu_dir(real_data: Path) -> Path:
    return real_data / "ntu-rgbd"


def test_oracle_npy_equals_person0(ntu_dir: Path) -> None:
    oracle = np.load(ntu_dir / "S001C001P001R001A001.skeleton.npy", allow_pickle=True).item()["skel_body0"]
    rec = read_ntu_skeleton(ntu_dir / "S001C001P001R001A001.skeleton")
    assert oracle.shape == (103, 25, 3)
    np.testing.assert_array_equal(rec.coords[:, :, :, 0].transpose(0, 2, 1), oracle)
    np.testing.assert_array_equal(rec.coords[:, :, :, 1], 0.0)
    assert rec.interpolated == 0
    assert rec.recording_id == "S001C001P001R001A001"
    assert rec.label == 1


@pytest.mark.parametrize("stem", REAL_FILES)
def test_real_file_matches_naive_parse(ntu_dir: Path, stem: str) -> None:
    path = ntu_dir / f"{stem}.skeleton"
    num_frames, bodies = naive_parse(path)
    rec = read_ntu_skeleton(path, fps=30.0)
    assert num_frames == FRAMES[stem]
    assert rec.coords.shape == (num_frames, 3, 25, 2)
    np.testing.assert_allclose(rec.timestamps, np.arange(num_frames) / 30.0)
    ranked = sorted(bodies, key=lambda b: -seed_energy(bodies[b]))
    for m in range(2):
        if m < len(ranked):
            expected = np.stack([bodies[ranked[m]][f] for f in range(num_frames)])
            np.testing.assert_array_equal(rec.coords[:, :, :, m].transpose(0, 2, 1), expected)
        else:
            np.testing.assert_array_equal(rec.coords[:, :, :, m], 0.0)
    assert rec.interpolated == 0
    assert dict(rec.info) == {
        "setup": int(stem[1:4]),
        "camera": int(stem[5:8]),
        "performer": int(stem[9:12]),
        "replication": int(stem[13:16]),
        "action": int(stem[17:20]),
    }


def test_two_body_file_keeps_both_bodies(ntu_dir: Path) -> None:
    parsed = parse_ntu_skeleton(ntu_dir / "S001C003P008R002A058.skeleton")
    assert parsed.num_frames == 70
    assert len(parsed.bodies) == 2
    assert len({b.body_id for b in parsed.bodies}) == 2
    assert all(len(b.frames) == 70 for b in parsed.bodies)
    rec = read_ntu_skeleton(ntu_dir / "S001C003P008R002A058.skeleton")
    assert (np.abs(rec.coords).sum(axis=(1, 2)) > 0).all()  # both persons in every frame
    energies = [b.motion_energy for b in parsed.bodies]
    assert energies[1] > energies[0]  # the second-listed body is the more active one: person 0
    np.testing.assert_array_equal(rec.coords[:, :, :, 0].transpose(0, 2, 1), parsed.bodies[1].xyz)


def test_parse_is_fast(ntu_dir: Path) -> None:
    path = ntu_dir / "S001C003P008R002A058.skeleton"  # 359 KB
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        read_ntu_skeleton(path)
        best = min(best, time.perf_counter() - start)
    assert best < 0.5


@pytest.mark.parametrize(
    ("name", "xview", "xsub", "group"),
    [
        ("S001C001P001R001A001.skeleton", "val", "train", "P001"),
        ("S001C003P008R002A058.skeleton", "train", "train", "P008"),
        ("S002C001P003R001A003", "val", "val", "P003"),
        ("S004C002P003R001A017.skeleton", "train", "val", "P003"),
        ("S003C001P015R001A034", "val", "train", "P015"),
    ],
)
def test_name_fields_and_protocol_splits(name: str, xview: str, xsub: str, group: str) -> None:
    parsed = parse_ntu_name(name)
    assert parsed is not None
    assert parsed.split("xview") == xview
    assert parsed.split("xsub") == xsub
    assert parsed.group == group


def test_name_that_does_not_match_is_none() -> None:
    assert parse_ntu_name("S01C001P001R001A001.skeleton") is None
    assert parse_ntu_name("clip.skeleton") is None


def test_official_ignore_lists(ntu_dir: Path) -> None:
    official = read_ignore_list(ntu_dir / "NTU_RGBD_samples_with_missing_skeletons.txt", NTU_NAME)
    stgcn = read_ignore_list(ntu_dir / "samples_with_missing_skeletons.txt", NTU_NAME)
    ntu120 = read_ignore_list(ntu_dir / "NTU_RGBD120_samples_with_missing_skeletons.txt", NTU_NAME)
    assert len(official) == 302  # the 3 header lines are skipped
    assert official == stgcn
    assert len(ntu120) == 535
    assert official <= ntu120
    assert "S001C002P005R002A008" in official
    assert not set(REAL_FILES) & ntu120


def _body_a(f: int) -> np.ndarray:
    """Large spread and motion: joint j at (j, f, 2f)."""
    j = np.arange(NTU_JOINTS, dtype=float)
    return np.stack([j, np.full(NTU_JOINTS, float(f)), np.full(NTU_JOINTS, 2.0 * f)], 1)


def _body_b(f: int) -> np.ndarray:
    """Small spread: joint j at ((j % 2) / 4, 1/2, 3 + f/4)."""
    j = np.arange(NTU_JOINTS)
    return np.stack([(j % 2) / 4, np.full(NTU_JOINTS, 0.5), np.full(NTU_JOINTS, 3 + f / 4)], 1)


def _tracking_file(tmp_path: Path) -> Path:
    body_c = np.ones((NTU_JOINTS, 3))  # energy 0
    frames = [
        [("333", body_c), ("111", _body_a(0))],
        [("222", _body_b(1)), ("111", _body_a(1))],
        [("222", _body_b(2))],  # body 111 missing inside its span
        [("111", _body_a(3))],
    ]
    return write_ntu(tmp_path / "S001C001P001R001A001.skeleton", frames)


def test_bodies_tracked_ranked_and_interpolated(tmp_path: Path) -> None:
    rec = read_ntu_skeleton(_tracking_file(tmp_path), max_persons=2, fps=10.0, denoise=NO_DENOISE)
    expected = np.zeros((4, 25, 3, 2))
    for f in range(4):
        expected[f, :, :, 0] = _body_a(f)  # frame 2 interpolated between frames 1 and 3
    expected[1, :, :, 1] = _body_b(1)
    expected[2, :, :, 1] = _body_b(2)
    np.testing.assert_allclose(rec.coords, expected.transpose(0, 2, 1, 3), atol=0)
    assert rec.interpolated == 25 * 3
    np.testing.assert_allclose(rec.timestamps, [0.0, 0.1, 0.2, 0.3])
    assert rec.fps == 10.0


def test_max_persons_three_and_one(tmp_path: Path) -> None:
    path = _tracking_file(tmp_path)
    three = read_ntu_skeleton(path, max_persons=3, denoise=NO_DENOISE)
    assert three.coords.shape == (4, 3, 25, 3)
    np.testing.assert_array_equal(three.coords[0, :, :, 2], 1.0)  # the static body, frame 0 only
    np.testing.assert_array_equal(three.coords[1:, :, :, 2], 0.0)
    one = read_ntu_skeleton(path, max_persons=1, denoise=NO_DENOISE)
    np.testing.assert_array_equal(one.coords[..., 0], three.coords[..., 0])


def test_frames_without_kept_body_are_trimmed(tmp_path: Path) -> None:
    frames = [[], [("111", _body_a(1))], [("111", _body_a(2))], []]
    rec = read_ntu_skeleton(write_ntu(tmp_path / "S001C001P001R001A002.skeleton", frames), fps=30.0)
    assert rec.coords.shape == (2, 3, 25, 2)
    np.testing.assert_array_equal(rec.coords[0, :, :, 0], _body_a(1).T)
    np.testing.assert_allclose(rec.timestamps, [0.0, 1 / 30])


def test_repeated_body_in_a_frame_keeps_first(tmp_path: Path) -> None:
    frames = [[("111", _body_a(0)), ("111", _body_a(5))], [("111", _body_a(1))]]
    rec = read_ntu_skeleton(write_ntu(tmp_path / "S001C001P001R001A003.skeleton", frames))
    np.testing.assert_array_equal(rec.coords[0, :, :, 0], _body_a(0).T)
    np.testing.assert_array_equal(rec.coords[:, :, :, 1], 0.0)


def test_lf_line_endings_parse_the_same(tmp_path: Path) -> None:
    crlf = _tracking_file(tmp_path)
    lf = tmp_path / "lf" / crlf.name
    lf.parent.mkdir()
    lf.write_bytes(crlf.read_bytes().replace(b"\r\n", b"\n"))
    np.testing.assert_array_equal(read_ntu_skeleton(lf).coords, read_ntu_skeleton(crlf).coords)
