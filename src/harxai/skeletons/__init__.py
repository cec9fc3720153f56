"""Skeleton layouts as data: joint names, edges, centre and trunk joints, body parts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .infant import IN_MOTION_2022
from .layout import LayoutError, SkeletonLayout, distance_partitions
from .ntu import NTU25
from .openpose import OPENPOSE18
from .openpose25 import OPENPOSE25

LAYOUTS: dict[str, SkeletonLayout] = {
    NTU25.name: NTU25,
    IN_MOTION_2022.name: IN_MOTION_2022,
    OPENPOSE18.name: OPENPOSE18,
    OPENPOSE25.name: OPENPOSE25,
}


def get_layout(name: str, user_layouts: Mapping[str, Mapping[str, Any]] | None = None) -> SkeletonLayout:
    """Return a built-in layout or one declared in config (``layouts:`` section)."""
    if user_layouts and name in user_layouts:
        return SkeletonLayout.from_dict(user_layouts[name], name=name)
    if name in LAYOUTS:
        return LAYOUTS[name]
    known = sorted(LAYOUTS) + sorted(user_layouts or {})
    raise LayoutError(f"unknown skeleton layout {name!r}; known layouts: {', '.join(known)}")


__all__ = [
    "IN_MOTION_2022",
    "LAYOUTS",
    "NTU25",
    "OPENPOSE18",
    "OPENPOSE25",
    "LayoutError",
    "SkeletonLayout",
    "distance_partitions",
    "get_layout",
]
