"""Importance drawn on the skeleton (seed paper Fig. 2/3): choosing samples, frames and windows.

For fixed-length samples (NTU style) a chosen sample is split into ``columns`` equal spans of
its non-padded frames; each panel shows the pose at the middle frame of a span and each key
point's importance averaged over the span. For windowed recordings (infant style) a chosen
recording's explained windows are shown side by side, each with the pose at the window's
middle frame and the importance averaged over the window. GradCAM maps whose frame axis is
coarser than the input's are mapped onto the input frames proportionally. Samples (or
recordings) are chosen one per class in turn, the first in explain-set order (recordings:
the one with the most explained windows).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence

import h5py
import numpy as np

from ..io.contracts import WINDOWS
from ..plots.skeletons import SkeletonBlock, SkeletonPanel
from .sources import (
    PathLike,
)

log = logging.getLogger(__name__)


def span_mean(frame_map: np.ndarray, start: int, stop: int, frames: int) -> np.ndarray:
    """Mean over input frames [start, stop) of a map with a possibly coarser frame axis.

    Parameters
    ----------
    frame_map
        Shape (frame', joint), frame' <= frames.
    start, stop
        Span in input frames.
    frames
        Number of input frames of the sample.

    Returns
    -------
    numpy.ndarray
        Shape (joint,).
    """
    coarse = frame_map.shape[0]
    a = min(int(np.floor(start * coarse / frames)), coarse - 1)
    b = max(int(np.ceil(stop * coarse / frames)), a + 1)
    return np.asarray(frame_map[a:b].mean(axis=0), dtype=np.float64)


def valid_frames(sample: np.ndarray) -> int:
    """Frames before the zero padding of a sample, shape (channel, frame, joint, person)."""
    moving = np.flatnonzero(np.abs(sample).sum(axis=(0, 2, 3)) > 0)
    return int(moving[-1] + 1) if moving.size else sample.shape[1]


def choose_units(labels: np.ndarray, units: np.ndarray, count: int) -> list[str | int]:
    """Choose ``count`` units (sample positions or recording ids), one class after another."""
    by_class: dict[int, list[str | int]] = {}
    for label in np.unique(labels):
        members = units[labels == label]
        values, first = np.unique(members, return_index=True)
        ordered = [values[i] for i in np.argsort(first)]
        if members.dtype.kind in "US":
            sizes = {v: int((members == v).sum()) for v in ordered}
            ordered = sorted(ordered, key=lambda v: -sizes[v])
        by_class[int(label)] = [v.item() if isinstance(v, np.generic) else v for v in ordered]
    chosen: list[str | int] = []
    while len(chosen) < count and any(by_class.values()):
        for label in sorted(by_class):
            if by_class[label] and len(chosen) < count:
                chosen.append(by_class[label].pop(0))
    return chosen


def read_window_rows(path: PathLike, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates and window starts of some rows of windows.h5, without reading the rest.

    Returns
    -------
    tuple
        ``data`` (sample, channel, frame, joint, person) and ``window_start`` (sample,) in
        the order of ``rows`` (zeros when the file has no window starts).
    """
    unique, inverse = np.unique(rows, return_inverse=True)
    WINDOWS.read(path, load=())
    with h5py.File(path, "r") as fh:
        data = WINDOWS.check_rows(path, "data", np.asarray(fh["data"][unique])[inverse])
        starts = (
            np.asarray(fh["window_start"][unique])[inverse] if "window_start" in fh else np.zeros(len(rows))
        )
    return data, starts


def _pose(data: np.ndarray, frame: int) -> np.ndarray:
    return np.asarray(data[:2, frame, :, 0].T, dtype=np.float64)


def fixed_blocks(
    data: np.ndarray,
    maps: Mapping[str, np.ndarray],
    labels: np.ndarray,
    class_names: Sequence[str],
    count: int,
    columns: int,
) -> list[SkeletonBlock]:
    """Blocks for fixed-length samples: ``columns`` spans of each chosen sample.

    Parameters
    ----------
    data
        Coordinates of the explained samples, shape (sample, channel, frame, joint, person).
    maps
        Method label -> per-frame maps, shape (sample, frame', joint).
    """
    blocks = []
    for pos in choose_units(labels, np.arange(len(labels)), count):
        i = int(pos)
        frames = valid_frames(data[i])
        edges = np.linspace(0, frames, columns + 1).astype(int)
        panels = []
        for a, b in itertools.pairwise(edges):
            b = max(b, a + 1)
            values = {m: span_mean(v[i], a, b, data.shape[2]) for m, v in maps.items()}
            panels.append(SkeletonPanel(f"frames {a}-{b - 1}", _pose(data[i], (a + b - 1) // 2), values))
        blocks.append(SkeletonBlock(f"{class_names[labels[i]]}: sample {i}", tuple(panels)))
    return blocks


def window_blocks(
    data: np.ndarray,
    maps: Mapping[str, np.ndarray],
    labels: np.ndarray,
    recording_ids: np.ndarray,
    window_start: np.ndarray,
    class_names: Sequence[str],
    count: int,
    columns: int,
) -> list[SkeletonBlock]:
    """Blocks for windowed recordings: up to ``columns`` explained windows of each chosen recording."""
    blocks = []
    for rec in choose_units(labels, recording_ids, count):
        members = np.flatnonzero(recording_ids == rec)
        members = members[np.argsort(window_start[members], kind="stable")]
        picks = members[
            np.unique(np.linspace(0, len(members) - 1, min(columns, len(members))).round().astype(int))
        ]
        panels = []
        for i in picks:
            frames = valid_frames(data[i])
            values = {m: span_mean(v[i], 0, frames, data.shape[2]) for m, v in maps.items()}
            panels.append(
                SkeletonPanel(f"window at {window_start[i]:.1f} s", _pose(data[i], frames // 2), values)
            )
        blocks.append(SkeletonBlock(f"{class_names[labels[picks[0]]]}: recording {rec}", tuple(panels)))
    return blocks
