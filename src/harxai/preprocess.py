"""Preprocessing of skeleton sequences into fixed-length samples (``sequences.h5`` -> ``windows.h5``).

Each recording goes through four steps, in this order:

1. :func:`resample` to ``target_fps`` by linear interpolation over its time stamps;
2. :func:`median_filter` over time per coordinate (odd window, nearest-edge padding);
3. :func:`normalize` (optional): translate so that the median reference point of person 0 is
   the origin and divide by ``trunk_scale`` times its median trunk length;
4. segmentation into samples of equal length: :func:`segment_windows` (segment ``windows``,
   overlapping windows as in the seed's CP evaluation) or :func:`segment_fixed` (segment
   ``fixed``, the first ``fixed_frames`` frames as in the seed's NTU feeder).

The segment also picks the reference point of step 3: the mid-pelvis (mean of the layout's
``trunk_bottom`` joints) for ``windows``, as MovementOutcome's ``process.py`` centres infants
on the trunk; the layout's centre joint for ``fixed``, as the NTU pipelines centre on the
middle of the spine.

Absent persons. A person whose coordinates are all zero in a frame is absent in that frame
(``sequences.h5`` stores absent persons as zeros). Every step keeps absent person-frames at
exactly zero, and zero padding marks padded frames the same way, so that
:mod:`harxai.features` can recognise them.

Missing key points. ``sequences.h5`` carries each key point's ``confidence`` (0: not
detected; the readers interpolate such a key point over time, or leave it 0 when its person
never shows it). Confidence is resampled with the coordinates (linear, and 0 wherever a
bracketing source frame has 0). Step 3 measures the reference point and the trunk length on
detected key points only: the trunk on frames where every trunk joint of person 0 is
detected, the origin on frames where its reference joints are. Afterwards the undetected key
points are filled by ``preprocess.missing``: ``interpolate`` (default) keeps the readers'
interpolation over time, ``zero`` sets them to 0 (the ST-GCN convention); under both a key
point never detected for a person is 0. ``windows.h5`` stores ``confidence`` (sample, frame,
joint, person), 0 for undetected key points, absent persons and padding.

Bad recordings. A recording that cannot be preprocessed (longer than ``max_seconds``;
person 0 present in fewer than ``min_person_frames`` frames; no frame with the trunk
detected; a degenerate trunk) raises :class:`BadRecording`. Under the dataset's
``on_bad_recording: skip`` (default) it is left out with a warning and listed, with the
recordings the ingest stage set aside, in ``rejected.csv`` (columns ``recording_id, file,
stage, reason``); under ``error`` the job stops naming the source file. A dataset that lost
recordings and is left without training recordings of two classes fails.

:func:`preprocess_file` is the file-level entry point of rule ``preprocess_sequences``.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .io import HDF5Content
from .io.atomic import write_text_atomic
from .io.blocks import BlockWriter, LazyRows, read_except
from .io.contracts import SAMPLE, SEQUENCES, WINDOWS
from .io.ingest import check_trainable
from .skeletons import SkeletonLayout

log = logging.getLogger(__name__)

SEGMENTS = ("fixed", "windows")
CentreOn = Literal["mid_pelvis", "center"]
CENTRE_ON: dict[str, CentreOn] = {"fixed": "center", "windows": "mid_pelvis"}
PROGRESS_EVERY = 500
"""Log progress at INFO every this many recordings."""
BLOCK_RECORDINGS = 256
"""Recordings read, preprocessed and appended to ``windows.h5`` at a time by :func:`preprocess_file`."""
FRAME_DATASETS = ("coords", "timestamps", "confidence")
"""Per-frame datasets of ``sequences.h5``, read block by block."""


CARRIED_ATTRS = ("dataset", "kind", "layout", "class_names", "task", "num_channels")
"""Root attributes copied from ``sequences.h5`` to ``windows.h5``."""

RENAMED = {"fps": "source_fps"}
"""Per-sample datasets renamed in ``windows.h5`` (its ``fps`` attribute is the target rate)."""

_TIME_EPS = 1e-6  # frames; absorbs rounding in t_last * fps
MISSING_POLICIES = ("interpolate", "zero")
NOT_CARRIED = ("offsets", "lengths", "source_file")
"""Per-recording datasets of ``sequences.h5`` not repeated into ``windows.h5``."""
REJECTED_COLUMNS = ("recording_id", "file", "stage", "reason")


class BadRecording(ValueError):
    """One recording cannot be preprocessed (set aside under ``on_bad_recording: skip``)."""


@dataclass(frozen=True)
class PreprocessParams:
    """Parameters of the ``preprocess`` config block plus the dataset's segment.

    Attributes
    ----------
    segment
        ``"windows"`` (overlapping windows, mid-pelvis centring) or ``"fixed"`` (first
        ``fixed_frames`` frames, centre-joint centring).
    target_fps
        Frame rate (Hz) every recording is resampled to.
    median_window
        Odd window (frames) of the median filter; 1 disables it.
    normalize
        Translate and scale each recording (see :func:`normalize`).
    trunk_scale
        Multiple of the median trunk length used as the unit of length.
    window_seconds, window_overlap_seconds
        Window length and overlap of consecutive windows (segment ``windows``).
    fixed_frames
        Frames per sample (segment ``fixed``).
    missing
        Fill of undetected key points after normalisation: ``interpolate`` or ``zero``.
    max_seconds
        Longest recording accepted (seconds); a longer one is a bad recording.
    min_person_frames
        Fewest source frames in which person 0 must be present.
    """

    segment: str
    target_fps: float = 30.0
    median_window: int = 5
    normalize: bool = True
    trunk_scale: float = 2.0
    window_seconds: float = 5.0
    window_overlap_seconds: float = 2.5
    fixed_frames: int = 150
    missing: str = "interpolate"
    max_seconds: float = 1800.0
    min_person_frames: int = 2

    def __post_init__(self) -> None:
        if self.missing not in MISSING_POLICIES:
            raise ValueError(f"preprocess.missing must be one of {MISSING_POLICIES}, got {self.missing!r}")
        if not self.max_seconds > 0:
            raise ValueError(f"preprocess.max_seconds must be > 0, got {self.max_seconds}")
        if self.min_person_frames < 1:
            raise ValueError(f"preprocess.min_person_frames must be >= 1, got {self.min_person_frames}")
        if self.segment not in SEGMENTS:
            raise ValueError(f"preprocess: segment must be one of {SEGMENTS}, got {self.segment!r}")
        if not self.target_fps > 0:
            raise ValueError(f"preprocess.target_fps must be > 0, got {self.target_fps}")
        _check_window(self.median_window)
        if not self.trunk_scale > 0:
            raise ValueError(f"preprocess.trunk_scale must be > 0, got {self.trunk_scale}")
        if self.fixed_frames < 1:
            raise ValueError(f"preprocess.fixed_frames must be >= 1, got {self.fixed_frames}")
        if self.segment == "windows":
            if self.window_frames < 1:
                raise ValueError(
                    f"preprocess.window_seconds={self.window_seconds} is shorter than one frame "
                    f"at {self.target_fps} fps"
                )
            if self.hop_frames < 1:
                raise ValueError(
                    f"preprocess.window_overlap_seconds={self.window_overlap_seconds} leaves no hop "
                    f"between windows of {self.window_seconds} s at {self.target_fps} fps"
                )

    @classmethod
    def from_dict(cls, params: Mapping[str, Any], segment: str) -> PreprocessParams:
        """Build from the ``preprocess`` config block (missing keys take the defaults)."""
        known = {f.name for f in fields(cls)} - {"segment"}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"preprocess: unknown parameters {unknown}; known: {sorted(known)}")
        return cls(segment=segment, **dict(params))

    @property
    def window_frames(self) -> int:
        """Window length in frames at the target rate (segment ``windows``)."""
        return round(self.window_seconds * self.target_fps)

    @property
    def hop_frames(self) -> int:
        """Frames between the starts of consecutive windows (window length minus overlap)."""
        return self.window_frames - round(self.window_overlap_seconds * self.target_fps)

    @property
    def sample_frames(self) -> int:
        """Frames per output sample."""
        return self.window_frames if self.segment == "windows" else self.fixed_frames

    @property
    def centre_on(self) -> CentreOn:
        """Reference point of the normalisation for this segment."""
        return CENTRE_ON[self.segment]


def _check_window(window: int) -> None:
    if int(window) != window or window < 1 or window % 2 == 0:
        raise ValueError(f"median filter window must be a positive odd number of frames, got {window}")


def presence(coords: np.ndarray) -> np.ndarray:
    """Which persons are present in which frames.

    Parameters
    ----------
    coords
        Coordinates, shape (frame, channel, joint, person).

    Returns
    -------
    numpy.ndarray
        Boolean, shape (frame, person): True where any coordinate of the person is nonzero.
    """
    return np.asarray(np.any(coords != 0, axis=(1, 2)))


def resampled_length(last_timestamp: float, target_fps: float) -> int:
    """Number of frames at ``0, 1/f, 2/f, ...`` up to ``last_timestamp`` (at least 1)."""
    return max(int(np.floor(last_timestamp * target_fps + _TIME_EPS)) + 1, 1)


def _check_timestamps(timestamps: np.ndarray, num_frames: int, name: str) -> None:
    if timestamps.shape != (num_frames,):
        raise ValueError(f"{name}: {timestamps.shape[0]} time stamps for {num_frames} frames")
    if num_frames == 0:
        raise ValueError(f"{name}: empty sequence")
    if not np.all(np.isfinite(timestamps)):
        bad = int(np.flatnonzero(~np.isfinite(timestamps))[0])
        raise ValueError(f"{name}: time stamp of frame {bad} is not finite")
    steps = np.diff(timestamps)
    if np.any(steps <= 0):
        k = int(np.flatnonzero(steps <= 0)[0])
        raise ValueError(
            f"{name}: time stamps must increase strictly; frame {k + 1} at {timestamps[k + 1]} s "
            f"follows frame {k} at {timestamps[k]} s"
        )


def resample(
    coords: np.ndarray, timestamps: np.ndarray, target_fps: float, name: str = "sequence"
) -> tuple[np.ndarray, np.ndarray]:
    """Resample a sequence to a constant frame rate by linear interpolation over time.

    The output frames lie at ``0, 1/f, 2/f, ...`` up to the last time stamp; time stamps may
    be irregular. Times before the first time stamp take the first frame (as ``numpy.interp``).
    A person absent (all zero) in either frame bracketing an output time is absent (zero) in
    the output frame, so that absent persons are not blended with present ones.

    Parameters
    ----------
    coords
        Coordinates, shape (frame, channel, joint, person).
    timestamps
        Strictly increasing times in seconds, shape (frame,).
    target_fps
        Output frame rate f in Hz.
    name
        Recording name used in error messages.

    Returns
    -------
    coords : numpy.ndarray
        float64, shape (frame_out, channel, joint, person).
    timestamps : numpy.ndarray
        float64, shape (frame_out,): ``arange(frame_out) / f``.
    """
    ts = np.asarray(timestamps, dtype=np.float64)
    x = np.asarray(coords, dtype=np.float64)
    _check_timestamps(ts, x.shape[0], name)
    new_t, i0, i1, w = _resample_index(ts, target_fps)
    if ts.shape[0] == 1:
        return np.repeat(x, new_t.shape[0], axis=0), new_t
    out = x[i0] * (1.0 - w)[:, None, None, None] + x[i1] * w[:, None, None, None]
    present = presence(x)
    keep = np.where(w[:, None] > 0, present[i1], True) & np.where(w[:, None] < 1, present[i0], True)
    out *= keep[:, None, None, :]
    return out, new_t


def _resample_index(
    ts: np.ndarray, target_fps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Output times and, per output frame, the bracketing source frames and the weight of the later."""
    num_out = resampled_length(float(ts[-1]), target_fps)
    new_t = np.arange(num_out, dtype=np.float64) / target_fps
    if ts.shape[0] == 1:
        zero = np.zeros(num_out, dtype=np.int64)
        return new_t, zero, zero, np.zeros(num_out)
    i0 = np.clip(np.searchsorted(ts, new_t, side="right") - 1, 0, ts.shape[0] - 2)
    i1 = i0 + 1
    w = np.clip((new_t - ts[i0]) / (ts[i1] - ts[i0]), 0.0, 1.0)
    return new_t, i0, i1, w


def resample_confidence(confidence: np.ndarray, timestamps: np.ndarray, target_fps: float) -> np.ndarray:
    """Resample (frame, joint, person) confidence like :func:`resample` resamples coordinates.

    Linear interpolation over time, and 0 wherever a source frame with a nonzero weight has
    confidence 0: a key point is detected in an output frame only if it is detected in the
    source frames it is interpolated from.
    """
    ts = np.asarray(timestamps, dtype=np.float64)
    c = np.asarray(confidence, dtype=np.float64)
    _, i0, i1, w = _resample_index(ts, target_fps)
    wb = w[:, None, None]
    out = c[i0] * (1.0 - wb) + c[i1] * wb
    keep = np.where(wb > 0, c[i1] > 0, True) & np.where(wb < 1, c[i0] > 0, True)
    return np.asarray(out * keep)


def median_filter(coords: np.ndarray, window: int = 5) -> np.ndarray:
    """Median over time per coordinate, with nearest-edge padding.

    Interior frames equal ``scipy.signal.medfilt`` with ``kernel_size=window`` along frames.
    Deviation at the edges: ``medfilt`` zero-pads, which drags the first and last
    ``window // 2`` frames towards 0; here the sequence is padded by repeating its first and
    last frames (``scipy.ndimage.median_filter(..., mode="nearest")``). Absent person-frames
    (all zero) stay zero and are left out of their neighbours' medians (the median is over
    the present frames in the window).

    Parameters
    ----------
    coords
        Coordinates, shape (frame, channel, joint, person).
    window
        Odd window length in frames; 1 returns a copy.

    Returns
    -------
    numpy.ndarray
        float64, shape (frame, channel, joint, person).
    """
    _check_window(window)
    x = np.asarray(coords, dtype=np.float64)
    out = x.copy()
    if window == 1 or x.shape[0] == 0:
        return out
    present = presence(x)
    full = present.all(axis=0)
    if full.any():
        # odd window: the median is the middle of the sorted window (faster than np.median)
        out[..., full] = np.sort(_windows(x[..., full], window), axis=-1)[..., window // 2]
    for m in np.flatnonzero(present.any(axis=0) & ~full):
        frames = np.flatnonzero(present[:, m])
        series = np.where(present[:, None, None, m], x[..., m], np.nan)
        out[frames, ..., m] = np.nanmedian(_windows(series, window)[frames], axis=-1)
    return out


def _windows(x: np.ndarray, window: int) -> np.ndarray:
    """Edge-padded sliding windows along axis 0: shape x.shape + (window,)."""
    half = window // 2
    padded = np.pad(x, [(half, half)] + [(0, 0)] * (x.ndim - 1), mode="edge")
    return sliding_window_view(padded, window, axis=0)


def normalize(
    coords: np.ndarray,
    layout: SkeletonLayout,
    trunk_scale: float = 2.0,
    centre_on: CentreOn = "mid_pelvis",
    name: str = "sequence",
    confidence: np.ndarray | None = None,
) -> np.ndarray:
    """Translate and scale a recording by its median reference point and trunk length.

    The origin is the median over frames (per coordinate) of the reference point of person
    0: the mid-pelvis (mean of ``layout.trunk_bottom``) for ``centre_on="mid_pelvis"`` or the
    centre joint ``layout.center`` for ``"center"``. The unit of length is ``trunk_scale``
    times the median over frames of the trunk length of person 0, the distance between the
    means of the ``trunk_top`` and the ``trunk_bottom`` joints (MovementOutcome divides by
    2 x 2 trunk lengths; the default here is 2). Only frames where person 0 is present enter
    the medians; with ``confidence``, only frames where the joints measured (trunk joints
    for the length, reference joints for the origin) are detected (confidence > 0). Both are
    applied to all persons; absent person-frames stay zero.

    Parameters
    ----------
    coords
        Coordinates, shape (frame, channel, joint, person).
    layout
        Skeleton layout naming the centre and trunk joints.
    trunk_scale
        Multiple of the median trunk length used as the unit.
    centre_on
        ``"mid_pelvis"`` or ``"center"``.
    name
        Recording name used in error messages.
    confidence
        (frame, joint, person) key-point confidence; None: every present key point counts.

    Returns
    -------
    numpy.ndarray
        float64, shape (frame, channel, joint, person).

    Raises
    ------
    BadRecording
        If person 0 is never present, its trunk is never detected, or the median trunk
        length is 0 or not finite.
    """
    x = np.asarray(coords, dtype=np.float64)
    present = presence(x)
    if not present[:, 0].any():
        raise BadRecording(f"{name}: person 0 is absent in every frame; cannot normalise")
    if centre_on not in ("mid_pelvis", "center"):
        raise ValueError(f"normalize: centre_on must be 'mid_pelvis' or 'center', got {centre_on!r}")
    seen = present[:, 0, None] if confidence is None else (np.asarray(confidence)[:, :, 0] > 0)
    seen = np.broadcast_to(seen & present[:, 0, None], (x.shape[0], x.shape[2]))  # (frame, joint)
    top_j, bottom_j = list(layout.trunk_top), list(layout.trunk_bottom)
    ref_j = bottom_j if centre_on == "mid_pelvis" else [layout.center]
    trunk_frames = seen[:, top_j + bottom_j].all(axis=1)
    ref_frames = seen[:, ref_j].all(axis=1)
    if not trunk_frames.any() or not ref_frames.any():
        raise BadRecording(
            f"{name}: no trunk: joints {top_j} and {bottom_j} of layout {layout.name!r} (trunk) or "
            f"{ref_j} (reference point) are never detected together in person 0; cannot normalise"
        )
    body = x[:, :, :, 0]  # (frame, channel, joint)
    top = body[trunk_frames][:, :, top_j].mean(axis=-1)
    bottom = body[trunk_frames][:, :, bottom_j].mean(axis=-1)
    trunk = float(np.median(np.linalg.norm(top - bottom, axis=1)))
    if not (np.isfinite(trunk) and trunk > 1e-12):
        raise BadRecording(
            f"{name}: degenerate median trunk length {trunk} between joints {top_j} "
            f"and {bottom_j} of layout {layout.name!r}; cannot normalise"
        )
    reference = body[ref_frames][:, :, ref_j].mean(axis=-1)
    origin = np.median(reference, axis=0)  # (channel,)
    out = (x - origin[None, :, None, None]) / (trunk_scale * trunk)
    out *= present[:, None, None, :]
    return np.asarray(out)


def window_starts(num_frames: int, window: int, hop: int) -> np.ndarray:
    """Start frames of the windows covering a recording.

    Windows start at 0 and step by ``hop`` while they fit; when the last one leaves a tail
    uncovered, a right-aligned window ending at the last frame is added (as the seed's
    evaluation). A recording shorter than one window gets one window at 0 (to be padded).

    Returns
    -------
    numpy.ndarray
        int64, shape (window,).
    """
    if num_frames <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, num_frames - window + 1, hop, dtype=np.int64)
    if starts[-1] + window < num_frames:
        starts = np.append(starts, num_frames - window)
    return starts


def count_samples(num_frames: int, params: PreprocessParams) -> int:
    """Number of samples a recording of ``num_frames`` resampled frames yields."""
    if params.segment == "fixed":
        return 1
    return int(window_starts(num_frames, params.window_frames, params.hop_frames).shape[0])


def _fit_length(x: np.ndarray, length: int) -> np.ndarray:
    """Truncate or zero-pad along frames to ``length``."""
    if x.shape[0] >= length:
        return x[:length]
    pad = np.zeros((length - x.shape[0], *x.shape[1:]), dtype=x.dtype)
    return np.concatenate([x, pad], axis=0)


def segment_windows(coords: np.ndarray, window: int, hop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut a recording into overlapping windows (segment ``windows``).

    Parameters
    ----------
    coords
        Coordinates, shape (frame, channel, joint, person).
    window, hop
        Window length and step in frames (see :func:`window_starts`).

    Returns
    -------
    samples : numpy.ndarray
        Shape (sample, frame, channel, joint, person) with ``frame == window``; a recording
        shorter than one window becomes one zero-padded window.
    starts : numpy.ndarray
        int64 start frames, shape (sample,).
    padded : numpy.ndarray
        bool, shape (sample,): the window was zero-padded.
    """
    starts = window_starts(coords.shape[0], window, hop)
    if coords.shape[0] < window:
        samples = _fit_length(coords, window)[None]
        return samples, starts, np.ones(1, dtype=bool)
    index = starts[:, None] + np.arange(window)[None, :]
    return coords[index], starts, np.zeros(starts.shape[0], dtype=bool)


def segment_fixed(coords: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the first ``frames`` frames of a recording (segment ``fixed``, NTU path).

    Longer recordings are truncated, as the seed's NTU feeder does; shorter ones are
    zero-padded at the end and flagged.

    Returns
    -------
    samples : numpy.ndarray
        Shape (1, frame, channel, joint, person) with ``frame == frames``.
    starts : numpy.ndarray
        int64 ``[0]``.
    padded : numpy.ndarray
        bool, shape (1,).
    """
    padded = np.array([coords.shape[0] < frames])
    return _fit_length(coords, frames)[None], np.zeros(1, dtype=np.int64), padded


def preprocess_recording(
    coords: np.ndarray,
    timestamps: np.ndarray,
    layout: SkeletonLayout,
    params: PreprocessParams,
    name: str = "sequence",
    confidence: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]:
    """Resample, filter, normalise, fill missing key points and segment one recording.

    Parameters
    ----------
    coords
        Coordinates, shape (frame, channel, joint, person).
    timestamps
        Seconds from the recording's start, shape (frame,).
    layout
        Skeleton layout.
    params
        Preprocessing parameters.
    name
        Recording name used in error messages.
    confidence
        (frame, joint, person) key-point confidence; None: 1 wherever the person is present.

    Returns
    -------
    samples : numpy.ndarray
        float64, shape (sample, frame, channel, joint, person).
    window_start : numpy.ndarray
        float64 start times in seconds, shape (sample,).
    padded : numpy.ndarray
        bool, shape (sample,).
    num_frames : int
        Frames of the recording after resampling.
    confidence : numpy.ndarray
        float64, shape (sample, frame, joint, person); 0 for missing key points and padding.

    Raises
    ------
    BadRecording
        Too long, person 0 present in too few frames, no trunk (see the module docstring).
    """
    ts = np.asarray(timestamps, dtype=np.float64)
    if ts.size and np.isfinite(ts[-1]) and ts[-1] > params.max_seconds:
        raise BadRecording(
            f"{name}: recording too long: {ts[-1]:.6g} s, more than preprocess.max_seconds = "
            f"{params.max_seconds:g} s"
        )
    raw_present = presence(np.asarray(coords))
    if int(raw_present[:, 0].sum()) < params.min_person_frames:
        raise BadRecording(
            f"{name}: person 0 present in {int(raw_present[:, 0].sum())} frames, fewer than "
            f"preprocess.min_person_frames = {params.min_person_frames}"
        )
    if confidence is None:
        confidence = np.broadcast_to(
            raw_present[:, None, :], (raw_present.shape[0], coords.shape[2], raw_present.shape[1])
        )
    x, _ = resample(coords, ts, params.target_fps, name)
    conf = resample_confidence(confidence, ts, params.target_fps) * presence(x)[:, None, :]
    x = median_filter(x, params.median_window)
    if params.normalize:
        x = normalize(x, layout, params.trunk_scale, params.centre_on, name, conf)
    x = fill_missing(x, conf, params.missing)
    if params.segment == "windows":
        samples, starts, padded = segment_windows(x, params.window_frames, params.hop_frames)
        conf_samples, _, _ = segment_windows(conf, params.window_frames, params.hop_frames)
    else:
        samples, starts, padded = segment_fixed(x, params.fixed_frames)
        conf_samples, _, _ = segment_fixed(conf, params.fixed_frames)
    return samples, starts / params.target_fps, padded, x.shape[0], conf_samples


def fill_missing(coords: np.ndarray, confidence: np.ndarray, policy: str) -> np.ndarray:
    """Apply the ``missing`` policy to undetected key points of present persons.

    ``interpolate`` keeps their coordinates (the readers' interpolation over time) except
    for key points never detected for that person, which become 0; ``zero`` sets every
    undetected key point to 0. Absent person-frames stay 0.

    Parameters
    ----------
    coords
        (frame, channel, joint, person) coordinates.
    confidence
        (frame, joint, person) confidence, 0 where undetected.
    policy
        ``interpolate`` or ``zero``.
    """
    if policy not in MISSING_POLICIES:
        raise ValueError(f"preprocess.missing must be one of {MISSING_POLICIES}, got {policy!r}")
    x = np.array(coords, dtype=np.float64)
    detected = np.asarray(confidence) > 0
    if policy == "zero":
        drop = ~detected
    else:
        drop = np.broadcast_to(~detected.any(axis=0, keepdims=True), detected.shape)
    return np.asarray(x * ~drop[:, None, :, :])


@dataclass
class Samples:
    """Preprocessed samples of a dataset, as stored in ``windows.h5``.

    Attributes
    ----------
    data
        float32, shape (sample, channel, frame, joint, person).
    recording_index
        int64, shape (sample,): row of the source recording in ``sequences.h5``.
    window_start
        float32 seconds, shape (sample,).
    padded
        int8, shape (sample,).
    valid_frames
        int64, shape (sample,): frames holding data (the rest is zero padding).
    confidence
        float32, shape (sample, frame, joint, person).
    rejected
        Recordings set aside: dicts with ``recording_id, file, stage, reason``.
    """

    data: np.ndarray
    recording_index: np.ndarray
    window_start: np.ndarray
    padded: np.ndarray
    valid_frames: np.ndarray
    confidence: np.ndarray
    rejected: list[dict[str, str]] | None = None


def _check_offsets(content: HDF5Content, total: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    offsets = content["offsets"].astype(np.int64)
    lengths = content["lengths"].astype(np.int64)
    total = content["coords"].shape[0] if total is None else total
    bad = np.flatnonzero((lengths < 1) | (offsets < 0) | (offsets + lengths > total))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{content.path}: recording {str(content['recording_id'][i])!r} (row {i}) has offset "
            f"{offsets[i]} and length {lengths[i]} outside the {total} stored frames"
        )
    return offsets, lengths


def _source(content: HDF5Content, i: int) -> str:
    return str(content["source_file"][i]) if "source_file" in content else str(content.path)


def preprocess_sequences(
    content: HDF5Content, layout: SkeletonLayout, params: PreprocessParams, on_bad_recording: str = "skip"
) -> Samples:
    """Preprocess every recording of a loaded ``sequences.h5``.

    Parameters
    ----------
    content
        The file read with :data:`harxai.io.contracts.SEQUENCES` (``confidence`` and ``source_file`` when present).
    layout
        Skeleton layout of the file.
    params
        Preprocessing parameters.
    on_bad_recording
        ``skip``: a :class:`BadRecording` is left out and listed in ``Samples.rejected``;
        ``error``: it stops the job, naming the source file.

    Returns
    -------
    Samples
        All samples of the kept recordings in recording order.
    """
    samples, too_long, failed = _preprocess_block(content, layout, params, on_bad_recording)
    samples.rejected = too_long + failed
    return samples


def _too_long(
    path: object, recording_id: str, last_t: float, params: PreprocessParams
) -> BadRecording | None:
    """The error of a recording whose last time stamp exceeds ``max_seconds`` (or is not finite)."""
    if np.isfinite(last_t) and last_t <= params.max_seconds:
        return None
    return BadRecording(
        f"{path}: recording {recording_id!r}: recording too long: {last_t:.6g} s, "
        f"more than preprocess.max_seconds = {params.max_seconds:g} s"
    )


def _first_too_long(
    content: HDF5Content,
    src: LazyRows,
    offsets: np.ndarray,
    lengths: np.ndarray,
    params: PreprocessParams,
    block: int,
) -> None:
    """Under ``on_bad_recording: error``: raise for the first recording too long, before any
    other work, as :func:`preprocess_sequences` does on the whole file."""
    for r0 in range(0, offsets.shape[0], block):
        r1 = min(r0 + block, offsets.shape[0])
        f0 = int(offsets[r0:r1].min())
        last = src.rows("timestamps", f0, int((offsets[r0:r1] + lengths[r0:r1]).max()))
        for i in range(r0, r1):
            long = _too_long(
                content.path,
                str(content["recording_id"][i]),
                float(last[offsets[i] + lengths[i] - 1 - f0]),
                params,
            )
            if long is not None:
                raise BadRecording(f"{_source(content, i)}: {long}")


def _preprocess_block(
    content: HDF5Content,
    layout: SkeletonLayout,
    params: PreprocessParams,
    on_bad_recording: str,
    row0: int = 0,
    total: int | None = None,
) -> tuple[Samples, list[dict[str, str]], list[dict[str, str]]]:
    """:func:`preprocess_sequences` of the recordings in ``content`` (rows ``row0`` on of the file).

    Returns the samples (``recording_index`` relative to ``content``) and the recordings set
    aside, in two lists: too long (refused before any work) and failed while preprocessing,
    so that a file processed block by block lists them in the order of the whole file.
    """
    if on_bad_recording not in ("skip", "error"):
        raise ValueError(f"on_bad_recording must be skip or error, got {on_bad_recording!r}")
    offsets, lengths = _check_offsets(content)
    coords, timestamps, ids = content["coords"], content["timestamps"], content["recording_id"]
    confidence = content["confidence"] if "confidence" in content else None  # noqa: SIM401
    num_rec = offsets.shape[0]
    last_t = timestamps[offsets + lengths - 1] if num_rec else np.zeros(0)
    too_long: list[dict[str, str]] = []
    failed: list[dict[str, str]] = []
    kept = np.ones(num_rec, dtype=bool)

    def reject(i: int, exc: BadRecording, rejected: list[dict[str, str]]) -> None:
        source = _source(content, i)
        if on_bad_recording == "error":
            raise BadRecording(f"{source}: {exc}") from None
        log.warning("set aside %s (on_bad_recording: skip): %s", source, exc)
        rejected.append(
            {"recording_id": str(ids[i]), "file": source, "stage": "preprocess", "reason": str(exc)}
        )
        kept[i] = False

    counts = np.zeros(num_rec, dtype=np.int64)
    for i, t in enumerate(last_t):
        long = _too_long(content.path, str(ids[i]), float(t), params)
        if long is not None:  # refused before anything is allocated
            reject(i, long, too_long)
            continue
        counts[i] = count_samples(resampled_length(float(t), params.target_fps), params)
    _, num_channels, num_joints, num_persons = coords.shape
    shape = (int(counts.sum()), num_channels, params.sample_frames, num_joints, num_persons)
    try:
        data = np.zeros(shape, np.float32)
        conf_out = np.zeros((shape[0], params.sample_frames, num_joints, num_persons), np.float32)
    except MemoryError:
        raise MemoryError(
            f"{content.path}: out of memory allocating {shape[0]} samples of {shape[1:]} float32 values"
        ) from None
    starts = np.zeros(data.shape[0], dtype=np.float32)
    padded = np.zeros(data.shape[0], dtype=np.int8)
    valid = np.zeros(data.shape[0], dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(counts)])
    for i in range(num_rec):
        if not kept[i]:
            continue
        sl = slice(offsets[i], offsets[i] + lengths[i])
        name = f"{content.path}: recording {str(ids[i])!r}"
        try:
            samples, win_start, pad, num_frames, conf = preprocess_recording(
                coords[sl],
                timestamps[sl],
                layout,
                params,
                name,
                None if confidence is None else confidence[sl],
            )
        except BadRecording as exc:
            reject(i, exc, failed)
            continue
        except MemoryError:
            reject(i, BadRecording(f"{name}: out of memory while preprocessing the recording"), failed)
            continue
        rows = slice(first[i], first[i + 1])
        data[rows] = samples.transpose(0, 2, 1, 3, 4)
        conf_out[rows] = conf
        starts[rows] = win_start
        padded[rows] = pad
        valid[rows] = np.minimum(num_frames - np.round(win_start * params.target_fps), params.sample_frames)
        if (row0 + i + 1) % PROGRESS_EVERY == 0:
            log.info("preprocessed %d / %d recordings", row0 + i + 1, num_rec if total is None else total)
    recording_index = np.repeat(np.arange(num_rec, dtype=np.int64), counts)
    keep_rows = kept[recording_index]
    if not keep_rows.all():
        data, conf_out, starts = data[keep_rows], conf_out[keep_rows], starts[keep_rows]
        padded, valid, recording_index = padded[keep_rows], valid[keep_rows], recording_index[keep_rows]
    return Samples(data, recording_index, starts, padded, valid, conf_out), too_long, failed


def write_rejected(path: str | os.PathLike[str], rows: list[dict[str, str]]) -> None:
    """Write ``rejected.csv`` (header ``recording_id,file,stage,reason``; empty list: header only)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(REJECTED_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in REJECTED_COLUMNS})
    write_text_atomic(path, buffer.getvalue())


def _per_sample_arrays(content: HDF5Content, recording_index: np.ndarray) -> dict[str, np.ndarray]:
    """Per-recording metadata of ``sequences.h5`` repeated for each of its samples."""
    out: dict[str, np.ndarray] = {}
    for key in SEQUENCES.names(SAMPLE):
        if key in NOT_CARRIED or key not in content:
            continue
        out[RENAMED.get(key, key)] = content[key][recording_index]
    return out


def preprocess_file(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    params: Mapping[str, Any],
    segment: str,
    rejected_path: str | os.PathLike[str] | None = None,
    on_bad_recording: str = "skip",
    block_recordings: int = BLOCK_RECORDINGS,
) -> None:
    """Preprocess ``sequences.h5`` into ``windows.h5`` (rule ``preprocess_sequences``).

    Memory stays bounded: the recordings are read, preprocessed and appended to the output
    ``block_recordings`` at a time; only per-recording and per-sample metadata is held whole.
    The values (and the order of ``rejected.csv``) do not depend on the block size: they are
    those of :func:`preprocess_sequences` on the whole file.

    Parameters
    ----------
    input_path
        ``sequences.h5`` (see docs/data-contracts.md).
    output_path
        ``windows.h5`` to write. Datasets: ``data`` float32 (sample, channel, frame, joint,
        person); every per-recording dataset of the input (``label``, ``recording_id``,
        ``group``, ``split``, ``interpolated``, ...; ``fps`` renamed ``source_fps``) repeated
        per sample; ``window_start`` float32 seconds (sample,); ``padded`` int8 (sample,);
        ``valid_frames`` and ``recording_index`` int64 (sample,). Attributes: ``dataset``,
        ``kind``, ``layout``, ``class_names``, ``task``, ``num_channels`` copied from the input,
        ``fps`` (the target rate), ``segment``, ``centre_on``; provenance ``config`` holds the
        parameters and the segment.
    params
        The ``preprocess`` config block.
    segment
        ``"fixed"`` or ``"windows"``.
    rejected_path
        ``rejected.csv`` to write: the recordings set aside by ingest (attribute ``rejected``
        of the input) and by this stage. None: not written.
    on_bad_recording
        The dataset's ``on_bad_recording`` (``skip`` or ``error``).
    block_recordings
        Recordings per block.
    """
    p = PreprocessParams.from_dict(params, segment)
    if block_recordings < 1:
        raise ValueError(f"block_recordings must be >= 1, got {block_recordings}")
    content = read_except(SEQUENCES, input_path, FRAME_DATASETS)
    layout = SkeletonLayout.from_dict(content.json_attr("layout"))
    ingest_rejected = list(content.json_attr("rejected") if "rejected" in content.attrs else [])
    too_long: list[dict[str, str]] = []
    failed: list[dict[str, str]] = []
    index_parts: list[np.ndarray] = []
    num_padded = 0
    with LazyRows(SEQUENCES, input_path) as src, BlockWriter(output_path, WINDOWS) as out:
        _, num_channels, num_joints, num_persons = src.shape("coords")
        offsets, lengths = _check_offsets(content, src.shape("coords")[0])
        num_rec = offsets.shape[0]
        if on_bad_recording == "error":
            _first_too_long(content, src, offsets, lengths, p, block_recordings)
        for r0 in range(0, num_rec, block_recordings):
            r1 = min(r0 + block_recordings, num_rec)
            f0 = int(offsets[r0:r1].min())
            f1 = int((offsets[r0:r1] + lengths[r0:r1]).max())
            arrays = {name: src.rows(name, f0, f1) for name in FRAME_DATASETS if name in src}
            arrays.update(offsets=offsets[r0:r1] - f0, lengths=lengths[r0:r1])
            for key in ("recording_id", "source_file"):
                if key in content:
                    arrays[key] = content[key][r0:r1]
            block = HDF5Content(path=content.path, arrays=arrays, dims={})
            samples, long_rows, failed_rows = _preprocess_block(
                block, layout, p, on_bad_recording, r0, num_rec
            )
            too_long += long_rows
            failed += failed_rows
            out.append("data", samples.data)
            out.append("confidence", samples.confidence)
            out.append("window_start", samples.window_start)
            out.append("padded", samples.padded)
            out.append("valid_frames", samples.valid_frames)
            index_parts.append(samples.recording_index + r0)
            num_padded += int(samples.padded.sum())
        if num_rec == 0:
            out.append("data", np.zeros((0, num_channels, p.sample_frames, num_joints, num_persons)))
            out.append("confidence", np.zeros((0, p.sample_frames, num_joints, num_persons)))
            for key, dtype in (("window_start", np.float32), ("padded", np.int8), ("valid_frames", np.int64)):
                out.append(key, np.zeros(0, dtype))
        recording_index = np.concatenate(index_parts) if index_parts else np.zeros(0, np.int64)
        rejected = ingest_rejected + too_long + failed
        if too_long or failed:
            _check_left(content, recording_index, len(rejected))
        for key, values in _per_sample_arrays(content, recording_index).items():
            out.write(key, values)
        out.write("recording_index", recording_index)
        attrs: dict[str, Any] = {k: content.attrs[k] for k in CARRIED_ATTRS if k in content.attrs}
        attrs.update(fps=float(p.target_fps), segment=p.segment, centre_on=p.centre_on)
        if rejected_path is not None:
            write_rejected(rejected_path, rejected)
        out.finish(config=asdict(p), inputs=[str(input_path)], attrs=attrs)
    log.info(
        "%s: %d recordings -> %d samples (%d padded), segment %s, %d frames per sample at %g fps",
        input_path,
        num_rec,
        recording_index.shape[0],
        num_padded,
        p.segment,
        p.sample_frames,
        p.target_fps,
    )


def _check_left(content: HDF5Content, recording_index: np.ndarray, num_rejected: int) -> None:
    """Fail when the recordings left after setting some aside cannot train a model."""
    rows = np.unique(recording_index)
    check_trainable(
        str(content.attrs.get("dataset", "")),
        content.path,
        content["label"][rows],
        content["split"][rows].astype(str),
        num_rejected,
    )
