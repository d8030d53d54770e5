"""Tiny, learnable shards for the trainer, DDP and evaluation tests (written with the real ShardWriter).

Poses are a random mean skeleton plus noise, seen by a pinhole camera; the 2D keypoints are the
exact projection into a 32-pixel crop, so a model can learn the 3D pose from them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pose3d.shards import schema
from pose3d.shards.writer import encode_image, write_shard

IMAGE_SIZE = 32
DEPTH_SIZE = 16
TEMPLATE_MM = np.array(
    [[0, 0, 0], [-130, 0, 0], [-130, 450, 0], [-130, 850, 0], [130, 0, 0], [130, 450, 0], [130, 850, 0],
     [0, -230, 0], [0, -480, 0], [0, -560, -80], [0, -660, 0], [170, -450, 0], [420, -450, 0], [660, -450, 0],
     [-170, -450, 0], [-420, -450, 0], [-660, -450, 0]],
    dtype=np.float64,
)


def make_samples(
    count: int, seed: int, subject: int, start_frame: int = 0, image_size: int = IMAGE_SIZE, depth_size: int = DEPTH_SIZE
) -> dict[str, np.ndarray]:
    """`count` samples of `subject` in the shard format (raw images), frames numbered from `start_frame`."""
    rng = np.random.default_rng(seed)
    joints = TEMPLATE_MM[None] + rng.normal(0, 80, size=(count, 17, 3))
    joints[:, :, 2] += rng.uniform(3500, 4500, size=(count, 1))
    joints[:, :, 0] += rng.uniform(-300, 300, size=(count, 1))
    focal, centre = 500.0, 64.0
    pixels = focal * joints[..., :2] / joints[..., 2:3] + centre
    low, high = pixels.min(axis=1), pixels.max(axis=1)
    side = (high - low).max(axis=1) * 1.25
    origin = 0.5 * (low + high) - 0.5 * side[:, None]
    scale = side / image_size
    crop_pixels = (pixels - origin[:, None]) / scale[:, None, None]
    keypoints = np.concatenate([crop_pixels, np.ones((count, 17, 1))], axis=-1)
    images = rng.integers(0, 255, size=(count, image_size, image_size, 3), dtype=np.uint8)
    depth = np.full((count, depth_size, depth_size), 4.0) + rng.normal(0, 0.05, (count, depth_size, depth_size))
    actions = np.array([2, 14])[np.arange(count) % 2]
    return {
        schema.IMAGE: images,
        schema.DEPTH: depth.astype(np.float16),
        schema.KEYPOINTS_2D: keypoints.astype(np.float32),
        schema.JOINTS_3D: joints.astype(np.float32),
        schema.INTRINSICS: np.tile(np.array([focal, focal, centre, centre], np.float32), (count, 1)),
        schema.CROP: np.stack([origin[:, 0], origin[:, 1], scale], axis=1).astype(np.float32),
        schema.SUBJECT: np.full(count, subject, np.int32),
        schema.ACTION: actions.astype(np.int32),
        schema.SUBACTION: np.ones(count, np.int32),
        schema.CAMERA: np.ones(count, np.int32),
        schema.FRAME: np.arange(start_frame, start_frame + count, dtype=np.int32),
    }


def write_tiny_shards(
    folder: Path, num_shards: int, per_shard: int, subject: int, seed: int = 0,
    image_size: int = IMAGE_SIZE, depth_size: int = DEPTH_SIZE, image_codec: str = "raw",
) -> list[Path]:
    """Write `num_shards` shards of `per_shard` samples each; frames are unique across them."""
    paths = []
    for index in range(num_shards):
        samples = make_samples(per_shard, seed + index, subject, index * per_shard, image_size, depth_size)
        if image_codec != "raw":
            samples[schema.IMAGE] = [encode_image(image, image_codec) for image in samples[schema.IMAGE]]
        path = Path(folder) / f"shard_{index:05d}.h5"
        write_shard(path, samples, image_size=image_size, depth_size=depth_size, image_codec=image_codec,
                    keypoints_layout="h36m17", source="tests")
        paths.append(path)
    return paths
