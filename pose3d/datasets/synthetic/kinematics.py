"""Forward kinematics on the Human3.6M-17 skeleton from joint-angle trajectories.

Angles are radians, one array of shape (T,) per degree of freedom; the body frame is
x forward, y left, z up (world z up, floor at z = 0, millimetres). `forward_kinematics`
returns the 17 joints plus the extra points and frames the renderer needs (feet, hands,
torso and head orientation). The feet are put on the floor afterwards: whatever the
angles, the lowest ankle rests at ankle height, so nobody floats or sinks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose3d.datasets.synthetic.body import Body, rest_offsets
from pose3d.skeleton import H36M17

# Degrees of freedom (radians unless noted) and their limits; trajectories are clipped to them.
DOF_LIMITS: dict[str, tuple[float, float]] = {
    "root_x": (-1e5, 1e5),  # mm
    "root_y": (-1e5, 1e5),  # mm
    "heading": (-1e3, 1e3),  # yaw of the pelvis, 0 = facing +x
    "torso_lean": (-0.45, 1.3),  # forward bend
    "torso_side": (-0.4, 0.4),  # lateral bend, + = towards the left
    "torso_twist": (-0.6, 0.6),  # + = turn left
    "neck_pitch": (-0.5, 0.7),  # + = look down
    "neck_yaw": (-1.0, 1.0),  # + = look left
    **{f"{side}_{dof}": limits for side in ("l", "r") for dof, limits in {
        "hip_flex": (-0.5, 2.1),  # thigh forward
        "hip_abd": (-0.25, 0.7),  # thigh outwards
        "knee": (0.0, 2.4),  # shin backwards
        "sh_flex": (-0.9, 3.0),  # upper arm forward / up
        "sh_abd": (-0.15, 2.9),  # upper arm outwards / up
        "sh_twist": (-1.0, 1.4),  # internal rotation: forearm towards the belly
        "elbow": (0.0, 2.5),  # forearm forward
    }.items()},
}


@dataclass(frozen=True)
class PoseSequence:
    """Joints and render frames of one motion; all world millimetres, T frames."""

    joints: np.ndarray  # (T, 17, 3) Human3.6M-17
    foot_tips: np.ndarray  # (T, 2, 3) right, left toe
    hand_tips: np.ndarray  # (T, 2, 3) right, left knuckles
    torso_rotation: np.ndarray  # (T, 3, 3) columns = torso forward, left, up in world
    pelvis_rotation: np.ndarray  # (T, 3, 3)
    head_rotation: np.ndarray  # (T, 3, 3)


def _rot(axis: int, angle: np.ndarray) -> np.ndarray:
    """Rotations (T, 3, 3) about a body axis (0 = x, 1 = y, 2 = z) by angles (T,)."""
    angle = np.asarray(angle, dtype=np.float64)
    cos, sin = np.cos(angle), np.sin(angle)
    out = np.zeros(angle.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    out[..., axis, axis] = 1.0
    out[..., i, i] = cos
    out[..., j, j] = cos
    out[..., i, j] = -sin
    out[..., j, i] = sin
    return out


def _apply(rotation: np.ndarray, vector: np.ndarray) -> np.ndarray:
    return np.einsum("tij,j->ti", rotation, vector)


def clip_to_limits(dofs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each trajectory clipped to its joint limits (a smooth curve stays continuous)."""
    return {name: np.clip(values, *DOF_LIMITS[name]) for name, values in dofs.items()}


def forward_kinematics(dofs: dict[str, np.ndarray], body: Body) -> PoseSequence:
    """Joint-angle trajectories (name -> (T,)) -> world joints of the body, feet on the floor."""
    dofs = clip_to_limits(dofs)
    offsets = rest_offsets(body)
    frames = len(dofs["heading"])
    joints = np.zeros((frames, H36M17.num_joints, 3))
    idx = H36M17.index

    pelvis_rotation = _rot(2, dofs["heading"])
    pelvis = np.stack([dofs["root_x"], dofs["root_y"], np.zeros(frames)], axis=-1)
    joints[:, idx("pelvis")] = pelvis

    half = {name: 0.5 * dofs[name] for name in ("torso_lean", "torso_side", "torso_twist")}
    bend = _rot(2, half["torso_twist"]) @ _rot(0, half["torso_side"]) @ _rot(1, half["torso_lean"])
    lower_torso = pelvis_rotation @ bend
    upper_torso = lower_torso @ bend
    joints[:, idx("spine")] = pelvis + _apply(lower_torso, offsets["spine"])
    thorax = joints[:, idx("spine")] + _apply(upper_torso, offsets["chest"])
    joints[:, idx("thorax")] = thorax
    head_rotation = upper_torso @ _rot(2, dofs["neck_yaw"]) @ _rot(1, dofs["neck_pitch"])
    joints[:, idx("nose")] = thorax + _apply(head_rotation, offsets["neck"])
    joints[:, idx("head")] = joints[:, idx("nose")] + _apply(head_rotation, offsets["head"])

    foot_tips = np.zeros((frames, 2, 3))
    hand_tips = np.zeros((frames, 2, 3))
    for slot, (side, sign) in enumerate((("r", -1.0), ("l", 1.0))):
        hip = pelvis + _apply(pelvis_rotation, offsets[f"{side}_hip"])
        thigh = pelvis_rotation @ _rot(0, sign * dofs[f"{side}_hip_abd"]) @ _rot(1, -dofs[f"{side}_hip_flex"])
        knee = hip + _apply(thigh, offsets["thigh"])
        shin = thigh @ _rot(1, dofs[f"{side}_knee"])
        ankle = knee + _apply(shin, offsets["shin"])
        # The foot stays near flat: it follows the thigh's heading, not the shin's swing.
        foot = pelvis_rotation @ _rot(1, -0.3 * (dofs[f"{side}_hip_flex"] - dofs[f"{side}_knee"]))
        foot_tips[:, slot] = ankle + _apply(foot, offsets["foot"])
        joints[:, idx(f"{side}_hip")] = hip
        joints[:, idx(f"{side}_knee")] = knee
        joints[:, idx(f"{side}_ankle")] = ankle

        shoulder = thorax + _apply(upper_torso, offsets[f"{side}_shoulder"])
        upper_arm = (upper_torso @ _rot(0, sign * dofs[f"{side}_sh_abd"]) @ _rot(1, -dofs[f"{side}_sh_flex"])
                     @ _rot(2, -sign * dofs[f"{side}_sh_twist"]))
        elbow = shoulder + _apply(upper_arm, offsets["upper_arm"])
        forearm = upper_arm @ _rot(1, -dofs[f"{side}_elbow"])
        wrist = elbow + _apply(forearm, offsets["forearm"])
        hand_tips[:, slot] = wrist + _apply(forearm, 0.45 * offsets["forearm"])
        joints[:, idx(f"{side}_shoulder")] = shoulder
        joints[:, idx(f"{side}_elbow")] = elbow
        joints[:, idx(f"{side}_wrist")] = wrist

    # Ground contact: the lower ankle sits at ankle height (a smooth min keeps motion smooth).
    ankle_z = joints[:, [idx("r_ankle"), idx("l_ankle")], 2]
    softness = 15.0
    hard_min = ankle_z.min(axis=1)
    lowest = hard_min - softness * np.log(np.exp(-(ankle_z - hard_min[:, None]) / softness).sum(axis=1))
    lift = body.lengths["ankle_height"] - lowest
    joints[..., 2] += lift[:, None]
    foot_tips[..., 2] += lift[:, None]
    hand_tips[..., 2] += lift[:, None]
    return PoseSequence(joints, foot_tips, hand_tips, upper_torso, pelvis_rotation, head_rotation)
