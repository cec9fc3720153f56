"""OpenPose BODY_25 key points (the default model of OpenPose 1.3 and later).

Joint order and bones: OpenPose ``doc/02_output.md`` (section "Pose Output Format
(BODY_25)") and ``POSE_BODY_25_PAIRS_RENDER`` in ``include/openpose/pose/poseParameters.hpp``
(CMU-Perceptual-Computing-Lab/openpose). Centre the neck (1), as the COCO-18 layout
(:mod:`harxai.skeletons.openpose`); the trunk runs from the neck to the mean of both hips
(9, 12), not OpenPose's ``MidHip`` (8), which is undetected whenever the hips are.
"""

from __future__ import annotations

from .layout import SkeletonLayout

BODY25_JOINTS = (
    "nose",
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "mid_hip",
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
    "left_big_toe",
    "left_small_toe",
    "left_heel",
    "right_big_toe",
    "right_small_toe",
    "right_heel",
)

BODY25_EDGES = (
    (8, 1), (2, 1), (5, 1), (3, 2), (4, 3), (6, 5), (7, 6), (9, 8), (10, 9), (11, 10),
    (12, 8), (13, 12), (14, 13), (0, 1), (15, 0), (17, 15), (16, 0), (18, 16),
    (19, 14), (20, 19), (21, 14), (22, 11), (23, 22), (24, 11),
)  # fmt: skip

OPENPOSE25 = SkeletonLayout(
    name="openpose25",
    joints=BODY25_JOINTS,
    edges=BODY25_EDGES,
    center=1,
    trunk_top=(1,),
    trunk_bottom=(9, 12),
    parts={
        "left_arm": (5, 6, 7),
        "right_arm": (2, 3, 4),
        "left_leg": (12, 13, 14, 19, 20, 21),
        "right_leg": (9, 10, 11, 22, 23, 24),
        "torso": (0, 1, 8, 15, 16, 17, 18),
    },
    source="OpenPose BODY_25 order and POSE_BODY_25_PAIRS_RENDER (doc/02_output.md, poseParameters.hpp)",
)
