"""What every reader returns, and the gap filling they share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ReaderError


@dataclass(frozen=True, eq=False)
class Recording:
    """One skeleton sequence read from one raw file.

    Attributes
    ----------
    recording_id
        Identifier of the recording (the file stem).
    path
        The file read.
    coords
        float64 (frame, channel, joint, person) coordinates as stored in the file; no NaN
        (missing values are interpolated, absent persons are 0).
    timestamps
        float64 (frame,) seconds from the first kept frame.
    fps
        Nominal source frame rate.
    interpolated
        Number of coordinate values (single numbers) filled by interpolation (key points
        not detected in a frame where their person is present).
    label
        Label found in the file itself (NTU action number, Kinetics ``label_index``), or None.
    label_name
        Class name found in the file itself (Kinetics ``label``), or None.
    info
        Extra integer facts about the recording (NTU setup, camera, performer, ...).
    confidence
        float32 (frame, joint, person) detection confidence in [0, 1]: the detector's score
        (Kinetics, OpenPose, CSV ``<name>_score``), or NTU ``trackingState`` (2 tracked: 1,
        1 inferred: 0.5, 0 not tracked: 0). 0 where a key point was not detected (its
        coordinates are interpolated or 0) or its person is absent. None (the default)
        means 1 wherever the person is present.
    """

    recording_id: str
    path: Path
    coords: np.ndarray
    timestamps: np.ndarray
    fps: float
    interpolated: int
    label: int | None = None
    label_name: str | None = None
    info: Mapping[str, int] = field(default_factory=dict)
    confidence: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.confidence is None:
            present = np.any(self.coords != 0, axis=1)  # (frame, joint, person)
            present = np.broadcast_to(present.any(axis=1, keepdims=True), present.shape)
            object.__setattr__(self, "confidence", present.astype(np.float32))
        else:
            object.__setattr__(self, "confidence", np.asarray(self.confidence, dtype=np.float32))

    @property
    def num_frames(self) -> int:
        """Number of frames."""
        return int(self.coords.shape[0])


def fill_gaps(values: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """Fill NaN values by linear interpolation over time.

    Leading and trailing gaps take the nearest valid value (``np.interp`` behaviour).

    Parameters
    ----------
    values
        (frame, ...) array with NaN where a value is missing.
    times
        (frame,) increasing time stamps (or frame indices).

    Returns
    -------
    filled
        Same shape as ``values``; columns that are NaN in every frame stay NaN.
    count
        Number of values filled.
    empty
        Boolean mask of shape ``values.shape[1:]``, True for columns NaN in every frame.
    """
    flat = np.array(values, dtype=np.float64).reshape(values.shape[0], -1)
    missing = np.isnan(flat)
    empty = missing.all(axis=0)
    count = 0
    for col in np.flatnonzero(missing.any(axis=0) & ~empty):
        miss = missing[:, col]
        flat[miss, col] = np.interp(times[miss], times[~miss], flat[~miss, col])
        count += int(miss.sum())
    return flat.reshape(values.shape), count, np.asarray(empty).reshape(values.shape[1:])


FLOAT32_MAX = float(np.finfo(np.float32).max)
"""Largest finite float32: a larger value would become inf when stored."""
MAX_FILE_BYTES = 1 << 30
"""Raw files larger than this (1 GiB) are refused before they are read."""
BOM = b"\xef\xbb\xbf"


def read_text(path: Path, encoding: str = "utf-8", max_bytes: int = MAX_FILE_BYTES) -> str:
    """Read a text file, turning I/O and decoding failures into :class:`ReaderError`.

    Every reader reads through this function, so all treat a UTF-8 byte-order mark the same
    way: it is dropped (also for ASCII files). Files over ``max_bytes`` are refused unread.
    """
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ReaderError(path, f"file too large: {size} bytes, limit {max_bytes}")
        return path.read_bytes().removeprefix(BOM).decode(encoding.removesuffix("-sig"))
    except UnicodeDecodeError as exc:
        raise ReaderError(
            path, f"not a {encoding.removesuffix('-sig')} text file (byte {exc.start})"
        ) from None
    except OSError as exc:
        raise ReaderError(path, f"cannot read file ({exc.strerror})") from None
    except MemoryError:
        raise ReaderError(path, "out of memory while reading the file") from None


def first_overflow(values: np.ndarray) -> int | None:
    """Flat index of the first finite value too large for float32, or None."""
    bad = np.flatnonzero(np.abs(np.asarray(values, dtype=np.float64)) > FLOAT32_MAX)
    return int(bad[0]) if bad.size else None


def check_span(path: Path, seconds: float, max_seconds: float | None, what: str) -> None:
    """Refuse a recording longer than ``max_seconds`` (``preprocess.max_seconds``) before allocating it."""
    if max_seconds is not None and not seconds <= max_seconds:
        raise ReaderError(
            path,
            f"recording too long: {what} spans {seconds:.6g} s, more than preprocess.max_seconds "
            f"= {max_seconds:g} s",
        )
