"""OpenPose COCO-18 key points (``--model_pose COCO``), as in the ST-GCN Kinetics-skeleton release.

Joint order: OpenPose COCO output (Cao et al., CVPR 2017). Edges: ST-GCN
``net/utils/graph.py`` layout ``openpose`` (yysijie/st-gcn), centre the neck (1).
The trunk runs from the neck to the mid-hip (mean of both hips).
"""

from __future__ import annotations

from .layout import SkeletonLayout

OPENPOSE_JOINTS = (
    "nose",
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_eye",
    "left_eye",
    "right_ear",
    "left_ear",
)

OPENPOSE_EDGES = (
    (4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8), (11, 5),
    (8, 2), (5, 1), (2, 1), (0, 1), (15, 0), (14, 0), (17, 15), (16, 14),
)  # fmt: skip

OPENPOSE18 = SkeletonLayout(
    name="openpose18",
    joints=OPENPOSE_JOINTS,
    edges=OPENPOSE_EDGES,
    center=1,
    trunk_top=(1,),
    trunk_bottom=(8, 11),
    parts={
        "left_arm": (5, 6, 7),
        "right_arm": (2, 3, 4),
        "left_leg": (11, 12, 13),
        "right_leg": (8, 9, 10),
        "torso": (0, 1, 14, 15, 16, 17),
    },
    source="OpenPose COCO-18 order; edges from ST-GCN net/utils/graph.py layout 'openpose'",
)
