"""Writers of tiny raw files (NTU ``.skeleton``, Kinetics JSON, key-point CSV) for reader tests.

The writers only format numbers given by the test, so a test can state the expected
arrays by hand from the same numbers. Values should be exactly representable (e.g.
multiples of 1/4) so that the text round trip is exact.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

NTU_JOINTS = 25


def ntu_joint_lines(xyz: np.ndarray) -> list[str]:
    """25 joint lines of 12 values: x y z, then 9 filler values (depth, colour, orientation, state)."""
    filler = "210.5 190.25 1000.5 500.75 0.5 0 0.5 0 2"
    return [f"{x!r} {y!r} {z!r} {filler}" for x, y, z in np.asarray(xyz, dtype=float).tolist()]


def ntu_text(frames: Sequence[Sequence[tuple[str, np.ndarray]]]) -> str:
    """Text of an NTU ``.skeleton`` file (CRLF) with the given bodies per frame.

    Parameters
    ----------
    frames
        Per frame, a list of (bodyID, xyz (joint, 3)) pairs.
    """
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body_id, xyz in bodies:
            lines.append(f"{body_id} 0 1 1 1 1 0 0.02764709 0.05745083 2")
            lines.append(str(len(xyz)))
            lines.extend(ntu_joint_lines(xyz))
    return "\r\n".join(lines) + "\r\n"


def write_ntu(path: Path, frames: Sequence[Sequence[tuple[str, np.ndarray]]]) -> Path:
    """Write :func:`ntu_text` to ``path`` (binary, to keep CRLF)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ntu_text(frames).encode("ascii"))
    return path


def simple_ntu_frames(
    num_frames: int = 3, body_id: str = "72057594037931101"
) -> list[list[tuple[str, np.ndarray]]]:
    """One body moving along x, joint j at (j/4, 1 + f/4, 3)."""
    out = []
    for f in range(num_frames):
        xyz = np.stack(
            [np.arange(NTU_JOINTS) / 4, np.full(NTU_JOINTS, 1 + f / 4), np.full(NTU_JOINTS, 3.0)], 1
        )
        out.append([(body_id, xyz)])
    return out


def kinetics_person(pose: Sequence[float], score: Sequence[float]) -> dict[str, Any]:
    """One ``skeleton`` entry."""
    return {"pose": list(pose), "score": list(score)}


def write_kinetics(
    path: Path, data: Sequence[Mapping[str, Any]], label: str = "x", label_index: int = 0
) -> Path:
    """Write a Kinetics-skeleton JSON file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"data": list(data), "label": label, "label_index": label_index}))
    return path


def simple_kinetics_data(num_frames: int = 3, num_joints: int = 18) -> list[dict[str, Any]]:
    """One person per frame, joint j at (j/32, f/32 + 1/4), score 1/2."""
    data = []
    for f in range(num_frames):
        pose = [v for j in range(num_joints) for v in (j / 32, f / 32 + 0.25)]
        data.append({"frame_index": f + 1, "skeleton": [kinetics_person(pose, [0.5] * num_joints)]})
    return data


def csv_text(joints: Sequence[str], rows: Sequence[Sequence[Any]], time_column: str = "time") -> str:
    """A key-point CSV: header ``time, <j>_x, <j>_y, ...`` and the given rows (None -> empty)."""
    header = [time_column] + [f"{j}_{a}" for j in joints for a in ("x", "y")]
    lines = [",".join(header)]
    lines += [",".join("" if v is None else str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def simple_csv_rows(joints: Sequence[str], num_frames: int = 4, fps: float = 25.0) -> list[list[float]]:
    """Rows of :func:`csv_text`: joint j at (j + f/4, 2j - f/4)."""
    return [
        [f / fps] + [v for j in range(len(joints)) for v in (j + f / 4, 2 * j - f / 4)]
        for f in range(num_frames)
    ]


def write_csv_dataset(
    folder: Path,
    joints: Sequence[str],
    manifest_rows: Sequence[Mapping[str, Any]],
    num_frames: int = 4,
    columns: Sequence[str] = ("recording_id", "label", "group", "fps", "split"),
) -> Path:
    """Write one simple CSV per manifest row and the manifest; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for row in manifest_rows:
        text = csv_text(joints, simple_csv_rows(joints, num_frames))
        (folder / f"{row['recording_id']}.csv").write_text(text)
    write_manifest(folder / "manifest.csv", manifest_rows, columns)
    return folder


def write_manifest(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Path:
    """Write a manifest CSV with the given columns (missing keys -> empty cells)."""
    lines = [",".join(columns)]
    lines += [",".join("" if r.get(c) is None else str(r[c]) for c in columns) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def openpose_person(xy: np.ndarray, conf: np.ndarray | float = 0.9, person_id: int = -1) -> dict[str, Any]:
    """One ``people`` entry as OpenPose writes it: x, y, c per joint; undetected (c = 0) as 0, 0, 0."""
    xy = np.asarray(xy, dtype=float)
    c = np.broadcast_to(np.asarray(conf, dtype=float), (xy.shape[0],))
    values = np.concatenate([np.where(c[:, None] > 0, xy, 0.0), c[:, None]], axis=1).ravel()
    return {
        "person_id": [person_id],
        "pose_keypoints_2d": [round(v, 6) for v in values.tolist()],
        "face_keypoints_2d": [],
        "hand_left_keypoints_2d": [],
        "hand_right_keypoints_2d": [],
        "pose_keypoints_3d": [],
        "face_keypoints_3d": [],
        "hand_left_keypoints_3d": [],
        "hand_right_keypoints_3d": [],
    }


def write_openpose_recording(
    folder: Path, frames: Sequence[Sequence[Mapping[str, Any]]], video: str = "video", first: int = 0
) -> Path:
    """One OpenPose ``--write_json`` folder: ``<video>_<12-digit frame>_keypoints.json`` per frame.

    The layout of each file follows OpenPose ``doc/02_output.md`` ("JSON Output Format",
    version 1.3): ``{"version": 1.3, "people": [...]}``, written compactly as OpenPose does.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for f, people in enumerate(frames):
        content = {"version": 1.3, "people": list(people)}
        (folder / f"{video}_{first + f:012d}_keypoints.json").write_text(
            json.dumps(content, separators=(",", ":"))
        )
    return folder


def body25_pose(f: int, shift: float = 0.0) -> np.ndarray:
    """A BODY_25 person in pixels: joint j at (100 + 10 j + shift + 2 f, 50 + 15 j), neck above hips."""
    j = np.arange(25, dtype=float)
    return np.stack([100 + 10 * j + shift + 2 * f, 50 + 15 * j], axis=1)


def make_spec(kind: str, path: Path, name: str = "ds", **overrides: Any) -> dict[str, Any]:
    """A dataset spec as the workflow passes it: schema defaults, then ``resolve_dataset``."""
    from harxai.config import resolve_dataset

    entry: dict[str, Any] = {
        "kind": kind,
        "path": str(path),
        "layout": None,
        "split": None,
        "val_fraction": 0.3,
        "classes": None,
        "class_names": None,
        "fps": None,
        "manifest": None,
        "ignore_list": None,
        "max_persons": 2,
        "segment": None,
    }
    entry.update(overrides)
    return resolve_dataset(name, entry)


def layout_param(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The ``layout`` param of rule ingest_dataset for a built-in layout."""
    return {"name": spec["layout"], "user": None}
