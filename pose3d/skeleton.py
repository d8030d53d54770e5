"""Joint layouts: Human3.6M-17 (3D targets) and COCO-17 (2D detector output).

This module is the only place that knows joint orders. Everything else asks it for
names, parents, bones, flip pairs and the relation between the two layouts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class JointLayout:
    """A named joint set with a kinematic tree (parent index, -1 for the root)."""

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    flip_pairs: tuple[tuple[int, int], ...]

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(parent, child) pairs, in joint order."""
        return tuple((p, j) for j, p in enumerate(self.parents) if p >= 0)

    @property
    def flip_permutation(self) -> np.ndarray:
        """Index array that swaps every left joint with its right partner."""
        perm = np.arange(self.num_joints)
        for left, right in self.flip_pairs:
            perm[left], perm[right] = right, left
        return perm

    def index(self, joint_name: str) -> int:
        return self.joint_names.index(joint_name)


H36M17 = JointLayout(
    name="h36m17",
    joint_names=(
        "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle",
        "spine", "thorax", "nose", "head",
        "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    flip_pairs=((1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16)),
)

COCO17 = JointLayout(
    name="coco17",
    joint_names=(
        "nose", "l_eye", "r_eye", "l_ear", "r_ear",
        "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
        "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
    ),
    # A drawing tree rooted at the nose: the face hangs off the nose, the limbs off the shoulders.
    parents=(-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14),
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
)

LAYOUTS: dict[str, JointLayout] = {H36M17.name: H36M17, COCO17.name: COCO17}

ROOT_JOINT = 0  # the Human3.6M pelvis

# H36M joint -> COCO joint, for the 13 joints both layouts share.
H36M_FROM_COCO: dict[int, int] = {
    H36M17.index(name): COCO17.index(name)
    for name in (
        "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "nose",
        "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
    )
}


def get_layout(name: str) -> JointLayout:
    """Look a layout up by name; a clear error names the known ones."""
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ValueError(f"unknown joint layout {name!r}; known: {sorted(LAYOUTS)}") from None


def comparable_joints(keypoints: np.ndarray, h36m_joints: np.ndarray, keypoints_layout: str) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints (..., 17, C) in `keypoints_layout` and Human3.6M-17 joints (..., 17, D) -> the joints
    both have, in matching order: all 17 for h36m17, COCO's 13 shared joints for coco17 (not the
    derived pelvis, spine and head)."""
    if keypoints_layout == "coco17":
        h36m, coco = (list(indices) for indices in zip(*sorted(H36M_FROM_COCO.items()), strict=True))
        return keypoints[..., coco, :], h36m_joints[..., h36m, :]
    if keypoints_layout != "h36m17":
        raise ValueError(f"unknown keypoint layout {keypoints_layout!r}")
    return keypoints, h36m_joints


def coco_to_h36m(coco_joints: np.ndarray) -> np.ndarray:
    """COCO-17 (..., 17, C) -> Human3.6M-17 (..., 17, C).

    Shared joints are copied. Pelvis = mid-hip, thorax = mid-shoulder, spine = midway
    between them, head = mid-ear pushed away from the thorax by half the ear-to-nose
    distance (the detector has no head-top joint, so this is an approximation).
    A trailing score channel (C == 3) takes the minimum score of the joints used.
    """
    coco_joints = np.asarray(coco_joints)
    assert coco_joints.shape[-2] == COCO17.num_joints, coco_joints.shape
    out = np.zeros(coco_joints.shape, dtype=np.result_type(coco_joints.dtype, np.float32))
    for h36m_idx, coco_idx in H36M_FROM_COCO.items():
        out[..., h36m_idx, :] = coco_joints[..., coco_idx, :]

    def mean_of(*idx: int) -> np.ndarray:
        return np.mean([coco_joints[..., i, :] for i in idx], axis=0)

    pelvis = mean_of(COCO17.index("l_hip"), COCO17.index("r_hip"))
    thorax = mean_of(COCO17.index("l_shoulder"), COCO17.index("r_shoulder"))
    ears = mean_of(COCO17.index("l_ear"), COCO17.index("r_ear"))
    head = ears + 0.5 * (ears - thorax)
    out[..., H36M17.index("pelvis"), :] = pelvis
    out[..., H36M17.index("thorax"), :] = thorax
    out[..., H36M17.index("spine"), :] = 0.5 * (pelvis + thorax)
    out[..., H36M17.index("head"), :] = head
    if coco_joints.shape[-1] == 3:  # (x, y, score): a derived joint is as sure as its weakest source
        scores = coco_joints[..., 2]
        hips = np.minimum(scores[..., COCO17.index("l_hip")], scores[..., COCO17.index("r_hip")])
        shoulders = np.minimum(scores[..., COCO17.index("l_shoulder")], scores[..., COCO17.index("r_shoulder")])
        ear_scores = np.minimum(scores[..., COCO17.index("l_ear")], scores[..., COCO17.index("r_ear")])
        out[..., H36M17.index("pelvis"), 2] = hips
        out[..., H36M17.index("thorax"), 2] = shoulders
        out[..., H36M17.index("spine"), 2] = np.minimum(hips, shoulders)
        out[..., H36M17.index("head"), 2] = np.minimum(ear_scores, shoulders)
    return out


def h36m_to_coco(h36m_joints: np.ndarray) -> np.ndarray:
    """Human3.6M-17 (..., 17, C) -> COCO-17 (..., 17, C) for the shared joints.

    Eyes and ears have no Human3.6M counterpart; they are filled with NaN so nobody
    mistakes them for measurements.
    """
    h36m_joints = np.asarray(h36m_joints)
    assert h36m_joints.shape[-2] == H36M17.num_joints, h36m_joints.shape
    out = np.full(h36m_joints.shape, np.nan, dtype=np.result_type(h36m_joints.dtype, np.float32))
    for h36m_idx, coco_idx in H36M_FROM_COCO.items():
        out[..., coco_idx, :] = h36m_joints[..., h36m_idx, :]
    return out


def bone_lengths(joints: np.ndarray, layout: JointLayout = H36M17) -> np.ndarray:
    """Bone lengths (..., num_bones) in the joints' unit, in `layout.bones` order."""
    joints = np.asarray(joints)
    parents = np.array([p for p, _ in layout.bones])
    children = np.array([c for _, c in layout.bones])
    return np.linalg.norm(joints[..., children, :] - joints[..., parents, :], axis=-1)


def flip_joints(joints: np.ndarray, layout: JointLayout) -> np.ndarray:
    """Swap left/right joint slots (..., J, C); coordinates are not mirrored here."""
    return np.asarray(joints)[..., layout.flip_permutation, :]
