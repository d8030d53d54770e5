"""PoseAugmentor: after any augmentation the 3D joints project exactly onto the 2D keypoints."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from pose3d import geometry, skeleton
from pose3d.config import AugmentConfig
from pose3d.testing.samples import make_sample
from pose3d.training import augment
from pose3d.training.augment import PoseAugmentor

OFF = AugmentConfig(
    flip_prob=0.0, rotation_prob=0.0, rotation_deg=30.0, scale_prob=0.0, scale_range=0.25,
    translate_prob=0.0, translate_range=0.1, color_prob=0.0, color_strength=0.4,
)
ONLY = {
    "flip": dataclasses.replace(OFF, flip_prob=1.0),
    "rotation": dataclasses.replace(OFF, rotation_prob=1.0),
    "scale": dataclasses.replace(OFF, scale_prob=1.0),
    "translate": dataclasses.replace(OFF, translate_prob=1.0),
    "color": dataclasses.replace(OFF, color_prob=1.0),
    "combined": dataclasses.replace(
        OFF, flip_prob=0.5, rotation_prob=0.7, scale_prob=0.7, translate_prob=0.7, color_prob=0.5
    ),
}


def reprojection_error_px(sample: dict, layout: str) -> float:
    """Max distance between the projected 3D joints and the 2D keypoints they correspond to."""
    intrinsics = geometry.crop_intrinsics(sample["intrinsics"].astype(np.float64), sample["crop"].astype(np.float64))
    projected = geometry.camera_to_pixel(sample["joints_3d"].astype(np.float64), intrinsics[:2], intrinsics[2:])
    keypoints = sample["keypoints_2d"][:, :2].astype(np.float64)
    if layout == "coco17":
        pairs = np.array(list(skeleton.H36M_FROM_COCO.items()))
        return float(np.abs(projected[pairs[:, 0]] - keypoints[pairs[:, 1]]).max())
    return float(np.abs(projected - keypoints).max())


@pytest.mark.parametrize("layout", ["h36m17", "coco17"])
@pytest.mark.parametrize("kind", list(ONLY))
def test_projection_stays_exact(kind, layout):
    augmentor = PoseAugmentor(ONLY[kind], layout, seed=3)
    rng = np.random.default_rng(11)
    for draw in range(60):
        sample = make_sample(rng, 32, 16, layout, channels_first=draw % 2 == 1)
        assert reprojection_error_px(sample, layout) < 1e-3
        augmented = augmentor(sample)
        assert reprojection_error_px(augmented, layout) < 1e-3, (kind, draw)
        np.testing.assert_array_equal(augmented["intrinsics"], sample["intrinsics"])
        assert augmented["image"].shape == sample["image"].shape and augmented["image"].dtype == sample["image"].dtype
        assert augmented["depth"].shape == sample["depth"].shape
        assert augmented["joints_3d"].dtype == np.float32 and augmented["keypoints_2d"].dtype == np.float32
        # Rigid motions (and a mirror) of the camera frame: the same skeleton, still in front of the camera.
        np.testing.assert_allclose(np.sort(skeleton.bone_lengths(augmented["joints_3d"])),
                                   np.sort(skeleton.bone_lengths(sample["joints_3d"])), rtol=1e-4)
        assert (augmented["joints_3d"][:, 2] > 0).all()
        assert augmented["subject"] == sample["subject"]


def test_each_step_changes_what_it_should():
    rng = np.random.default_rng(0)
    sample = make_sample(rng)
    for kind, changed in [("flip", {"joints_3d", "crop", "keypoints_2d", "image", "depth"}),
                          ("rotation", {"joints_3d", "crop", "keypoints_2d", "image", "depth"}),
                          ("scale", {"crop", "keypoints_2d", "image", "depth"}),
                          ("translate", {"crop", "keypoints_2d", "image", "depth"}),
                          ("color", {"image"})]:
        augmented = PoseAugmentor(ONLY[kind], "h36m17", seed=1)(sample)
        differs = {key for key in sample if not np.array_equal(np.asarray(sample[key]), np.asarray(augmented[key]))}
        assert differs == changed, kind


def test_flip_twice_is_identity():
    rng = np.random.default_rng(5)
    for layout in ("h36m17", "coco17"):
        sample = make_sample(rng, layout=layout)
        size = sample["image"].shape[0]
        geo, first = augment.flip_geometry(sample, size, layout)
        once = augment.apply_geometry(sample, geo, first)
        geo, second = augment.flip_geometry(once, size, layout)
        twice = augment.apply_geometry(once, geo, second)
        np.testing.assert_array_equal(once["image"], sample["image"][:, ::-1])
        np.testing.assert_array_equal(once["depth"], sample["depth"][..., ::-1])
        np.testing.assert_allclose(first @ second, np.eye(3))
        for key in ("image", "depth"):
            np.testing.assert_array_equal(twice[key], sample[key])
        for key in ("keypoints_2d", "joints_3d"):
            np.testing.assert_allclose(twice[key], sample[key], atol=1e-3)
        np.testing.assert_allclose(twice["crop"], sample["crop"], rtol=1e-5, atol=1e-3)


def test_flip_swaps_left_and_right():
    sample = make_sample(np.random.default_rng(2))
    flipped = PoseAugmentor(ONLY["flip"], "h36m17", seed=0)(sample)
    left, right = skeleton.H36M17.index("l_wrist"), skeleton.H36M17.index("r_wrist")
    np.testing.assert_allclose(flipped["joints_3d"][left], sample["joints_3d"][right] * [-1, 1, 1], rtol=1e-6)
    size = sample["image"].shape[0]
    np.testing.assert_allclose(flipped["keypoints_2d"][left, 0], size - 1 - sample["keypoints_2d"][right, 0], atol=1e-4)


def test_colour_jitter_leaves_geometry_untouched():
    rng = np.random.default_rng(4)
    augmentor = PoseAugmentor(ONLY["color"], "h36m17", seed=0)
    for channels_first in (False, True):
        sample = make_sample(rng, channels_first=channels_first)
        augmented = augmentor(sample)
        for key in ("keypoints_2d", "joints_3d", "crop", "intrinsics", "depth"):
            np.testing.assert_array_equal(augmented[key], sample[key])
        assert not np.array_equal(augmented["image"], sample["image"])
        assert augmented["image"].min() >= 0 and augmented["image"].max() <= (1.0 if channels_first else 255)


@pytest.mark.parametrize("kind", ["flip", "rotation", "scale", "translate", "combined"])
def test_image_and_depth_follow_the_keypoints(kind):
    """A bright dot (and a depth spot) drawn at a keypoint moves with that keypoint."""
    augmentor = PoseAugmentor(dataclasses.replace(ONLY[kind], color_prob=0.0), "h36m17", seed=7)
    rng = np.random.default_rng(8)
    checked = 0
    for _ in range(30):
        sample = make_sample(rng, 64, 32)
        joint = int(rng.choice([0, 7, 8, 9, 10]))  # centre-line joints keep their index under a flip
        x, y = np.round(sample["keypoints_2d"][joint, :2]).astype(int)
        if not (4 <= x < 60 and 4 <= y < 60):
            continue
        sample["keypoints_2d"][joint, :2] = (x, y)
        image = np.zeros((64, 64, 3), np.uint8)
        image[y, x] = 255
        depth = np.zeros((1, 32, 32), np.float32)
        depth[0, y // 2, x // 2] = 4.0
        sample.update(image=image, depth=depth)
        # The depth pixel's centre in crop pixels, (i + 0.5) * 2 - 0.5.
        depth_centre = (np.array([x // 2, y // 2]) + 0.5) * 2 - 0.5
        augmented = augmentor(sample)
        new_x, new_y = augmented["keypoints_2d"][joint, :2]
        if not (1 <= new_x < 62 and 1 <= new_y < 62):
            continue
        bright = np.unravel_index(np.argmax(augmented["image"].sum(-1)), (64, 64))
        assert abs(bright[1] - new_x) <= 1.0 and abs(bright[0] - new_y) <= 1.0, kind
        offset = depth_centre - sample["keypoints_2d"][joint, :2]
        spots = np.argwhere(augmented["depth"][0] > 0)
        if len(spots):  # nearest resampling keeps the value; a depth pixel (2 crop px) lands near the moved spot
            centres = (spots[:, ::-1] + 0.5) * 2 - 0.5
            assert np.linalg.norm(centres - (augmented["keypoints_2d"][joint, :2]), axis=1).min() <= (
                np.linalg.norm(offset) * 1.3 + 1.5)
            assert set(np.unique(augmented["depth"])) <= {0.0, 4.0}
        checked += 1
    assert checked >= 5


def test_same_seed_same_augmentation():
    sample = make_sample(np.random.default_rng(0))
    first = PoseAugmentor(ONLY["combined"], "h36m17", seed=9)
    second = PoseAugmentor(ONLY["combined"], "h36m17", seed=9)
    for _ in range(5):
        a, b = first(sample), second(sample)
        for key in sample:
            np.testing.assert_array_equal(a[key], b[key])


class _RepeatedSample(torch.utils.data.Dataset):
    def __init__(self, sample: dict, augmentor: PoseAugmentor) -> None:
        self.sample, self.augmentor = sample, augmentor

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> np.ndarray:
        return self.augmentor(self.sample)["crop"]


def test_dataloader_workers_draw_different_augmentations():
    sample = make_sample(np.random.default_rng(0))
    augmentor = PoseAugmentor(dataclasses.replace(OFF, scale_prob=1.0), "h36m17", seed=9)
    loader = torch.utils.data.DataLoader(_RepeatedSample(sample, augmentor), batch_size=1, num_workers=2)
    crops = torch.cat(list(loader))
    # Batches 0 and 1 come from different workers; each worker's stream is seeded differently.
    assert not torch.equal(crops[0], crops[1])
