"""NTU RGB+D: the 25 Kinect v2 joints.

Joint order and names follow the NTU RGB+D paper (Shahroudy et al., CVPR 2016, Fig. 1).
Edge list: ST-GCN (Yan et al., AAAI 2018), ``net/utils/graph.py`` layout ``ntu-rgb+d``
(github.com/yysijie/st-gcn), the list EfficientGCN and the seed study (ShapGCN) use.
Public codebases disagree on the hand edges: ST-GCN chains tip-of-hand -> thumb -> hand
(1-based ``(22, 23), (23, 8)``), while CTR-GCN and pyskl attach both the hand tip and the
thumb to the hand (``(22, 8), (23, 8)``). harxai keeps ST-GCN's list so that rankings and
perturbations are comparable with the seed study.
The centre is the middle of the spine (0-based 1), the root of EfficientGCN's bone tree
(``connect_joint``) and the reference of its relative joint coordinates.
"""

from __future__ import annotations

from .layout import SkeletonLayout, parse_edge_list

NTU_JOINTS = (
    "base_of_spine",
    "middle_of_spine",
    "neck",
    "head",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "left_hand",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "right_hand",
    "left_hip",
    "left_knee",
    "left_ankle",
    "left_foot",
    "right_hip",
    "right_knee",
    "right_ankle",
    "right_foot",
    "spine_shoulder",
    "left_hand_tip",
    "left_thumb",
    "right_hand_tip",
    "right_thumb",
)

# ST-GCN neighbor_1base for 'ntu-rgb+d' (1-based).
NTU_EDGES_1BASED = (
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7),
    (9, 21), (10, 9), (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15),
    (17, 1), (18, 17), (19, 18), (20, 19), (22, 23), (23, 8), (24, 25), (25, 12),
)  # fmt: skip

NTU25 = SkeletonLayout(
    name="ntu25",
    joints=NTU_JOINTS,
    edges=parse_edge_list(NTU_EDGES_1BASED, one_based=True),
    center=1,
    trunk_top=(20,),
    trunk_bottom=(0,),
    parts={
        "left_arm": (4, 5, 6, 7, 21, 22),
        "right_arm": (8, 9, 10, 11, 23, 24),
        "left_leg": (12, 13, 14, 15),
        "right_leg": (16, 17, 18, 19),
        "torso": (0, 1, 2, 3, 20),
    },
    source=(
        "NTU RGB+D (Shahroudy et al., CVPR 2016) joint order; edges from ST-GCN "
        "net/utils/graph.py layout 'ntu-rgb+d' (yysijie/st-gcn), as in EfficientGCN/ShapGCN"
    ),
)
