"""Generator settings: the ``synthetic:`` block of a dataset as a frozen dataclass."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..config import DEFAULT_LAYOUT, SYNTHETIC_KINDS

SYNTHETIC_LAYOUTS = {kind: DEFAULT_LAYOUT[kind] for kind in SYNTHETIC_KINDS}
"""The layout each synthetic kind generates (the raw formats fix the key points)."""


PLANTED_SETS = ("shared", "per_class")
"""Values of ``synthetic.planted_sets`` (see :func:`harxai.synthetic.design.design_classes`)."""


class SyntheticParamsError(ValueError):
    """The generator settings are invalid."""


@dataclass(frozen=True)
class SyntheticParams:
    """Settings of the synthetic benchmark generator (defaults as in the config schema).

    Attributes
    ----------
    kind
        ``synthetic_ntu`` (NTU RGB+D ``.skeleton`` files) or ``synthetic_infant`` (key-point CSV
        tables with a manifest).
    layout
        Layout name; must be the kind's layout (``ntu25`` or ``in-motion-2022``).
    scale
        Multiplies the number of samples (NTU) or subjects (infant).
    num_classes
        Classes of the NTU-style set (the infant set is always binary).
    samples_per_class
        Files per class of the NTU-style set before scaling (rounded to whole performances
        of three cameras).
    num_subjects, recordings_per_subject
        Infants (before scaling; half positive) and recordings per infant.
    recording_seconds
        (min, max) infant recording length in seconds.
    planted_joints
        Joints whose motion defines each class.
    planted_sets
        ``shared`` (default): every class plants its motion on the same joint set and the
        classes differ by the signature there (frequency, directions, phases, timing), while
        other joint sets move as class-free distractors in every sample; ``per_class``: each
        class has its own disjoint set and the other classes' sets move as distractors.
    fps_choices
        Source frame rates drawn per file.
    noise
        Standard deviation of the coordinate noise, in trunk lengths.
    missing_fraction
        Fraction of frames with missing data (NTU: frame without body; infant: one blank
        key point).
    seed
        Generator seed (resolved: never None).
    """

    kind: str
    layout: str
    scale: float = 1.0
    num_classes: int = 4
    samples_per_class: int = 30
    num_subjects: int = 16
    recordings_per_subject: int = 2
    recording_seconds: tuple[float, float] = (12.0, 20.0)
    planted_joints: int = 3
    planted_sets: str = "shared"
    fps_choices: tuple[float, ...] = (25.0, 30.0, 60.0)
    noise: float = 0.01
    missing_fraction: float = 0.01
    seed: int = 0

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any], seed: int) -> SyntheticParams:
        """Build validated settings from the workflow's params dict.

        Parameters
        ----------
        params
            ``kind``, ``layout`` (a name, or ``{"name": ...}``) and the schema's synthetic
            keys; missing keys take the schema defaults and ``seed: None`` takes ``seed``.
        seed
            The global seed.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise SyntheticParamsError(f"synthetic: unknown setting(s) {unknown}; known: {sorted(known)}")
        values = {k: v for k, v in params.items() if v is not None}
        layout = values.get("layout")
        if isinstance(layout, Mapping):
            values["layout"] = layout.get("name")
        kind = values.get("kind")
        if kind not in SYNTHETIC_LAYOUTS:
            raise SyntheticParamsError(
                f"synthetic: kind must be one of {sorted(SYNTHETIC_LAYOUTS)}, not {kind!r}"
            )
        values.setdefault("layout", SYNTHETIC_LAYOUTS[kind])
        values["seed"] = int(values.get("seed", seed))
        for key in ("recording_seconds", "fps_choices"):
            if key in values:
                values[key] = tuple(float(x) for x in values[key])
        out = cls(**values)
        out.validate()
        return out

    def validate(self) -> None:
        """Raise :class:`SyntheticParamsError` naming the first invalid setting."""
        expected = SYNTHETIC_LAYOUTS.get(self.kind)
        if expected is None:
            raise SyntheticParamsError(f"synthetic: unknown kind {self.kind!r}")
        if self.layout != expected:
            raise SyntheticParamsError(
                f"synthetic: kind {self.kind} writes the {expected} layout, not {self.layout!r}"
            )
        checks = [
            ("scale", self.scale > 0 and math.isfinite(self.scale), "must be > 0"),
            ("num_classes", self.num_classes >= 2, "must be >= 2"),
            ("samples_per_class", self.samples_per_class >= 2, "must be >= 2"),
            ("num_subjects", self.num_subjects >= 4, "must be >= 4"),
            ("recordings_per_subject", self.recordings_per_subject >= 1, "must be >= 1"),
            (
                "recording_seconds",
                len(self.recording_seconds) == 2
                and 0 < self.recording_seconds[0] <= self.recording_seconds[1],
                "must be [min, max] with 0 < min <= max",
            ),
            ("planted_joints", self.planted_joints >= 1, "must be >= 1"),
            ("planted_sets", self.planted_sets in PLANTED_SETS, f"must be one of {list(PLANTED_SETS)}"),
            ("fps_choices", len(self.fps_choices) > 0 and min(self.fps_choices) > 0, "must be > 0"),
            ("noise", self.noise >= 0, "must be >= 0"),
            ("missing_fraction", 0 <= self.missing_fraction <= 0.5, "must be in [0, 0.5]"),
        ]
        for key, ok, rule in checks:
            if not ok:
                raise SyntheticParamsError(f"synthetic.{key}: {rule}, got {getattr(self, key)!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (written to ``ground_truth.json``)."""
        out = asdict(self)
        out["recording_seconds"] = list(self.recording_seconds)
        out["fps_choices"] = list(self.fps_choices)
        return out
