"""In-memory keypoint batches: the per-sample flip's geometry, exact re-projection, epoch order, rank shares."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pose3d import geometry
from pose3d.testing.samples import make_batch
from pose3d.testing.shards import write_shards
from pose3d.training.augment import flip_geometry
from pose3d.training.augment_geometry import augment_geometry, mirror
from pose3d.training.augment_params import AugmentParams
from pose3d.training.keypoint_batches import KeypointBatches, flip_batch

IMAGE_SIZE = 32  # write_shards' crop side


def test_batch_flip_equals_the_per_sample_flip(tmp_path):
    loader = KeypointBatches(write_shards(tmp_path, 1, 10, subject=1), 10, evaluation=True)
    batch = {name: values for name, values in loader.arrays.items()}
    flipped = flip_batch(batch, IMAGE_SIZE, "h36m17")
    for i in range(10):
        one = {name: batch[name][i] for name in ("keypoints_2d", "joints_3d", "crop", "intrinsics")}
        expected, _affine = flip_geometry(one, IMAGE_SIZE, "h36m17")
        for name in ("keypoints_2d", "joints_3d", "crop"):
            np.testing.assert_allclose(flipped[name][i], expected[name], rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("layout", ["h36m17", "coco17"])
def test_the_fast_mirror_is_the_augmentations_flip_bit_for_bit(layout):
    """`mirror` (the keypoint batches' flip) against `augment_geometry`'s matrices with only flip set."""
    batch = make_batch(3, 40, image_size=IMAGE_SIZE, layout=layout)
    arrays = {name: batch[name].numpy() for name in ("keypoints_2d", "joints_3d", "crop", "intrinsics")}
    params = AugmentParams.identity(40).replace(flip=True)
    general = augment_geometry(arrays["keypoints_2d"], arrays["joints_3d"], arrays["crop"], arrays["intrinsics"],
                               IMAGE_SIZE, layout, params)
    keypoints, joints, crop = mirror(arrays["keypoints_2d"], arrays["joints_3d"], arrays["crop"],
                                     arrays["intrinsics"], IMAGE_SIZE, layout)
    np.testing.assert_array_equal(keypoints, general.keypoints_2d)
    np.testing.assert_array_equal(joints, general.joints_3d)
    np.testing.assert_array_equal(crop, general.crop)
    assert keypoints.dtype == joints.dtype == crop.dtype == np.float32


def test_flipped_joints_project_onto_flipped_keypoints(tmp_path):
    loader = KeypointBatches(write_shards(tmp_path, 1, 32, subject=1), 32, flip_prob=1.0)
    batch = next(iter(loader))
    intrinsics = geometry.crop_intrinsics(batch["intrinsics"].double(), batch["crop"].double())
    pixels = geometry.camera_to_pixel(batch["joints_3d"].double(), intrinsics[:, :2], intrinsics[:, 2:])
    torch.testing.assert_close(pixels, batch["keypoints_2d"][..., :2].double(), atol=2e-2, rtol=0)


def test_order_is_a_function_of_the_epoch_and_ranks_share_it(tmp_path):
    paths = write_shards(tmp_path, 2, 25, subject=1)

    def frames(epoch, rank=0, world=1):
        loader = KeypointBatches(paths, 4, seed=3, rank=rank, world_size=world)
        loader.set_epoch(epoch)
        return [int(f) for batch in loader for f in batch["frame"]]

    assert frames(0) == frames(0) and frames(0) != frames(1)
    assert len(frames(0)) == 48  # 50 samples, batches of 4, the last partial batch dropped
    shares = [frames(2, rank, 2) for rank in range(2)]
    assert len(shares[0]) == len(shares[1]) == 24 and not set(shares[0]) & set(shares[1])
    loader = KeypointBatches(paths, 4, seed=3, rank=0, world_size=2)
    assert len(loader) == 6


def test_evaluation_yields_every_sample_once_in_file_order(tmp_path):
    paths = write_shards(tmp_path, 2, 7, subject=1)
    loader = KeypointBatches(paths, 4, evaluation=True, flip_prob=1.0)
    batches = list(loader)
    assert len(loader) == len(batches) == 4
    assert [int(f) for b in batches for f in b["frame"]] == list(range(14))
    assert set(batches[0]) == {"keypoints_2d", "joints_3d", "intrinsics", "crop", "subject", "action", "subaction",
                               "camera", "frame"}
    assert batches[0]["keypoints_2d"].dtype == torch.float32 and batches[0]["frame"].dtype == torch.int64
    stored = np.concatenate([b["keypoints_2d"].numpy() for b in batches])
    np.testing.assert_array_equal(stored, loader.arrays["keypoints_2d"])  # never mirrored in evaluation
