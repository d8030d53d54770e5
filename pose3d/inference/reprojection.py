"""How well a 3D pose agrees with the 2D keypoints it came from: its reprojection error.

A photo or video frame has no ground truth, so a user cannot see when a result is wrong. One sign
they can be shown: a model outside what it learnt (an unusual pose or viewpoint, a person cut off
by the frame, a detector that confused limbs) tends to return a typical pose, which then no longer
projects onto the detected joints. The error is given per person in pixels and as a share of the
person's 2D size (the RMS distance of the detected joints from their centre, about a quarter of
the height), and a result above DOUBTFUL_SHARE is flagged. A small error does not prove the depth
right: many 3D poses project onto the same 2D joints.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pose3d import skeleton
from pose3d.geometry import camera_to_pixel

# Flag a person whose joints reproject farther than this share of their 2D size (see README "Your own photos").
DOUBTFUL_SHARE = 0.25
MIN_JOINTS = 6  # fewer detected joints than this: too little to judge, no figure


def reprojection_error(
    joints_mm: np.ndarray, keypoints: np.ndarray, keypoints_layout: str, intrinsics: np.ndarray
) -> dict[str, Any] | None:
    """Mean distance between the projected 3D joints (17, 3 camera mm, Human3.6M-17) and the detected
    keypoints (17, 3 x, y, score in `keypoints_layout`), over the detected joints both layouts have
    (COCO's 13 shared joints, or all 17); None with fewer than MIN_JOINTS."""
    keypoints = np.asarray(keypoints, np.float64)
    joints_mm = np.asarray(joints_mm, np.float64)
    keypoints, joints_mm = skeleton.comparable_joints(keypoints, joints_mm, keypoints_layout)
    fx, fy, cx, cy = (float(v) for v in intrinsics)
    valid = (np.isfinite(keypoints).all(-1) & (keypoints[:, 2] > 0) & np.isfinite(joints_mm).all(-1)
             & (joints_mm[:, 2] > 0))
    if valid.sum() < MIN_JOINTS:
        return None
    detected = keypoints[valid, :2]
    projected = camera_to_pixel(joints_mm[valid], np.array([fx, fy]), np.array([cx, cy]))
    error_px = float(np.linalg.norm(projected - detected, axis=-1).mean())
    size_px = float(np.sqrt(((detected - detected.mean(0)) ** 2).sum(-1).mean()))
    share = error_px / max(size_px, 1e-6)
    return {"px": round(error_px, 2), "of_size": round(share, 4), "joints": int(valid.sum()),
            "doubtful": bool(share > DOUBTFUL_SHARE)}
