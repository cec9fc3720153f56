"""Reader of key-point tables: one CSV per recording, one row per frame (2-D, one person).

Format (``kind: keypoints_csv``; also what ``synthetic_infant`` writes)
----------------------------------------------------------------------
A dataset is a folder holding one ``<recording_id>.csv`` per recording and a manifest
(``<folder>/manifest.csv`` unless the dataset's ``manifest`` names another file).

Recording file ``<recording_id>.csv``:

* UTF-8 text (a byte-order mark is accepted), comma separated, no quoting, no index
  column; a header line, then one line per frame (blank lines are skipped). One person:
  the recording becomes one sample with ``person = 1``.
* A time column: ``time`` (seconds, strictly increasing, any origin) or ``frame``
  (integer frame number, strictly increasing, gaps allowed; then
  ``time = (frame - first frame) / fps``). When both are present ``time`` is used.
* For every key point ``<name>`` of the dataset's layout (default ``in-motion-2022``:
  ``head_top, nose, right_ear, ..., left_big_toe``) the columns ``<name>_x`` and
  ``<name>_y`` (required) and ``<name>_score`` (optional; checked to be numeric, otherwise
  unused). Column order is free. Any other column is an error (unknown key point column).
* Coordinates are kept as written (pixels or normalised image coordinates; the
  ``preprocess`` stage centres, rotates and scales them).
* Empty cells and ``NaN`` mark missing detections, and so does a ``<name>_score`` of 0.
  A key point with a missing x or y gets confidence 0; missing values are filled by linear interpolation over time; a gap at the
  start or end takes the nearest valid value. Every filled value is counted
  (``interpolated`` in sequences.h5) and logged. A key point missing in every frame is an
  error.
* A UTF-8 byte-order mark is dropped; values beyond float32 and a time span above
  ``preprocess.max_seconds`` are refused (file and line named).

Manifest CSV (header line, comma separated):

* ``recording_id`` (the CSV file stem) and ``label`` are required; ``group`` (subject),
  ``site``, ``fps`` and ``split`` are optional; other columns are ignored.
* One row per recording: every CSV must be listed, every row must have its CSV, ids are
  unique, and every row needs a label.
* ``label``: either integer class indices (0-based; class ``k`` is named
  ``class_names[k]`` or ``label_<k>``) or class names (strings, mapped to indices through
  the dataset's ``class_names`` when given, else in sorted order). Two classes make a
  binary task.
* ``fps``: the recording's source frame rate (default the dataset's ``fps``; required
  for a recording with only a ``frame`` column; with ``time`` and no fps it is estimated
  as 1 / median time step).
* ``split``: ``train`` or ``val``, used with ``split: manifest`` (the default when the
  column exists). With ``split: random`` a fraction ``val_fraction`` of the groups
  (recordings without a group are their own group) goes to validation, drawn per label
  with a fixed seed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .common import Recording, check_span, fill_gaps, first_overflow, read_text
from .errors import ReaderError

TIME_COLUMNS = ("time", "frame")
KEYPOINT_SUFFIXES = ("_x", "_y", "_score")


def _check_columns(path: Path, columns: list[str], joints: Sequence[str], line: int) -> str:
    """Validate the header; return the time column used (``time`` or ``frame``)."""
    known = set(joints)
    seen: set[str] = set()
    for col in columns:
        if col in seen:
            raise ReaderError(path, f"duplicate column {col!r}", line=line)
        seen.add(col)
        if col in TIME_COLUMNS:
            continue
        base, sep, suffix = col.rpartition("_")
        if not sep or f"_{suffix}" not in KEYPOINT_SUFFIXES or base not in known:
            raise ReaderError(
                path,
                f"unknown key point column {col!r} (expected time or frame and "
                f"<key point>_x/_y/_score for the {len(joints)} layout key points)",
                line=line,
            )
    for name in joints:
        for axis in ("x", "y"):
            if f"{name}_{axis}" not in seen:
                raise ReaderError(path, f"missing column '{name}_{axis}' of key point {name!r}", line=line)
    time_cols = [c for c in TIME_COLUMNS if c in seen]
    if not time_cols:
        raise ReaderError(path, "no time column: need 'time' (seconds) or 'frame'", line=line)
    return time_cols[0]


def _check_field_counts(path: Path, rows: list[tuple[int, str]], num_fields: int) -> None:
    counts = np.fromiter((text.count(",") + 1 for _, text in rows), dtype=np.int64, count=len(rows))
    bad = np.flatnonzero(counts != num_fields)
    if bad.size:
        i = int(bad[0])
        problem = f"{counts[i]} fields, expected {num_fields}"
        if i == len(rows) - 1 and counts[i] < num_fields:
            problem = f"truncated file: last line has {problem}"
        raise ReaderError(path, problem, line=rows[i][0])


def _numeric_table(path: Path, text: str, rows: list[tuple[int, str]]) -> dict[str, np.ndarray]:
    """Parse the table: column name -> float64 (frame,) values (NaN for empty cells), else raise."""
    table = pd.read_csv(io.StringIO(text), skipinitialspace=True, low_memory=False)
    columns = [str(c).strip() for c in table.columns]
    arrays: dict[str, np.ndarray] = {}
    for col, (_, values) in zip(columns, table.items(), strict=True):
        if values.dtype == bool:
            raise ReaderError(
                path, f"non-numeric value {values.iloc[0]!r} in column {col!r}", line=rows[0][0]
            )
        if not pd.api.types.is_numeric_dtype(values.dtype):
            coerced = pd.to_numeric(values, errors="coerce")
            bad = np.flatnonzero(coerced.isna().to_numpy() & values.notna().to_numpy())
            if bad.size:
                r = int(bad[0])
                raise ReaderError(
                    path, f"non-numeric value {values.iloc[r]!r} in column {col!r}", line=rows[r][0]
                )
            values = coerced
        arrays[col] = values.to_numpy(dtype=np.float64, na_value=np.nan)
    table_values = np.stack(list(arrays.values()), axis=1)
    infinite = np.isinf(table_values)
    if infinite.any():
        r, c = np.argwhere(infinite)[0]
        raise ReaderError(path, f"non-finite value in column {columns[c]!r}", line=rows[int(r)][0])
    over = first_overflow(np.nan_to_num(table_values))
    if over is not None:
        row, col_index = (int(k) for k in np.unravel_index(over, table_values.shape))
        raise ReaderError(
            path,
            f"value {table_values[row, col_index]:g} in column {columns[col_index]!r} overflows float32",
            line=rows[row][0],
        )
    return arrays


def _timestamps(
    path: Path, values: np.ndarray, column: str, fps: float | None, rows: list[tuple[int, str]]
) -> tuple[np.ndarray, float]:
    """Seconds from the first frame, and the source frame rate."""
    missing = np.flatnonzero(np.isnan(values))
    if missing.size:
        raise ReaderError(path, f"missing {column} value", line=rows[int(missing[0])][0])
    steps = np.diff(values)
    bad = np.flatnonzero(steps <= 0)
    if bad.size:
        raise ReaderError(path, f"{column} is not strictly increasing", line=rows[int(bad[0]) + 1][0])
    if column == "frame":
        fractional = np.flatnonzero(values != np.round(values))
        if fractional.size:
            raise ReaderError(path, "frame is not an integer", line=rows[int(fractional[0])][0])
        if fps is None:
            raise ReaderError(
                path, "only a 'frame' column and no fps: give fps in the manifest or the dataset config"
            )
        return (values - values[0]) / fps, fps
    if fps is None:
        fps = 1.0 / float(np.median(steps)) if steps.size else 1.0
    return values - values[0], fps


def read_keypoints_csv(
    path: str | Path, joints: Sequence[str], *, fps: float | None = None, max_seconds: float | None = None
) -> Recording:
    """Read one key-point CSV (format in the module docstring) as a :class:`Recording`.

    Parameters
    ----------
    path
        The ``<recording_id>.csv`` file.
    joints
        Key point names of the layout, in joint order.
    fps
        Source frame rate (manifest or dataset value); None estimates it from ``time``.
    max_seconds
        Longest time span accepted (None: no limit).

    Returns
    -------
    Recording
        ``coords`` (frame, channel=2, joint, person=1) float64 image ``x, y``.

    Raises
    ------
    ReaderError
        Truncated file, non-numeric value, zero frames, unknown or missing key point
        column, key point NaN in every frame, time not increasing.
    """
    path = Path(path)
    text = read_text(path, "utf-8-sig")
    numbered = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip()]
    if not numbered:
        raise ReaderError(path, "zero frames: empty file")
    header_line, header = numbered[0]
    columns = [c.strip() for c in header.split(",")]
    time_column = _check_columns(path, columns, joints, header_line)
    rows = numbered[1:]
    if not rows:
        raise ReaderError(path, "zero frames: header only")
    _check_field_counts(path, rows, len(columns))
    table = _numeric_table(path, text, rows)
    times, fps = _timestamps(path, table[time_column], time_column, fps, rows)
    check_span(path, float(times[-1]), max_seconds, f"column {time_column!r}")
    x = np.stack([table[f"{j}_x"] for j in joints], axis=1)
    y = np.stack([table[f"{j}_y"] for j in joints], axis=1)
    values = np.stack([x, y], axis=1)  # (frame, channel, joint)
    detected = ~np.isnan(values).any(axis=1)  # (frame, joint)
    score = np.stack(
        [table.get(f"{j}_score", np.ones(len(rows))) for j in joints], axis=1
    )  # (frame, joint); an empty score cell with coordinates counts as 1
    score = np.where(np.isnan(score), 1.0, np.clip(score, 0.0, 1.0))
    detected &= score > 0
    values = np.where((score > 0)[:, None, :], values, np.nan)  # a lone x or y is kept as written
    empty = np.isnan(values).all(axis=0)
    if empty.any():
        c, v = np.argwhere(empty)[0]
        raise ReaderError(
            path, f"key point {joints[v]!r} is NaN in every frame (column '{joints[v]}_{'xy'[c]}')"
        )
    filled, count, _ = fill_gaps(values, times)
    return Recording(
        recording_id=path.stem,
        path=path,
        coords=filled[:, :, :, None],
        timestamps=times,
        fps=float(fps),
        interpolated=count,
        confidence=np.where(detected, score, 0.0)[:, :, None],
    )
