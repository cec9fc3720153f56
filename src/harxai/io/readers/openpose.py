"""Reader of OpenPose ``--write_json`` output: one folder per recording, one JSON file per frame.

Format (OpenPose ``doc/02_output.md``, section "JSON Output Format")::

    <recording_id>/
        <video>_000000000000_keypoints.json
        <video>_000000000001_keypoints.json
        ...

    {"version": 1.3,
     "people": [{"person_id": [-1],
                 "pose_keypoints_2d": [x0, y0, c0, x1, y1, c1, ...],
                 "face_keypoints_2d": [], ...}, ...]}

``pose_keypoints_2d`` holds ``3 * joints`` numbers: 75 for BODY_25 (layout ``openpose25``,
the default), 54 for COCO-18 (layout ``openpose18``). A key point OpenPose did not detect
is written ``0, 0, 0``; a key point is detected when its confidence ``c`` is positive, and
``c`` becomes its confidence. Other arrays (face, hands, 3-D) are ignored.

Frames: the frame number is the 12-digit number before ``_keypoints.json`` (OpenPose's
naming for videos and webcams); when some file lacks it (``--image_dir`` output named
after the images), frames are numbered by the sorted file names. Time stamps are
``(frame - first frame) / fps`` with ``fps`` from the manifest or ``datasets.<name>.fps``.
Frames without any kept person are dropped (the gap stays in the time stamps).

Persons are tracked across frames by this rule: when every person of every frame has a
``person_id`` >= 0 (OpenPose run with ``--tracking``), that id is the track. Otherwise
each frame's people are matched to the open tracks by
:func:`scipy.optimize.linear_sum_assignment` on the cost "mean distance between the key
points detected in both, divided by the track's last bounding-box diagonal"; a pair
costing more than :data:`TRACK_MAX_COST` (0.5), or sharing no detected key point, is not
matched, and an unmatched person opens a new track. The tracks with the largest summed
confidence over the recording are kept (``max_persons``; person 0 the largest). Within a
track, an undetected key point is interpolated over time from the frames where the track
holds it detected (nearest value at the ends; 0 if never detected) and keeps confidence 0.
"""

from __future__ import annotations

import itertools
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from .common import Recording, check_span, fill_gaps, first_overflow, read_text
from .errors import ReaderError
from .kinetics import load_json

log = logging.getLogger(__name__)

KEYPOINTS_SUFFIX = "_keypoints.json"
FRAME_NUMBER = re.compile(r"_(\d+)_keypoints\.json$", re.IGNORECASE)
TRACK_MAX_COST = 0.5
"""Largest mean key-point distance, in bounding-box diagonals, of a frame-to-frame match."""
LAYOUT_OF_SIZE = {75: "openpose25 (BODY_25)", 54: "openpose18 (COCO-18)", 45: "MPI-15"}


def frame_files(folder: Path) -> list[tuple[int, Path]]:
    """(frame number, file) of every ``*_keypoints.json`` file of a recording folder, in order."""
    if not folder.is_dir():
        raise ReaderError(folder, "recording folder not found")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(KEYPOINTS_SUFFIX))
    if not files:
        raise ReaderError(folder, f"zero frames: no *{KEYPOINTS_SUFFIX} files in the recording folder")
    matches = [FRAME_NUMBER.search(p.name) for p in files]
    if all(matches):
        numbered = sorted((int(m.group(1)), p) for m, p in zip(matches, files, strict=True) if m)
        for (a, pa), (b, _) in itertools.pairwise(numbered):
            if a == b:
                raise ReaderError(pa, f"duplicate frame number {a} in {folder}")
        return numbered
    log.info("%s: file names without frame numbers; frames numbered by sorted name", folder)
    return list(enumerate(files))


def _people(path: Path, num_joints: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(person_id, pose (joint, 2), confidence (joint,)) of every person of one frame file."""
    content: Any = load_json(path, read_text(path))
    if not isinstance(content, dict) or not isinstance(content.get("people"), list):
        raise ReaderError(path, "not an OpenPose keypoints file: no 'people' list at the top level")
    out = []
    for k, person in enumerate(content["people"]):
        if not isinstance(person, dict) or not isinstance(person.get("pose_keypoints_2d"), list):
            raise ReaderError(path, f"person {k} has no 'pose_keypoints_2d' list")
        values = person["pose_keypoints_2d"]
        if not values:
            continue  # OpenPose writes [] when the body model is disabled
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ReaderError(path, f"person {k}: non-numeric value {v!r} in 'pose_keypoints_2d'")
        try:
            arr = np.asarray(values, dtype=np.float64)
        except OverflowError:
            raise ReaderError(path, f"person {k}: value overflows float32") from None
        if not np.isfinite(arr).all():
            raise ReaderError(path, f"person {k}: non-finite value in 'pose_keypoints_2d'")
        over = first_overflow(arr)
        if over is not None:
            raise ReaderError(path, f"person {k}: value {arr[over]:g} overflows float32")
        if arr.size != 3 * num_joints:
            found = LAYOUT_OF_SIZE.get(arr.size, f"{arr.size // 3} joints")
            raise ReaderError(
                path,
                f"wrong joint count: person {k} has {arr.size} values ({found}), expected "
                f"{3 * num_joints} for the layout's {num_joints} joints (x, y, c per joint)",
            )
        arr = arr.reshape(num_joints, 3)
        pid = person.get("person_id", [-1])
        pid = pid[0] if isinstance(pid, list) and pid else pid
        ident = int(pid) if isinstance(pid, (int, float)) and not isinstance(pid, bool) else -1
        conf = np.clip(arr[:, 2], 0.0, 1.0)
        if (conf > 0).any():
            out.append((ident, arr[:, :2], conf))
    return out


def _match_cost(pose: np.ndarray, conf: np.ndarray, last: np.ndarray, last_conf: np.ndarray) -> float:
    common = (conf > 0) & (last_conf > 0)
    if not common.any():
        return np.inf
    box = last[last_conf > 0]
    diagonal = float(np.linalg.norm(box.max(axis=0) - box.min(axis=0))) or 1.0
    return float(np.linalg.norm(pose[common] - last[common], axis=1).mean() / diagonal)


def track_people(frames: list[list[tuple[int, np.ndarray, np.ndarray]]]) -> list[dict[int, int]]:
    """Per track, {frame position: person index in that frame} (rule in the module docstring)."""
    every = [p for people in frames for p in people]
    if every and all(p[0] >= 0 for p in every):
        ids = sorted({p[0] for p in every})
        return [
            {t: i for t, people in enumerate(frames) for i, p in enumerate(people) if p[0] == ident}
            for ident in ids
        ]
    tracks: list[dict[int, int]] = []
    last: list[tuple[np.ndarray, np.ndarray]] = []
    for t, people in enumerate(frames):
        matched: set[int] = set()
        if people and tracks:
            cost = np.array([[_match_cost(p[1], p[2], *last[k]) for k in range(len(tracks))] for p in people])
            finite = np.where(np.isfinite(cost), cost, 1e9)
            for i, k in zip(*linear_sum_assignment(finite), strict=True):
                if cost[i, k] <= TRACK_MAX_COST:
                    tracks[k][t] = int(i)
                    last[k] = (people[i][1], people[i][2])
                    matched.add(int(i))
        for i, p in enumerate(people):
            if i not in matched:
                tracks.append({t: i})
                last.append((p[1], p[2]))
    return tracks


def read_openpose_folder(
    folder: str | Path,
    *,
    fps: float,
    max_persons: int = 2,
    num_joints: int = 25,
    max_seconds: float | None = None,
) -> Recording:
    """Read one recording folder of OpenPose JSON files as a :class:`Recording`.

    Parameters
    ----------
    folder
        The recording folder (its name is the recording id).
    fps
        Frame rate of the frame numbers.
    max_persons
        Tracks kept (largest summed confidence first).
    num_joints
        Joints of the layout (25 for BODY_25, 18 for COCO-18).
    max_seconds
        Longest time span accepted; checked from the file names before any file is parsed.

    Returns
    -------
    Recording
        ``coords`` (frame, channel=2, joint, person) float64 image ``x, y`` as written by
        OpenPose; ``confidence`` the key points' ``c``.

    Raises
    ------
    ReaderError
        Naming the file: invalid JSON, non-numeric or non-finite value, wrong joint count,
        no frames, no person in any frame, span above ``max_seconds``.
    """
    folder = Path(folder)
    numbered = frame_files(folder)
    first, last = numbered[0][0], numbered[-1][0]
    check_span(folder, (last - first) / float(fps), max_seconds, f"frames {first} to {last} at {fps:g} fps")
    people = [_people(path, num_joints) for _, path in numbered]
    tracks = track_people(people)
    if not tracks:
        raise ReaderError(folder, f"no person detected in any of the {len(numbered)} frame files")
    score = [sum(float(people[t][i][2].sum()) for t, i in tr.items()) for tr in tracks]
    order = sorted(range(len(tracks)), key=lambda k: (-score[k], min(tracks[k]), k))[:max_persons]
    kept = [tracks[k] for k in order]
    rows = sorted({t for tr in kept for t in tr})
    position = {t: r for r, t in enumerate(rows)}
    coords = np.full((len(rows), 2, num_joints, max_persons), np.nan)
    confidence = np.zeros((len(rows), num_joints, max_persons), dtype=np.float32)
    times = np.array([numbered[t][0] - numbered[rows[0]][0] for t in rows], dtype=np.float64) / float(fps)
    interpolated = 0
    for m, tr in enumerate(kept):
        frames = sorted(tr)
        r = np.array([position[t] for t in frames])
        pose = np.stack([people[t][tr[t]][1] for t in frames])  # (frame, joint, 2)
        conf = np.stack([people[t][tr[t]][2] for t in frames])
        track = np.where(conf[:, :, None] > 0, pose, np.nan).transpose(0, 2, 1)
        filled, count, empty = fill_gaps(track, times[r])
        filled[:, empty] = 0.0
        interpolated += count
        coords[r, :, :, m] = filled
        confidence[r, :, m] = conf
    coords = np.nan_to_num(coords, nan=0.0)
    if len(kept) < len(tracks):
        log.debug("%s: kept %d of %d tracks", folder, len(kept), len(tracks))
    return Recording(
        recording_id=folder.name,
        path=folder,
        coords=coords,
        timestamps=times,
        fps=float(fps),
        interpolated=interpolated,
        confidence=confidence,
    )
