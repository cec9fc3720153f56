"""Missing key points: confidence kept by every reader, never used as coordinates, no invented motion.

Real files are read from ../shared/data/real (tests skip without them); toy files are written
by the writers in ``malformed``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from malformed import (
    NTU_JOINTS,
    body25_pose,
    csv_text,
    layout_param,
    make_spec,
    ntu_text,
    openpose_person,
    simple_csv_rows,
    simple_kinetics_data,
    simple_ntu_frames,
    write_kinetics,
    write_manifest,
    write_ntu,
    write_openpose_recording,
)

from harxai.features import (
    FeatureParams,
    bone_features,
    compute_features,
    velocity_features,
)
from harxai.io import read_hdf5
from harxai.io.ingest import ingest_dataset
from harxai.io.readers import (
    NTUDenoise,
    parse_ntu_skeleton,
    read_keypoints_csv,
    read_kinetics_json,
    read_manifest,
    read_ntu_skeleton,
    read_openpose_folder,
)
from harxai.io.readers.ntu import select_bodies
from harxai.preprocess import PreprocessParams, fill_missing, normalize, preprocess_recording
from harxai.skeletons import IN_MOTION_2022, NTU25, OPENPOSE18, OPENPOSE25

NO_FILTER = FeatureParams(butterworth=False)


# --- readers keep confidence --------------------------------------------------------------------


def test_ntu_tracking_state_is_confidence_and_not_tracked_joints_are_interpolated(tmp_path: Path) -> None:
    text = ntu_text(simple_ntu_frames(3))
    lines = text.split("\r\n")
    # frame 2 (lines: count, bodies, info, joints, 25 joint lines per frame): joint 4 not tracked,
    # joint 5 inferred, and joint 4's x is a garbage value the reader must not use
    first_joint_f2 = 1 + 28 + 3
    j4 = lines[first_joint_f2 + 4].split()
    j4[0], j4[-1] = "99.0", "0"
    lines[first_joint_f2 + 4] = " ".join(j4)
    j5 = lines[first_joint_f2 + 5].split()
    j5[-1] = "1"
    lines[first_joint_f2 + 5] = " ".join(j5)
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_bytes("\r\n".join(lines).encode("ascii"))
    rec = read_ntu_skeleton(path)
    assert rec.confidence.shape == (3, NTU_JOINTS, 2)
    assert rec.confidence[1, 4, 0] == 0.0
    assert rec.confidence[1, 5, 0] == 0.5
    assert rec.confidence[0, :, 0].tolist() == [1.0] * NTU_JOINTS
    np.testing.assert_array_equal(rec.confidence[:, :, 1], 0.0)  # absent second person
    # x of joint 4 is 1.0 in every frame; the untracked 99.0 is replaced by interpolation
    assert rec.coords[1, 0, 4, 0] == 1.0
    assert rec.interpolated == 3


def test_kinetics_real_file_confidence_is_the_score_and_zero_points_are_undetected(real_data: Path) -> None:
    path = real_data / "kinetics-skeleton" / "--33Lscn6sk.json"
    rec = read_kinetics_json(path)
    content = json.loads(path.read_text())
    # frame by frame, person 0 is the highest summed score: compare its confidence with the file
    frames = sorted((f for f in content["data"] if f["skeleton"]), key=lambda f: f["frame_index"])
    for t, frame in enumerate(frames):
        best = max(frame["skeleton"], key=lambda p: sum(p["score"]))
        pose = np.asarray(best["pose"]).reshape(-1, 2)
        score = np.asarray(best["score"])
        detected = (score > 0) & ~(pose == 0).all(axis=1)
        np.testing.assert_allclose(rec.confidence[t, :, 0], np.where(detected, score, 0.0), atol=1e-7)
        # detected points are kept as written; no undetected point sits at (0, 0)
        np.testing.assert_allclose(rec.coords[t, :, detected, 0], pose[detected], atol=0)
    present = rec.confidence.sum(axis=1) > 0
    undetected = (rec.confidence == 0) & present[:, None, :]
    assert undetected.any()  # the clip has undetected key points
    xy = rec.coords.transpose(0, 2, 3, 1)[undetected]
    has_value = (xy != 0).any(axis=1)
    assert has_value.mean() > 0.5  # most are interpolated from the person's other frames


def test_kinetics_export_without_scores_counts_written_points_as_detected(real_data: Path) -> None:
    path = real_data / "ntu-rgbd-openpose-stgcn-json" / "S004C002P003R001A055_rgb.json"
    rec = read_kinetics_json(path)
    present = (rec.coords != 0).any(axis=(1, 2))
    assert present.any()
    written = (rec.coords != 0).any(axis=1)  # (frame, joint, person)
    np.testing.assert_array_equal(rec.confidence > 0, written & (rec.confidence > 0))
    assert set(np.unique(rec.confidence).tolist()) <= {0.0, 1.0}
    assert (rec.confidence == 1).sum() > 0


def test_csv_score_column_is_confidence(tmp_path: Path) -> None:
    joints = ["a", "b"]
    text = "time,a_x,a_y,a_score,b_x,b_y\n0,1,2,0.5,3,4\n1,,,,5,6\n2,3,4,0,7,8\n3,5,6,0.75,9,10\n"
    (tmp_path / "r.csv").write_text(text)
    rec = read_keypoints_csv(tmp_path / "r.csv", joints)
    np.testing.assert_allclose(rec.confidence[:, :, 0], [[0.5, 1], [0, 1], [0, 1], [0.75, 1]])
    # the blank frame and the score-0 frame of a are interpolated between t = 0 and t = 3
    np.testing.assert_allclose(rec.coords[:, 0, 0, 0], [1, 7 / 3, 11 / 3, 5])


# --- BOM, case, CR-only, float frame_index -------------------------------------------------------


def test_every_reader_treats_a_utf8_bom_the_same(tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf"
    ntu = write_ntu(tmp_path / "S001C001P001R001A001.skeleton", simple_ntu_frames(3))
    kin = write_kinetics(tmp_path / "clip.json", simple_kinetics_data(3))
    csv = tmp_path / "r.csv"
    csv.write_text(csv_text(IN_MOTION_2022.joints, simple_csv_rows(IN_MOTION_2022.joints, 3)))
    man = write_manifest(tmp_path / "m.csv", [{"recording_id": "r", "fps": 25}], ("recording_id", "fps"))
    op = write_openpose_recording(tmp_path / "op", [[openpose_person(body25_pose(f))] for f in range(3)])
    readers = {
        ntu: lambda p: read_ntu_skeleton(p).coords,
        kin: lambda p: read_kinetics_json(p).coords,
        csv: lambda p: read_keypoints_csv(p, IN_MOTION_2022.joints).coords,
        man: lambda p: read_manifest(p).rows["r"].fps,
    }
    for path, read in readers.items():
        plain = read(path)
        path.write_bytes(bom + path.read_bytes())
        np.testing.assert_array_equal(read(path), plain)
    plain = read_openpose_folder(op, fps=25.0).coords
    for f in op.iterdir():
        f.write_bytes(bom + f.read_bytes())
    np.testing.assert_array_equal(read_openpose_folder(op, fps=25.0).coords, plain)


def test_upper_case_skeleton_suffix_is_ingested(tmp_path: Path) -> None:
    write_ntu(tmp_path / "raw" / "S001C001P001R001A001.SKELETON", simple_ntu_frames(3))
    write_ntu(tmp_path / "raw" / "S001C002P001R001A002.skeleton", simple_ntu_frames(4))
    spec = make_spec("ntu", tmp_path / "raw")
    ingest_dataset(spec, layout_param(spec), str(tmp_path / "s.h5"))
    content = read_hdf5(tmp_path / "s.h5")
    assert sorted(content["recording_id"].astype(str).tolist()) == [
        "S001C001P001R001A001",
        "S001C002P001R001A002",
    ]


def test_cr_only_line_breaks_parse_like_crlf(tmp_path: Path) -> None:
    crlf = write_ntu(tmp_path / "a" / "S001C001P001R001A001.skeleton", simple_ntu_frames(3))
    cr = tmp_path / "b" / "S001C001P001R001A001.skeleton"
    cr.parent.mkdir()
    cr.write_bytes(crlf.read_bytes().replace(b"\r\n", b"\r"))
    np.testing.assert_array_equal(read_ntu_skeleton(cr).coords, read_ntu_skeleton(crlf).coords)


def test_integral_float_frame_index_is_accepted(tmp_path: Path) -> None:
    data = simple_kinetics_data(3)
    as_int = read_kinetics_json(write_kinetics(tmp_path / "a.json", data))
    for f in data:
        f["frame_index"] = float(f["frame_index"])
    as_float = read_kinetics_json(write_kinetics(tmp_path / "b.json", data))
    np.testing.assert_array_equal(as_float.coords, as_int.coords)
    np.testing.assert_array_equal(as_float.timestamps, as_int.timestamps)


# --- NTU body selection --------------------------------------------------------------------------


def _standing(f: int, dx: float = 0.0, amp: float = 0.02) -> np.ndarray:
    """A standing body: narrow in x, 1.5 m tall in y, swaying by ``amp``."""
    j = np.arange(NTU_JOINTS, dtype=float)
    return np.stack(
        [dx + 0.2 * np.sin(j) + amp * np.sin(f / 3), 1.5 * j / NTU_JOINTS, np.full(NTU_JOINTS, 3.0)], 1
    )


def test_short_jittery_body_does_not_push_out_the_actor(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    frames = []
    for f in range(40):
        bodies = [("actor", _standing(f))]
        if 10 <= f < 20:  # 10 frames of a very active noise body
            bodies.append(("noise", _standing(f, 1.0) + rng.normal(0, 0.5, (NTU_JOINTS, 3))))
        frames.append(bodies)
    path = write_ntu(tmp_path / "S001C001P001R001A001.skeleton", frames)
    parsed = parse_ntu_skeleton(path)
    noise = next(b for b in parsed.bodies if b.body_id == "noise")
    actor = next(b for b in parsed.bodies if b.body_id == "actor")
    assert noise.motion_energy > actor.motion_energy  # ranked by energy alone it would be person 0
    assert [b.body_id for b in select_bodies(parsed.bodies, 2)] == ["actor"]
    off = NTUDenoise(noise_length=0, noise_spread_fraction=2.0)
    assert [b.body_id for b in select_bodies(parsed.bodies, 2, off)] == ["noise", "actor"]
    rec = read_ntu_skeleton(path)
    np.testing.assert_array_equal(rec.coords[:, :, :, 1], 0.0)
    assert rec.num_frames == 40


def test_wide_body_is_dropped_by_spread(tmp_path: Path) -> None:
    frames = []
    for f in range(30):
        lying = _standing(f, amp=0.5)[:, [1, 0, 2]]  # x and y swapped: x spread 1.5 m, y 0.4 m
        frames.append([("actor", _standing(f)), ("lying", lying)])
    parsed = parse_ntu_skeleton(write_ntu(tmp_path / "S001C001P001R001A001.skeleton", frames))
    assert [b.body_id for b in select_bodies(parsed.bodies, 2)] == ["actor"]
    loose = NTUDenoise(noise_spread=5.0)
    assert {b.body_id for b in select_bodies(parsed.bodies, 2, loose)} == {"actor", "lying"}


def test_duplicate_body_id_in_a_frame_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    frames = [[("7", _standing(f)), ("7", _standing(f, 0.5))] for f in range(3)]
    with caplog.at_level(logging.WARNING):
        parsed = parse_ntu_skeleton(write_ntu(tmp_path / "S001C001P001R001A001.skeleton", frames))
    assert len(parsed.bodies) == 1
    assert "duplicate bodyID 7: listed more than once in 3 frames" in caplog.text


@pytest.mark.parametrize("stem", ["S001C003P008R002A058", "S001C001P001R001A001", "S004C002P003R001A017"])
def test_real_ntu_files_keep_their_actors(real_data: Path, stem: str) -> None:
    parsed = parse_ntu_skeleton(real_data / "ntu-rgbd" / f"{stem}.skeleton")
    kept = select_bodies(parsed.bodies, 2)
    assert len(kept) == min(2, len(parsed.bodies))


# --- OpenPose JSON -------------------------------------------------------------------------------


def test_openpose_tracks_people_across_frames_when_the_order_swaps(tmp_path: Path) -> None:
    frames = []
    for f in range(6):
        left = openpose_person(body25_pose(f), 0.9)
        right = openpose_person(body25_pose(f, shift=400), 0.6)
        frames.append([left, right] if f % 2 == 0 else [right, left])
    rec = read_openpose_folder(write_openpose_recording(tmp_path / "rec", frames), fps=10.0)
    assert rec.coords.shape == (6, 2, 25, 2)
    for f in range(6):
        np.testing.assert_allclose(rec.coords[f, :, :, 0].T, body25_pose(f), atol=1e-6)  # higher score
        np.testing.assert_allclose(rec.coords[f, :, :, 1].T, body25_pose(f, 400), atol=1e-6)
    np.testing.assert_allclose(rec.confidence[:, :, 0], 0.9, atol=1e-6)
    np.testing.assert_allclose(rec.timestamps, np.arange(6) / 10.0)
    assert rec.recording_id == "rec"


def test_openpose_person_id_is_the_track_when_present(tmp_path: Path) -> None:
    frames = []
    for f in range(4):  # id 5 jumps across the image: distance matching alone would swap
        a = openpose_person(body25_pose(f, shift=0 if f < 2 else 400), 0.9, person_id=5)
        b = openpose_person(body25_pose(f, shift=400 if f < 2 else 0), 0.5, person_id=2)
        frames.append([a, b])
    rec = read_openpose_folder(write_openpose_recording(tmp_path / "rec", frames), fps=30.0)
    np.testing.assert_allclose(rec.coords[3, :, :, 0].T, body25_pose(3, 400), atol=1e-6)


def test_openpose_undetected_key_points_gaps_and_first_frame_number(tmp_path: Path) -> None:
    conf = np.full(25, 0.8)
    frames = []
    for f in range(5):
        c = conf.copy()
        if f == 2:
            c[4] = 0.0  # right wrist undetected in frame 2
        c[19] = 0.0  # left big toe never detected
        frames.append([openpose_person(body25_pose(f), c)] if f != 3 else [])
    folder = write_openpose_recording(tmp_path / "rec", frames, first=100)
    rec = read_openpose_folder(folder, fps=10.0)
    assert rec.num_frames == 4  # frame 103 has nobody: dropped, the gap stays in time
    np.testing.assert_allclose(rec.timestamps, [0.0, 0.1, 0.2, 0.4])
    assert rec.confidence[2, 4, 0] == 0.0
    np.testing.assert_allclose(rec.coords[2, :, 4, 0], body25_pose(2)[4], atol=1e-6)  # interpolated, linear
    np.testing.assert_array_equal(rec.coords[:, :, 19, 0], 0.0)
    np.testing.assert_array_equal(rec.confidence[:, 19, 0], 0.0)


def test_openpose_dataset_ingests_with_manifest_labels_and_coco_layout(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    rows = [
        {
            "recording_id": f"clip{i}",
            "label": ["walk", "sit"][i % 2],
            "group": f"s{i}",
            "split": ["train", "train", "val", "val"][i],
        }
        for i in range(4)
    ]
    coco = OPENPOSE18.num_joints
    for i, row in enumerate(rows):
        frames = [[openpose_person(body25_pose(f)[:coco] + i, 0.7)] for f in range(5)]
        write_openpose_recording(raw / row["recording_id"], frames, video=row["recording_id"])
    write_manifest(raw / "manifest.csv", rows, ("recording_id", "label", "group", "split"))
    spec = make_spec("openpose_json", raw, layout="openpose18", fps=15.0)
    ingest_dataset(spec, layout_param(spec), str(tmp_path / "s.h5"))
    content = read_hdf5(tmp_path / "s.h5")
    assert content.attrs["kind"] == "openpose_json"
    assert json.loads(content.attrs["class_names"]) == ["sit", "walk"]
    assert content["label"].tolist() == [1, 0, 1, 0]
    assert content["confidence"].shape == (20, coco, 2)
    np.testing.assert_allclose(content["fps"], 15.0)
    assert OPENPOSE25.num_joints == 25


# --- preprocessing: detected joints only, fill policy -------------------------------------------


def _toy_recording(frames: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """NTU-shaped person 0 standing with a 0.5 m trunk (spine base 0 to neck 2), moving slowly in x."""
    rng = np.random.default_rng(0)
    base = np.zeros((NTU_JOINTS, 3))
    base[:, 1] = np.linspace(0, 1.5, NTU_JOINTS)
    base[0] = [0, 0, 3]
    base[1] = [0, 0.25, 3]
    base[20] = [0, 0.45, 3]
    base[2] = [0, 0.5, 3]
    coords = np.zeros((frames, 3, NTU_JOINTS, 2))
    for f in range(frames):
        coords[f, :, :, 0] = (base + np.array([0.01 * f, 0.0, 0.0]) + rng.normal(0, 1e-3, base.shape)).T
    return coords, np.arange(frames) / 30.0


def test_normalisation_ignores_undetected_trunk_joints() -> None:
    coords, _ = _toy_recording()
    conf = np.zeros((coords.shape[0], NTU_JOINTS, 2))
    conf[:, :, 0] = 1.0
    # the neck's trunk-top partner, joint 20 (spine shoulder), is lost in 60 % of the frames and
    # sits at the image origin there, as a reader without confidence would leave it
    lost = np.arange(coords.shape[0]) % 5 < 3
    coords[lost, :, 20, 0] = 0.0
    conf[lost, 20, 0] = 0.0
    top, bottom = list(NTU25.trunk_top), list(NTU25.trunk_bottom)
    good = coords[~lost][:, :, :, 0]
    trunk = np.median(np.linalg.norm(good[:, :, top].mean(-1) - good[:, :, bottom].mean(-1), axis=1))
    origin = np.median(coords[:, :, NTU25.center, 0], axis=0)  # the centre joint is always detected
    out = normalize(coords, NTU25, 1.0, "center", confidence=conf)
    np.testing.assert_allclose(out[~lost, :, 3, 0], (coords[~lost, :, 3, 0] - origin) / trunk, rtol=1e-12)
    blind = normalize(coords, NTU25, 1.0, "center")  # presence only: the lost frames pull the trunk
    assert not np.allclose(blind[~lost, :, 3, 0], out[~lost, :, 3, 0], rtol=1e-3)


def test_no_detected_trunk_is_a_bad_recording() -> None:
    coords, times = _toy_recording()
    conf = np.ones((coords.shape[0], NTU_JOINTS, 2))
    conf[:, 20, 0] = 0.0  # spine shoulder never detected
    params = PreprocessParams(segment="fixed", median_window=1)
    with pytest.raises(ValueError, match="no trunk"):
        preprocess_recording(coords, times, NTU25, params, "rec", conf)


def test_fill_policies_and_confidence_through_preprocessing() -> None:
    coords, times = _toy_recording(60)
    conf = np.zeros((60, NTU_JOINTS, 2))
    conf[:, :, 0] = 1.0
    conf[20:25, 7, 0] = 0.0  # joint 7 undetected for 5 frames (coordinates interpolated by the reader)
    conf[:, 11, 0] = 0.0  # joint 11 never detected (coordinates 0)
    coords[:, :, 11, 0] = 0.0
    for policy in ("interpolate", "zero"):
        params = PreprocessParams(segment="fixed", median_window=1, fixed_frames=80, missing=policy)
        samples, _, _, _, c = preprocess_recording(coords, times, NTU25, params, "rec", conf)
        assert c.shape == (1, 80, NTU_JOINTS, 2)
        np.testing.assert_array_equal(c[0, 60:], 0.0)  # padding
        np.testing.assert_array_equal(c[0, :, :, 1], 0.0)  # absent person
        np.testing.assert_array_equal(c[0, 20:25, 7, 0], 0.0)
        assert (c[0, :60, 3, 0] == 1.0).all()
        np.testing.assert_array_equal(samples[0, :, :, 11, 0], 0.0)  # never detected: 0 in both
        gap = samples[0, 20:25, :, 7, 0]
        if policy == "zero":
            np.testing.assert_array_equal(gap, 0.0)
        else:
            assert (np.abs(gap) > 0).all()


def test_fill_missing_zero_and_interpolate() -> None:
    x = np.ones((4, 2, 3, 1))
    conf = np.ones((4, 3, 1))
    conf[1, 0, 0] = 0
    conf[:, 2, 0] = 0
    np.testing.assert_array_equal(
        fill_missing(x, conf, "zero")[:, 0, :, 0], [[1, 1, 0], [0, 1, 0], [1, 1, 0], [1, 1, 0]]
    )
    np.testing.assert_array_equal(fill_missing(x, conf, "interpolate")[:, 0, :, 0], [[1, 1, 0]] * 4)


# --- features: no invented motion -------------------------------------------------------------


def test_missing_key_point_does_not_invent_motion() -> None:
    rng = np.random.default_rng(5)
    frames, joints = 12, NTU_JOINTS
    x = np.cumsum(rng.normal(0, 0.01, (1, 3, frames, joints, 1)), axis=2) + rng.normal(
        0, 1, (1, 3, 1, joints, 1)
    )
    conf = np.ones((1, frames, joints, 1))
    v = 7  # left hand, child of 6
    x[0, :, 5, v, 0] = 0.0  # missing at frame 5, filled with 0 (missing: zero)
    conf[0, 5, v, 0] = 0.0
    vel = velocity_features(x, conf)
    blind = velocity_features(x)
    assert np.abs(blind[0, :, 3:6, v]).max() > 0.1  # without confidence: a jump to and from 0
    np.testing.assert_array_equal(vel[0, :, 3:6, v], 0.0)  # frames whose stencil holds frame 5
    np.testing.assert_array_equal(vel[0, :, 6:10, v], blind[0, :, 6:10, v])
    others = [j for j in range(joints) if j != v]
    np.testing.assert_array_equal(vel[0][:, :, others], blind[0][:, :, others])
    bone = bone_features(x, NTU25, conf)
    np.testing.assert_array_equal(bone[0, :, 5, v], 0.0)
    children = [j for j in range(joints) if NTU25.parents()[j] == v]
    assert children  # the hand tip's bone uses the missing hand too
    np.testing.assert_array_equal(bone[0, :, 5][:, children], 0.0)
    feats = compute_features(x, NTU25, NO_FILTER, conf)
    acc = feats[0, 3]
    np.testing.assert_array_equal(acc[:3, 2:6, v], 0.0)  # slow: frames t .. t+3 hold frame 5
    np.testing.assert_array_equal(acc[3:, 1:6, v], 0.0)  # fast: frames t .. t+4
    assert np.abs(compute_features(x, NTU25, NO_FILTER)[0, 3][:, 1:6, v]).max() > 0.1
    # with every key point detected the features equal those without confidence
    np.testing.assert_array_equal(
        compute_features(x, NTU25, FeatureParams(), np.ones_like(conf)),
        compute_features(x, NTU25, FeatureParams()),
    )
