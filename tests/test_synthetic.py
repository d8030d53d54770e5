"""The synthetic Human3.6M-layout generator: determinism, geometry, bodies, motion, files."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml

from pose3d.config import config_from_dict
from pose3d.datasets.h36m import H36MReader
from pose3d.datasets.layout import SequenceId, annotation_path
from pose3d.datasets.synthetic import SUPPORTED_ACTIONS, generate_dataset, write_preview
from pose3d.datasets.synthetic.body import make_body
from pose3d.datasets.synthetic.cameras import camera_for
from pose3d.datasets.synthetic.kinematics import DOF_LIMITS
from pose3d.datasets.synthetic.motion import check_actions, make_motion
from pose3d.skeleton import H36M17, bone_lengths
from pose3d.testing.config import REPO_ROOT, tiny_config_dict


def _micro_config(root, seed=0, **dataset):
    """Smaller than tiny: two subjects (the split needs them), one action, one camera, a few 64x64 frames."""
    dataset = {"subjects": [1, 9], "actions": [9], "subactions": [1], "cameras": [2], **dataset}
    return config_from_dict(tiny_config_dict(
        root, dataset=dataset, synthetic={"seed": seed, "frames_per_sequence": 4, "image_width": 64,
                                          "image_height": 64},
    ))


def _annotation_bytes(root, subject=1):
    return {kind: annotation_path(root, subject, kind).read_bytes() for kind in ("data", "camera", "joint_3d")}


def test_same_seed_gives_identical_files_for_any_worker_count(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    generate_dataset(_micro_config(first, cameras=[1, 2]), first, workers=1)
    generate_dataset(_micro_config(second, cameras=[1, 2]), second, workers=2)
    assert _annotation_bytes(first) == _annotation_bytes(second)
    name = SequenceId(1, 9, 1, 2).image_name(3)
    assert (first / "images" / name).read_bytes() == (second / "images" / name).read_bytes()


def test_different_seed_gives_different_motion(tmp_path):
    generate_dataset(_micro_config(tmp_path / "s0", seed=0), tmp_path / "s0")
    generate_dataset(_micro_config(tmp_path / "s1", seed=1), tmp_path / "s1")
    joints = [np.array(json.loads(annotation_path(tmp_path / s, 1, "joint_3d").read_text())["9"]["1"]["0"])
              for s in ("s0", "s1")]
    assert np.linalg.norm(joints[0] - joints[1], axis=-1).mean() > 50.0


def test_marker_summary_and_files(tiny_synthetic):
    root, config = tiny_synthetic
    summary = json.loads((root / ".complete").read_text())
    sequences = len(config.dataset.subjects) * len(config.dataset.actions) * len(config.dataset.cameras)
    assert summary["sequences"] == sequences
    assert summary["frames"] == sequences * config.synthetic.frames_per_sequence
    data = json.loads(annotation_path(root, 1, "data").read_text())
    assert len(data["images"]) == len(data["annotations"]) == summary["frames"] // len(config.dataset.subjects)
    image = data["images"][0]
    assert set(image) >= {"id", "file_name", "width", "height", "subject", "action_idx", "subaction_idx",
                          "cam_idx", "frame_idx"}
    assert image["frame_idx"] == 0 and image["file_name"].endswith("_000001.jpg")
    rgb = cv2.imread(str(root / "images" / image["file_name"]))
    assert rgb.shape == (config.synthetic.image_height, config.synthetic.image_width, 3)
    depth = cv2.imread(str(root / "depth" / image["file_name"].replace(".jpg", ".png")), cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16 and depth.shape == rgb.shape[:2]
    assert 1000 < np.median(depth) < 20000  # millimetres to the room surfaces
    cameras = json.loads(annotation_path(root, 1, "camera").read_text())
    assert sorted(cameras) == [str(c) for c in config.dataset.cameras]
    assert set(cameras["1"]) == {"R", "t", "f", "c"}


def test_projected_joints_fall_on_the_rendered_body(tiny_synthetic):
    """For every joint not hidden behind another surface, depth at its pixel is within a body radius of z."""
    root, config = tiny_synthetic
    reader = H36MReader(root)
    checked = occluded = 0
    for record in reader.iter_sequences(config.dataset.subjects):
        radius = make_body(record.sequence.subject, config.synthetic.seed).max_radius_mm
        cam = record.camera
        for k, depth_path in enumerate(record.depth_paths):
            depth = cv2.imread(str(depth_path), cv2.IMREAD_UNCHANGED).astype(np.float64)
            z = record.joints_cam_mm[k, :, 2]
            pixels = cam.focal * record.joints_cam_mm[k, :, :2] / z[:, None] + cam.center
            for (u, v), joint_z in zip(np.round(pixels).astype(int), z, strict=True):
                assert 1 <= u < cam.width - 1 and 1 <= v < cam.height - 1, "joint outside the image"
                window = depth[v - 1 : v + 2, u - 1 : u + 2]
                if depth[v, u] < joint_z - radius:
                    occluded += 1  # something (another limb, the chair) is in front
                    continue
                checked += 1
                # Rounding may put a thin limb's joint on the silhouette edge: its 3x3 window holds the body.
                assert np.min(np.abs(window - joint_z)) <= radius, (record.sequence.name, k)
    assert checked > 0.7 * (checked + occluded)


def test_bone_lengths_constant_over_time_and_differ_between_subjects(tiny_synthetic):
    root, config = tiny_synthetic
    reader = H36MReader(root)
    per_subject = {}
    for record in reader.iter_sequences(config.dataset.subjects, cameras=[1]):
        lengths = bone_lengths(record.joints_world_mm.astype(np.float64))
        assert np.ptp(lengths, axis=0).max() < 0.1  # rigid bones (JSON keeps 0.01 mm)
        per_subject.setdefault(record.sequence.subject, []).append(lengths.mean(0))
    first, second = (np.mean(v, axis=0) for v in per_subject.values())
    assert np.abs(first - second).max() > 5.0


def test_bodies_have_human_heights_and_differ():
    bodies = [make_body(subject, seed=0) for subject in (1, 5, 6, 7, 8, 9, 11)]
    heights = [body.height_mm for body in bodies]
    assert all(1550 <= h <= 1950 for h in heights)
    assert len({round(h) for h in heights}) == len(heights)
    assert len({tuple(np.round(body.shirt_rgb, 3)) for body in bodies}) == len(bodies)


def test_motion_is_smooth_grounded_and_action_specific():
    body = make_body(1, seed=0)
    standing_pelvis = body.pelvis_standing_height_mm
    for action in SUPPORTED_ACTIONS:
        joints = make_motion(action, 1, 40, body, seed=0).pose.joints
        assert joints[..., 2].min() > 0, f"action {action} goes below the floor"
        ankles = joints[:, [H36M17.index("r_ankle"), H36M17.index("l_ankle")], 2].min(1)
        assert np.all(ankles < body.lengths["ankle_height"] + 60), f"action {action} floats"
        step = np.linalg.norm(np.diff(joints, axis=0), axis=-1)
        limit = 650 if action in (14, 15, 16) else 350  # a swinging foot moves fastest
        assert step.max() < limit, f"action {action} jumps {step.max():.0f} mm in one frame"
    sitting = make_motion(9, 1, 40, body, seed=0)
    assert np.all(sitting.pose.joints[:, 0, 2] < 0.75 * standing_pelvis) and sitting.chair is not None
    knee_angle = _angle(sitting.pose.joints, "r_hip", "r_knee", "r_ankle")
    assert np.all(np.abs(knee_angle - np.pi / 2) < 0.7)  # bent near 90 degrees
    walking = make_motion(14, 1, 40, body, seed=0).pose.joints
    path_mm = np.linalg.norm(np.diff(walking[:, 0, :2], axis=0), axis=-1).sum()
    assert 3000 < path_mm < 7000  # about 1.2 m/s for 4 s, on a circle around the capture area
    directions = make_motion(2, 1, 40, body, seed=0).pose.joints
    assert np.all(directions[:, 0, 2] > 0.85 * standing_pelvis)


def _angle(joints, a, b, c):
    u = joints[:, H36M17.index(a)] - joints[:, H36M17.index(b)]
    v = joints[:, H36M17.index(c)] - joints[:, H36M17.index(b)]
    return np.arccos(np.sum(u * v, -1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1))


def test_subactions_and_subjects_vary():
    body = make_body(1, seed=0)
    one = make_motion(14, 1, 20, body, seed=0).pose.joints
    two = make_motion(14, 2, 20, body, seed=0).pose.joints
    assert np.abs(one - two).mean() > 100
    assert set(DOF_LIMITS) >= {"r_knee", "l_elbow", "torso_lean"}


def test_unsupported_action_is_a_clear_error():
    with pytest.raises(ValueError, match="supported"):
        check_actions([1])
    assert check_actions([]) == list(SUPPORTED_ACTIONS) and len(SUPPORTED_ACTIONS) >= 8


def test_published_camera_scaled_to_image_size():
    camera = camera_for(1, 1, 500, 501)
    np.testing.assert_allclose(camera.focal, [1145.0494 / 2, 1143.7811 / 2], atol=1e-3)
    np.testing.assert_allclose(camera.center, [512.5415 / 2, 515.4515 / 2], atol=1e-3)
    np.testing.assert_allclose(camera.rotation @ camera.rotation.T, np.eye(3), atol=1e-6)
    np.testing.assert_allclose(camera.position_mm, [1841.1071, 4955.2847, 1563.4454], atol=0.1)
    with pytest.raises(ValueError, match="subject 2"):
        camera_for(2, 1, 64, 64)


def test_preview_and_command_line(tmp_path, tiny_synthetic):
    root, _ = tiny_synthetic
    sheet = cv2.imread(str(write_preview(root, tmp_path / "sheet.png", frames_per_action=1, tile=64)))
    assert sheet is not None and sheet.shape[1] == 2 * 64  # two cameras side by side

    from pose3d.cli import main

    config_path = tmp_path / "config.yaml"
    config = tiny_config_dict(tmp_path / "unused", dataset={"actions": [14], "cameras": [1]},
                              synthetic={"frames_per_sequence": 2, "image_width": 64, "image_height": 64})
    config_path.write_text(yaml.safe_dump(config))
    out = tmp_path / "cli"
    assert main(["synthesize", "--config", str(config_path), "--root", str(out), "--workers", "1",
                 "--preview", str(tmp_path / "cli.png")]) == 0
    assert (out / ".complete").is_file() and (tmp_path / "cli.png").is_file()


@pytest.mark.slow
def test_synthesize_rule_runs_under_snakemake(tmp_path):
    """The real rule: a Snakemake subprocess writes the marker (last) and the preview."""
    root = tmp_path / "synthetic"
    config = tiny_config_dict(root, synthetic={"frames_per_sequence": 2, "image_width": 64, "image_height": 64},
                              dataset={"cameras": [1]})
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--directory", str(tmp_path),
               "--configfile", str(config_path), "--cores", "2", str(root / ".complete")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((root / ".complete").read_text())
    assert summary["frames"] == 2 * 2 * 2  # subjects x actions x frames, one camera
    assert (tmp_path / "results" / "synthetic_preview.png").is_file()
    assert (tmp_path / "results" / "logs" / "synthesize" / "synthesize.log").is_file()
