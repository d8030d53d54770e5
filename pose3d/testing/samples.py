"""The one generator of fake training samples: 2D keypoints are the exact projections of the 3D joints.

`make_samples` gives a batch in the shard format (`pose3d.shards.schema` names, the arrays
`ShardWriter.append` takes); `make_sample` / `make_batch` give the dataset contract the models
and losses see (depth (1, Sd, Sd), torch tensors for a batch). Poses are `TEMPLATE_MM`
perturbed, turned about the vertical axis and placed 3-6 m in front of a pinhole camera; the
crop is `geometry.square_crop_from_box` around the projected joints, as preprocess cuts it.
"""

from __future__ import annotations

import cv2
import numpy as np

from pose3d import geometry, skeleton
from pose3d.shards import schema

# The one template: a standing Human3.6M-17 pose in a body frame (mm; x right, y down, z forward), pelvis at 0.
TEMPLATE_MM = np.array([
    [0, 0, 0], [-130, 0, 0], [-130, 450, 0], [-130, 880, 0], [130, 0, 0], [130, 450, 0], [130, 880, 0],
    [0, -230, 0], [0, -480, 0], [0, -580, -80], [0, -680, 0],
    [170, -460, 0], [190, -200, 0], [200, 40, 0], [-170, -460, 0], [-190, -200, 0], [-200, 40, 0],
], dtype=np.float64)


def random_pose_mm(rng: np.random.Generator, spread_mm: float = 40.0) -> np.ndarray:
    """(17, 3) camera mm: the template plus noise, turned about the vertical axis, 3-6 m in front of the camera."""
    pose = TEMPLATE_MM + rng.normal(scale=spread_mm, size=TEMPLATE_MM.shape)
    pose -= pose[0]
    pose = pose @ geometry.rotation_about_axis([0, 1, 0], rng.uniform(-np.pi, np.pi)).T
    root = np.array([rng.uniform(-800, 800), rng.uniform(-300, 300), rng.uniform(3000, 6000)])
    return pose + root


def render_depth(joints_mm: np.ndarray, joint_pixels: np.ndarray, depth_size: int) -> np.ndarray:
    """A crude depth crop (Sd, Sd) in metres: a disc of the joint's depth (minus 8 cm) around each
    joint (`joint_pixels` in depth-crop pixels), nearest joint wins, 0 (no surface) elsewhere."""
    ys, xs = np.mgrid[:depth_size, :depth_size]  # depth-pixel centres
    distance = np.hypot(xs[None] - joint_pixels[:, 0, None, None], ys[None] - joint_pixels[:, 1, None, None])
    surface = (joints_mm[:, 2, None, None] - 80.0) / 1000.0 + 100.0 * (distance > depth_size / 10)
    depth = surface.min(axis=0)
    depth[depth > 50.0] = 0.0
    return depth.astype(np.float32)


def _photo_like(rng: np.random.Generator, image_size: int) -> np.ndarray:
    """Blurred noise: JPEG sizes close to real person crops (white noise compresses unrealistically badly)."""
    noise = rng.integers(0, 256, size=(image_size, image_size, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 2.0)


def make_samples(
    count: int,
    seed: int | np.random.Generator = 0,
    *,
    subject: int = 1,
    start_frame: int = 0,
    image_size: int = 32,
    depth_size: int = 16,
    layout: str = "h36m17",
    image_codec: str = "raw",
    actions: tuple[int, ...] = (2, 14),
    camera: int = 1,
    photo_like: bool = False,
) -> dict[str, np.ndarray | list]:
    """`count` samples of `subject` in the shard format, frames numbered from `start_frame`.

    Actions cycle through `actions`; `image_codec` "jpeg" gives encoded crops (a list of
    byte arrays) as `ShardWriter` stores them; `layout` "coco17" converts the 2D keypoints
    (joints COCO has and Human3.6M lacks get score 0, "not detected").
    """
    from pose3d.shards.writer import encode_image

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    rows: dict[str, list] = {name: [] for name in (
        schema.IMAGE, schema.DEPTH, schema.KEYPOINTS_2D, schema.JOINTS_3D, schema.INTRINSICS, schema.CROP)}
    for _ in range(count):
        joints = random_pose_mm(rng)
        focal = rng.uniform(900, 1200, size=2)
        intrinsics = np.array([*focal, rng.uniform(480, 520), rng.uniform(480, 520)])
        pixels = geometry.camera_to_pixel(joints, intrinsics[:2], intrinsics[2:])
        crop = geometry.square_crop_from_box([*pixels.min(0), *pixels.max(0)], image_size, 1.25).astype(np.float64)
        crop_pixels = geometry.image_to_crop(pixels, crop)
        keypoints = np.concatenate([crop_pixels, np.ones((17, 1))], axis=1)
        if layout == "coco17":
            keypoints = skeleton.h36m_to_coco(keypoints)
            keypoints[np.isnan(keypoints[:, 0])] = 0.0
        elif layout != "h36m17":
            raise ValueError(f"unknown keypoints layout {layout!r}; allowed: h36m17, coco17")
        image = (_photo_like(rng, image_size) if photo_like
                 else rng.integers(0, 256, size=(image_size, image_size, 3), dtype=np.uint8))
        depth_pixels = (crop_pixels + 0.5) * (depth_size / image_size) - 0.5  # centre-aligned depth pixels
        rows[schema.IMAGE].append(image)
        rows[schema.DEPTH].append(render_depth(joints, depth_pixels, depth_size))
        rows[schema.KEYPOINTS_2D].append(keypoints)
        rows[schema.JOINTS_3D].append(joints)
        rows[schema.INTRINSICS].append(intrinsics)
        rows[schema.CROP].append(crop)
    images = np.stack(rows[schema.IMAGE]) if count else np.zeros((0, image_size, image_size, 3), np.uint8)
    return {
        schema.IMAGE: [encode_image(image, image_codec) for image in images] if image_codec != "raw" else images,
        schema.DEPTH: np.asarray(rows[schema.DEPTH], np.float32).reshape(count, depth_size, depth_size),
        schema.KEYPOINTS_2D: np.asarray(rows[schema.KEYPOINTS_2D], np.float32).reshape(count, 17, 3),
        schema.JOINTS_3D: np.asarray(rows[schema.JOINTS_3D], np.float32).reshape(count, 17, 3),
        schema.INTRINSICS: np.asarray(rows[schema.INTRINSICS], np.float32).reshape(count, 4),
        schema.CROP: np.asarray(rows[schema.CROP], np.float32).reshape(count, 3),
        schema.SUBJECT: np.full(count, subject, np.int32),
        schema.ACTION: np.asarray(actions, np.int32)[np.arange(count) % len(actions)],
        schema.SUBACTION: np.ones(count, np.int32),
        schema.CAMERA: np.full(count, camera, np.int32),
        schema.FRAME: np.arange(start_frame, start_frame + count, dtype=np.int32),
    }


def make_sample(
    rng: np.random.Generator, image_size: int = 32, depth_size: int = 16, layout: str = "h36m17",
    channels_first: bool = False,
) -> dict[str, np.ndarray]:
    """One sample in the dataset contract: image uint8 (S, S, 3) (or float (3, S, S)), depth (1, Sd, Sd), 2D, 3D, camera."""
    batch = make_samples(1, rng, image_size=image_size, depth_size=depth_size, layout=layout)
    image = batch[schema.IMAGE][0]
    if channels_first:
        image = np.moveaxis(image, -1, 0).astype(np.float32) / 255.0
    return {
        "image": image,
        "depth": batch[schema.DEPTH][0][None],
        "keypoints_2d": batch[schema.KEYPOINTS_2D][0],
        "joints_3d": batch[schema.JOINTS_3D][0],
        "intrinsics": batch[schema.INTRINSICS][0],
        "crop": batch[schema.CROP][0],
        "subject": np.int64(1),
        "frame": np.int64(0),
    }


def to_tensors(sample: dict[str, np.ndarray]):
    """The numpy sample as the dataset hands it to collate: image float (3, S, S) in [0, 1]."""
    import torch

    image = np.asarray(sample["image"])
    if image.dtype == np.uint8:
        image = np.moveaxis(image, -1, 0).astype(np.float32) / 255.0
    out = {key: torch.as_tensor(np.asarray(value)) for key, value in sample.items() if key != "image"}
    out["image"] = torch.as_tensor(np.ascontiguousarray(image))
    return out


def make_batch(seed: int, batch_size: int, image_size: int = 32, depth_size: int = 16, layout: str = "h36m17"):
    """A collated batch of `batch_size` samples, as torch tensors."""
    import torch

    rng = np.random.default_rng(seed)
    samples = [to_tensors(make_sample(rng, image_size, depth_size, layout)) for _ in range(batch_size)]
    return {key: torch.stack([s[key] for s in samples]) for key in samples[0]}
