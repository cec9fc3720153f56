"""Catalogue of malformed inputs: each is rejected by ingest with one ReaderError, no output left.

Every case builds a small dataset in ``tmp_path`` (from the writers in ``malformed``), breaks
one thing, and states the file the message must name and the problem keyword it must hold.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    write_csv_dataset,
    write_kinetics,
    write_manifest,
    write_ntu,
    write_openpose_recording,
)

from harxai.io.ingest import ingest_dataset
from harxai.io.readers import ReaderError
from harxai.skeletons import IN_MOTION_2022

NTU_FILE = "S001C001P001R001A001.skeleton"
JOINTS = IN_MOTION_2022.joints
Case = tuple[dict[str, Any], str, str]  # spec overrides (with kind), file named, problem keyword


# --- NTU ---------------------------------------------------------------------------------------


def _ntu_lines() -> list[str]:
    return ntu_text(simple_ntu_frames(3)).split("\r\n")[:-1]


def _ntu_from_lines(raw: Path, lines: list[str], keyword: str, end: str = "\r\n") -> Case:
    raw.mkdir(parents=True, exist_ok=True)
    (raw / NTU_FILE).write_bytes(("\r\n".join(lines) + end).encode("ascii"))
    return {"kind": "ntu"}, NTU_FILE, keyword


def ntu_truncated_block(raw: Path) -> Case:
    return _ntu_from_lines(raw, _ntu_lines()[:20], "truncated file")


def ntu_truncated_mid_line(raw: Path) -> Case:
    text = "\r\n".join(_ntu_lines())
    return _ntu_from_lines(raw, [text[:-25]], "truncated file", end="")


def ntu_non_numeric(raw: Path) -> Case:
    lines = _ntu_lines()
    lines[10] = "abc " + lines[10].split(" ", 1)[1]
    return _ntu_from_lines(raw, lines, "non-numeric value 'abc'")


def ntu_non_finite(raw: Path) -> Case:
    lines = _ntu_lines()
    lines[10] = "nan " + lines[10].split(" ", 1)[1]
    return _ntu_from_lines(raw, lines, "non-finite")


def ntu_wrong_joint_count(raw: Path) -> Case:
    frames = [[("1", np.ones((NTU_JOINTS - 1, 3)))]]
    write_ntu(raw / NTU_FILE, frames)
    return {"kind": "ntu"}, NTU_FILE, "wrong joint count 24"


def ntu_zero_frames(raw: Path) -> Case:
    return _ntu_from_lines(raw, ["0"], "zero frames")


def ntu_non_numeric_body_count(raw: Path) -> Case:
    lines = _ntu_lines()
    lines[1] = "x"
    return _ntu_from_lines(raw, lines, "non-numeric body count")


def ntu_body_info(raw: Path) -> Case:
    lines = _ntu_lines()
    lines[2] = "1 0 1 1 1"
    return _ntu_from_lines(raw, lines, "body info line")


def ntu_trailing_content(raw: Path) -> Case:
    return _ntu_from_lines(raw, [*_ntu_lines(), "1"], "unexpected content")


def ntu_no_body(raw: Path) -> Case:
    return _ntu_from_lines(raw, ["3", "0", "0", "0"], "no body")


def ntu_bad_name(raw: Path) -> Case:
    write_ntu(raw / "clip.skeleton", simple_ntu_frames(2))
    return {"kind": "ntu"}, "clip.skeleton", "SsssCcccPpppRrrrAaaa"


def ntu_empty_folder(raw: Path) -> Case:
    raw.mkdir(parents=True)
    (raw / "notes.txt").write_text("nothing here")
    return {"kind": "ntu"}, raw.name, "empty dataset folder"


def ntu_manifest_duplicate(raw: Path) -> Case:
    write_ntu(raw / NTU_FILE, simple_ntu_frames(2))
    rows = [{"recording_id": "S001C001P001R001A001", "fps": 30}] * 2
    write_manifest(raw / "m.csv", rows, ("recording_id", "fps"))
    return {"kind": "ntu", "manifest": str(raw / "m.csv")}, "m.csv", "duplicate recording id"


def ntu_manifest_fps(raw: Path) -> Case:
    write_ntu(raw / NTU_FILE, simple_ntu_frames(2))
    write_manifest(
        raw / "m.csv", [{"recording_id": "S001C001P001R001A001", "fps": "fast"}], ("recording_id", "fps")
    )
    return {"kind": "ntu", "manifest": str(raw / "m.csv")}, "m.csv", "non-numeric fps"


def ntu_ignore_list_missing(raw: Path) -> Case:
    write_ntu(raw / NTU_FILE, simple_ntu_frames(2))
    return {"kind": "ntu", "ignore_list": str(raw / "skip.txt")}, "skip.txt", "ignore list not found"


# --- Kinetics JSON -------------------------------------------------------------------------------


def _kinetics(raw: Path, data: list[dict[str, Any]], **kw: Any) -> Path:
    return write_kinetics(raw / "clip.json", data, **kw)


def kinetics_truncated(raw: Path) -> Case:
    path = _kinetics(raw, simple_kinetics_data(3))
    path.write_text(path.read_text()[:-40])
    return {"kind": "kinetics_json"}, "clip.json", "truncated"


def kinetics_non_numeric(raw: Path) -> Case:
    data = simple_kinetics_data(3)
    data[1]["skeleton"][0]["pose"][4] = "a"
    _kinetics(raw, data)
    return {"kind": "kinetics_json"}, "clip.json", "non-numeric value 'a'"


def kinetics_joint_count(raw: Path) -> Case:
    _kinetics(raw, simple_kinetics_data(3, num_joints=17))
    return {"kind": "kinetics_json"}, "clip.json", "wrong joint count"


def kinetics_zero_frames(raw: Path) -> Case:
    _kinetics(raw, [])
    return {"kind": "kinetics_json"}, "clip.json", "zero frames"


def kinetics_duplicate_frame(raw: Path) -> Case:
    data = simple_kinetics_data(3)
    data[2]["frame_index"] = 2
    _kinetics(raw, data)
    return {"kind": "kinetics_json"}, "clip.json", "duplicate frame_index"


def kinetics_no_person(raw: Path) -> Case:
    _kinetics(raw, [{"frame_index": i, "skeleton": []} for i in range(3)])
    return {"kind": "kinetics_json"}, "clip.json", "no person"


def kinetics_no_data(raw: Path) -> Case:
    raw.mkdir(parents=True)
    (raw / "clip.json").write_text(json.dumps({"frames": []}))
    return {"kind": "kinetics_json"}, "clip.json", "no 'data' list"


def kinetics_no_label(raw: Path) -> Case:
    raw.mkdir(parents=True)
    (raw / "clip.json").write_text(json.dumps({"data": simple_kinetics_data(2)}))
    return {"kind": "kinetics_json"}, "clip.json", "label_index"


# --- key-point CSV -------------------------------------------------------------------------------

ROWS = [
    {"recording_id": "r1", "label": 0, "group": "s1", "fps": 25, "split": "train"},
    {"recording_id": "r2", "label": 1, "group": "s2", "fps": 25, "split": "val"},
]


def _csv_dataset(raw: Path, rows: list[dict[str, Any]] | None = None, **kw: Any) -> dict[str, Any]:
    write_csv_dataset(raw, JOINTS, ROWS if rows is None else rows, **kw)
    return {"kind": "keypoints_csv"}


def csv_truncated(raw: Path) -> Case:
    spec = _csv_dataset(raw)
    text = (raw / "r2.csv").read_text()
    (raw / "r2.csv").write_text(text[: len(text) // 2 + 7])
    return spec, "r2.csv", "truncated file"


def csv_extra_field(raw: Path) -> Case:
    spec = _csv_dataset(raw)
    lines = (raw / "r1.csv").read_text().splitlines()
    lines[2] += ",7"
    (raw / "r1.csv").write_text("\n".join(lines))
    return spec, "r1.csv", "fields, expected"


def csv_non_numeric(raw: Path) -> Case:
    spec = _csv_dataset(raw)
    rows = simple_csv_rows(JOINTS, 4)
    rows[2][5] = "oops"  # type: ignore[call-overload]
    (raw / "r1.csv").write_text(csv_text(JOINTS, rows))
    return spec, "r1.csv", "non-numeric value 'oops'"


def csv_zero_frames(raw: Path) -> Case:
    spec = _csv_dataset(raw)
    (raw / "r1.csv").write_text(csv_text(JOINTS, []))
    return spec, "r1.csv", "zero frames"


def csv_keypoint_all_nan(raw: Path) -> Case:
    spec = _csv_dataset(raw)
    rows: list[list[Any]] = [list(r) for r in simple_csv_rows(JOINTS, 4)]
    for r in rows:
        r[1 + 2 * JOINTS.index("right_ear")] = None  # right_ear_x
    (raw / "r1.csv").write_text(csv_text(JOINTS, rows))
    return spec, "r1.csv", "'right_ear' is NaN in every frame"


def csv_unknown_column(raw: Path) -> Case:
    spec = _csv_dataset(raw)
    text = (raw / "r1.csv").read_text().replace("nose_x", "noze_x", 1)
    (raw / "r1.csv").write_text(text)
    return spec, "r1.csv", "unknown key point column 'noze_x'"


def csv_missing_column(raw: Path) -> Case:
    spec = _csv_dataset(raw)
    lines = [line.rsplit(",", 1)[0] for line in (raw / "r1.csv").read_text().splitlines()]
    (raw / "r1.csv").write_text("\n".join(lines) + "\n")
    return spec, "r1.csv", "missing column 'left_big_toe_y'"


def csv_time_not_increasing(raw: Path) -> Case:
    spec = _csv_dataset(raw)
    rows = simple_csv_rows(JOINTS, 4)
    rows[2][0] = rows[1][0]
    (raw / "r1.csv").write_text(csv_text(JOINTS, rows))
    return spec, "r1.csv", "not strictly increasing"


def csv_frame_without_fps(raw: Path) -> Case:
    rows = [{**r, "fps": None} for r in ROWS]
    spec = _csv_dataset(raw, rows)
    frames = [[i, *row[1:]] for i, row in enumerate(simple_csv_rows(JOINTS, 3))]
    (raw / "r1.csv").write_text(csv_text(JOINTS, frames, time_column="frame"))
    return spec, "r1.csv", "no fps"


def csv_not_text(raw: Path) -> Case:
    spec = _csv_dataset(raw)
    (raw / "r1.csv").write_bytes(b"time,\xff\xfe\x00\x81")
    return spec, "r1.csv", "not a utf-8 text file"


def csv_manifest_duplicate(raw: Path) -> Case:
    return _csv_dataset(raw, [*ROWS, ROWS[0]]), "manifest.csv", "duplicate recording id 'r1'"


def csv_label_missing(raw: Path) -> Case:
    return _csv_dataset(raw, [ROWS[0], {**ROWS[1], "label": None}]), "manifest.csv", "label missing"


def csv_listed_without_file(raw: Path) -> Case:
    spec = _csv_dataset(raw)
    (raw / "r2.csv").unlink()
    return spec, "manifest.csv", "has no CSV file r2.csv"


def csv_not_in_manifest(raw: Path) -> Case:
    spec = _csv_dataset(raw)
    (raw / "r3.csv").write_text((raw / "r1.csv").read_text())
    return spec, "r3.csv", "not listed in the manifest"


def csv_manifest_columns(raw: Path) -> Case:
    return _csv_dataset(raw, columns=("recording_id", "group")), "manifest.csv", "required column(s) label"


def csv_manifest_missing(raw: Path) -> Case:
    spec = _csv_dataset(raw)
    (raw / "manifest.csv").unlink()
    return spec, "manifest.csv", "manifest file not found"


def csv_empty_folder(raw: Path) -> Case:
    spec = _csv_dataset(raw, [])
    return spec, raw.name, "empty dataset folder"


def csv_manifest_truncated(raw: Path) -> Case:
    spec = _csv_dataset(raw)
    text = (raw / "manifest.csv").read_text()
    (raw / "manifest.csv").write_text(text.rstrip("\n")[:-8])
    return spec, "manifest.csv", "truncated file"


def csv_bad_split(raw: Path) -> Case:
    return (
        _csv_dataset(raw, [ROWS[0], {**ROWS[1], "split": "test"}]),
        "manifest.csv",
        "split must be train or val",
    )


def csv_split_cell_empty(raw: Path) -> Case:
    spec = _csv_dataset(raw, [ROWS[0], {**ROWS[1], "split": None}])
    return {**spec, "split": "manifest"}, "manifest.csv", "needs a train/val split"


def csv_label_not_in_class_names(raw: Path) -> Case:
    spec = _csv_dataset(raw, [{**ROWS[0], "label": "cp"}, {**ROWS[1], "label": "other"}])
    return {**spec, "class_names": ["typical", "cp"]}, "manifest.csv", "'other' is not one of class_names"


def csv_label_out_of_range(raw: Path) -> Case:
    spec = _csv_dataset(raw, [ROWS[0], {**ROWS[1], "label": 2}])
    return {**spec, "class_names": ["typical", "cp"]}, "manifest.csv", "not a class index"


# --- issue 14/15 additions: names, limits, overflow -------------------------------------------


def ntu_action_a000(raw: Path) -> Case:
    write_ntu(raw / "S001C001P001R001A000.skeleton", simple_ntu_frames(2))
    return {"kind": "ntu"}, "S001C001P001R001A000.skeleton", "fields 001 and up"


def ntu_float32_overflow(raw: Path) -> Case:
    lines = _ntu_lines()
    lines[10] = "1e39 " + lines[10].split(" ", 1)[1]
    return _ntu_from_lines(raw, lines, "overflows float32")


def ntu_long_garbage_line(raw: Path) -> Case:
    lines = _ntu_lines()
    lines[1] = "x" * 335_000  # a body-count line without breaks: the message is cut
    return _ntu_from_lines(raw, lines, "non-numeric body count")


def ntu_too_many_frames(raw: Path) -> Case:
    # a small file claiming 500,000 frames (16 000 s at 30 fps): refused before any frame is read
    lines = _ntu_lines()
    lines[0] = "500000"
    return _ntu_from_lines(raw, lines, "recording too long")


def ntu_manifest_fps_tiny(raw: Path) -> Case:
    write_ntu(raw / NTU_FILE, simple_ntu_frames(2))
    write_manifest(raw / "m.csv", [{"recording_id": NTU_FILE[:-9], "fps": 1e-6}], ("recording_id", "fps"))
    return {"kind": "ntu", "manifest": str(raw / "m.csv")}, NTU_FILE, "recording too long"


def kinetics_frame_index_fractional(raw: Path) -> Case:
    data = simple_kinetics_data(3)
    data[1]["frame_index"] = 2.5
    _kinetics(raw, data)
    return {"kind": "kinetics_json"}, "clip.json", "2.5 is not an integer"


def kinetics_frame_index_huge(raw: Path) -> Case:
    data = simple_kinetics_data(3)
    data[2]["frame_index"] = 1_000_000_000
    _kinetics(raw, data)
    return {"kind": "kinetics_json"}, "clip.json", "recording too long"


def kinetics_float32_overflow(raw: Path) -> Case:
    data = simple_kinetics_data(3)
    data[1]["skeleton"][0]["pose"][4] = 1e39
    _kinetics(raw, data)
    return {"kind": "kinetics_json"}, "clip.json", "overflows float32"


def kinetics_deep_nesting(raw: Path) -> Case:
    raw.mkdir(parents=True)
    (raw / "clip.json").write_text('{"data": ' + "[" * 200_000 + "]" * 200_000 + "}")
    return {"kind": "kinetics_json"}, "clip.json", "nested too deeply"


def kinetics_huge_integer(raw: Path) -> Case:
    raw.mkdir(parents=True)
    (raw / "clip.json").write_text('{"data": [], "label_index": ' + "9" * 5000 + "}")
    return {"kind": "kinetics_json"}, "clip.json", "exceeds a parser limit"


def csv_float32_overflow(raw: Path) -> Case:
    spec = _csv_dataset(raw)
    rows = simple_csv_rows(JOINTS, 4)
    rows[2][3] = 1e39
    (raw / "r1.csv").write_text(csv_text(JOINTS, rows))
    return spec, "r1.csv", "overflows float32"


def csv_time_too_long(raw: Path) -> Case:
    spec = _csv_dataset(raw)
    rows = simple_csv_rows(JOINTS, 4)
    rows[3][0] = 1e6
    (raw / "r1.csv").write_text(csv_text(JOINTS, rows))
    return spec, "r1.csv", "recording too long"


OP_ROWS = [
    {"recording_id": "r1", "label": "walk", "fps": 25, "split": "train"},
    {"recording_id": "r2", "label": "sit", "fps": 25, "split": "val"},
]


def _openpose_dataset(raw: Path, rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    for row in OP_ROWS if rows is None else rows:
        frames = [[openpose_person(body25_pose(f))] for f in range(4)]
        write_openpose_recording(raw / row["recording_id"], frames, video=row["recording_id"])
    write_manifest(
        raw / "manifest.csv", OP_ROWS if rows is None else rows, ("recording_id", "label", "fps", "split")
    )
    return {"kind": "openpose_json"}


def openpose_coco_file_for_body25(raw: Path) -> Case:
    spec = _openpose_dataset(raw)
    bad = {"version": 1.3, "people": [{"pose_keypoints_2d": [1.0] * 54}]}
    (raw / "r1" / "r1_000000000002_keypoints.json").write_text(json.dumps(bad))
    return spec, "r1_000000000002_keypoints.json", "openpose18 (COCO-18)"


def openpose_truncated_json(raw: Path) -> Case:
    spec = _openpose_dataset(raw)
    path = raw / "r2" / "r2_000000000001_keypoints.json"
    path.write_text(path.read_text()[:-30])
    return spec, "r2_000000000001_keypoints.json", "truncated or invalid JSON"


def openpose_no_people_list(raw: Path) -> Case:
    spec = _openpose_dataset(raw)
    (raw / "r1" / "r1_000000000000_keypoints.json").write_text('{"version": 1.3}')
    return spec, "r1_000000000000_keypoints.json", "no 'people' list"


def openpose_empty_recording(raw: Path) -> Case:
    spec = _openpose_dataset(raw)
    for p in (raw / "r2").iterdir():
        p.unlink()
    return spec, "r2", "zero frames"


def openpose_no_fps(raw: Path) -> Case:
    rows = [{k: v for k, v in r.items() if k != "fps"} for r in OP_ROWS]
    spec = _openpose_dataset(raw, rows)
    return spec, "manifest.csv", "no fps for recording"


def openpose_overflow(raw: Path) -> Case:
    spec = _openpose_dataset(raw)
    person = openpose_person(body25_pose(0))
    person["pose_keypoints_2d"][3] = 1e39
    (raw / "r1" / "r1_000000000000_keypoints.json").write_text(
        json.dumps({"version": 1.3, "people": [person]})
    )
    return spec, "r1_000000000000_keypoints.json", "overflows float32"


def openpose_not_in_manifest(raw: Path) -> Case:
    spec = _openpose_dataset(raw)
    write_openpose_recording(raw / "r3", [[openpose_person(body25_pose(0))]], video="r3")
    return spec, "r3", "not listed in the manifest"


CASES: dict[str, Callable[[Path], Case]] = {
    f.__name__: f
    for f in (
        ntu_truncated_block,
        ntu_truncated_mid_line,
        ntu_non_numeric,
        ntu_non_finite,
        ntu_wrong_joint_count,
        ntu_zero_frames,
        ntu_non_numeric_body_count,
        ntu_body_info,
        ntu_trailing_content,
        ntu_no_body,
        ntu_bad_name,
        ntu_empty_folder,
        ntu_manifest_duplicate,
        ntu_manifest_fps,
        ntu_ignore_list_missing,
        kinetics_truncated,
        kinetics_non_numeric,
        kinetics_joint_count,
        kinetics_zero_frames,
        kinetics_duplicate_frame,
        kinetics_no_person,
        kinetics_no_data,
        kinetics_no_label,
        csv_truncated,
        csv_extra_field,
        csv_non_numeric,
        csv_zero_frames,
        csv_keypoint_all_nan,
        csv_unknown_column,
        csv_missing_column,
        csv_time_not_increasing,
        csv_frame_without_fps,
        csv_not_text,
        csv_manifest_duplicate,
        csv_label_missing,
        csv_listed_without_file,
        csv_not_in_manifest,
        csv_manifest_columns,
        csv_manifest_missing,
        csv_empty_folder,
        csv_manifest_truncated,
        csv_bad_split,
        csv_split_cell_empty,
        csv_label_not_in_class_names,
        csv_label_out_of_range,
        ntu_action_a000,
        ntu_float32_overflow,
        ntu_long_garbage_line,
        ntu_too_many_frames,
        ntu_manifest_fps_tiny,
        kinetics_frame_index_fractional,
        kinetics_frame_index_huge,
        kinetics_float32_overflow,
        kinetics_deep_nesting,
        kinetics_huge_integer,
        csv_float32_overflow,
        csv_time_too_long,
        openpose_coco_file_for_body25,
        openpose_truncated_json,
        openpose_no_people_list,
        openpose_empty_recording,
        openpose_no_fps,
        openpose_overflow,
        openpose_not_in_manifest,
    )
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_input_is_rejected(tmp_path: Path, case: str) -> None:
    raw = tmp_path / "raw_data"
    overrides, named, keyword = CASES[case](raw)
    spec = make_spec(path=raw, **{"on_bad_recording": "error", "max_seconds": 1800.0, **overrides})
    out = tmp_path / "results" / "ds" / "sequences.h5"
    with pytest.raises(ReaderError) as info:
        ingest_dataset(spec, layout_param(spec), str(out))
    message = str(info.value)
    assert named in message
    assert keyword in message
    assert "\n" not in message
    assert len(message) < 800  # cut to a readable length
    assert isinstance(info.value, ValueError)
    assert not out.exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_good_versions_of_the_fixtures_ingest(tmp_path: Path) -> None:
    """The unbroken fixtures are accepted, so each case fails for its own defect only."""
    write_ntu(tmp_path / "ntu" / NTU_FILE, simple_ntu_frames(3))
    _kinetics(tmp_path / "kin", simple_kinetics_data(3))
    _csv_dataset(tmp_path / "csv")
    _openpose_dataset(tmp_path / "op")
    for kind, folder in (
        ("ntu", "ntu"),
        ("kinetics_json", "kin"),
        ("keypoints_csv", "csv"),
        ("openpose_json", "op"),
    ):
        spec = make_spec(kind, tmp_path / folder)
        out = tmp_path / f"{folder}.h5"
        ingest_dataset(spec, layout_param(spec), str(out))
        assert out.exists()
