"""The mannequin: one frame of a pose (and its chair) as render primitives in camera space.

Limbs are capsules along the bones, the chest, belly, pelvis and head are ellipsoids
oriented by the body frames, shoulders and hips are bars; every Human3.6M joint lies
inside the volume, so a visible joint's rendered depth is within a body radius of it.
"""

from __future__ import annotations

import numpy as np

from pose3d.datasets.synthetic.body import Body
from pose3d.datasets.synthetic.cameras import SyntheticCamera
from pose3d.datasets.synthetic.kinematics import PoseSequence
from pose3d.datasets.synthetic.motion import Chair
from pose3d.datasets.synthetic.render import (
    CHAIR_FRAME,
    CHAIR_SEAT,
    HAIR,
    SHIRT,
    SHOES,
    SKIN,
    TROUSERS,
    Box,
    Capsule,
    Ellipsoid,
    Primitive,
)
from pose3d.skeleton import H36M17

_J = {name: i for i, name in enumerate(H36M17.joint_names)}


def palette(body: Body, chair_rgb: np.ndarray) -> np.ndarray:
    """Part id -> RGB albedo (row 0 unused)."""
    colours = np.zeros((8, 3), dtype=np.float32)
    colours[SKIN], colours[SHIRT], colours[TROUSERS] = body.skin_rgb, body.shirt_rgb, body.trousers_rgb
    colours[SHOES], colours[HAIR] = body.shoes_rgb, body.hair_rgb
    colours[CHAIR_SEAT], colours[CHAIR_FRAME] = chair_rgb, chair_rgb * 0.5
    return colours


def _frame_from(up: np.ndarray, forward_hint: np.ndarray) -> np.ndarray:
    """Orthonormal columns (forward, left, up) with `up` exact and forward close to the hint."""
    up = up / np.linalg.norm(up)
    forward = forward_hint - (forward_hint @ up) * up
    forward /= np.linalg.norm(forward) + 1e-9
    return np.stack([forward, np.cross(up, forward), up], axis=1)


def person_primitives(pose: PoseSequence, frame: int, body: Body, camera: SyntheticCamera) -> list[Primitive]:
    """All body parts of `frame`, transformed into `camera`'s space."""
    rot, trans = camera.rotation, camera.translation_mm
    joints = pose.joints[frame]

    def cam(point: np.ndarray) -> np.ndarray:
        return rot @ point + trans

    def j(name: str) -> np.ndarray:
        return cam(joints[_J[name]])

    radius = body.radii
    sleeve = SKIN if body.short_sleeves else SHIRT
    prims: list[Primitive] = []
    for slot, side in enumerate(("r", "l")):
        prims += [
            Capsule(j(f"{side}_hip"), j(f"{side}_knee"), radius["thigh"], TROUSERS),
            Capsule(j(f"{side}_knee"), j(f"{side}_ankle"), radius["shin"], TROUSERS),
            Capsule(j(f"{side}_ankle"), cam(pose.foot_tips[frame, slot]), radius["foot"], SHOES),
            Capsule(j(f"{side}_shoulder"), j(f"{side}_elbow"), radius["upper_arm"], SHIRT),
            Capsule(j(f"{side}_elbow"), j(f"{side}_wrist"), radius["forearm"], sleeve),
            Capsule(j(f"{side}_wrist"), cam(pose.hand_tips[frame, slot]), 0.8 * radius["hand"], SKIN),
        ]
    prims.append(Capsule(j("l_shoulder"), j("r_shoulder"), 1.1 * radius["upper_arm"], SHIRT))
    prims.append(Capsule(j("l_hip"), j("r_hip"), 1.05 * radius["thigh"], TROUSERS))

    torso = rot @ pose.torso_rotation[frame]  # columns forward, left, up in camera space
    pelvis_frame = rot @ pose.pelvis_rotation[frame]
    pelvis, spine, thorax = joints[_J["pelvis"]], joints[_J["spine"]], joints[_J["thorax"]]
    chest_len = float(np.linalg.norm(thorax - spine))
    belly_len = float(np.linalg.norm(spine - pelvis))
    torso_r = radius["torso"]
    prims.append(Ellipsoid(cam(spine + 0.45 * (thorax - spine)), torso,
                           np.array([0.6 * torso_r, torso_r, 0.75 * chest_len + 25.0]), SHIRT))
    belly_axes = rot @ _frame_from(spine - pelvis, pose.pelvis_rotation[frame][:, 0])
    prims.append(Ellipsoid(cam(0.5 * (pelvis + spine)), belly_axes,
                           np.array([0.55 * torso_r, 0.88 * torso_r, 0.65 * belly_len]), SHIRT))
    hip_half = body.lengths["hip_half_width"]
    prims.append(Ellipsoid(cam(pelvis), pelvis_frame,
                           np.array([0.62 * torso_r, hip_half + 0.75 * radius["thigh"], 0.45 * belly_len + 30.0]),
                           TROUSERS))

    head_frame = rot @ pose.head_rotation[frame]
    nose, head = joints[_J["nose"]], joints[_J["head"]]
    prims.append(Capsule(j("thorax"), cam(thorax + 0.6 * (nose - thorax)), radius["neck"], SKIN))
    head_centre = nose + 0.4 * (head - nose)
    head_radii = np.array([0.95, 0.8, 1.15]) * 0.85 * radius["head"]
    prims.append(Ellipsoid(cam(head_centre), head_frame, head_radii, SKIN))
    hair_centre = head_centre + pose.head_rotation[frame] @ np.array([-0.14, 0.0, 0.08]) * radius["head"]
    prims.append(Ellipsoid(cam(hair_centre), head_frame, 1.02 * head_radii, HAIR))
    return prims


def chair_primitives(chair: Chair, camera: SyntheticCamera) -> list[Primitive]:
    """Seat, backrest and four legs of a chair, in camera space."""
    cos, sin = np.cos(chair.heading), np.sin(chair.heading)
    axes_world = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
    axes = camera.rotation @ axes_world
    centre = np.array([chair.x, chair.y, 0.0])

    def at(forward: float, left: float, up: float) -> np.ndarray:
        return camera.rotation @ (centre + axes_world @ np.array([forward, left, up])) + camera.translation_mm

    thickness, half_depth, half_width = 40.0, chair.seat_depth / 2, chair.seat_width / 2
    seat_top = chair.seat_height
    prims: list[Primitive] = [
        Box(at(0, 0, seat_top - thickness / 2), axes, np.array([half_depth, half_width, thickness / 2]), CHAIR_SEAT),
        Box(at(-half_depth - 15, 0, seat_top + 260), axes, np.array([18.0, half_width, 240.0]), CHAIR_SEAT),
    ]
    leg_height = max(seat_top - thickness, 10.0)
    for forward in (-half_depth + 25, half_depth - 25):
        for left in (-half_width + 25, half_width - 25):
            prims.append(Box(at(forward, left, leg_height / 2), axes, np.array([18.0, 18.0, leg_height / 2]),
                             CHAIR_FRAME))
    return prims
