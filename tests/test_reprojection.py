"""The reprojection check of inference results: exact where the 3D lands on the 2D, and flags what does not."""

from __future__ import annotations

import numpy as np
import pytest

from pose3d import skeleton
from pose3d.geometry import camera_to_pixel
from pose3d.inference.reprojection import DOUBTFUL_SHARE, MIN_JOINTS, reprojection_error
from pose3d.testing.samples import random_pose_mm

INTRINSICS = np.array([1000.0, 1000.0, 500.0, 500.0])


def _pose_and_keypoints(seed: int = 0):
    joints = random_pose_mm(np.random.default_rng(seed))
    pixels = camera_to_pixel(joints, INTRINSICS[:2], INTRINSICS[2:])
    return joints, np.concatenate([pixels, np.ones((17, 1))], axis=-1)


def test_a_pose_on_its_keypoints_agrees_and_a_shifted_one_by_the_shift():
    joints, keypoints = _pose_and_keypoints()
    exact = reprojection_error(joints, keypoints, "h36m17", INTRINSICS)
    assert exact["px"] == pytest.approx(0.0, abs=0.01) and exact["joints"] == 17 and not exact["doubtful"]
    shifted = keypoints.copy()
    shifted[:, 0] += 12.0
    result = reprojection_error(joints, shifted, "h36m17", INTRINSICS)
    spread = np.sqrt(((shifted[:, :2] - shifted[:, :2].mean(0)) ** 2).sum(-1).mean())
    assert result["px"] == pytest.approx(12.0, abs=0.01) and result["of_size"] == pytest.approx(12.0 / spread, abs=1e-3)


def test_coco_keypoints_are_compared_on_the_joints_both_layouts_have():
    joints, keypoints_h36m = _pose_and_keypoints(1)
    coco = skeleton.h36m_to_coco(keypoints_h36m)
    coco[~np.isfinite(coco).all(-1)] = 0.0  # the ears COCO has and Human3.6M lacks: undetected
    result = reprojection_error(joints, coco, "coco17", INTRINSICS)
    assert result["joints"] == len(skeleton.H36M_FROM_COCO) and result["px"] == pytest.approx(0.0, abs=0.01)


def test_a_pose_that_does_not_fit_its_keypoints_is_doubtful_and_too_few_joints_give_no_figure():
    joints, keypoints = _pose_and_keypoints(2)
    upside_down = joints.copy()
    upside_down[:, 1] = 2 * joints[0, 1] - joints[:, 1]  # turned over about the pelvis
    far = reprojection_error(upside_down, keypoints, "h36m17", INTRINSICS)
    assert far["of_size"] > DOUBTFUL_SHARE and far["doubtful"]
    keypoints[MIN_JOINTS - 1:, 2] = 0.0  # only MIN_JOINTS - 1 detected joints left
    assert reprojection_error(joints, keypoints, "h36m17", INTRINSICS) is None
    with pytest.raises(ValueError, match="layout"):
        reprojection_error(joints, keypoints, "mpii16", INTRINSICS)
