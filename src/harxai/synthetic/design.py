"""Class design: which joints each class moves, and how (the benchmark's ground truth)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..skeletons import SkeletonLayout

log = logging.getLogger(__name__)

FREQUENCY_RANGE_HZ = (0.8, 1.6)
"""Class frequencies are spread evenly over this band (below the median filter's cut-off);
distractor motion draws its frequency from the same band."""

PEAK_SPEED = 2.3
"""Peak speed of every planted and distractor oscillation, in trunk lengths per second.

The amplitude of a motion at frequency ``f`` is ``PEAK_SPEED / (2 pi f)`` (0.23-0.46 trunk
lengths over the band; idle limb wiggles have a std of about 0.04), so that per-joint speed,
what a motion detector sees, is the same for class and distractor motion whatever the
frequency."""

AMPLITUDE_RANGE = (
    PEAK_SPEED / (2 * np.pi * FREQUENCY_RANGE_HZ[1]),
    PEAK_SPEED / (2 * np.pi * FREQUENCY_RANGE_HZ[0]),
)
"""Amplitudes (trunk lengths) of planted and distractor motion that the band implies."""

DISTRACTOR_EXCLUSION = 0.15
"""``per_class`` designs: a distractor on a class's joints never comes within this relative
distance of that class's frequency (the exclusion depends on the joint set, never on the
sample's class). ``shared`` designs' distractor sets are no class's: they use the whole band."""


@dataclass(frozen=True)
class BurstSpec:
    """Timing of the planted motion of a temporally localised ("burst") class.

    Attributes
    ----------
    duration_s
        Length of one burst in seconds (the motion fades in and out within it).
    start_range_s
        (earliest, latest) start in seconds from the recording start; each class draws a
        fixed start from it (distractor bursts draw theirs per sample from
        ``distractor_start_range_s``).
    distractor_start_range_s
        Range of the random start of distractor bursts.
    period_s
        None for one burst per recording (NTU-style clips), else the bursts repeat with this
        period for the whole recording (long infant recordings cut into windows).
    """

    duration_s: float
    start_range_s: tuple[float, float]
    distractor_start_range_s: tuple[float, float]
    period_s: float | None = None

    def segments(self, start_s: float, seconds: float) -> list[tuple[float, float]]:
        """Burst segments (start, end) in seconds of a recording ``seconds`` long."""
        if self.period_s is None:
            return [(start_s, start_s + self.duration_s)]
        out, t = [], start_s
        while t < seconds:
            out.append((t, t + self.duration_s))
            t += self.period_s
        return out


@dataclass(frozen=True)
class ClassDesign:
    """The planted motion that defines one class.

    Attributes
    ----------
    label
        0-based class index.
    name
        Class name (``A001``.. for NTU, ``negative``/``positive`` for the infant set).
    joints
        Indices of the planted joints, increasing.
    frequency_hz
        Oscillation frequency of the planted joints (each sample jitters it by up to 5 %).
    amplitude
        Peak displacement of each planted joint in trunk lengths (each sample jitters it by
        up to 15 %).
    directions
        Unit displacement direction per planted joint, shape (planted joint, channel).
    phases
        Phase offset per planted joint in radians (added to the sample's random phase).
    burst
        None when the planted motion lasts the whole recording, else its burst timing.
    burst_start_s
        Start of the (first) burst in seconds from the recording start for a temporal class
        (a known segment); None when each sample draws its start at random from
        ``burst.distractor_start_range_s`` (like distractors), or without bursts.
    planted_sets
        ``shared``: every class plants on the same joints and ``distractor_sets`` are class-free
        sets moving in every sample; ``per_class``: each class has its own set and
        ``distractor_sets`` are the other classes' sets.
    distractor_sets
        Joint sets (indices, increasing) that move as class-free distractors in this class's
        samples (:func:`harxai.synthetic.motion.distractor_motion`).
    """

    label: int
    name: str
    joints: tuple[int, ...]
    frequency_hz: float
    amplitude: float
    directions: tuple[tuple[float, ...], ...]
    phases: tuple[float, ...]
    burst: BurstSpec | None = None
    burst_start_s: float | None = None
    planted_sets: str = "per_class"
    distractor_sets: tuple[tuple[int, ...], ...] = ()

    @property
    def temporal(self) -> bool:
        """Whether the planted motion occupies a known time segment (a burst at a fixed start)."""
        return self.burst is not None and self.burst_start_s is not None

    def segments(self, seconds: float, start_s: float | None = None) -> list[tuple[float, float]]:
        """Time segments (start, end) in seconds of the planted motion in a recording.

        The design's fixed start for a temporal class, else ``start_s`` (a sample's random
        start); the whole recording ``[0, seconds]`` for a class without bursts."""
        if self.burst is None:
            return [(0.0, seconds)]
        start = self.burst_start_s if self.burst_start_s is not None else start_s
        if start is None:
            raise ValueError(f"class {self.name}: bursts at a random start need the sample's start")
        return self.burst.segments(start, seconds)

    def to_dict(self, layout: SkeletonLayout) -> dict[str, Any]:
        """Entry of ``ground_truth.json`` ``classes``.

        Besides the design's fields, ``bone_children`` names the joints outside the planted
        set whose parent is planted: their bone features carry class evidence too (empty
        when the set is closed under the bone tree, the default designs).
        """
        return {
            "label": self.label,
            "name": self.name,
            "joints": [layout.joints[j] for j in self.joints],
            "joint_indices": list(self.joints),
            "frequency_hz": self.frequency_hz,
            "amplitude": self.amplitude,
            "directions": [list(d) for d in self.directions],
            "phases": list(self.phases),
            "bone_children": [layout.joints[j] for j in bone_children(layout, self.joints)],
            "planted_sets": self.planted_sets,
            "distractor_joints": [[layout.joints[j] for j in d] for d in self.distractor_sets],
            "distractor_joint_indices": [list(d) for d in self.distractor_sets],
            "temporal": self.temporal,
            "burst": None
            if self.burst is None
            else {
                "start_s": self.burst_start_s,
                "random_start_range_s": None if self.temporal else list(self.burst.distractor_start_range_s),
                "duration_s": self.burst.duration_s,
                "period_s": self.burst.period_s,
            },
        }


def candidate_joints(layout: SkeletonLayout) -> list[int]:
    """Limb joints that may be planted: not torso, and at least 2 hops from every anchor.

    Anchors are the centre and trunk joints used for normalisation; their neighbours
    (shoulders, hips, neck) are excluded too, so that planted motion never moves the
    reference frame. ``ntu25``: elbows, wrists, hands, hand tips, thumbs, knees, ankles,
    feet (16 joints); ``in-motion-2022``: elbows, wrists, fingers, knees, ankles, heels,
    toes (18 joints).
    """
    anchors = {layout.center, *layout.trunk_top, *layout.trunk_bottom}
    hops = layout.hop_distances()
    torso = set(layout.parts.get("torso", ()))
    near = hops[sorted(anchors)].min(axis=0)
    return [j for j in range(layout.num_joints) if j not in torso and near[j] >= 2]


def design_classes(
    layout: SkeletonLayout,
    names: list[str],
    planted: int,
    channels: int,
    rng: np.random.Generator,
    burst: BurstSpec | None = None,
    planted_sets: str = "shared",
) -> tuple[ClassDesign, ...]:
    """Draw the planted joints, frequency, amplitude and directions of every class.

    ``planted_sets="shared"`` (default): ``k`` disjoint joint sets are drawn as below; every
    class plants its motion on the first, ``J``, and differs from the others only by its
    signature there (frequency, directions, phases, burst timing); the other ``k - 1`` sets are
    the *distractor sets*, moving in every sample with class-free motion. Replacing ``J`` by
    another class's ``J`` then carries that class's evidence, and no class can be recognised by
    the absence of evidence (a class without its own set would be the model's answer when no
    evidence is present). ``planted_sets="per_class"``: class ``c`` plants on set ``c`` and the
    other classes' sets move as its distractors.

    Planted sets are **closed under the bone tree**: with a joint, a set holds all of its
    descendants (``layout.parents()``), so the bone feature ``joint - parent`` of a joint
    outside the set never depends on a planted joint and the class evidence stays on the
    planted joints in every feature group. ``ntu25`` with 4 classes of 3 joints: one limb
    end each (hand, thumb, hand tip or knee, ankle, foot). When no disjoint closed sets
    exist (too many classes or joints), sets are drawn at random from the limb joints,
    disjoint while they last (then classes sharing joints differ by frequency), and
    :func:`bone_children` names the leaking joints.

    Parameters
    ----------
    layout
        Skeleton layout.
    names
        Class names in label order.
    planted
        Planted joints per class.
    channels
        Coordinate channels (3 for NTU, 2 for the infant image coordinates).
    rng
        Random generator (drawn from the seed only, so the design follows the seed).
    burst
        Every class (and every distractor) moves in bursts of this timing, so that all joint
        sets carry the same motion energy. The ``ceil(k / 2)`` classes with the highest
        frequencies (most cycles per burst) are *temporal*: their bursts start at a fixed time
        drawn from ``burst.start_range_s`` (the temporal ground truth); the others start at a
        random time per sample. None: every class moves for the whole recording.
    planted_sets
        ``shared`` or ``per_class`` (see above).

    Notes
    -----
    Amplitudes follow the frequency (``PEAK_SPEED / (2 pi f)``): every class, and every
    distractor (:func:`harxai.synthetic.motion.distractor_motion`), has the same peak speed.
    """
    candidates = candidate_joints(layout)
    if planted > len(candidates):
        raise ValueError(
            f"synthetic.planted_joints: {planted} exceeds the {len(candidates)} limb joints "
            f"of layout {layout.name}"
        )
    if planted_sets not in ("shared", "per_class"):
        raise ValueError(f"planted_sets must be 'shared' or 'per_class', not {planted_sets!r}")
    k = len(names)
    freqs = np.round(np.linspace(*FREQUENCY_RANGE_HZ, k), 3)[rng.permutation(k)]
    sets = _closed_sets_per_class(layout, candidates, k, planted, rng)
    if sets is None:
        log.warning(
            "%s: no %d disjoint bone-closed sets of %d limb joints; drawing planted joints at "
            "random (bone features of their children carry class evidence; see ground truth)",
            layout.name,
            k,
            planted,
        )
        sets = _random_sets(candidates, k, planted, rng)
        if planted_sets == "shared":  # distractor sets never touch the shared set
            rest = [j for j in candidates if j not in sets[0]]
            size = min(planted, len(rest))
            sets = [sets[0], *(_random_sets(rest, k - 1, size, rng) if size else [])]
    ordered = [tuple(sorted(x)) for x in sets]
    if planted_sets == "shared":
        joints = [ordered[0]] * k
        distractors = [tuple(ordered[1:])] * k
    else:
        joints = ordered
        distractors = [tuple(x for i, x in enumerate(ordered) if i != c) for c in range(k)]
    bursty = set(np.argsort(-freqs, kind="stable")[: (k + 1) // 2].tolist()) if burst is not None else set()
    # every class moves in bursts when a burst spec is given (equal motion energy on every
    # joint set); only the temporal classes' bursts start at a known time
    starts = rng.uniform(*burst.start_range_s, size=k) if burst is not None else np.zeros(k)
    return tuple(
        ClassDesign(
            label=label,
            name=name,
            joints=joints[label],
            frequency_hz=float(freqs[label]),
            amplitude=amplitude_for(float(freqs[label])),
            directions=_directions(rng, planted, channels),
            phases=tuple(round(float(p), 4) for p in rng.uniform(0.0, 2 * np.pi, planted)),
            burst=burst,
            burst_start_s=round(float(starts[label]), 3) if label in bursty else None,
            planted_sets=planted_sets,
            distractor_sets=distractors[label],
        )
        for label, name in enumerate(names)
    )


def amplitude_for(frequency_hz: float) -> float:
    """Amplitude (trunk lengths) of an oscillation at ``frequency_hz`` with peak speed :data:`PEAK_SPEED`."""
    return round(PEAK_SPEED / (2 * np.pi * frequency_hz), 4)


def bone_children(layout: SkeletonLayout, joints: tuple[int, ...]) -> list[int]:
    """Joints outside ``joints`` whose parent (bone-tree) is in ``joints``."""
    parents = layout.parents()
    return [
        j for j in range(layout.num_joints) if j not in joints and parents[j] != j and parents[j] in joints
    ]


def _subtrees(layout: SkeletonLayout, candidates: list[int]) -> dict[int, frozenset[int]]:
    """Each candidate with all of its descendants (only candidates whose subtree is all candidates)."""
    parents = layout.parents()
    hops = layout.hop_distances()[layout.center]
    subtree = {j: {j} for j in range(layout.num_joints)}
    for j in sorted(range(layout.num_joints), key=lambda v: -hops[v]):  # leaves first
        if parents[j] != j:
            subtree[int(parents[j])] |= subtree[j]
    allowed = set(candidates)
    return {j: frozenset(subtree[j]) for j in candidates if subtree[j] <= allowed}


def _closed_options(
    free: frozenset[int], size: int, subtrees: dict[int, frozenset[int]]
) -> list[frozenset[int]]:
    """Every union of whole subtrees inside ``free`` with exactly ``size`` joints (capped)."""
    roots = sorted(j for j, tree in subtrees.items() if tree <= free)
    found: set[frozenset[int]] = set()

    def extend(start: int, chosen: frozenset[int]) -> None:
        if len(chosen) == size:
            found.add(chosen)
            return
        for i in range(start, len(roots)):
            tree = subtrees[roots[i]]
            if len(found) < 5000 and len(chosen) + len(tree) <= size and not tree & chosen:
                extend(i + 1, chosen | tree)

    extend(0, frozenset())
    return sorted(found, key=sorted)


def _closed_sets_per_class(
    layout: SkeletonLayout, candidates: list[int], classes: int, size: int, rng: np.random.Generator
) -> list[frozenset[int]] | None:
    """Disjoint bone-closed sets, one per class, by randomised backtracking (None if none found)."""
    if classes * size > len(candidates):
        return None
    subtrees = _subtrees(layout, candidates)
    budget = [20000]

    def assign(free: frozenset[int], left: int) -> list[frozenset[int]] | None:
        if left == 0:
            return []
        options = _closed_options(free, size, subtrees)
        for i in rng.permutation(len(options)):
            budget[0] -= 1
            if budget[0] < 0:
                return None
            rest = assign(free - options[i], left - 1)
            if rest is not None:
                return [options[i], *rest]
        return None

    return assign(frozenset(candidates), classes)


def _random_sets(
    candidates: list[int], classes: int, size: int, rng: np.random.Generator
) -> list[frozenset[int]]:
    """Random sets, disjoint while the candidates last, never a joint twice in one set."""
    pool: list[int] = []
    sets = []
    for _ in range(classes):
        chosen: list[int] = []
        while len(chosen) < size:
            if not pool:
                pool = [int(j) for j in rng.permutation(candidates)]
            j = next((j for j in pool if j not in chosen), None)
            if j is None:  # every remaining pool joint is already chosen: refill
                pool = []
                continue
            pool.remove(j)
            chosen.append(j)
        sets.append(frozenset(chosen))
    return sets


def _directions(rng: np.random.Generator, n: int, channels: int) -> tuple[tuple[float, ...], ...]:
    """Random unit vectors; in 3-D the depth (z) component is halved (cameras see x, y best)."""
    d = rng.normal(size=(n, channels))
    if channels == 3:
        d[:, 2] *= 0.5
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return tuple(tuple(round(float(x), 4) for x in row) for row in d)
