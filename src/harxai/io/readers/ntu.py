"""Reader of NTU RGB+D ``.skeleton`` text files (Kinect v2 skeletons, 25 joints).

Format (Shahroudy et al., CVPR 2016; github.com/shahroudy/NTURGB-D), CRLF line endings::

    <frame count>
    per frame:  <body count>
      per body: <10 values: bodyID clippedEdges handLeftConfidence handLeftState
                 handRightConfidence handRightState isRestricted leanX leanY trackingState>
                <joint count (25)>
                25 lines of 12 values: x y z depthX depthY colorX colorY
                                       orientW orientX orientY orientZ trackingState

Only the camera-space ``x, y, z`` (metres) are kept. The structure (counts, values per
line) is checked line by line; the joint values are then converted in one vectorised
call, so a 300 KB file parses in a few milliseconds.

Bodies are tracked by ``bodyID`` across frames (a ``bodyID`` listed twice in one frame
keeps its first entry and is logged). Persons are chosen as the NTU pre-processing of the
field does it (``get_raw_denoised_data.py`` of 2s-AGCN/CTR-GCN, after Shahroudy et al.), when
a file holds more than one body, with thresholds in :class:`NTUDenoise`
(``datasets.<name>.ntu_denoise``):

1. **length**: bodies tracked in ``noise_length`` (11) frames or fewer are dropped;
2. **spread**: a frame of a body is noisy when the x spread of its joints exceeds
   ``noise_spread`` (0.8) times their y spread (a lying or smeared "body"); a body whose
   fraction of noisy frames is at least ``noise_spread_fraction`` (0.69754) is dropped;
3. the ``max_persons`` most active remaining bodies are kept, ranked by **motion energy**:
   for each body, the standard deviation over its frames and joints of each coordinate
   ``x, y, z``, summed over the three coordinates, using only frames where the body's
   coordinates are not all zero (the seed code's ``ntu_gendata.py``, EfficientGCN's
   ``get_nonzero_std``, applied to bodyID tracks). Ties go to the body seen in more frames,
   then to the body seen first. Person 0 is the most active body.

A step that would drop every remaining body is skipped (a file always keeps a body).

The sequence is trimmed to the frames between the first and the last appearance of any
kept body. A kept body missing from frames inside its own span is linearly interpolated
over frame index (the count of filled values is reported); outside its span it is 0.

Confidence: each joint's ``trackingState`` (2 tracked, 1 inferred, 0 not tracked) becomes
confidence 1, 0.5 and 0. A not-tracked joint is not used as a coordinate: it is
interpolated over the body's frames from its tracked ones (nearest value at the ends; 0
if never tracked) and keeps confidence 0, as do the interpolated body frames.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NoReturn

import numpy as np

from .common import Recording, check_span, fill_gaps, first_overflow, read_text
from .errors import ReaderError

log = logging.getLogger(__name__)

NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
"""Sample name ``SsssCcccPpppRrrrAaaa``: setup, camera, performer, replication, action."""

XSUB_TRAIN_PERFORMERS = frozenset({1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38})
"""Training performers of the NTU RGB+D cross-subject protocol (Shahroudy et al. 2016)."""

XVIEW_TRAIN_CAMERAS = frozenset({2, 3})
"""Training cameras of the NTU RGB+D cross-view protocol (camera 1 is validation)."""

NTU_JOINT_VALUES = 12
NTU_BODY_INFO_VALUES = 10
SKELETON_SUFFIX = ".skeleton"


@dataclass(frozen=True)
class NTUDenoise:
    """Thresholds of the NTU body selection (module docstring; ``datasets.<name>.ntu_denoise``).

    Attributes
    ----------
    noise_length
        Bodies tracked in this many frames or fewer are dropped (field: 11).
    noise_spread
        A frame is noisy when x spread > ``noise_spread`` * y spread (field: 0.8).
    noise_spread_fraction
        Bodies with at least this fraction of noisy frames are dropped (field: 0.69754).
    """

    noise_length: int = 11
    noise_spread: float = 0.8
    noise_spread_fraction: float = 0.69754

    @classmethod
    def from_dict(cls, spec: Mapping[str, float] | None) -> NTUDenoise:
        """Build from the ``ntu_denoise`` config block (missing keys take the defaults)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(spec or {}) - known)
        if unknown:
            raise ValueError(f"ntu_denoise: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**dict(spec or {}))  # type: ignore[arg-type]


@dataclass(frozen=True)
class NTUName:
    """The fields of an NTU sample name ``SsssCcccPpppRrrrAaaa`` (all 1-based)."""

    setup: int
    camera: int
    performer: int
    replication: int
    action: int

    @property
    def group(self) -> str:
        """Performer id string, e.g. ``"P001"``."""
        return f"P{self.performer:03d}"

    def split(self, protocol: str) -> str:
        """``"train"`` or ``"val"`` under the ``xview`` or ``xsub`` protocol."""
        if protocol == "xview":
            return "train" if self.camera in XVIEW_TRAIN_CAMERAS else "val"
        if protocol == "xsub":
            return "train" if self.performer in XSUB_TRAIN_PERFORMERS else "val"
        raise ValueError(f"unknown NTU split protocol {protocol!r} (xview or xsub)")

    def as_dict(self) -> dict[str, int]:
        """The fields as a plain dict."""
        return {
            "setup": self.setup,
            "camera": self.camera,
            "performer": self.performer,
            "replication": self.replication,
            "action": self.action,
        }


def parse_ntu_name(name: str) -> NTUName | None:
    """Parse a sample name or file name (``S001C001P001R001A001[.skeleton]``); None if no match.

    Every field is 1-based: a name with a field 000 (e.g. action ``A000``) does not parse.
    """
    stem = name.split(".", 1)[0]
    match = NTU_NAME.fullmatch(stem)
    if match is None:
        return None
    values = [int(g) for g in match.groups()]
    if 0 in values:
        return None
    return NTUName(*values)


def skeleton_stem(path: Path) -> str:
    """File name without its ``.skeleton`` suffix (matched case-insensitively)."""
    name = path.name
    return name[: -len(SKELETON_SUFFIX)] if name.lower().endswith(SKELETON_SUFFIX) else path.stem


def motion_energy(xyz: np.ndarray) -> float:
    """Activity of a body: the per-coordinate std over frames and joints, summed over x, y, z.

    ``xyz`` is (frame, joint, channel). The readers keep the most active bodies first.
    """
    return float(xyz.std(axis=(0, 1)).sum())


@dataclass(frozen=True, eq=False)
class NTUBody:
    """One tracked body of an NTU file.

    Attributes
    ----------
    body_id
        Kinect ``bodyID`` (as text).
    frames
        int64 (frame,) frame indices where the body appears, increasing.
    xyz
        float64 (frame, joint, channel) camera-space coordinates in metres.
    tracking
        (frame, joint) ``trackingState`` (2 tracked, 1 inferred, 0 not tracked); None: all 2.
    """

    body_id: str
    frames: np.ndarray
    xyz: np.ndarray
    tracking: np.ndarray | None = None

    @property
    def confidence(self) -> np.ndarray:
        """float64 (frame, joint) confidence: trackingState / 2, clipped to [0, 1]."""
        if self.tracking is None:
            return np.ones(self.xyz.shape[:2])
        return np.asarray(np.clip(self.tracking / 2.0, 0.0, 1.0))

    def noisy_frame_fraction(self, spread: float) -> float:
        """Fraction of frames whose x spread exceeds ``spread`` times the y spread."""
        extent = self.xyz.max(axis=1) - self.xyz.min(axis=1)  # (frame, channel)
        return float(np.mean(extent[:, 0] > spread * extent[:, 1]))

    @property
    def motion_energy(self) -> float:
        """:func:`motion_energy` over the body's non-zero frames (see module docstring)."""
        nonzero = self.xyz.reshape(len(self.frames), -1).any(axis=1)
        if not nonzero.any():
            return 0.0
        return motion_energy(self.xyz[nonzero])


@dataclass(frozen=True, eq=False)
class NTUSkeletonFile:
    """The parsed content of one ``.skeleton`` file: frame count and bodies by ``bodyID``."""

    path: Path
    num_frames: int
    bodies: tuple[NTUBody, ...]


class _Lines:
    """Lines of a text file with checked access (1-based line numbers in errors)."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()  # LF, CRLF and CR-only line breaks
        end = len(self.lines)
        while end > 0 and not self.lines[end - 1].strip():
            end -= 1
        self.end = end

    def tokens(self, i: int, what: str, frame: int | None) -> list[str]:
        if i >= self.end:
            raise ReaderError(
                self.path, f"truncated file: expected {what} at line {i + 1}, file ends", frame=frame
            )
        return self.lines[i].split()

    def integer(self, i: int, what: str, frame: int | None) -> int:
        toks = self.tokens(i, what, frame)
        if len(toks) != 1 or not toks[0].isdigit():
            raise ReaderError(
                self.path,
                f"non-numeric {what}: expected one non-negative integer, found {self.lines[i].strip()!r}",
                line=i + 1,
                frame=frame,
            )
        return int(toks[0])


def _walk_structure(
    lines: _Lines, num_joints: int, max_frames: float | None = None
) -> tuple[int, list[int], list[str], list[int]]:
    """Check the counts and return (frame count, body frames, body ids, first joint lines)."""
    num_frames = lines.integer(0, "frame count", None)
    if num_frames == 0:
        raise ReaderError(lines.path, "zero frames (frame count is 0)", line=1)
    if max_frames is not None and num_frames > max_frames:
        raise ReaderError(
            lines.path,
            f"recording too long: frame count {num_frames} exceeds the {max_frames:.0f} frames of "
            "preprocess.max_seconds at the source fps",
            line=1,
        )
    body_frames: list[int] = []
    body_ids: list[str] = []
    starts: list[int] = []
    c = 1
    for f in range(num_frames):
        num_bodies = lines.integer(c, "body count", f + 1)
        c += 1
        for _ in range(num_bodies):
            info = lines.tokens(c, "a body info line", f + 1)
            if len(info) != NTU_BODY_INFO_VALUES:
                raise ReaderError(
                    lines.path,
                    f"body info line has {len(info)} values, expected {NTU_BODY_INFO_VALUES}",
                    line=c + 1,
                    frame=f + 1,
                )
            n_joints = lines.integer(c + 1, "joint count", f + 1)
            if n_joints != num_joints:
                raise ReaderError(
                    lines.path,
                    f"wrong joint count {n_joints}, expected {num_joints}",
                    line=c + 2,
                    frame=f + 1,
                )
            c += 2
            if c + num_joints > lines.end:
                raise ReaderError(
                    lines.path,
                    f"truncated file: body needs {num_joints} joint lines from line {c + 1}, file ends",
                    frame=f + 1,
                )
            body_frames.append(f)
            body_ids.append(info[0])
            starts.append(c)
            c += num_joints
    if c < lines.end:
        raise ReaderError(
            lines.path,
            f"unexpected content after the last of {num_frames} frames (wrong frame count?)",
            line=c + 1,
        )
    return num_frames, body_frames, body_ids, starts


def _joint_values(lines: _Lines, starts: list[int], num_joints: int) -> np.ndarray:
    """(body, joint, 12) float64 values of every joint line, checked for count and type."""
    if not starts:
        return np.zeros((0, num_joints, NTU_JOINT_VALUES))
    index = (np.asarray(starts)[:, None] + np.arange(num_joints)[None, :]).ravel()
    text = lines.lines
    tokens = " ".join([text[i] for i in index]).split()
    try:
        if len(tokens) != index.size * NTU_JOINT_VALUES:
            raise ValueError("token count")
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        _raise_bad_joint_line(lines, index)
    return values.reshape(len(starts), num_joints, NTU_JOINT_VALUES)


def _raise_bad_joint_line(lines: _Lines, index: np.ndarray) -> NoReturn:
    """Find the first bad joint line and raise a ReaderError naming it."""
    for i in index:
        toks = lines.lines[i].split()
        if len(toks) != NTU_JOINT_VALUES:
            problem = f"joint line has {len(toks)} values, expected {NTU_JOINT_VALUES}"
            if i == lines.end - 1 and len(toks) < NTU_JOINT_VALUES:
                problem = f"truncated file: {problem}"
            raise ReaderError(lines.path, problem, line=int(i) + 1)
        for tok in toks:
            try:
                float(tok)
            except ValueError:
                raise ReaderError(lines.path, f"non-numeric value {tok!r}", line=int(i) + 1) from None
    raise ReaderError(lines.path, "malformed joint lines")  # pragma: no cover


def parse_ntu_skeleton(
    path: str | Path, num_joints: int = 25, max_frames: float | None = None
) -> NTUSkeletonFile:
    """Parse one ``.skeleton`` file into bodies tracked by ``bodyID``.

    Parameters
    ----------
    path
        The ``.skeleton`` file.
    num_joints
        Joints per body the layout expects (25 for NTU RGB+D).
    max_frames
        A frame count above this is refused before any frame is read (None: no limit).

    Returns
    -------
    NTUSkeletonFile
        Frame count and bodies in order of first appearance. A ``bodyID`` listed twice in
        one frame keeps its first entry (logged).

    Raises
    ------
    ReaderError
        Truncated file, non-numeric, non-finite or float32-overflowing value, wrong joint
        count, zero frames, too many frames.
    """
    path = Path(path)
    lines = _Lines(path, read_text(path, "ascii"))
    num_frames, body_frames, body_ids, starts = _walk_structure(lines, num_joints, max_frames)
    values = _joint_values(lines, starts, num_joints)
    xyz = values[:, :, :3]
    bad = ~np.isfinite(xyz)
    if bad.any():
        b, j, _ = np.argwhere(bad)[0]
        raise ReaderError(path, "non-finite coordinate", line=starts[b] + j + 1, frame=body_frames[b] + 1)
    over = first_overflow(xyz)
    if over is not None:
        b, j, c = np.unravel_index(over, xyz.shape)
        raise ReaderError(
            path,
            f"value {xyz[b, j, c]:g} overflows float32",
            line=starts[b] + int(j) + 1,
            frame=body_frames[b] + 1,
        )
    tracking = values[:, :, NTU_JOINT_VALUES - 1]
    frames = np.asarray(body_frames, dtype=np.int64)
    ids = np.asarray(body_ids)
    bodies = []
    for body_id in dict.fromkeys(body_ids):
        rows = np.flatnonzero(ids == body_id)
        _, first = np.unique(frames[rows], return_index=True)  # drops a repeated frame
        if first.size < rows.size:
            log.warning(
                "%s: duplicate bodyID %s: listed more than once in %d frames; keeping its first entry",
                path,
                body_id,
                int(np.unique(frames[rows], return_counts=True)[1].__gt__(1).sum()),
            )
        rows = rows[np.sort(first)]
        bodies.append(
            NTUBody(body_id=str(body_id), frames=frames[rows], xyz=xyz[rows], tracking=tracking[rows])
        )
    return NTUSkeletonFile(path=path, num_frames=num_frames, bodies=tuple(bodies))


def denoise_bodies(
    bodies: tuple[NTUBody, ...] | list[NTUBody], denoise: NTUDenoise | None = None, path: Path | None = None
) -> list[NTUBody]:
    """Drop noise bodies by tracking length, then by x/y spread (module docstring)."""
    d = denoise or NTUDenoise()
    kept = list(bodies)
    if len(kept) <= 1:
        return kept
    steps = (
        ("length", lambda b: len(b.frames) > d.noise_length, f"tracked in <= {d.noise_length} frames"),
        (
            "spread",
            lambda b: b.noisy_frame_fraction(d.noise_spread) < d.noise_spread_fraction,
            f"x spread > {d.noise_spread} * y spread in >= {d.noise_spread_fraction:g} of its frames",
        ),
    )
    for _, keep, reason in steps:
        survivors = [b for b in kept if keep(b)]
        if not survivors:
            log.info("%s: every body would be dropped as noise (%s); keeping them", path, reason)
            continue
        for b in kept:
            if b not in survivors:
                log.info("%s: dropped noise body %s (%s)", path, b.body_id, reason)
        kept = survivors
        if len(kept) == 1:
            break
    return kept


def select_bodies(
    bodies: tuple[NTUBody, ...] | list[NTUBody],
    max_persons: int,
    denoise: NTUDenoise | None = None,
    path: Path | None = None,
) -> list[NTUBody]:
    """The ``max_persons`` most active bodies after denoising, most active first (module docstring)."""
    candidates = denoise_bodies(bodies, denoise, path)
    order = sorted(
        range(len(candidates)),
        key=lambda i: (
            -candidates[i].motion_energy,
            -len(candidates[i].frames),
            int(candidates[i].frames[0]),
            i,
        ),
    )
    return [candidates[i] for i in order[:max_persons]]


def read_ntu_skeleton(
    path: str | Path,
    *,
    max_persons: int = 2,
    fps: float = 30.0,
    num_joints: int = 25,
    max_seconds: float | None = None,
    denoise: NTUDenoise | None = None,
) -> Recording:
    """Read one NTU ``.skeleton`` file as a :class:`Recording`.

    Parameters
    ----------
    path
        The file; its name should follow ``SsssCcccPpppRrrrAaaa.skeleton``.
    max_persons
        Bodies kept (the most active by motion energy); missing persons are zero-filled.
    fps
        Source frame rate; time stamps are ``frame / fps`` from the first kept frame.
    num_joints
        Joints per body expected by the layout.
    max_seconds
        A frame count above ``max_seconds * fps`` is refused before allocating (None: no limit).
    denoise
        Thresholds of the body selection (default :class:`NTUDenoise`).

    Returns
    -------
    Recording
        ``coords`` (frame, channel=3, joint, person=max_persons) float64 ``x, y, z`` in
        metres; ``confidence`` from ``trackingState``; ``label`` the action number of the
        file name (None if it does not parse).
    """
    max_frames = None if max_seconds is None else max_seconds * float(fps) + 1
    parsed = parse_ntu_skeleton(path, num_joints, max_frames)
    path = parsed.path
    kept = select_bodies(parsed.bodies, max_persons, denoise, path)
    if not kept:
        raise ReaderError(path, f"no body in any of the {parsed.num_frames} frames (missing skeleton)")
    first = min(int(b.frames[0]) for b in kept)
    last = max(int(b.frames[-1]) for b in kept)
    check_span(path, (last - first) / float(fps), max_seconds, f"frames {first + 1} to {last + 1}")
    coords = np.zeros((last - first + 1, 3, num_joints, max_persons))
    confidence = np.zeros((last - first + 1, num_joints, max_persons), dtype=np.float32)
    interpolated = 0
    for m, body in enumerate(kept):
        start, stop = int(body.frames[0]), int(body.frames[-1]) + 1
        conf = body.confidence
        track = np.full((stop - start, num_joints, 3), np.nan)
        track[body.frames - start] = np.where(conf[:, :, None] > 0, body.xyz, np.nan)
        track, count, empty = fill_gaps(track, np.arange(start, stop, dtype=np.float64))
        track[:, empty] = 0.0
        interpolated += count
        coords[start - first : stop - first, :, :, m] = track.transpose(0, 2, 1)
        confidence[body.frames - first, :, m] = conf
    name = parse_ntu_name(path.name)
    stem = skeleton_stem(path)
    return Recording(
        recording_id=stem,
        path=path,
        coords=coords,
        timestamps=np.arange(coords.shape[0], dtype=np.float64) / float(fps),
        fps=float(fps),
        interpolated=interpolated,
        label=name.action if name else None,
        info=name.as_dict() if name else {},
        confidence=confidence,
    )
