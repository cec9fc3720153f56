"""Synthetic infant recordings written as key-point CSV tables with a manifest.

Each recording is ``<recording_id>.csv`` with a ``time`` column (seconds) and, for every
key point of ``in-motion-2022``, ``<kp>_x, <kp>_y`` (image pixels, y down) and
``<kp>_score`` (detector confidence). The infant lies supine, filmed from above. A missing
detection leaves the three cells of one key point empty in that frame (never in the first
or last frame). ``manifest.csv`` has ``recording_id,label,group,site,fps,split``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import SYNTHETIC_INFANT_CLASS_NAMES
from ..skeletons import IN_MOTION_2022
from .design import ClassDesign
from .motion import (
    INFANT_TEMPLATE,
    IdleMotion,
    distractor_motion,
    idle_motion,
    missing_frames,
    planted_motion,
    rotation_2d,
    smooth_noise,
)
from .params import SyntheticParams

log = logging.getLogger(__name__)

INFANT_CLASS_NAMES = list(SYNTHETIC_INFANT_CLASS_NAMES)
TRUNK_PX = 150.0
"""Trunk length (thorax to pelvis) in pixels at scale 1."""
IMAGE_CENTRE_PX = (960.0, 540.0)
VAL_FRACTION = 0.3
INFANT_IDLE = IdleMotion(sway=0.02)


@dataclass(frozen=True)
class Subject:
    """One synthetic infant: id (the manifest's group), label, site, split and body size."""

    group: str
    label: int
    site: str
    split: str
    size: float


@dataclass(frozen=True)
class InfantRecording:
    """One generated recording.

    Attributes
    ----------
    recording_id
        File stem.
    fps
        Frame rate.
    coords
        float64 (frame, joint, channel) image coordinates in pixels.
    scores
        float64 (frame, joint) detector confidences.
    missing
        (frame, joint) boolean, True where the cells are left empty.
    """

    recording_id: str
    fps: float
    coords: np.ndarray
    scores: np.ndarray
    missing: np.ndarray


def infant_subjects(params: SyntheticParams) -> list[Subject]:
    """Subjects with labels (half positive), sites and a per-label subject split (~30 % val)."""
    rng = np.random.default_rng([params.seed, 3])
    n = max(4, round(params.num_subjects * params.scale))
    labels = rng.permutation([1] * (n // 2) + [0] * (n - n // 2))
    split = ["train"] * n
    for label in (0, 1):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val = min(len(members) - 1, max(1, round(VAL_FRACTION * len(members))))
        for i in members[:n_val]:
            split[i] = "val"
    sites = rng.choice(["site_a", "site_b"], size=n)
    sizes = rng.uniform(0.9, 1.1, size=n)
    return [
        Subject(f"infant{i + 1:03d}", int(labels[i]), str(sites[i]), split[i], float(sizes[i]))
        for i in range(n)
    ]


def simulate_recording(
    subject_index: int,
    subject: Subject,
    rec: int,
    designs: tuple[ClassDesign, ...],
    params: SyntheticParams,
) -> InfantRecording:
    """Generate recording ``rec`` of a subject (independent of the other recordings).

    The subject's class moves its planted joints; the design's distractor sets (``shared``: the
    same class-free sets for both classes; ``per_class``: the other class's set) move as
    distractors (:func:`harxai.synthetic.motion.distractor_motion`)."""
    design = designs[subject.label]
    rng = np.random.default_rng([params.seed, 2, subject_index, rec])
    fps = float(rng.choice(params.fps_choices))
    frames = max(2, round(rng.uniform(*params.recording_seconds) * fps))
    times = np.arange(frames) / fps
    v = IN_MOTION_2022.num_joints
    motion = idle_motion(rng, IN_MOTION_2022, times, np.array([0.0, -1.0]), INFANT_IDLE)
    motion += planted_motion(rng, design, times, v)
    motion += distractor_motion(rng, designs, subject.label, times, v)
    pose = INFANT_TEMPLATE[None] + motion + rng.normal(scale=params.noise, size=motion.shape)
    pose = pose - np.array([0.0, 0.6])  # body middle at the image centre before rotation
    pixels = TRUNK_PX * subject.size * rng.uniform(0.94, 1.06)
    shift = np.array(IMAGE_CENTRE_PX) + rng.uniform(-1, 1, size=2) * np.array([80.0, 50.0])
    coords = pose @ rotation_2d(rng.uniform(-15.0, 15.0)).T * pixels + shift
    base = rng.uniform(0.8, 0.97, size=v)
    scores = np.clip(base[None, :] + smooth_noise(rng, (frames, v), 0.2 * fps, 0.04), 0.05, 0.999)
    missing = np.zeros((frames, v), dtype=bool)
    gaps = missing_frames(rng, frames, params.missing_fraction)
    missing[gaps, rng.integers(0, v, size=gaps.size)] = True
    return InfantRecording(f"{subject.group}_rec{rec + 1}", fps, coords, scores, missing)


def csv_header() -> str:
    """Header line: ``time`` then ``<kp>_x,<kp>_y,<kp>_score`` per key point."""
    cols = ["time"] + [f"{kp}_{c}" for kp in IN_MOTION_2022.joints for c in ("x", "y", "score")]
    return ",".join(cols)


def format_recording_csv(recording: InfantRecording) -> bytes:
    """CSV content: pixels with 2 decimals, scores with 3, time in seconds with 6."""
    frames, v = recording.scores.shape
    table = np.concatenate([recording.coords, recording.scores[..., None]], axis=-1).reshape(frames, 3 * v)
    times = np.arange(frames) / recording.fps
    fmt = "%.6f" + ",%.2f,%.2f,%.3f" * v
    lines = [fmt % (t, *row) for t, row in zip(times.tolist(), table.tolist(), strict=True)]
    for t, j in np.argwhere(recording.missing).tolist():
        cells = lines[t].split(",")
        cells[1 + 3 * j : 4 + 3 * j] = ["", "", ""]
        lines[t] = ",".join(cells)
    return ("\n".join([csv_header(), *lines]) + "\n").encode("ascii")


def write_infant_dataset(out: Path, params: SyntheticParams, designs: tuple[ClassDesign, ...]) -> int:
    """Write every recording CSV and ``manifest.csv`` into ``out``; returns the recording count."""
    subjects = infant_subjects(params)
    rows = []
    total = len(subjects) * params.recordings_per_subject
    for s, subject in enumerate(subjects):
        for rec in range(params.recordings_per_subject):
            recording = simulate_recording(s, subject, rec, designs, params)
            (out / f"{recording.recording_id}.csv").write_bytes(format_recording_csv(recording))
            rows.append(
                f"{recording.recording_id},{subject.label},{subject.group},{subject.site},"
                f"{recording.fps:g},{subject.split}"
            )
            if len(rows) % 10 == 0 or len(rows) == total:
                log.info("wrote %d/%d recordings", len(rows), total)
    header = "recording_id,label,group,site,fps,split"
    (out / "manifest.csv").write_text("\n".join([header, *rows]) + "\n", encoding="ascii")
    return total
