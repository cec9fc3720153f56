"""Side files of a dataset: the manifest CSV and the ignore list."""

from __future__ import annotations

import csv
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .common import read_text
from .errors import ReaderError

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("recording_id", "label", "group", "site", "fps", "split")
SPLITS = ("train", "val")


@dataclass(frozen=True)
class ManifestRow:
    """One manifest row; empty cells are None.

    Attributes
    ----------
    recording_id
        File stem of the recording.
    label
        Label as written (class index, class name or NTU action number), or None.
    group
        Subject id, or None.
    site
        Recording site, or None.
    fps
        Source frame rate, or None.
    split
        ``"train"`` or ``"val"``, or None.
    line
        1-based line number in the manifest.
    """

    recording_id: str
    label: str | None
    group: str | None
    site: str | None
    fps: float | None
    split: str | None
    line: int


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest: its path, its columns and its rows by recording id."""

    path: Path
    columns: tuple[str, ...]
    rows: Mapping[str, ManifestRow]

    def has(self, column: str) -> bool:
        """Whether the manifest has ``column``."""
        return column in self.columns


def _cell(row: Mapping[str, str | None], key: str) -> str | None:
    value = row.get(key)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _parse_row(path: Path, row: Mapping[str, str | None], line: int) -> ManifestRow:
    recording_id = _cell(row, "recording_id")
    if recording_id is None:
        raise ReaderError(path, "empty recording_id", line=line)
    fps_text = _cell(row, "fps")
    fps = None
    if fps_text is not None:
        try:
            fps = float(fps_text)
        except ValueError:
            raise ReaderError(path, f"non-numeric fps {fps_text!r}", line=line) from None
        if not (math.isfinite(fps) and fps > 0):
            raise ReaderError(path, f"fps must be a positive number, found {fps_text!r}", line=line)
    split = _cell(row, "split")
    if split is not None and split not in SPLITS:
        raise ReaderError(path, f"split must be train or val, found {split!r}", line=line)
    return ManifestRow(
        recording_id=recording_id,
        label=_cell(row, "label"),
        group=_cell(row, "group"),
        site=_cell(row, "site"),
        fps=fps,
        split=split,
        line=line,
    )


def read_manifest(path: str | Path, required: tuple[str, ...] = ("recording_id",)) -> Manifest:
    """Read a manifest CSV (columns recording_id, label, group, site, fps, split).

    Parameters
    ----------
    path
        The CSV file (header line, comma separated).
    required
        Columns that must be present.

    Returns
    -------
    Manifest
        Rows by recording id. Other columns are ignored (logged).

    Raises
    ------
    ReaderError
        Missing file or required columns, wrong field count (truncated line), empty or
        duplicate recording id, non-numeric fps, split other than train/val.
    """
    path = Path(path)
    if not path.is_file():
        raise ReaderError(path, "manifest file not found")
    lines = read_text(path, "utf-8-sig").splitlines()
    reader = csv.reader(lines)
    header = [c.strip() for c in next(reader, [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise ReaderError(path, f"manifest lacks required column(s) {', '.join(missing)}", line=1)
    extra = [c for c in header if c not in MANIFEST_COLUMNS]
    if extra:
        log.info("%s: ignoring manifest columns %s", path, extra)
    rows: dict[str, ManifestRow] = {}
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problem = f"{len(cells)} fields, expected {len(header)}"
            if number == len(lines):
                problem = f"truncated file: {problem}"
            raise ReaderError(path, problem, line=number)
        row = _parse_row(path, dict(zip(header, cells, strict=True)), number)
        if row.recording_id in rows:
            first = rows[row.recording_id].line
            raise ReaderError(
                path, f"duplicate recording id {row.recording_id!r} (first on line {first})", line=number
            )
        rows[row.recording_id] = row
    return Manifest(path=path, columns=tuple(header), rows=rows)


def read_ignore_list(path: str | Path, pattern: re.Pattern[str] | None = None) -> frozenset[str]:
    """Read a list of recording ids to skip, one per line.

    Parameters
    ----------
    path
        Text file, e.g. the official NTU ``samples_with_missing_skeletons.txt`` (whose
        official version starts with a 3-line prose header).
    pattern
        When given, only lines that match it in full are ids (an optional ``.skeleton``
        suffix is removed first); other lines (headers, prose) are skipped. Without it,
        every non-blank line not starting with ``#`` is an id.

    Returns
    -------
    frozenset of str
        The ids.
    """
    path = Path(path)
    if not path.is_file():
        raise ReaderError(path, "ignore list not found")
    ids = set()
    skipped = 0
    for line in read_text(path, "utf-8-sig").splitlines():
        entry = line.strip().removesuffix(".skeleton")
        if not entry or entry.startswith("#"):
            continue
        if pattern is not None and not pattern.fullmatch(entry):
            skipped += 1
            continue
        ids.add(entry)
    log.info("%s: %d ids to ignore (%d other lines skipped)", path, len(ids), skipped)
    return frozenset(ids)
