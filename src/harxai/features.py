"""The four input feature groups joint, velocity, bone, acceleration (``windows.h5`` -> ``features.h5``).

The groups follow EfficientGCN's ``multi_input`` as extended by ShapGCN (seed study, section
2(g)); each has ``2 * channel`` channels, computed from coordinates ``x`` of shape (sample,
channel, frame, joint, person):

* ``joint``: ``[x ; x - x_centre]`` with the layout's centre joint;
* ``velocity``: ``[x(t+1) - x(t) ; (x(t+2) - x(t)) / 2]`` ("slow" and "fast");
* ``bone``: ``[b ; arccos(b_c / (||b|| + 1e-4))]`` with ``b = x_v - x_parent(v)`` along the
  layout's bone tree (the root bone is 0, so a present root's angles are pi/2 as in the seed);
* ``acceleration``: ``[v_s(t+1) - v_s(t) ; (v_f(t+2) - v_f(t)) / 2]`` of the velocities,
  optionally smoothed first by a zero-phase Butterworth low-pass filter along frames
  (``scipy.signal.sosfiltfilt``; the seed's ``filter: True`` with order 8 and cut-off 0.5).

Absent persons and padding. A person whose coordinates are all zero in a frame is absent there
(``windows.h5`` stores absent persons and zero padding this way). Deviations from the seed:

* every feature of an absent person-frame is 0 (the seed's bone angles would be pi/2);
* a velocity is nonzero only where the person is present in frames ``t, t+1, t+2``; in
  particular the last two frames are 0, as in the seed, and there is no jump at the border of
  zero padding or of an absence (the seed differences into the zeros);
* an acceleration is nonzero only where both velocities it differences are valid (person
  present in frames ``t .. t+3`` for the slow, ``t .. t+4`` for the fast half);
* the Butterworth filter runs over the whole sample including padded frames (whose velocities
  are 0), so values near a padding border are smoothed towards 0; samples shorter than
  ``sosfiltfilt``'s default ``padlen`` use ``padlen = frame - 1`` instead of failing.

:func:`compute_feature_file` is the file-level entry point of rule ``compute_features``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from scipy.signal import butter, sosfiltfilt

from .config import FEATURE_GROUPS
from .io.blocks import BlockWriter, LazyRows, read_except
from .io.contracts import FEATURE_SET, SAMPLE, WINDOWS
from .io.hdf5 import provenance_attrs
from .skeletons import SkeletonLayout

log = logging.getLogger(__name__)

BONE_EPS = 1e-4
"""Added to the bone length before dividing, as in the seed."""
CHUNK_SAMPLES = 128
"""Samples read, processed and appended to ``features.h5`` at a time by :func:`compute_feature_file`."""
PROGRESS_EVERY = 1024
"""Log progress at INFO about every this many samples."""
AXES = ("x", "y", "z")


@dataclass(frozen=True)
class FeatureParams:
    """Parameters of the ``features`` config block.

    Attributes
    ----------
    butterworth
        Smooth the velocities with a zero-phase Butterworth low-pass before differencing them.
    butterworth_order
        Filter order (seed 8).
    butterworth_cutoff
        Cut-off as a fraction of the Nyquist frequency, in (0, 1) (seed 0.5).
    """

    butterworth: bool = True
    butterworth_order: int = 8
    butterworth_cutoff: float = 0.5

    def __post_init__(self) -> None:
        if self.butterworth_order < 1:
            raise ValueError(f"features.butterworth_order must be >= 1, got {self.butterworth_order}")
        if not 0 < self.butterworth_cutoff < 1:
            raise ValueError(f"features.butterworth_cutoff must lie in (0, 1), got {self.butterworth_cutoff}")

    @classmethod
    def from_dict(cls, params: Mapping[str, Any]) -> FeatureParams:
        """Build from the ``features`` config block (missing keys take the defaults)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"features: unknown parameters {unknown}; known: {sorted(known)}")
        return cls(**dict(params))


def channel_names(num_channels: int) -> dict[str, list[str]]:
    """Channel names of every group, e.g. ``joint: [x, y, z, x_rel, y_rel, z_rel]``."""
    if num_channels not in (2, 3):
        raise ValueError(f"features: coordinates must have 2 or 3 channels, got {num_channels}")
    axes = AXES[:num_channels]
    suffixes = {
        "joint": ("", "_rel"),
        "velocity": ("_slow", "_fast"),
        "bone": ("_vec", "_angle"),
        "acceleration": ("_slow", "_fast"),
    }
    return {g: [a + s for s in suffixes[g] for a in axes] for g in FEATURE_GROUPS}


def presence(data: np.ndarray) -> np.ndarray:
    """Which persons are present in which frames.

    Parameters
    ----------
    data
        Coordinates, shape (sample, channel, frame, joint, person).

    Returns
    -------
    numpy.ndarray
        Boolean, shape (sample, frame, person): any coordinate nonzero.
    """
    return np.asarray(np.any(data != 0, axis=(1, 3)))


def _stencil_valid(present: np.ndarray, span: int) -> np.ndarray:
    """True at frame t where frames t .. t+span all exist and are present; shape of ``present``."""
    num_frames = present.shape[1]
    valid = np.zeros_like(present)
    if num_frames > span:
        valid[:, : num_frames - span] = np.all(
            [present[:, k : num_frames - span + k] for k in range(span + 1)], axis=0
        )
    return valid


def _mask(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Zero (sample, channel, frame, joint, person) values where ``valid`` is False.

    ``valid`` is (sample, frame, person) or per key point (sample, frame, joint, person).
    """
    if valid.ndim == 3:
        return np.asarray(values * valid[:, None, :, None, :])
    return np.asarray(values * valid[:, None])


def detected(data: np.ndarray, confidence: np.ndarray | None = None) -> np.ndarray:
    """Which key points count as detected, shape (sample, frame, joint, person).

    ``confidence > 0`` (and the person present) when given, else every key point of a present
    person.
    """
    present = presence(data)[:, :, None, :]
    if confidence is None:
        return np.asarray(
            np.broadcast_to(present, (data.shape[0], data.shape[2], data.shape[3], data.shape[4]))
        )
    return np.asarray((np.asarray(confidence) > 0) & present)


def joint_features(
    data: np.ndarray, layout: SkeletonLayout, confidence: np.ndarray | None = None
) -> np.ndarray:
    """Joint group ``[x ; x - x_centre]``.

    Parameters
    ----------
    data
        Coordinates, shape (sample, channel, frame, joint, person).
    layout
        Layout whose ``center`` is the reference joint.
    confidence
        (sample, frame, joint, person) key-point confidence, or None.

    Returns
    -------
    numpy.ndarray
        Shape (sample, 2 * channel, frame, joint, person); the relative half is zero where
        the joint or the centre is not detected.
    """
    x = np.asarray(data, dtype=np.float64)
    seen = detected(x, confidence)
    relative = x - x[:, :, :, layout.center : layout.center + 1]
    return np.concatenate([x, _mask(relative, seen & seen[:, :, layout.center : layout.center + 1])], axis=1)


def velocity_features(data: np.ndarray, confidence: np.ndarray | None = None) -> np.ndarray:
    """Velocity group ``[x(t+1) - x(t) ; (x(t+2) - x(t)) / 2]``.

    Both halves are 0 unless the key point is detected (its person present) in frames
    ``t, t+1, t+2``; the last two frames are therefore 0, as in the seed.

    Parameters
    ----------
    data
        Coordinates, shape (sample, channel, frame, joint, person).
    confidence
        (sample, frame, joint, person) key-point confidence, or None.

    Returns
    -------
    numpy.ndarray
        Shape (sample, 2 * channel, frame, joint, person).
    """
    x = np.asarray(data, dtype=np.float64)
    slow = np.zeros_like(x)
    fast = np.zeros_like(x)
    slow[:, :, :-1] = x[:, :, 1:] - x[:, :, :-1]
    fast[:, :, :-2] = (x[:, :, 2:] - x[:, :, :-2]) / 2.0
    valid = _stencil_valid(detected(x, confidence), 2)
    return np.concatenate([_mask(slow, valid), _mask(fast, valid)], axis=1)


def bone_features(
    data: np.ndarray, layout: SkeletonLayout, confidence: np.ndarray | None = None
) -> np.ndarray:
    """Bone group ``[b ; arccos(b_c / (||b|| + 1e-4))]`` with ``b = x_v - x_parent(v)``.

    Parents come from ``layout.parents()`` (the bone tree rooted at the centre joint, whose
    bone is 0). Vector and angles are 0 unless the joint and its parent are detected (the
    seed gives angles pi/2 for absent persons).

    Parameters
    ----------
    data
        Coordinates, shape (sample, channel, frame, joint, person).
    layout
        Skeleton layout.
    confidence
        (sample, frame, joint, person) key-point confidence, or None.

    Returns
    -------
    numpy.ndarray
        Shape (sample, 2 * channel, frame, joint, person).
    """
    x = np.asarray(data, dtype=np.float64)
    parents = layout.parents()
    bone = x - x[:, :, :, parents]
    length = np.sqrt(np.sum(bone**2, axis=1, keepdims=True))
    angle = np.arccos(np.clip(bone / (length + BONE_EPS), -1.0, 1.0))
    seen = detected(x, confidence)
    valid = seen & seen[:, :, parents]
    return np.concatenate([_mask(bone, valid), _mask(angle, valid)], axis=1)


def lowpass(values: np.ndarray, order: int = 8, cutoff: float = 0.5) -> np.ndarray:
    """Zero-phase Butterworth low-pass along frames (axis 2).

    ``scipy.signal.butter(order, cutoff, output="sos")`` applied forward and backward with
    ``sosfiltfilt``. Fallback for short samples: when there are no more frames than the default
    ``padlen`` (``3 * (2 * sections + 1)``, 27 for order 8), ``padlen = frame - 1`` is used.

    Parameters
    ----------
    values
        Shape (sample, channel, frame, joint, person).
    order, cutoff
        Filter order and cut-off as a fraction of the Nyquist frequency.

    Returns
    -------
    numpy.ndarray
        float64, same shape.
    """
    sos = butter(order, cutoff, output="sos")
    num_frames = values.shape[2]
    return np.asarray(sosfiltfilt(sos, values, axis=2, padlen=min(default_padlen(sos), num_frames - 1)))


def default_padlen(sos: np.ndarray) -> int:
    """The ``padlen`` that ``scipy.signal.sosfiltfilt`` uses by default for ``sos``."""
    ntaps = 2 * int(sos.shape[0]) + 1
    ntaps -= min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return 3 * ntaps


def acceleration_features(
    data: np.ndarray, params: FeatureParams | None = None, confidence: np.ndarray | None = None
) -> np.ndarray:
    """Acceleration group ``[v_s(t+1) - v_s(t) ; (v_f(t+2) - v_f(t)) / 2]``.

    ``v_s`` and ``v_f`` are the two halves of :func:`velocity_features`, first smoothed by
    :func:`lowpass` when ``params.butterworth``. A value is 0 unless both velocities it
    differences are valid (key point detected in frames ``t .. t+3`` for the slow and
    ``t .. t+4`` for the fast half).

    Parameters
    ----------
    data
        Coordinates, shape (sample, channel, frame, joint, person).
    params
        Filter settings (default: :class:`FeatureParams` defaults).
    confidence
        (sample, frame, joint, person) key-point confidence, or None.

    Returns
    -------
    numpy.ndarray
        Shape (sample, 2 * channel, frame, joint, person).
    """
    x = np.asarray(data)
    return _acceleration(velocity_features(x, confidence), detected(x, confidence), params or FeatureParams())


def _acceleration(velocity: np.ndarray, present: np.ndarray, params: FeatureParams) -> np.ndarray:
    if params.butterworth:
        velocity = lowpass(velocity, params.butterworth_order, params.butterworth_cutoff)
    num_channels = velocity.shape[1] // 2
    slow, fast = velocity[:, :num_channels], velocity[:, num_channels:]
    acc_slow = np.zeros_like(slow)
    acc_fast = np.zeros_like(fast)
    acc_slow[:, :, :-1] = slow[:, :, 1:] - slow[:, :, :-1]
    acc_fast[:, :, :-2] = (fast[:, :, 2:] - fast[:, :, :-2]) / 2.0
    return np.concatenate(
        [_mask(acc_slow, _stencil_valid(present, 3)), _mask(acc_fast, _stencil_valid(present, 4))], axis=1
    )


def compute_features(
    data: np.ndarray, layout: SkeletonLayout, params: FeatureParams, confidence: np.ndarray | None = None
) -> np.ndarray:
    """All four feature groups.

    Parameters
    ----------
    data
        Coordinates, shape (sample, channel, frame, joint, person).
    layout
        Skeleton layout (centre joint and bone tree).
    params
        Filter settings of the acceleration group.
    confidence
        (sample, frame, joint, person) key-point confidence, or None (module docstring).

    Returns
    -------
    numpy.ndarray
        float32, shape (sample, group, 2 * channel, frame, joint, person), groups in the order
        joint, velocity, bone, acceleration.
    """
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 5:
        raise ValueError(
            f"features: expected (sample, channel, frame, joint, person) data, got shape {x.shape}"
        )
    if x.shape[3] != layout.num_joints:
        raise ValueError(
            f"features: data has {x.shape[3]} joints but layout {layout.name!r} has {layout.num_joints}"
        )
    num_samples, num_channels = x.shape[:2]
    out = np.empty((num_samples, len(FEATURE_GROUPS), 2 * num_channels, *x.shape[2:]), dtype=np.float32)
    velocity = velocity_features(x, confidence)
    out[:, FEATURE_GROUPS.index("joint")] = joint_features(x, layout, confidence)
    out[:, FEATURE_GROUPS.index("velocity")] = velocity
    out[:, FEATURE_GROUPS.index("bone")] = bone_features(x, layout, confidence)
    out[:, FEATURE_GROUPS.index("acceleration")] = _acceleration(velocity, detected(x, confidence), params)
    return out


def compute_feature_file(
    input_path: str | os.PathLike[str], output_path: str | os.PathLike[str], params: Mapping[str, Any]
) -> None:
    """Compute ``features.h5`` from ``windows.h5`` (rule ``compute_features``).

    Parameters
    ----------
    input_path
        ``windows.h5`` with ``data`` (sample, channel, frame, joint, person) and attribute
        ``layout``.
    output_path
        ``features.h5`` to write. Datasets: ``features`` float32 (sample, group, channel, frame,
        joint, person) and every per-sample dataset of the input (``label``, ``recording_id``,
        ``group``, ``split``, ``window_start``, ``padded``, ...) copied. Attributes: those of the
        input (``confidence`` (sample, frame, joint, person) when the input has it;
        ``dataset``, ``layout``, ``class_names``, ``task``, ``num_channels``, ``fps``,
        ``segment``, ...) plus ``groups`` (JSON list) and ``channel_names`` (JSON
        {group: [names]}); provenance ``config`` holds the parameters.
    params
        The ``features`` config block.

    Memory stays bounded: :data:`CHUNK_SAMPLES` samples are read, processed and appended to
    the output at a time; the values are those of :func:`compute_features` on the whole array.
    """
    p = FeatureParams.from_dict(params)
    content = read_except(WINDOWS, input_path, ("data", "confidence"))
    layout = SkeletonLayout.from_dict(content.json_attr("layout"))
    with LazyRows(WINDOWS, input_path) as src, BlockWriter(output_path, FEATURE_SET) as out:
        num_samples, num_channels, num_frames, num_joints, num_persons = src.shape("data")
        has_confidence = "confidence" in src
        names = channel_names(num_channels)
        if num_samples == 0:
            shape = (0, len(FEATURE_GROUPS), 2 * num_channels, num_frames, num_joints, num_persons)
            out.append("features", np.zeros(shape, np.float32))
            if has_confidence:
                out.append("confidence", src.rows("confidence", 0, 0))
        for start in range(0, num_samples, CHUNK_SAMPLES):
            stop = min(start + CHUNK_SAMPLES, num_samples)
            conf = src.rows("confidence", start, stop) if has_confidence else None
            out.append("features", compute_features(src.rows("data", start, stop), layout, p, conf))
            if conf is not None:
                out.append("confidence", conf)
            if stop < num_samples and stop // PROGRESS_EVERY > start // PROGRESS_EVERY:
                log.info("features of %d / %d samples", stop, num_samples)
        for key in WINDOWS.names(SAMPLE):
            if key in content:
                out.write(key, content[key])
        provenance = set(provenance_attrs({}, [], None))
        attrs: dict[str, Any] = {k: v for k, v in content.attrs.items() if k not in provenance}
        attrs.update(groups=list(FEATURE_GROUPS), channel_names=names)
        out.finish(config=asdict(p), inputs=[str(input_path)], attrs=attrs)
    log.info(
        "%s: features of %d samples, groups %s, %d channels each, %d frames",
        input_path,
        num_samples,
        ", ".join(FEATURE_GROUPS),
        2 * num_channels,
        num_frames,
    )
