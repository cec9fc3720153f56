"""Skeleton layouts: edge lists, trees, parents, partitions, user layouts."""

from __future__ import annotations

import numpy as np
import pytest

from harxai.skeletons import (
    IN_MOTION_2022,
    LAYOUTS,
    NTU25,
    OPENPOSE18,
    LayoutError,
    SkeletonLayout,
    distance_partitions,
    get_layout,
)

# The seed study's parent arrays (DeepInMotion/ShapGCN, EfficientGCN connect_joint), 0-based.
SEED_NTU_PARENTS = [1, 1, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, 1, 22, 7, 24, 11]
SEED_INFANT_PARENTS = [
    1,
    4,
    1,
    1,
    8,
    8,
    5,
    6,
    8,
    8,
    9,
    10,
    8,
    12,
    13,
    14,
    12,
    16,
    17,
    7,
    7,
    11,
    11,
    15,
    15,
    15,
    18,
    18,
    18,
]
# EfficientGCN's connect_joint for openpose (kinetics).
EFFICIENTGCN_OPENPOSE_PARENTS = [1, 1, 1, 2, 3, 1, 5, 6, 2, 8, 9, 5, 11, 12, 0, 0, 14, 15]


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_builtin_layouts_are_spanning_trees(layout: SkeletonLayout) -> None:
    assert len(layout.edges) == layout.num_joints - 1
    assert layout.is_tree()
    assert (layout.hop_distances() >= 0).all()
    assert layout.source
    covered = sorted(j for part in layout.parts.values() for j in part)
    assert covered == list(range(layout.num_joints)), "body parts cover every joint exactly once"


def test_ntu_edges_follow_stgcn_hand_chain() -> None:
    edges = {tuple(sorted(e)) for e in NTU25.edges}
    # ST-GCN: tip of left hand (21) -> left thumb (22) -> left hand (7); CTR-GCN would have (7, 21).
    assert (21, 22) in edges
    assert (7, 22) in edges
    assert (7, 21) not in edges
    assert (11, 24) in edges
    assert (23, 24) in edges
    assert NTU25.joints[1] == "middle_of_spine"
    assert NTU25.joints[20] == "spine_shoulder"


def test_parents_match_seed_arrays() -> None:
    assert NTU25.parents().tolist() == SEED_NTU_PARENTS
    assert IN_MOTION_2022.parents().tolist() == SEED_INFANT_PARENTS
    assert OPENPOSE18.parents().tolist() == EFFICIENTGCN_OPENPOSE_PARENTS


def test_infant_layout_names_and_trunk() -> None:
    assert IN_MOTION_2022.num_joints == 29
    assert IN_MOTION_2022.joints[8] == "thorax"
    assert IN_MOTION_2022.joints[12] == "pelvis"
    assert IN_MOTION_2022.center == 8
    assert IN_MOTION_2022.trunk_top == (8,)
    assert IN_MOTION_2022.trunk_bottom == (12,)


def test_distance_partitions_normalised_by_column() -> None:
    a = distance_partitions(NTU25, 3)
    assert a.shape == (3, 25, 25)
    np.testing.assert_allclose(a.sum(axis=(0, 1)), np.ones(25), rtol=1e-6)
    hops = NTU25.hop_distances()
    for k in range(3):
        assert ((a[k] > 0) == (hops == k)).all()
    # Column normalisation: every nonzero entry in column v equals 1 / |{u: hop(u, v) < 3}|.
    for v in range(25):
        reach = (hops[:, v] < 3).sum()
        np.testing.assert_allclose(a[:, :, v].max(), 1.0 / reach, rtol=1e-6)


def test_user_layout_from_config_names() -> None:
    spec = {
        "joints": ["hip", "knee", "ankle", "shoulder"],
        "edges": [["knee", "hip"], ["ankle", "knee"], [3, 0]],
        "center": "hip",
        "trunk": ["shoulder", "hip"],
    }
    layout = get_layout("leg", {"leg": spec})
    assert layout.edges == ((1, 0), (2, 1), (3, 0))
    assert layout.parents().tolist() == [0, 0, 1, 0]
    assert layout.trunk_top == (3,)
    assert layout.trunk_bottom == (0,)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"joints": ["a", "b"], "edges": [["a", "c"]], "center": "a", "trunk": ["a", "b"]},
            "unknown joint 'c'",
        ),
        (
            {"joints": ["a", "b", "c"], "edges": [["a", "b"]], "center": "a", "trunk": ["a", "b"]},
            "not connected",
        ),
        ({"joints": ["a", "a"], "edges": [[0, 1]], "center": 0, "trunk": [0, 1]}, "duplicate joint"),
        ({"joints": ["a", "b"], "edges": [[0, 5]], "center": 0, "trunk": [0, 1]}, "invalid edge"),
    ],
)
def test_bad_user_layouts_fail_with_a_clear_message(spec: dict, message: str) -> None:
    with pytest.raises(LayoutError, match=message):
        get_layout("bad", {"bad": spec})


def test_unknown_layout_lists_known_ones() -> None:
    with pytest.raises(LayoutError, match="ntu25"):
        get_layout("nope")


def test_round_trip_through_dict() -> None:
    for layout in LAYOUTS.values():
        again = SkeletonLayout.from_dict(layout.to_dict())
        assert again == layout
