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
        Number of coordinate values (single numbers) filled by interpolation.
    label
        Label found in the file itself (NTU action number, Kinetics ``label_index``), or None.
    label_name
        Class name found in the file itself (Kinetics ``label``), or None.
    info
        Extra integer facts about the recording (NTU setup, camera, performer, ...).
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


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """Read a text file, turning I/O and decoding failures into :class:`ReaderError`."""
    try:
        return path.read_bytes().decode(encoding)
    except UnicodeDecodeError as exc:
        raise ReaderError(
            path, f"not a {encoding.removesuffix('-sig')} text file (byte {exc.start})"
        ) from None
    except OSError as exc:
        raise ReaderError(path, f"cannot read file ({exc.strerror})") from None
