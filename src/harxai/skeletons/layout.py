"""The `SkeletonLayout` data type and graph helpers shared by every layout."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class LayoutError(ValueError):
    """A skeleton layout is inconsistent (unknown joint, disconnected graph, ...)."""


@dataclass(frozen=True)
class SkeletonLayout:
    """A named skeleton: joints, 0-based edges and the joints that anchor normalisation.

    Attributes
    ----------
    name
        Identifier used in config, file attributes and figures.
    joints
        Joint (key point) names in index order.
    edges
        Undirected 0-based bone pairs ``(child, parent)`` as listed by the source.
    center
        Index of the centre joint: root of the bone tree and reference of the relative
        joint coordinates; NTU-style fixed-length samples are centred on it.
    trunk_top, trunk_bottom
        Joints averaged to the upper and lower ends of the trunk. The trunk length is the
        distance between the two means; the lower mean is the mid-pelvis.
    parts
        Body parts (name -> joint indices), used for figures and part-level summaries.
    source
        Citation of the joint order and edge list.
    """

    name: str
    joints: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    center: int
    trunk_top: tuple[int, ...]
    trunk_bottom: tuple[int, ...]
    parts: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        n = len(self.joints)
        if n == 0:
            raise LayoutError(f"layout {self.name!r}: no joints")
        if len(set(self.joints)) != n:
            dup = sorted({j for j in self.joints if self.joints.count(j) > 1})
            raise LayoutError(f"layout {self.name!r}: duplicate joint names {dup}")
        for a, b in self.edges:
            if not (0 <= a < n and 0 <= b < n) or a == b:
                raise LayoutError(f"layout {self.name!r}: invalid edge ({a}, {b}) for {n} joints")
        indices = [self.center, *self.trunk_top, *self.trunk_bottom]
        indices += [j for part in self.parts.values() for j in part]
        for j in indices:
            if not 0 <= j < n:
                raise LayoutError(f"layout {self.name!r}: joint index {j} out of range 0..{n - 1}")
        if not self.trunk_top or not self.trunk_bottom:
            raise LayoutError(f"layout {self.name!r}: trunk_top and trunk_bottom must be non-empty")
        unreachable = np.flatnonzero(self.hop_distances()[self.center] < 0)
        if unreachable.size:
            names = [self.joints[i] for i in unreachable]
            raise LayoutError(f"layout {self.name!r}: joints not connected to the centre: {names}")

    @property
    def num_joints(self) -> int:
        """Number of joints V."""
        return len(self.joints)

    def index(self, joint: str | int) -> int:
        """Index of a joint given by name or index."""
        if isinstance(joint, int):
            if not 0 <= joint < self.num_joints:
                raise LayoutError(f"layout {self.name!r}: joint index {joint} out of range")
            return joint
        try:
            return self.joints.index(joint)
        except ValueError:
            raise LayoutError(f"layout {self.name!r}: unknown joint {joint!r}") from None

    def adjacency(self) -> np.ndarray:
        """Symmetric 0/1 adjacency without self-loops, shape (joint, joint)."""
        a = np.zeros((self.num_joints, self.num_joints), dtype=np.float64)
        for i, j in self.edges:
            a[i, j] = a[j, i] = 1.0
        return a

    def hop_distances(self) -> np.ndarray:
        """Graph distance between every pair of joints (-1 where unreachable), shape (joint, joint)."""
        n = self.num_joints
        neighbours: list[list[int]] = [[] for _ in range(n)]
        for i, j in self.edges:
            neighbours[i].append(j)
            neighbours[j].append(i)
        dist = -np.ones((n, n), dtype=np.int64)
        for s in range(n):
            dist[s, s] = 0
            queue = deque([s])
            while queue:
                u = queue.popleft()
                for w in neighbours[u]:
                    if dist[s, w] < 0:
                        dist[s, w] = dist[s, u] + 1
                        queue.append(w)
        return dist

    def parents(self) -> np.ndarray:
        """Parent of every joint in the bone tree rooted at the centre (the centre is its own parent)."""
        dist = self.hop_distances()[self.center]
        parent = np.arange(self.num_joints)
        for i, j in self.edges:
            if dist[i] == dist[j] + 1:
                parent[i] = j
            elif dist[j] == dist[i] + 1:
                parent[j] = i
        return parent

    def is_tree(self) -> bool:
        """True when the edge set is a spanning tree (connected, V - 1 distinct edges)."""
        distinct = {tuple(sorted(e)) for e in self.edges}
        return len(distinct) == self.num_joints - 1 and bool((self.hop_distances() >= 0).all())

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form, stored in file attributes and checkpoints."""
        return {
            "name": self.name,
            "joints": list(self.joints),
            "edges": [list(e) for e in self.edges],
            "center": self.center,
            "trunk_top": list(self.trunk_top),
            "trunk_bottom": list(self.trunk_bottom),
            "parts": {k: list(v) for k, v in self.parts.items()},
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], name: str | None = None) -> SkeletonLayout:
        """Build a layout from a dict; joints may be referred to by name or index.

        Accepted keys: ``joints`` (names), ``edges`` (pairs of names or indices),
        ``center``, ``trunk`` (``[top, bottom]``, each a joint or a list of joints) or
        ``trunk_top``/``trunk_bottom``, optional ``parts`` and ``source``.
        """
        joints = tuple(str(j) for j in spec["joints"])
        lname = str(name if name is not None else spec.get("name", "custom"))

        def idx(j: Any) -> int:
            if isinstance(j, str):
                if j not in joints:
                    raise LayoutError(f"layout {lname!r}: unknown joint {j!r}")
                return joints.index(j)
            return int(j)

        def idx_list(v: Any) -> tuple[int, ...]:
            if isinstance(v, (list, tuple)):
                return tuple(idx(j) for j in v)
            return (idx(v),)

        if "trunk" in spec:
            trunk = spec["trunk"]
            if len(trunk) != 2:
                raise LayoutError(f"layout {lname!r}: trunk must be [top, bottom]")
            top, bottom = idx_list(trunk[0]), idx_list(trunk[1])
        else:
            top, bottom = idx_list(spec["trunk_top"]), idx_list(spec["trunk_bottom"])
        edges = tuple((idx(a), idx(b)) for a, b in spec["edges"])
        parts = {str(k): idx_list(v) for k, v in dict(spec.get("parts", {})).items()}
        return cls(
            name=lname,
            joints=joints,
            edges=edges,
            center=idx(spec["center"]),
            trunk_top=top,
            trunk_bottom=bottom,
            parts=parts,
            source=str(spec.get("source", "declared in config")),
        )


def distance_partitions(layout: SkeletonLayout, num_partitions: int) -> np.ndarray:
    """Normalised adjacency split by graph distance, shape (partition, joint, joint).

    Follows ST-GCN's ``distance`` strategy as used by EfficientGCN and the seed code: the
    adjacency of all pairs within ``num_partitions - 1`` hops (self-loops included) is
    normalised by the in-degree of each column (``A D^-1``), then split so that slice ``k``
    holds the hop-``k`` pairs. ``A[k, u, v]`` weights the message from joint ``u`` to ``v``.
    """
    if num_partitions < 1:
        raise LayoutError("num_partitions must be >= 1")
    hops = layout.hop_distances()
    reach = ((hops >= 0) & (hops < num_partitions)).astype(np.float64)
    degree = reach.sum(axis=0)
    normalised = reach / degree[None, :]
    out = np.zeros((num_partitions, layout.num_joints, layout.num_joints), dtype=np.float32)
    for k in range(num_partitions):
        out[k][hops == k] = normalised[hops == k]
    return out


def parse_edge_list(pairs: Sequence[tuple[int, int]], one_based: bool) -> tuple[tuple[int, int], ...]:
    """Convert a published edge list to 0-based pairs."""
    offset = 1 if one_based else 0
    return tuple((a - offset, b - offset) for a, b in pairs)
