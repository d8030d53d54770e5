"""The person crop shared by training samples and inference: RGB, depth and keypoints stay aligned."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pose3d import cropping, geometry
from pose3d.skeleton import H36M17


def test_a_marked_pixel_lands_where_its_keypoint_lands():
    image = np.zeros((120, 160, 3), np.uint8)
    image[60:64, 90:94] = 255  # a 4x4 white square centred at (91.5, 61.5)
    box = np.array([70.0, 30.0, 110.0, 100.0])
    person = cropping.crop_person(image, None, box, np.array([[91.5, 61.5, 0.8]]), 32, 16, 1.25)
    assert person.image.shape == (32, 32, 3) and person.depth.shape == (16, 16) and not person.depth.any()
    assert np.allclose(person.crop, geometry.square_crop_from_box(box, 32, 1.25))
    x, y, score = person.keypoints_2d[0]
    assert score == np.float32(0.8)
    bright_y, bright_x = np.unravel_index(np.argmax(person.image[..., 0]), (32, 32))
    assert abs(bright_x - x) <= 1 and abs(bright_y - y) <= 1


def test_depth_crop_is_the_same_from_a_lower_resolution_depth_map():
    depth = np.full((120, 160), 5.0, np.float32)
    depth[40:100, 60:100] = 2.0  # a person-sized block, 2 m away
    half = cv2.resize(depth, (80, 60), interpolation=cv2.INTER_NEAREST)
    crop = geometry.square_crop_from_box(np.array([60.0, 40.0, 100.0, 100.0]), 32, 1.25)
    full_crop = cropping.crop_depth(depth, crop, 32, 16)
    half_crop = cropping.crop_depth(half, crop, 32, 16, image_shape=(120, 160))
    assert full_crop.shape == half_crop.shape == (16, 16)
    assert np.mean(full_crop == half_crop) > 0.9  # nearest sampling may differ on the block's edge only
    assert set(np.unique(full_crop)) <= {2.0, 5.0}  # real depths only, never blended


def test_missing_keypoints_become_zero_score():
    keypoints = np.array([[10.0, 10.0, 1.0], [np.nan, np.nan, np.nan]])
    out = cropping.keypoints_to_crop(keypoints, np.array([0.0, 0.0, 2.0]))
    assert np.allclose(out, [[5.0, 5.0, 1.0], [0.0, 0.0, 0.0]])


def _depth_under_keypoints(depth_crop: np.ndarray, keypoints: np.ndarray, image_size: int) -> np.ndarray:
    """Depth (B, 17) read at each keypoint by the models' own sampler (`depth_at_keypoints`)."""
    import torch

    from pose3d.models.lifting import depth_at_keypoints

    read = depth_at_keypoints(
        torch.as_tensor(depth_crop, dtype=torch.float32)[:, None], torch.as_tensor(keypoints), image_size
    )
    assert bool((read > 0).all())  # every keypoint landed on a valid depth pixel
    return read.double().numpy()


@pytest.mark.parametrize("axis", [0, 1])
def test_depth_under_each_keypoint_is_centre_aligned_through_crop_and_flip(axis):
    """Production crop_depth, then the augmentation's flip: the depth under each keypoint is the depth
    of the original image at that keypoint, to within the depth crop's quantisation and without bias."""
    from pose3d.training import augment

    image_size, depth_size, per_image_px = 32, 8, 0.01  # depth grows 1 cm per original pixel along `axis`
    height, width = 120, 160
    depth_map = 1.0 + per_image_px * np.indices((height, width))[1 - axis].astype(np.float32)
    crop = np.array([20.3, 10.7, 2.0])  # x0, y0 off the pixel grid: no rounding ties
    rng = np.random.default_rng(0)
    keypoints = np.concatenate([rng.uniform(0, image_size - 1, size=(40, 17, 2)), np.ones((40, 17, 1))], -1)
    keypoints = keypoints.astype(np.float32)
    depth_crop = cropping.crop_depth(depth_map, crop, image_size, depth_size)
    read = _depth_under_keypoints(np.repeat(depth_crop[None], len(keypoints), 0), keypoints, image_size)
    original_px = np.rint(crop[axis] + crop[2] * keypoints[..., axis].astype(np.float64))
    error_px = (read - 1.0) / per_image_px - original_px
    half_depth_pixel_px = 0.5 * crop[2] * image_size / depth_size  # in original pixels
    assert np.abs(error_px).max() <= half_depth_pixel_px + 0.5 + 1e-6
    assert abs(error_px.mean()) < 0.5, f"depth is biased by {error_px.mean():.2f} original pixels"

    flipped_read = []
    for person in keypoints:
        sample = {
            "image": np.zeros((image_size, image_size, 3), np.uint8), "depth": depth_crop[None],
            "keypoints_2d": person, "joints_3d": np.zeros((17, 3)), "crop": crop.astype(np.float32),
            "intrinsics": np.array([500.0, 500.0, 80.0, 60.0], np.float32),
        }
        geo, affine = augment.flip_geometry(sample, image_size, "h36m17")
        flipped = augment.apply_geometry(sample, geo, affine)
        flipped_read.append(_depth_under_keypoints(flipped["depth"], flipped["keypoints_2d"][None], image_size)[0])
    # The flip moves each keypoint and its depth together: keypoint j after it is keypoint perm[j] before.
    np.testing.assert_array_equal(np.array(flipped_read), read[:, H36M17.flip_permutation])
