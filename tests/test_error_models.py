"""Simulated perception: detector-like 2D errors and monocular-estimator-like depth errors, at their published sizes."""

from __future__ import annotations

import numpy as np
import pytest

from pose3d.config import config_from_dict
from pose3d.geometry import camera_to_pixel
from pose3d.perception import Frame, GroundTruthKeypoints
from pose3d.perception.depth import depth_backend_from_config
from pose3d.perception.error_models import (
    DepthEstimatorErrors,
    DetectorErrors,
    delta1_and_absrel,
    perception_inputs,
    self_occluded,
)
from pose3d.perception.keypoints import keypoint_backend_from_config
from pose3d.skeleton import H36M17
from pose3d.testing.config import tiny_config_dict
from pose3d.testing.samples import TEMPLATE_MM, random_pose_mm

CENTER = np.array([500.0, 500.0])


def _detect(errors: DetectorErrors, focal: float, seed: int, count: int = 400):
    """Relative 2D error (error / person height) of every joint of `count` random poses."""
    rng, draw = np.random.default_rng(0), np.random.default_rng(seed)
    relative, scores, hidden = [], [], []
    for _ in range(count):
        joints = random_pose_mm(rng)
        pixels = camera_to_pixel(joints, np.array([focal, focal]), CENTER)
        height = float(np.ptp(pixels, axis=0).max())
        detected = errors(pixels, joints, height, draw)
        relative.append(np.linalg.norm(detected[:, :2] - pixels, axis=-1) / height)
        scores.append(detected[:, 2])
        hidden.append(self_occluded(pixels, joints, height))
    return np.array(relative), np.array(scores), np.array(hidden)


def test_detector_error_is_relative_to_person_size():
    errors = DetectorErrors(relative_error=0.015, swap_prob=0.0, occluded_drop_prob=0.0)
    small, _, hidden = _detect(errors, focal=500.0, seed=1)
    large, _, _ = _detect(errors, focal=2000.0, seed=1)
    # The same draws at 4x the image scale: the same error relative to the person's height.
    np.testing.assert_allclose(small, large, rtol=1e-9)
    visible_mean = small[~hidden].mean()
    assert 0.013 < visible_mean < 0.017  # 1.5 % of the height where nothing hides the joint
    assert 0.015 < small.mean() < 0.025  # occluded joints (2.5x error) raise the overall mean a little
    wrists = [H36M17.index("l_wrist"), H36M17.index("r_wrist")]
    assert small[:, wrists][~hidden[:, wrists]].mean() > small[:, [0, 7, 8]][~hidden[:, [0, 7, 8]]].mean()


def test_self_occlusion_gives_low_scores_and_dropped_joints():
    _, scores, hidden = _detect(DetectorErrors(0.015, 0.0, occluded_drop_prob=1.0), focal=1000.0, seed=2)
    assert 0.02 < hidden.mean() < 0.4  # some joints of turning poses hide behind the body, most do not
    np.testing.assert_array_equal(scores[hidden], 0.0)
    assert scores[~hidden].min() >= 0.5
    _, scores, hidden = _detect(DetectorErrors(0.015, 0.0, occluded_drop_prob=0.0), focal=1000.0, seed=2)
    assert scores[hidden].max() < 0.5 < scores[~hidden].mean()


def test_a_joint_behind_the_torso_is_occluded():
    pose = TEMPLATE_MM + np.array([0.0, 0.0, 4000.0])
    pose[H36M17.index("r_wrist")] = pose[H36M17.index("spine")] + np.array([0.0, 0.0, 250.0])  # behind the back
    pixels = camera_to_pixel(pose, np.array([1000.0, 1000.0]), CENTER)
    hidden = self_occluded(pixels, pose, float(np.ptp(pixels, axis=0).max()))
    assert hidden[H36M17.index("r_wrist")] and hidden.sum() == 1


def test_left_right_confusion_swaps_whole_limb_ends():
    joints = TEMPLATE_MM + np.array([0.0, 0.0, 4000.0])
    pixels = camera_to_pixel(joints, np.array([1000.0, 1000.0]), CENTER)
    detected = DetectorErrors(0.0, swap_prob=1.0, occluded_drop_prob=0.0)(pixels, joints, 400.0, np.random.default_rng(0))
    for left, right in (("l_wrist", "r_wrist"), ("l_elbow", "r_elbow"), ("l_knee", "r_knee"), ("l_ankle", "r_ankle")):
        np.testing.assert_allclose(detected[H36M17.index(left), :2], pixels[H36M17.index(right)])
    np.testing.assert_allclose(detected[H36M17.index("l_shoulder"), :2], pixels[H36M17.index("l_shoulder")])


def _room_depth(rng: np.random.Generator) -> np.ndarray:
    """A 128x128 depth map (m): a slanted floor/wall at 4-7 m and a person-shaped slab at ~4.5 m."""
    yy, xx = np.mgrid[0:128, 0:128]
    depth = 4.0 + 3.0 * yy / 128 + rng.uniform(-0.2, 0.2)
    person = (np.abs(xx - 64) < 12) & (yy > 30) & (yy < 110)
    return np.where(person, 4.5, depth).astype(np.float32)


def test_depth_errors_match_published_delta1_and_absrel():
    errors = DepthEstimatorErrors(scale_log_std=0.13, distortion=0.03, noise=0.01, edge_blur=0.005)
    rng, draw = np.random.default_rng(0), np.random.default_rng(1)
    figures = []
    for _ in range(300):
        true = _room_depth(rng)
        estimated = errors(true, draw)
        figures.append(delta1_and_absrel(estimated, true))
    delta1, absrel = np.mean(figures, axis=0)
    assert 0.85 < delta1 < 0.95, delta1  # DepthPro's zero-shot indoor delta1 is about 0.9
    assert 0.08 < absrel < 0.15, absrel


def test_depth_edges_blurred_flat_areas_kept_and_no_surface_stays_zero():
    true = _room_depth(np.random.default_rng(0))
    true[:, :10] = 0.0  # no surface
    blur_only = DepthEstimatorErrors(scale_log_std=0.0, distortion=0.0, noise=0.0, edge_blur=0.02)
    estimated = blur_only(true, np.random.default_rng(0))
    np.testing.assert_array_equal(estimated[:, :10], 0.0)
    inside = (slice(60, 80), slice(62, 66))  # the person slab spans x = 53..75
    np.testing.assert_allclose(estimated[inside], 4.5, atol=1e-3)  # flat area: unchanged
    # The silhouette edge between x = 52 (wall, ~5.6 m) and x = 53 (person, 4.5 m) is smeared.
    assert estimated[70, 53] > true[70, 53] + 0.05 and estimated[70, 52] < true[70, 52] - 0.05
    scale = DepthEstimatorErrors(scale_log_std=0.2, distortion=0.0, noise=0.0, edge_blur=0.0)(true, np.random.default_rng(3))
    ratio = scale[true > 0] / true[true > 0]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-5)  # one scale factor per image
    assert abs(ratio[0] - 1.0) > 1e-3


@pytest.mark.parametrize("model", ["realistic", "oracle"])
def test_backends_built_from_config(tmp_path, model):
    raw = tiny_config_dict(tmp_path, perception={"keypoints": {"error_model": model}, "depth": {"error_model": model}})
    config = config_from_dict(raw)
    keypoints, depth = keypoint_backend_from_config(config, seed=1), depth_backend_from_config(config, seed=1)
    assert (keypoints.errors is None) == (depth.errors is None) == (model == "oracle")
    inputs = perception_inputs(config.perception)
    assert inputs["kind"] == {"realistic": "simulated perception", "oracle": "oracle ground truth"}[model]
    frame = Frame(image=np.zeros((1000, 1000, 3), np.uint8), joints_cam_mm=TEMPLATE_MM + [0, 0, 4000.0],
                  focal=np.array([1000.0, 1000.0]), center=CENTER)
    found = keypoints([frame])[0]
    exact = camera_to_pixel(frame.joints_cam_mm, frame.focal, frame.center)
    assert np.array_equal(found.keypoints[0, :, :2], exact.astype(np.float32)) == (model == "oracle")
    assert np.array_equal(found.keypoints[0], GroundTruthKeypoints(seed=1, errors=keypoints.errors)([frame])[0].keypoints[0])


def test_default_config_uses_simulated_perception_and_says_so():
    from pose3d.config import load_config
    from tests.conftest import REPO_ROOT

    config = load_config(REPO_ROOT / "config" / "config.yaml")
    inputs = perception_inputs(config.perception)
    assert inputs["kind"] == "simulated perception"
    assert "detector error model" in inputs["keypoints"] and "monocular error model" in inputs["depth"]
    yolo = config_from_dict(tiny_config_dict("unused", perception={"keypoints": {"backend": "yolo"}}))
    assert perception_inputs(yolo.perception)["kind"] == "mixed (2D real, depth simulated)"
