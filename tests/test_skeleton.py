"""Joint layouts: trees, flip pairs and the COCO-17 <-> Human3.6M-17 relation."""

from __future__ import annotations

import numpy as np
import pytest

from pose3d import skeleton
from pose3d.skeleton import COCO17, H36M17


@pytest.mark.parametrize("layout", [H36M17, COCO17])
def test_parents_precede_children_and_tree_is_connected(layout):
    assert layout.parents.count(-1) == 1
    for joint, parent in enumerate(layout.parents):
        assert parent < joint
    assert len(layout.bones) == layout.num_joints - 1


@pytest.mark.parametrize("layout", [H36M17, COCO17])
def test_flip_pairs_are_symmetric_left_right(layout):
    perm = layout.flip_permutation
    np.testing.assert_array_equal(perm[perm], np.arange(layout.num_joints))
    for left, right in layout.flip_pairs:
        a, b = layout.joint_names[left], layout.joint_names[right]
        assert {a[:2], b[:2]} == {"l_", "r_"} and a[2:] == b[2:]
    # every l_/r_ joint is in exactly one pair
    sided = [i for i, n in enumerate(layout.joint_names) if n[:2] in ("l_", "r_")]
    assert sorted(i for pair in layout.flip_pairs for i in pair) == sorted(sided)


def test_root_is_the_pelvis():
    assert H36M17.joint_names[skeleton.ROOT_JOINT] == "pelvis"


def test_coco_h36m_round_trip_on_shared_joints():
    rng = np.random.default_rng(0)
    coco = rng.uniform(0, 500, size=(3, 17, 3))
    back = skeleton.h36m_to_coco(skeleton.coco_to_h36m(coco))
    shared = sorted(skeleton.H36M_FROM_COCO.values())
    np.testing.assert_allclose(back[:, shared], coco[:, shared])
    assert np.isnan(back[:, COCO17.index("l_eye")]).all()


def test_coco_to_h36m_builds_pelvis_thorax_and_spine():
    coco = np.zeros((17, 2))
    coco[COCO17.index("l_hip")] = [10, 100]
    coco[COCO17.index("r_hip")] = [30, 100]
    coco[COCO17.index("l_shoulder")] = [0, 40]
    coco[COCO17.index("r_shoulder")] = [40, 40]
    h36m = skeleton.coco_to_h36m(coco)
    np.testing.assert_allclose(h36m[H36M17.index("pelvis")], [20, 100])
    np.testing.assert_allclose(h36m[H36M17.index("thorax")], [20, 40])
    np.testing.assert_allclose(h36m[H36M17.index("spine")], [20, 70])


def test_derived_joint_score_is_the_weakest_source():
    coco = np.ones((17, 3))
    coco[COCO17.index("r_hip"), 2] = 0.2
    h36m = skeleton.coco_to_h36m(coco)
    assert h36m[H36M17.index("pelvis"), 2] == pytest.approx(0.2)


def test_flip_joints_swaps_slots():
    joints = np.arange(17 * 3, dtype=float).reshape(17, 3)
    flipped = skeleton.flip_joints(joints, H36M17)
    np.testing.assert_array_equal(flipped[1], joints[4])
    np.testing.assert_array_equal(skeleton.flip_joints(flipped, H36M17), joints)


def test_bone_lengths_shape():
    assert skeleton.bone_lengths(np.zeros((5, 17, 3))).shape == (5, 16)


def test_unknown_layout_is_a_clear_error():
    with pytest.raises(ValueError, match="known"):
        skeleton.get_layout("smpl24")
