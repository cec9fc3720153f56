"""Synthetic NTU RGB+D-style samples written as ``.skeleton`` text files.

File layout (Shahroudy et al., CVPR 2016; CRLF line endings like the released files)::

    <frame count>
    per frame:  <body count>
      per body: bodyID clippedEdges handLeftConfidence handLeftState handRightConfidence
                handRightState isRestricted leanX leanY trackingState
                25
                25 lines: x y z depthX depthY colorX colorY orientW orientX orientY orientZ trackingState

Coordinates are Kinect v2 camera space in metres (a standing person about 1.7 m tall,
3 m from the camera); depth/colour pixels are the pinhole projection of each joint;
orientations are per-joint constants (zero for the end joints, as Kinect writes them).
A missing frame is a frame with body count 0 (the reader interpolates it).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..io.readers.ntu import motion_energy
from ..skeletons import NTU25
from .design import ClassDesign
from .motion import (
    NTU_TEMPLATE_M,
    IdleMotion,
    distractor_motion,
    idle_motion,
    missing_frames,
    planted_motion,
    rotation_about,
)
from .params import SyntheticParams

log = logging.getLogger(__name__)

NTU_SECONDS = (3.0, 6.0)
"""Range of sequence durations."""

PERFORMER_ORDER = (1, 3, 2, 6, 4, 7, 5, 8)
"""Performers in order of use; alternating NTU cross-subject training (1, 2, 4, 5, 8) and
validation (3, 6, 7) performers, so that small sets still populate both xsub splits."""

SECOND_PERSON_PROBABILITY = 0.25
"""Share of samples with an idle bystander (the same for every class)."""

NTU_TRUNK_M = float(np.linalg.norm(NTU_TEMPLATE_M[20] - NTU_TEMPLATE_M[0]))
_LEAF_JOINTS = (3, 15, 19, 21, 22, 23, 24)  # Kinect writes no orientation for these
_DEPTH = (256.0, 212.0, 365.0)  # principal point and focal length (pixels) of the depth camera
_COLOR = (975.0, 520.0, 1060.0)  # same for the colour camera (with its offset from depth)


@dataclass(frozen=True)
class NTUSample:
    """One generated NTU-style sample.

    Attributes
    ----------
    stem
        Sample name ``SsssCcccPpppRrrrAaaa``.
    label
        0-based class (action number minus 1).
    fps
        Source frame rate (written to the manifest).
    bodies
        Per body (actor first) float64 (frame, joint, channel) camera-space metres.
    body_ids
        Kinect body ids, one per body.
    missing
        Frames written with body count 0.
    """

    stem: str
    label: int
    fps: float
    bodies: tuple[np.ndarray, ...]
    body_ids: tuple[int, ...]
    missing: np.ndarray


def ntu_files_per_class(params: SyntheticParams) -> int:
    """Files per class: whole performances of three cameras (at least one)."""
    return 3 * max(1, round(params.samples_per_class * params.scale / 3))


def ntu_performer(index: int) -> int:
    """Performer of file ``index`` of a class (one performance is filmed by three cameras)."""
    return PERFORMER_ORDER[(index // 3) % len(PERFORMER_ORDER)]


def ntu_stem(label: int, index: int) -> str:
    """Name of file ``index`` of a class: cameras cycle 1, 2, 3 within one performance."""
    camera = index % 3 + 1
    perf = index // 3
    n = len(PERFORMER_ORDER)
    performer = ntu_performer(index)
    replication = (perf // n) % 2 + 1
    setup = perf // (2 * n) + 1
    return f"S{setup:03d}C{camera:03d}P{performer:03d}R{replication:03d}A{label + 1:03d}"


def performer_scales(seed: int) -> dict[int, float]:
    """Body size of every performer (0.85-1.15 times the template), fixed by the seed."""
    rng = np.random.default_rng([seed, 11])
    return {p: float(rng.uniform(0.85, 1.15)) for p in sorted(PERFORMER_ORDER)}


def simulate_ntu_sample(
    designs: tuple[ClassDesign, ...],
    label: int,
    index: int,
    params: SyntheticParams,
    body_scale: float,
    idle: IdleMotion,
) -> NTUSample:
    """Generate sample ``index`` of class ``label`` (independent of the other samples).

    The class's planted joints carry its motion; the design's distractor sets (``shared``: the
    same class-free sets for every class; ``per_class``: the other classes' sets) move as
    distractors (:func:`harxai.synthetic.motion.distractor_motion`)."""
    design = designs[label]
    rng = np.random.default_rng([params.seed, 1, design.label, index])
    fps = float(rng.choice(params.fps_choices))
    frames = max(2, round(rng.uniform(*NTU_SECONDS) * fps))
    times = np.arange(frames) / fps
    up = np.array([0.0, 1.0, 0.0])
    motion = idle_motion(rng, NTU25, times, up, idle) + planted_motion(rng, design, times, NTU25.num_joints)
    motion += distractor_motion(rng, designs, label, times, NTU25.num_joints)
    actor = _place_body(rng, motion, body_scale, params.noise, offset=np.zeros(3))
    camera = np.array([rng.uniform(-0.4, 0.4), -rng.uniform(0.75, 1.05), rng.uniform(2.7, 3.4)])
    bodies = [actor + camera]
    if rng.random() < SECOND_PERSON_PROBABILITY:
        bodies.append(_bystander(rng, times, actor, body_scale, params, idle) + camera)
    ids = 72057594037927936 + rng.choice(np.arange(1000, 20000), size=len(bodies), replace=False)
    missing = missing_frames(rng, frames, params.missing_fraction)
    return NTUSample(
        stem=ntu_stem(design.label, index),
        label=design.label,
        fps=fps,
        bodies=tuple(bodies),
        body_ids=tuple(int(i) for i in ids),
        missing=missing,
    )


def _place_body(
    rng: np.random.Generator, motion: np.ndarray, scale: float, noise: float, offset: np.ndarray
) -> np.ndarray:
    """Template plus motion (trunk lengths) in metres, noisy, turned +-20 deg about the vertical."""
    trunk = NTU_TRUNK_M * scale
    pose = NTU_TEMPLATE_M[None] * scale + motion * trunk
    pose = pose + rng.normal(scale=noise * trunk, size=pose.shape)
    rot = rotation_about(1, rng.uniform(-20.0, 20.0))
    placed: np.ndarray = pose @ rot.T + offset
    return placed


def _bystander(
    rng: np.random.Generator,
    times: np.ndarray,
    actor: np.ndarray,
    actor_scale: float,
    params: SyntheticParams,
    idle: IdleMotion,
) -> np.ndarray:
    """An idle second person beside the actor, smaller and calmer so the actor is the most active."""
    calm = IdleMotion(**{k: v if k.endswith("_s") else 0.8 * v for k, v in asdict(idle).items()})
    motion = idle_motion(rng, NTU25, times, np.array([0.0, 1.0, 0.0]), calm)
    side = rng.choice([-1.0, 1.0]) * rng.uniform(0.9, 1.3)
    offset = np.array([side, 0.0, rng.uniform(-0.3, 0.5)])
    scale = actor_scale * rng.uniform(0.8, 0.9)
    body = _place_body(rng, motion, scale, params.noise, offset)
    limit = 0.98 * motion_energy(actor)
    while motion_energy(body) >= limit:  # the reader keeps the most active first
        scale *= 0.9
        body = _place_body(rng, motion, scale, params.noise, offset)
    return body


def format_ntu_skeleton(sample: NTUSample, orientations: np.ndarray) -> bytes:
    """The ``.skeleton`` file content (ASCII, CRLF).

    Parameters
    ----------
    sample
        The sample.
    orientations
        (joint, 4) orientation quaternions written for every frame.
    """
    frames = sample.bodies[0].shape[0]
    skip = set(sample.missing.tolist())
    body_lines = [_joint_lines(b, orientations) for b in sample.bodies]
    info = [_info_line(i, b) for i, b in zip(sample.body_ids, sample.bodies, strict=True)]
    out = [str(frames)]
    v = NTU25.num_joints
    for t in range(frames):
        if t in skip:
            out.append("0")
            continue
        out.append(str(len(sample.bodies)))
        for b, lines in enumerate(body_lines):
            out.append(info[b])
            out.append(str(v))
            out.extend(lines[t * v : (t + 1) * v])
    out.append("")
    return "\r\n".join(out).encode("ascii")


def _info_line(body_id: int, body: np.ndarray) -> str:
    """Body info line: tracked, hands open/confident, lean from the mean spine direction."""
    spine = (body[:, 20] - body[:, 0]).mean(axis=0)
    lean = spine / np.linalg.norm(spine)
    return f"{body_id} 0 1 1 1 1 0 {lean[0]:.7g} {-lean[2]:.7g} 2"


def _joint_lines(body: np.ndarray, orientations: np.ndarray) -> list[str]:
    """(frame * joint) joint lines of one body."""
    x, y, z = body[..., 0], body[..., 1], body[..., 2]
    values = np.stack(
        [
            x,
            y,
            z,
            _DEPTH[0] + _DEPTH[2] * x / z,
            _DEPTH[1] - _DEPTH[2] * y / z,
            _COLOR[0] + _COLOR[2] * x / z,
            _COLOR[1] - _COLOR[2] * y / z,
        ],
        axis=-1,
    ).reshape(-1, 7)
    tails = [" ".join(f"{q:.7g}" for q in o) + " 2" for o in orientations]
    v = NTU25.num_joints
    fmt = "%.7g %.7g %.7g %.7g %.7g %.7g %.7g "
    return [fmt % tuple(row) + tails[i % v] for i, row in enumerate(values.tolist())]


def joint_orientations(seed: int) -> np.ndarray:
    """(joint, 4) plausible constant orientation quaternions; zero for the end joints."""
    rng = np.random.default_rng([seed, 12])
    q = rng.normal(size=(NTU25.num_joints, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q[list(_LEAF_JOINTS)] = 0.0
    return q


def write_ntu_dataset(out: Path, params: SyntheticParams, designs: tuple[ClassDesign, ...]) -> int:
    """Write every ``.skeleton`` file and ``manifest.csv`` (recording_id, fps) into ``out``.

    Returns
    -------
    int
        Number of files written.
    """
    per_class = ntu_files_per_class(params)
    scales = performer_scales(params.seed)
    orientations = joint_orientations(params.seed)
    idle = IdleMotion()
    rows = []
    total = per_class * len(designs)
    for design in designs:
        for i in range(per_class):
            sample = simulate_ntu_sample(designs, design.label, i, params, scales[ntu_performer(i)], idle)
            (out / f"{sample.stem}.skeleton").write_bytes(format_ntu_skeleton(sample, orientations))
            rows.append(f"{sample.stem},{sample.fps:g}")
            if len(rows) % 20 == 0 or len(rows) == total:
                log.info("wrote %d/%d .skeleton files", len(rows), total)
    (out / "manifest.csv").write_text("recording_id,fps\n" + "\n".join(sorted(rows)) + "\n", encoding="ascii")
    return total
