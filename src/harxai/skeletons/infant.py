"""The 29-key-point infant layout ``in-motion-2022`` (In-Motion / DeepInMotion).

Names, edges and centre as listed by the seed study (DeepInMotion/ShapGCN
``src/graph/graph.py`` and ``src/xai/xai_utils.py``) and the MovementOutcome code.
The trunk runs from the thorax (8) to the pelvis (12); the pelvis is the mid-pelvis point.
"""

from __future__ import annotations

from .layout import SkeletonLayout

INFANT_JOINTS = (
    "head_top",
    "nose",
    "right_ear",
    "left_ear",
    "upper_neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "thorax",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "pelvis",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_little_finger",
    "right_index_finger",
    "left_little_finger",
    "left_index_finger",
    "right_heel",
    "right_little_toe",
    "right_big_toe",
    "left_heel",
    "left_little_toe",
    "left_big_toe",
)

INFANT_EDGES = (
    (0, 1), (2, 1), (3, 1), (1, 4), (9, 8), (10, 9), (11, 10), (5, 8), (6, 5), (7, 6),
    (4, 8), (12, 8), (16, 12), (17, 16), (18, 17), (13, 12), (14, 13), (15, 14),
    (19, 7), (20, 7), (21, 11), (22, 11), (23, 15), (24, 15), (25, 15),
    (26, 18), (27, 18), (28, 18),
)  # fmt: skip

IN_MOTION_2022 = SkeletonLayout(
    name="in-motion-2022",
    joints=INFANT_JOINTS,
    edges=INFANT_EDGES,
    center=8,
    trunk_top=(8,),
    trunk_bottom=(12,),
    parts={
        "left_arm": (9, 10, 11, 21, 22),
        "right_arm": (5, 6, 7, 19, 20),
        "left_leg": (16, 17, 18, 26, 27, 28),
        "right_leg": (13, 14, 15, 23, 24, 25),
        "torso": (0, 1, 2, 3, 4, 8, 12),
    },
    source="In-Motion 2022 29-key-point layout as in DeepInMotion/ShapGCN and MovementOutcome",
)
