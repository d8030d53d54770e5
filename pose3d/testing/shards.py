"""Files for tests and benchmarks: preprocessed sequence files with their images, and finished shards.

Shard contents come from `pose3d.testing.samples.make_samples`, the one sample generator."""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np

from pose3d.datasets.layout import SequenceId
from pose3d.preprocess import SCHEMA_NAME as PREPROCESSED_SCHEMA
from pose3d.preprocess import SCHEMA_VERSION as PREPROCESSED_VERSION
from pose3d.shards import schema
from pose3d.shards.writer import write_shard
from pose3d.testing.samples import make_samples

IMAGE_WIDTH = IMAGE_HEIGHT = 96


def write_preprocessed(
    root: Path, out_dir: Path, sequence: SequenceId, frames: list[int], depth_size: int = 16,
    bad_status: tuple[int, ...] = (), missing_images: tuple[int, ...] = (), missed: tuple[int, ...] = (),
) -> Path:
    """A preprocess-format file for `frames` of `sequence`, plus its images under `root/images`.

    Each image is a smooth colour gradient whose green channel encodes the frame number,
    so crops are distinguishable. Frames in `bad_status` get status 1 (no_person) and no crop, as
    preprocess writes a frame without an annotated box; frames in `missed` status 1 with the crop
    and keypoints of score 0, as it writes a missed annotated subject; frames in `missing_images`
    have no image file.
    """
    rng = np.random.default_rng(hash(sequence.name) % 2**32)
    n = len(frames)
    files = []
    for frame in frames:
        name = sequence.image_name(frame)
        files.append(name)
        if frame in missing_images:
            continue
        path = root / "images" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        yy, xx = np.mgrid[0:IMAGE_HEIGHT, 0:IMAGE_WIDTH]
        bgr = np.stack([xx * 2, np.full_like(xx, frame % 256), yy * 2], axis=-1).astype(np.uint8)
        cv2.imwrite(str(path), bgr)
    keypoints = np.concatenate(
        [rng.uniform(30, 66, size=(n, 17, 2)), rng.uniform(0.5, 1, size=(n, 17, 1))], axis=-1
    ).astype(np.float32)
    crop = np.tile(np.array([[20.0, 18.0, 56.0]], dtype=np.float32), (n, 1))
    joints = rng.normal(0, 300, size=(n, 17, 3)).astype(np.float32)
    joints[..., 2] += 4000
    status = np.array([1 if f in bad_status or f in missed else 0 for f in frames], dtype=np.uint8)
    nobody = np.isin(frames, list(bad_status))
    crop[nobody], keypoints[nobody] = np.nan, np.nan
    keypoints[np.isin(frames, list(missed))] = 0.0
    path = out_dir / f"{sequence.name}.h5"
    out_dir.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        handle.attrs.update(
            {
                "schema": PREPROCESSED_SCHEMA, "schema_version": PREPROCESSED_VERSION, "sequence": sequence.name,
                "subject": sequence.subject, "action": sequence.action, "subaction": sequence.subaction,
                "camera": sequence.camera, "keypoints_layout": "h36m17", "keypoints_backend": "groundtruth",
                "depth_backend": "dataset", "depth_size": depth_size, "crop_padding": 1.25,
                "image_width": IMAGE_WIDTH, "image_height": IMAGE_HEIGHT,
            }
        )
        handle["frame"] = np.asarray(frames, dtype=np.int32)
        handle.create_dataset("image_file", data=files, dtype=h5py.string_dtype("utf-8"))
        handle["status"] = status
        handle["keypoints_2d"] = keypoints
        handle["box"] = np.tile(np.array([[25, 20, 70, 72]], dtype=np.float32), (n, 1))
        handle["person_score"] = np.ones(n, dtype=np.float32)
        handle["crop"] = crop
        handle["depth"] = rng.uniform(3, 5, size=(n, depth_size, depth_size)).astype(np.float16)
        handle["focal_estimate"] = np.full(n, 100.0, dtype=np.float32)
        handle["joints_cam_mm"] = joints
        handle["intrinsics"] = np.tile(np.array([[100, 100, 48, 48]], dtype=np.float32), (n, 1))
    return path


def write_shards(
    folder: Path, num_shards: int, per_shard: int, subject: int, seed: int = 0,
    image_size: int = 32, depth_size: int = 16, image_codec: str = "raw", **sample_args,
) -> list[Path]:
    """Write `num_shards` shards `shard_{i:05d}.h5` of `per_shard` samples each; frames are unique across them.

    Shard i holds `make_samples(per_shard, seed + i, ...)`; `sample_args` go to `make_samples`.
    """
    paths = []
    for index in range(num_shards):
        samples = make_samples(
            per_shard, seed + index, subject=subject, start_frame=index * per_shard, image_size=image_size,
            depth_size=depth_size, image_codec=image_codec, **sample_args,
        )
        path = Path(folder) / f"shard_{index:05d}.h5"
        write_shard(path, samples, image_size=image_size, depth_size=depth_size, image_codec=image_codec,
                    keypoints_layout=sample_args.get("layout", "h36m17"), source="pose3d.testing")
        paths.append(path)
    return paths


def write_test_shard(
    path: Path, subject: int, count: int, codec: str = "jpeg", image_size: int = 16, depth_size: int = 8,
    action: int = 2, camera: int = 1, first_frame: int = 0, seed: int = 0,
) -> Path:
    """One finished shard of `count` samples of `subject`, `action` and `camera` (small crops by default)."""
    samples = make_samples(
        count, seed, subject=subject, start_frame=first_frame, image_size=image_size, depth_size=depth_size,
        image_codec=codec, actions=(action,), camera=camera,
    )
    return write_shard(path, samples, image_size=image_size, depth_size=depth_size, image_codec=codec,
                       keypoints_layout="h36m17", source="pose3d.testing")


def sample_keys(paths: list[Path]) -> list[tuple[int, ...]]:
    """(subject, action, subaction, camera, frame) of every sample in the shards, in file order."""
    keys = []
    for path in paths:
        with h5py.File(path, "r") as handle:
            keys += list(zip(*(handle[name][()].tolist() for name in schema.PROVENANCE), strict=True))
    return keys
