"""Class design: which joints each class moves, and how (the benchmark's ground truth)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..skeletons import SkeletonLayout

log = logging.getLogger(__name__)

FREQUENCY_RANGE_HZ = (0.6, 1.8)
"""Class frequencies are spread evenly over this band (below the median filter's cut-off)."""

AMPLITUDE_RANGE = (0.25, 0.35)
"""Class amplitudes in trunk lengths (idle limb wiggles have a std of about 0.04)."""


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
    """

    label: int
    name: str
    joints: tuple[int, ...]
    frequency_hz: float
    amplitude: float
    directions: tuple[tuple[float, ...], ...]
    phases: tuple[float, ...]

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
) -> tuple[ClassDesign, ...]:
    """Draw the planted joints, frequency, amplitude and directions of every class.

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
    """
    candidates = candidate_joints(layout)
    if planted > len(candidates):
        raise ValueError(
            f"synthetic.planted_joints: {planted} exceeds the {len(candidates)} limb joints "
            f"of layout {layout.name}"
        )
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
    return tuple(
        ClassDesign(
            label=label,
            name=name,
            joints=tuple(sorted(sets[label])),
            frequency_hz=float(freqs[label]),
            amplitude=round(float(rng.uniform(*AMPLITUDE_RANGE)), 3),
            directions=_directions(rng, planted, channels),
            phases=tuple(round(float(p), 4) for p in rng.uniform(0.0, 2 * np.pi, planted)),
        )
        for label, name in enumerate(names)
    )


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
