"""Key-point CSV reader and manifest reader: hand-written tables with hand-computed arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harxai.io.readers import ReaderError, read_keypoints_csv, read_manifest
from harxai.skeletons import IN_MOTION_2022


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_gaps_interpolated_over_time(tmp_path: Path) -> None:
    text = "time,a_x,a_y,b_x,b_y\n0.0,1,,0,4\n1.0,,5,NaN,4\n2.0,3,7,,4\n4.0,5,9,10,4\n"
    rec = read_keypoints_csv(_write(tmp_path / "rec1.csv", text), ["a", "b"])
    expected = np.array(
        [
            # a_x, a_y, b_x, b_y
            [1.0, 5.0, 0.0, 4.0],  # a_y leading gap: nearest value
            [2.0, 5.0, 2.5, 4.0],  # a_x and b_x interpolated at t = 1
            [3.0, 7.0, 5.0, 4.0],  # b_x interpolated at t = 2 between t = 0 and t = 4
            [5.0, 9.0, 10.0, 4.0],
        ]
    )
    want = expected.reshape(4, 2, 2).transpose(0, 2, 1)[..., None]  # (frame, channel, joint, person)
    np.testing.assert_allclose(rec.coords, want, rtol=0, atol=1e-12)
    assert rec.coords.shape == (4, 2, 2, 1)
    assert rec.interpolated == 4
    np.testing.assert_array_equal(rec.timestamps, [0.0, 1.0, 2.0, 4.0])
    assert rec.fps == 1.0  # 1 / median time step
    assert rec.recording_id == "rec1"


def test_frame_column_with_fps_any_column_order_and_scores(tmp_path: Path) -> None:
    text = "b_y, b_x ,frame,a_score,a_y,a_x\n4,3,10,0.9,2,1\n8,7,11,,6,5\n12,11,13,0.5,10,9\n"
    rec = read_keypoints_csv(_write(tmp_path / "r.csv", text), ["a", "b"], fps=10.0)
    np.testing.assert_allclose(rec.timestamps, [0.0, 0.1, 0.3])
    np.testing.assert_array_equal(rec.coords[:, 0, :, 0], [[1, 3], [5, 7], [9, 11]])  # x of a, b
    np.testing.assert_array_equal(rec.coords[:, 1, :, 0], [[2, 4], [6, 8], [10, 12]])  # y of a, b
    assert rec.interpolated == 0  # an empty score cell is not a coordinate
    assert rec.fps == 10.0


def test_time_origin_is_removed_and_given_fps_kept(tmp_path: Path) -> None:
    text = "time,a_x,a_y\n5.0,1,1\n5.5,2,2\n"
    rec = read_keypoints_csv(_write(tmp_path / "r.csv", text), ["a"], fps=25.0)
    np.testing.assert_allclose(rec.timestamps, [0.0, 0.5])
    assert rec.fps == 25.0


def test_full_infant_layout(tmp_path: Path) -> None:
    joints = IN_MOTION_2022.joints
    rng = np.random.default_rng(0)
    values = np.round(rng.normal(size=(5, len(joints), 2)) * 64) / 64
    header = "time," + ",".join(f"{j}_{a}" for j in joints for a in "xy")
    rows = [f"{t / 30}," + ",".join(repr(v) for v in values[t].ravel().tolist()) for t in range(5)]
    rec = read_keypoints_csv(_write(tmp_path / "inf.csv", "\n".join([header, *rows])), joints)
    np.testing.assert_array_equal(rec.coords[..., 0], values.transpose(0, 2, 1))
    assert rec.fps == pytest.approx(30.0)


def test_frame_column_needs_fps(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "frame,a_x,a_y\n0,1,1\n1,2,2\n")
    with pytest.raises(ReaderError, match="fps"):
        read_keypoints_csv(path, ["a"])


def test_manifest_rows(tmp_path: Path) -> None:
    text = "recording_id,label,group,site,fps,split,notes\nr1,cp,s1,oslo,25,train,x\nr2,typical,,,,val,\n"
    manifest = read_manifest(_write(tmp_path / "manifest.csv", text), required=("recording_id", "label"))
    assert list(manifest.rows) == ["r1", "r2"]
    r1, r2 = manifest.rows["r1"], manifest.rows["r2"]
    assert (r1.label, r1.group, r1.site, r1.fps, r1.split, r1.line) == ("cp", "s1", "oslo", 25.0, "train", 2)
    assert (r2.label, r2.group, r2.site, r2.fps, r2.split, r2.line) == ("typical", None, None, None, "val", 3)
    assert manifest.has("split")
    assert not manifest.has("subject")


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufefftime,a_x,a_y\n0,1,2\n".encode())
    rec = read_keypoints_csv(path, ["a"], fps=30.0)
    np.testing.assert_array_equal(rec.coords[0, :, 0, 0], [1.0, 2.0])
