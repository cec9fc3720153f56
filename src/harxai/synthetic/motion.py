"""Body templates and motion primitives shared by both synthetic formats.

Displacements are expressed in trunk lengths (the unit the preprocessing normalises to),
per frame and joint: arrays of shape (frame, joint, channel).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..skeletons import SkeletonLayout
from .design import DISTRACTOR_EXCLUSION, FREQUENCY_RANGE_HZ, ClassDesign, amplitude_for

RAMP_S = 0.2
"""Fade-in and fade-out time of a burst (raised cosine inside the burst segment)."""

# Standing adult facing the camera, metres above the floor; x to the performer's right
# (as in the Kinect camera space of NTU RGB+D), z towards the camera is negative.
NTU_TEMPLATE_M = np.array(
    [
        [0.00, 0.95, 0.00],  # base_of_spine
        [0.00, 1.20, 0.01],  # middle_of_spine
        [0.00, 1.50, 0.01],  # neck
        [0.00, 1.62, 0.00],  # head
        [-0.19, 1.40, 0.02],  # left_shoulder
        [-0.25, 1.13, 0.03],  # left_elbow
        [-0.27, 0.89, 0.00],  # left_wrist
        [-0.27, 0.81, -0.01],  # left_hand
        [0.19, 1.40, 0.02],  # right_shoulder
        [0.25, 1.13, 0.03],  # right_elbow
        [0.27, 0.89, 0.00],  # right_wrist
        [0.27, 0.81, -0.01],  # right_hand
        [-0.09, 0.92, 0.01],  # left_hip
        [-0.10, 0.50, -0.01],  # left_knee
        [-0.10, 0.09, 0.02],  # left_ankle
        [-0.11, 0.03, -0.09],  # left_foot
        [0.09, 0.92, 0.01],  # right_hip
        [0.10, 0.50, -0.01],  # right_knee
        [0.10, 0.09, 0.02],  # right_ankle
        [0.11, 0.03, -0.09],  # right_foot
        [0.00, 1.43, 0.02],  # spine_shoulder
        [-0.27, 0.72, -0.01],  # left_hand_tip
        [-0.24, 0.80, -0.04],  # left_thumb
        [0.27, 0.72, -0.01],  # right_hand_tip
        [0.24, 0.80, -0.04],  # right_thumb
    ]
)

# Infant lying supine seen from above, in trunk lengths: thorax at the origin, pelvis at
# (0, 1); image axes (x right, y down), the infant's right on the image's left.
INFANT_TEMPLATE = np.array(
    [
        [0.00, -1.05],  # head_top
        [0.00, -0.62],  # nose
        [-0.28, -0.68],  # right_ear
        [0.28, -0.68],  # left_ear
        [0.00, -0.30],  # upper_neck
        [-0.42, 0.02],  # right_shoulder
        [-0.66, 0.40],  # right_elbow
        [-0.60, 0.80],  # right_wrist
        [0.00, 0.00],  # thorax
        [0.42, 0.02],  # left_shoulder
        [0.66, 0.40],  # left_elbow
        [0.60, 0.80],  # left_wrist
        [0.00, 1.00],  # pelvis
        [-0.22, 1.00],  # right_hip
        [-0.36, 1.55],  # right_knee
        [-0.30, 2.05],  # right_ankle
        [0.22, 1.00],  # left_hip
        [0.36, 1.55],  # left_knee
        [0.30, 2.05],  # left_ankle
        [-0.68, 0.95],  # right_little_finger
        [-0.53, 0.97],  # right_index_finger
        [0.68, 0.95],  # left_little_finger
        [0.53, 0.97],  # left_index_finger
        [-0.30, 2.13],  # right_heel
        [-0.42, 2.25],  # right_little_toe
        [-0.24, 2.28],  # right_big_toe
        [0.30, 2.13],  # left_heel
        [0.42, 2.25],  # left_little_toe
        [0.24, 2.28],  # left_big_toe
    ]
)


@dataclass(frozen=True)
class IdleMotion:
    """Amplitudes (trunk lengths) and time scales (seconds) of the class-independent motion.

    Attributes
    ----------
    sway, sway_sigma_s
        Whole-body translation (smoothed noise std) and its smoothing width.
    breathing
        Amplitude of the breathing oscillation of the torso joints (0.2-0.4 Hz).
    limb, limb_sigma_s
        Per-limb coherent wiggle, growing from the limb root to its extremity.
    joint, joint_sigma_s
        Independent per-joint wiggle of every non-centre joint.
    """

    sway: float = 0.03
    sway_sigma_s: float = 0.5
    breathing: float = 0.01
    limb: float = 0.04
    limb_sigma_s: float = 0.25
    joint: float = 0.015
    joint_sigma_s: float = 0.12


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, ...], sigma_frames: float, std: float
) -> np.ndarray:
    """Gaussian-smoothed white noise along axis 0 with (expected) standard deviation ``std``."""
    white = rng.normal(size=shape)
    if sigma_frames < 0.5:
        return std * white
    smooth: np.ndarray = gaussian_filter1d(white, sigma_frames, axis=0, mode="reflect")
    gain = 1.0 / np.sqrt(2.0 * np.sqrt(np.pi) * sigma_frames)  # std of filtered unit noise
    smooth *= std / gain
    return smooth


def idle_motion(
    rng: np.random.Generator,
    layout: SkeletonLayout,
    times: np.ndarray,
    up: np.ndarray,
    idle: IdleMotion,
) -> np.ndarray:
    """Class-independent motion: sway, breathing, limb and joint wiggles.

    Parameters
    ----------
    rng
        Random generator of this sample.
    layout
        Skeleton layout (parts and hop distances shape the wiggles).
    times
        (frame,) seconds.
    up
        (channel,) unit vector along the body's long axis, towards the head.
    idle
        Amplitudes and time scales.

    Returns
    -------
    np.ndarray
        (frame, joint, channel) displacement in trunk lengths.
    """
    frames, joints, channels = times.size, layout.num_joints, up.size
    fps = (frames - 1) / (times[-1] - times[0]) if frames > 1 else 30.0
    out = smooth_noise(rng, (frames, 1, channels), idle.sway_sigma_s * fps, idle.sway)
    out = np.repeat(out, joints, axis=1)
    f_breath = rng.uniform(0.2, 0.4)
    breath = idle.breathing * np.sin(2 * np.pi * f_breath * times + rng.uniform(0, 2 * np.pi))
    torso = [j for j in layout.parts.get("torso", ()) if j != layout.center]
    out[:, torso, :] += breath[:, None, None] * up[None, None, :]
    hops = layout.hop_distances()[layout.center].astype(np.float64)
    for name in sorted(layout.parts):
        if name == "torso":
            continue
        part = list(layout.parts[name])
        weight = np.minimum(1.0, hops[part] / 4.0)
        wiggle = smooth_noise(rng, (frames, 1, channels), idle.limb_sigma_s * fps, idle.limb)
        out[:, part, :] += wiggle * weight[None, :, None]
    jitter = smooth_noise(rng, (frames, joints, channels), idle.joint_sigma_s * fps, idle.joint)
    jitter[:, layout.center, :] = 0.0
    out += jitter
    return out


def burst_envelope(times: np.ndarray, segments: list[tuple[float, float]]) -> np.ndarray:
    """(frame,) gain: 1 inside the segments, raised-cosine ramps of :data:`RAMP_S` at their
    inner edges, 0 outside (the motion stays within its segments)."""
    out = np.zeros(times.size)
    for a, b in segments:
        ramp = min(RAMP_S, (b - a) / 2)
        x = np.clip(np.minimum(times - a, b - times) / ramp, 0.0, 1.0)
        out = np.maximum(out, 0.5 - 0.5 * np.cos(np.pi * x))
    return out


def _oscillation(
    times: np.ndarray,
    joints: tuple[int, ...],
    num_joints: int,
    directions: np.ndarray,
    phases: np.ndarray,
    freq: float,
    amp: float,
    envelope: np.ndarray,
) -> np.ndarray:
    out = np.zeros((times.size, num_joints, directions.shape[1]))
    for j, d, p in zip(joints, directions, phases, strict=True):
        out[:, j, :] += (envelope * amp * np.sin(2 * np.pi * freq * times + p))[:, None] * d[None, :]
    return out


def planted_motion(
    rng: np.random.Generator, design: ClassDesign, times: np.ndarray, joints: int
) -> np.ndarray:
    """The class motion: each planted joint oscillates along its direction.

    Frequency and amplitude are jittered per sample (up to 5 % and 15 %); the phase is
    random per sample plus the design's fixed per-joint offset. A class with bursts moves only
    in its segments (:meth:`ClassDesign.segments`): at the class's fixed start for a temporal
    class, else at a random start per sample.

    Returns
    -------
    np.ndarray
        (frame, joint, channel) displacement in trunk lengths, zero off the planted joints.
    """
    directions = np.asarray(design.directions)
    freq = design.frequency_hz * rng.uniform(0.95, 1.05)
    amp = design.amplitude * rng.uniform(0.85, 1.15)
    phase = rng.uniform(0.0, 2 * np.pi)
    seconds = float(times[-1]) if times.size else 0.0
    if design.burst is None:
        envelope = np.ones(times.size)
    else:
        start = None if design.temporal else float(rng.uniform(*design.burst.distractor_start_range_s))
        envelope = burst_envelope(times, design.segments(seconds, start))
    return _oscillation(
        times, design.joints, joints, directions, phase + np.asarray(design.phases), freq, amp, envelope
    )


def distractor_frequency(rng: np.random.Generator, class_frequency_hz: float) -> float:
    """A frequency from :data:`FREQUENCY_RANGE_HZ`, at least :data:`DISTRACTOR_EXCLUSION`
    (relative) away from ``class_frequency_hz`` (uniform over what is left of the band)."""
    lo, hi = FREQUENCY_RANGE_HZ
    gap = (class_frequency_hz * (1 - DISTRACTOR_EXCLUSION), class_frequency_hz * (1 + DISTRACTOR_EXCLUSION))
    pieces = [(lo, min(hi, gap[0])), (max(lo, gap[1]), hi)]
    pieces = [(a, b) for a, b in pieces if b > a]
    lengths = np.array([b - a for a, b in pieces])
    a, b = pieces[int(rng.choice(len(pieces), p=lengths / lengths.sum()))]
    return float(rng.uniform(a, b))


def distractor_motion(
    rng: np.random.Generator,
    designs: tuple[ClassDesign, ...],
    label: int,
    times: np.ndarray,
    joints: int,
) -> np.ndarray:
    """Class-free motion of the distractor joint sets of class ``label``'s samples.

    ``shared`` designs (:attr:`ClassDesign.planted_sets`): every distractor set
    (:attr:`ClassDesign.distractor_sets`, the same for every class) oscillates with the peak
    speed of planted motion at a frequency drawn from the whole band, along random directions
    with random phases, with the design's envelope kind (bursts at a random start from
    ``burst.distractor_start_range_s``, or the whole recording). Nothing of it depends on the
    sample's class: with the same generator, two classes' distractor motion is identical.

    ``per_class`` designs: each other class's joint set oscillates as strongly as planted motion (the same peak
    speed, :data:`~harxai.synthetic.design.PEAK_SPEED`) at a frequency from the same band but
    away from that set's class frequency (:func:`distractor_frequency`), along random
    directions with random phases, with the same envelope kind as that class (bursts at a
    random start from ``burst.distractor_start_range_s``, or the whole recording). Nothing of
    it depends on the sample's class except *which* sets move as distractors (all but its own),
    so per-joint motion energy is the same on planted and distractor joints.

    Returns
    -------
    np.ndarray
        (frame, joint, channel) displacement in trunk lengths.
    """
    channels = len(designs[label].directions[0])
    out = np.zeros((times.size, joints, channels))
    seconds = float(times[-1]) if times.size else 0.0
    own = designs[label]
    if own.planted_sets == "shared":
        for joint_set in own.distractor_sets:
            freq = float(rng.uniform(*FREQUENCY_RANGE_HZ))
            amp = amplitude_for(freq) * rng.uniform(0.85, 1.15)
            directions = random_directions(rng, len(joint_set), channels)
            phases = rng.uniform(0.0, 2 * np.pi, len(joint_set))
            if own.burst is not None:
                start = float(rng.uniform(*own.burst.distractor_start_range_s))
                envelope = burst_envelope(times, own.burst.segments(start, seconds))
            else:
                envelope = np.ones(times.size)
            out += _oscillation(times, joint_set, joints, directions, phases, freq, amp, envelope)
        return out
    for other in designs:
        if other.label == label:
            continue
        freq = distractor_frequency(rng, other.frequency_hz)
        amp = amplitude_for(freq) * rng.uniform(0.85, 1.15)
        directions = random_directions(rng, len(other.joints), channels)
        phases = rng.uniform(0.0, 2 * np.pi, len(other.joints))
        if other.burst is not None:
            start = float(rng.uniform(*other.burst.distractor_start_range_s))
            envelope = burst_envelope(times, other.burst.segments(start, seconds))
        else:
            envelope = np.ones(times.size)
        out += _oscillation(times, other.joints, joints, directions, phases, freq, amp, envelope)
    return out


def random_directions(rng: np.random.Generator, n: int, channels: int) -> np.ndarray:
    """(n, channel) random unit vectors; in 3-D the depth (z) component is halved."""
    d = rng.normal(size=(n, channels))
    if channels == 3:
        d[:, 2] *= 0.5
    out: np.ndarray = d / np.linalg.norm(d, axis=1, keepdims=True)
    return out


def rotation_about(axis: int, degrees: float) -> np.ndarray:
    """3-D rotation matrix about coordinate ``axis`` (0 x, 1 y, 2 z)."""
    a = np.deg2rad(degrees)
    c, s = np.cos(a), np.sin(a)
    i, k = [n for n in range(3) if n != axis]
    r = np.eye(3)
    r[i, i], r[i, k], r[k, i], r[k, k] = c, -s, s, c
    return r


def rotation_2d(degrees: float) -> np.ndarray:
    """2-D rotation matrix."""
    a = np.deg2rad(degrees)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def missing_frames(rng: np.random.Generator, frames: int, fraction: float) -> np.ndarray:
    """Sorted indices of isolated interior frames (never the first or last, never adjacent)."""
    slots = np.arange(1, frames - 1, 2)
    if fraction <= 0 or slots.size == 0:
        return np.zeros(0, dtype=np.int64)
    count = min(int(rng.binomial(frames - 2, fraction)), slots.size)
    return np.sort(rng.choice(slots, size=count, replace=False)).astype(np.int64)
