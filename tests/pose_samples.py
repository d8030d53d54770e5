"""Synthetic training samples whose 2D keypoints are the exact projections of their 3D joints.

Used by the model, loss and augmentation tests; independent of the data stages.
"""

from __future__ import annotations

import numpy as np
import torch

from pose3d import geometry, skeleton

# A standing Human3.6M-17 pose in a body frame (mm; x right, y down, z forward), pelvis at 0.
TEMPLATE_MM = np.array([
    [0, 0, 0], [-130, 0, 0], [-130, 450, 0], [-130, 880, 0], [130, 0, 0], [130, 450, 0], [130, 880, 0],
    [0, -230, 0], [0, -480, 0], [0, -580, -80], [0, -680, 0],
    [170, -460, 0], [190, -200, 0], [200, 40, 0], [-170, -460, 0], [-190, -200, 0], [-200, 40, 0],
], dtype=np.float64)


def random_pose_mm(rng: np.random.Generator) -> np.ndarray:
    """A perturbed template turned about the vertical axis, placed 3-6 m in front of the camera."""
    pose = TEMPLATE_MM + rng.normal(scale=40.0, size=TEMPLATE_MM.shape)
    pose -= pose[0]
    pose = pose @ geometry.rotation_about_axis([0, 1, 0], rng.uniform(-np.pi, np.pi)).T
    root = np.array([rng.uniform(-800, 800), rng.uniform(-300, 300), rng.uniform(3000, 6000)])
    return pose + root


def render_depth(joints_mm: np.ndarray, joint_pixels: np.ndarray, depth_size: int) -> np.ndarray:
    """A crude depth crop (1, Sd, Sd) in metres: a disc of the joint's depth (minus 8 cm) around each
    joint, nearest joint wins, 0 (no surface) elsewhere."""
    ys, xs = np.mgrid[:depth_size, :depth_size]  # depth-pixel centres
    distance = np.hypot(xs[None] - joint_pixels[:, 0, None, None], ys[None] - joint_pixels[:, 1, None, None])
    surface = (joints_mm[:, 2, None, None] - 80.0) / 1000.0 + 100.0 * (distance > depth_size / 10)
    depth = surface.min(axis=0)
    depth[depth > 50.0] = 0.0
    return depth[None].astype(np.float32)


def make_sample(
    rng: np.random.Generator, image_size: int = 32, depth_size: int = 16, layout: str = "h36m17",
    channels_first: bool = False,
) -> dict[str, np.ndarray]:
    """One numpy sample in the dataset contract: image uint8 (S, S, 3) (or float (3, S, S)), depth, 2D, 3D, camera."""
    joints = random_pose_mm(rng)
    focal = rng.uniform(900, 1200, size=2)
    intrinsics = np.array([*focal, rng.uniform(480, 520), rng.uniform(480, 520)])
    pixels = geometry.camera_to_pixel(joints, intrinsics[:2], intrinsics[2:])
    box = np.array([*pixels.min(0), *pixels.max(0)])
    crop = geometry.square_crop_from_box(box, image_size, 1.25).astype(np.float64)
    crop_pixels = geometry.image_to_crop(pixels, crop)
    keypoints_h36m = np.concatenate([crop_pixels, np.ones((17, 1))], axis=1)
    if layout == "coco17":
        keypoints = skeleton.h36m_to_coco(keypoints_h36m)
        keypoints[np.isnan(keypoints[:, 0])] = 0.0  # eyes/ears: "not detected"
    else:
        keypoints = keypoints_h36m
    image = rng.integers(0, 256, size=(image_size, image_size, 3), dtype=np.uint8)
    depth = render_depth(joints, (crop_pixels + 0.5) * (depth_size / image_size) - 0.5, depth_size)
    if channels_first:
        image = np.moveaxis(image, -1, 0).astype(np.float32) / 255.0
    return {
        "image": image,
        "depth": depth,
        "keypoints_2d": keypoints.astype(np.float32),
        "joints_3d": joints.astype(np.float32),
        "intrinsics": intrinsics.astype(np.float32),
        "crop": crop.astype(np.float32),
        "subject": np.int64(1),
        "frame": np.int64(0),
    }


def to_tensors(sample: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """The numpy sample as the dataset hands it to collate: image float (3, S, S) in [0, 1]."""
    image = np.asarray(sample["image"])
    if image.dtype == np.uint8:
        image = np.moveaxis(image, -1, 0).astype(np.float32) / 255.0
    out = {key: torch.as_tensor(np.asarray(value)) for key, value in sample.items() if key != "image"}
    out["image"] = torch.as_tensor(np.ascontiguousarray(image))
    return out


def make_batch(seed: int, batch_size: int, image_size: int = 32, depth_size: int = 16, layout: str = "h36m17"):
    """A collated batch of `batch_size` samples, as torch tensors."""
    rng = np.random.default_rng(seed)
    samples = [to_tensors(make_sample(rng, image_size, depth_size, layout)) for _ in range(batch_size)]
    return {key: torch.stack([s[key] for s in samples]) for key in samples[0]}
