"""The 2D keypoints against the annotation's projected joints: the detector's error on the data, and
a 3D annotation off its video (Human3.6M's subject 9 takes shifted 200 mm along world x)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pose3d import skeleton
from pose3d.geometry import camera_to_pixel
from pose3d.perception.agreement import MISALIGNED_SHARE, keypoint_agreement
from pose3d.perception.error_models import DetectorErrors

INTRINSICS = np.array([1145.0, 1144.0, 512.0, 515.0])  # a Human3.6M camera's


def _standing_people(frames: int, rng: np.random.Generator) -> np.ndarray:
    """(F, 17, 3) camera-space joints (mm) of an upright person 4.5 m away, swaying a little."""
    height = {"pelvis": 0, "r_hip": 0, "l_hip": 0, "r_knee": -450, "l_knee": -450, "r_ankle": -850, "l_ankle": -850,
              "spine": 250, "thorax": 500, "nose": 620, "head": 720, "l_shoulder": 480, "r_shoulder": 480,
              "l_elbow": 200, "r_elbow": 200, "l_wrist": -50, "r_wrist": -50}
    side = {"r_": -150.0, "l_": 150.0}
    pose = np.zeros((17, 3))
    for name, up in height.items():
        pose[skeleton.H36M17.index(name)] = [side.get(name[:2], 0.0), -up, 0.0]
    people = pose + rng.normal(0.0, 40.0, size=(frames, 17, 3))
    return people + np.array([0.0, 100.0, 4500.0])


def _heights(joints: np.ndarray) -> np.ndarray:
    """(F,) the person's height in pixels: the longer side of a box 20 px around the projected joints."""
    pixels = camera_to_pixel(joints, INTRINSICS[:2], INTRINSICS[2:])
    return (pixels.max(1) - pixels.min(1)).max(-1) + 40


def _detected(joints: np.ndarray, heights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The workflow's simulated detector (config defaults) on each frame."""
    detector = DetectorErrors(relative_error=0.015, swap_prob=0.02, occluded_drop_prob=0.3)
    pixels = camera_to_pixel(joints, INTRINSICS[:2], INTRINSICS[2:])
    return np.stack([detector(p, j, float(h), rng) for p, j, h in zip(pixels, joints, heights, strict=True)])


def test_a_detector_on_its_annotation_is_not_offset_and_its_error_is_measured():
    rng = np.random.default_rng(0)
    joints = _standing_people(40, rng)
    heights = _heights(joints)
    agreement = keypoint_agreement(_detected(joints, heights, rng), "h36m17", joints, INTRINSICS, heights, np.ones(40, bool))
    assert agreement["frames"] == 40 and agreement["joints"] == 17
    assert 0.01 < agreement["mean_error_of_height"] < 0.04  # about the configured 1.5 %, plus occlusions and swaps
    assert np.linalg.norm(agreement["median_offset_of_height"]) < 0.01
    assert not agreement["misaligned"] and not agreement["detector_off"]


def test_an_annotation_200_mm_off_its_video_is_flagged_with_its_offset():
    """The video shows the person where they are; the annotation says 200 mm to the side."""
    rng = np.random.default_rng(1)
    joints = _standing_people(40, rng)
    heights = _heights(joints)
    keypoints = _detected(joints, heights, rng)  # what a detector sees in the video
    annotation = joints + np.array([200.0, 0.0, 0.0])
    agreement = keypoint_agreement(keypoints, "h36m17", annotation, INTRINSICS, heights, np.ones(40, bool))
    expected_px = -INTRINSICS[0] * 200.0 / 4500.0  # keypoints minus the projected annotation
    assert agreement["misaligned"]
    assert agreement["median_offset_px"][0] == pytest.approx(expected_px, abs=3.0)
    assert abs(agreement["median_offset_px"][1]) < 3.0
    assert agreement["median_offset_of_height"][0] < -MISALIGNED_SHARE


def test_coco_keypoints_are_compared_on_the_joints_both_layouts_share():
    rng = np.random.default_rng(2)
    joints = _standing_people(10, rng)
    pixels = camera_to_pixel(joints, INTRINSICS[:2], INTRINSICS[2:])
    coco = skeleton.h36m_to_coco(np.concatenate([pixels, np.ones((10, 17, 1))], axis=-1))
    agreement = keypoint_agreement(coco, "coco17", joints, INTRINSICS, _heights(joints), np.ones(10, bool))
    assert agreement["joints"] == len(skeleton.H36M_FROM_COCO)
    assert agreement["mean_error_of_height"] == pytest.approx(0.0, abs=1e-6)


def test_a_detector_wrong_by_different_amounts_is_failing_not_an_offset_annotation():
    rng = np.random.default_rng(3)
    joints = _standing_people(40, rng)
    heights = _heights(joints)
    keypoints = _detected(joints, heights, rng)
    keypoints[..., :2] += rng.normal(0.0, 120.0, size=(40, 1, 2))  # a different wrong place every frame
    agreement = keypoint_agreement(keypoints, "h36m17", joints, INTRINSICS, heights, np.ones(40, bool))
    assert agreement["detector_off"] and not agreement["misaligned"]


def test_frames_without_a_person_or_joints_are_left_out():
    rng = np.random.default_rng(4)
    joints = _standing_people(12, rng)
    heights = _heights(joints)
    keypoints = _detected(joints, heights, rng)
    keypoints[:3, :, 2] = 0.0  # missed subjects (score 0)
    joints[3:5] = np.nan  # missing annotation
    compare = np.ones(12, bool)
    compare[5] = False
    assert keypoint_agreement(keypoints, "h36m17", joints, INTRINSICS, heights, compare)["frames"] == 6
    assert keypoint_agreement(keypoints, "h36m17", joints, INTRINSICS, heights, np.zeros(12, bool)) is None


def test_preprocess_with_a_real_detector_flags_the_take_whose_annotation_is_off(tmp_path):
    """The release's subject 9 quirk, rehearsed: MediaPipe BlazePose (real weights) on synthetic
    renders, one take's world joints moved 200 mm along x as in the release. preprocess flags that
    take, not the other, and the run summary names it."""
    from pose3d.config import config_from_dict, deep_merge
    from pose3d.datasets.layout import annotation_path
    from pose3d.datasets.synthetic import generate_dataset
    from pose3d.preprocess import preprocess_sequence
    from pose3d.run_summary import summarize
    from pose3d.testing.config import tiny_config_dict

    root = tmp_path / "synthetic"
    raw = deep_merge(tiny_config_dict(root), {
        "dataset": {"subjects": [1, 9], "actions": [2], "subactions": [1, 2], "cameras": [1], "frame_step": 1,
                    "test_frame_step": 1},
        "synthetic": {"frames_per_sequence": 16, "image_width": 256, "image_height": 256},
        "perception": {"keypoints": {"backend": "mediapipe"}},
    })
    config = config_from_dict(raw)
    generate_dataset(config, root)
    path = annotation_path(root, 9, "joint_3d")
    world = json.loads(path.read_text())
    take = world["2"]["2"]
    for frame, joints in take.items():
        take[frame] = (np.asarray(joints) + np.array([200.0, 0.0, 0.0])).tolist()
    path.write_text(json.dumps(world))

    out = tmp_path / "results" / "preprocessed"
    out.mkdir(parents=True)
    reports = {}
    for subaction in (1, 2):
        name = f"s_09_act_02_subact_{subaction:02d}_ca_01"
        reports[subaction] = preprocess_sequence(config, name, out / f"{name}.h5", out / f"{name}.report.json")
    honest, shifted = (reports[s]["keypoints_vs_annotation"] for s in (1, 2))
    assert honest["frames"] >= 8 and shifted["frames"] >= 8, (honest, shifted)
    assert not honest["misaligned"], honest
    assert shifted["misaligned"] and not shifted["detector_off"], shifted
    line = next(line for line in summarize(tmp_path / "results") if line.startswith("2D keypoints vs"))
    assert "offset as a whole (3D annotation off its video?): 1 (s_09_act_02_subact_02_ca_01)" in line, line
