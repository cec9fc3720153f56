"""Reader of ST-GCN Kinetics-skeleton JSON files (OpenPose COCO-18, 2-D).

Format (Yan et al., AAAI 2018; yysijie/st-gcn ``feeder/feeder_kinetics.py``)::

    {"data": [{"frame_index": 1,
               "skeleton": [{"pose": [x0, y0, x1, y1, ... 36 values],
                             "score": [s0, ... 18 values]}, ...]},
              ...],
     "label": "flipping pancake", "label_index": 129}

Coordinates are kept as stored (normalised image coordinates, y pointing down); a key
point OpenPose did not detect is stored as ``x = y = 0``.

People per frame: ST-GCN sorts the people of each frame by their summed ``score`` and
keeps the first ``max_persons``; this reader does the same, breaking ties by the number of
non-zero coordinates, then by the order in the file. This keeps a sensible order for
exports whose scores are all 0 (e.g. tf-pose output converted to this format), which
ST-GCN would rank arbitrarily and blank out. Slots are per-frame ranks: people are not
tracked across frames (as in ST-GCN).

Deviations from the ST-GCN feeder, so that the sequence suits resampling over time:

* frames are ordered by ``frame_index``; time stamps are ``(frame_index - first) / fps``,
  so gaps in ``frame_index`` become gaps in time;
* frames with no person at all are dropped (the time stamps keep the gap; the resampler
  interpolates across it) instead of being zero frames;
* within a person slot, an undetected key point (``x = y = 0``) is linearly interpolated
  over time from the frames where that slot holds a person with the key point detected
  (nearest value at the ends; counted as interpolated); a key point never detected in a
  slot stays 0, and a slot with no person in a frame is 0 (absent person);
* coordinates are not centred or flipped (the ``preprocess`` stage normalises).

Confidence: a key point is detected when its coordinates are not both 0 and its score is
positive; its confidence is its score. Exports without scores (every score 0, e.g. the
tf-pose conversions of NTU videos) give every key point with coordinates confidence 1.
Undetected key points get confidence 0 (their interpolated coordinates are not observations).

Limits: ``frame_index`` must be an integer (``5.0`` is accepted as 5); a time span above
``max_seconds`` is refused before anything is allocated; nesting too deep for the JSON parser,
integers too long to convert and values that overflow float32 are refused naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .common import Recording, check_span, fill_gaps, first_overflow, read_text
from .errors import ReaderError


def _numbers(path: Path, values: Any, key: str, frame: int) -> np.ndarray:
    if not isinstance(values, list):
        raise ReaderError(path, f"{key!r} is not a list", frame=frame)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ReaderError(path, f"non-numeric value {v!r} in {key!r}", frame=frame)
    try:
        out = np.asarray(values, dtype=np.float64)
    except OverflowError:
        raise ReaderError(path, f"value in {key!r} overflows float32", frame=frame) from None
    if not np.isfinite(out).all():
        raise ReaderError(path, f"non-finite value in {key!r}", frame=frame)
    over = first_overflow(out)
    if over is not None:
        raise ReaderError(path, f"value {out[over]:g} in {key!r} overflows float32", frame=frame)
    return out


def load_json(path: Path, text: str) -> Any:
    """``json.loads`` with every parser failure turned into a :class:`ReaderError` naming the file."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReaderError(
            path, f"truncated or invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno
        ) from None
    except RecursionError:
        raise ReaderError(path, "JSON nested too deeply for the parser (recursion limit)") from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise ReaderError(path, f"JSON value exceeds a parser limit: {exc}") from None
    except MemoryError:
        raise ReaderError(path, "out of memory while parsing the JSON file") from None


def frame_number(path: Path, value: Any, what: str) -> int:
    """An integer frame number: an int, or a float with an integral value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReaderError(path, f"{what}: non-numeric or missing 'frame_index' {value!r}")
    if isinstance(value, float):
        if not (np.isfinite(value) and value == int(value)):
            raise ReaderError(path, f"{what}: 'frame_index' {value!r} is not an integer")
        return int(value)
    return value


def _load(path: Path) -> dict[str, Any]:
    text = read_text(path)
    if not text.strip():
        raise ReaderError(path, "truncated file: empty JSON file (zero frames)")
    content = load_json(path, text)
    if not isinstance(content, dict) or not isinstance(content.get("data"), list):
        raise ReaderError(path, "not a Kinetics-skeleton file: no 'data' list at the top level")
    return content


def _frame_people(
    path: Path, entry: Any, num_joints: int, position: int
) -> tuple[int, list[tuple[np.ndarray, np.ndarray]]]:
    """(frame_index, [(pose (joint, 2), score (joint,)), ...]) of one ``data`` entry."""
    if not isinstance(entry, dict):
        raise ReaderError(path, f"data entry {position} is not an object")
    index = frame_number(path, entry.get("frame_index"), f"data entry {position}")
    people = entry.get("skeleton", [])
    if not isinstance(people, list):
        raise ReaderError(path, "'skeleton' is not a list", frame=index)
    out = []
    for person in people:
        if not isinstance(person, dict) or "pose" not in person:
            raise ReaderError(path, "person without 'pose'", frame=index)
        pose = _numbers(path, person["pose"], "pose", index)
        score = _numbers(path, person.get("score", [0.0] * num_joints), "score", index)
        if pose.size != 2 * num_joints or score.size != num_joints:
            raise ReaderError(
                path,
                f"wrong joint count: pose has {pose.size} values and score {score.size}, "
                f"expected {2 * num_joints} and {num_joints} ({num_joints} joints)",
                frame=index,
            )
        out.append((pose.reshape(num_joints, 2), score))
    return index, out


def rank_people(people: list[tuple[np.ndarray, np.ndarray]]) -> list[int]:
    """Indices of the people of one frame, best first (see module docstring).

    Parameters
    ----------
    people
        Per person, pose (joint, 2) and score (joint,).
    """
    keys = [(-float(score.sum()), -int(np.count_nonzero(pose)), i) for i, (pose, score) in enumerate(people)]
    return [k[2] for k in sorted(keys)]


def _fill_slots(coords: np.ndarray, occupied: np.ndarray, times: np.ndarray) -> int:
    """Interpolate undetected key points (NaN) per slot in place; return the count filled."""
    count = 0
    for m in range(coords.shape[3]):
        rows = np.flatnonzero(occupied[:, m])
        if rows.size == 0:
            continue
        filled, n, empty = fill_gaps(coords[rows, :, :, m], times[rows])
        filled[:, empty] = 0.0
        coords[rows, :, :, m] = filled
        count += n
    return count


def read_kinetics_json(
    path: str | Path,
    *,
    max_persons: int = 2,
    fps: float = 30.0,
    num_joints: int = 18,
    max_seconds: float | None = None,
) -> Recording:
    """Read one Kinetics-skeleton JSON file as a :class:`Recording`.

    Parameters
    ----------
    path
        The ``.json`` file.
    max_persons
        People kept per frame (highest summed score first; see module docstring).
    fps
        Frame rate of ``frame_index``.
    num_joints
        Joints per person expected by the layout (18 for OpenPose COCO-18).
    max_seconds
        Longest time span accepted (None: no limit).

    Returns
    -------
    Recording
        ``coords`` (frame, channel=2, joint, person=max_persons) float64 image ``x, y``;
        ``label`` the file's ``label_index`` and ``label_name`` its ``label`` (None if absent).

    Raises
    ------
    ReaderError
        Truncated or invalid JSON, non-numeric value, wrong joint count, zero frames,
        duplicate ``frame_index``, no person in any frame.
    """
    path = Path(path)
    content = _load(path)
    frames = [_frame_people(path, e, num_joints, i) for i, e in enumerate(content["data"])]
    if not frames:
        raise ReaderError(path, "zero frames: 'data' is empty")
    indices = np.array([f[0] for f in frames])
    order = np.argsort(indices, kind="stable")
    dup = indices[order][1:][np.diff(indices[order]) == 0]
    if dup.size:
        raise ReaderError(path, "duplicate frame_index", frame=int(dup[0]))
    frames = [frames[i] for i in order if frames[i][1]]
    if not frames:
        raise ReaderError(path, f"no person in any of the {len(indices)} frames")
    check_span(
        path,
        (frames[-1][0] - frames[0][0]) / float(fps),
        max_seconds,
        f"frame_index {frames[0][0]} to {frames[-1][0]} at {fps:g} fps",
    )
    scored = any(float(score.max(initial=0.0)) > 0 for _, people in frames for _, score in people)
    coords = np.zeros((len(frames), 2, num_joints, max_persons))
    confidence = np.zeros((len(frames), num_joints, max_persons), dtype=np.float32)
    occupied = np.zeros((len(frames), max_persons), dtype=bool)
    for t, (_, people) in enumerate(frames):
        for m, i in enumerate(rank_people(people)[:max_persons]):
            pose, score = people[i]
            detected = ~(pose == 0).all(axis=1)
            if scored:
                detected &= score > 0
            coords[t, :, :, m] = np.where(detected[:, None], pose, np.nan).T
            confidence[t, :, m] = np.where(detected, np.clip(score, 0.0, 1.0) if scored else 1.0, 0.0)
            occupied[t, m] = True
    times = (np.array([f[0] for f in frames], dtype=np.float64) - frames[0][0]) / float(fps)
    interpolated = _fill_slots(coords, occupied, times)
    label = content.get("label_index")
    name = content.get("label")
    return Recording(
        recording_id=path.stem,
        path=path,
        coords=coords,
        timestamps=times,
        fps=float(fps),
        interpolated=interpolated,
        label=label if isinstance(label, int) and not isinstance(label, bool) else None,
        label_name=name if isinstance(name, str) else None,
        confidence=confidence,
    )
