"""The person crop shared by training samples and inference: RGB, depth and keypoints stay aligned."""

from __future__ import annotations

import cv2
import numpy as np

from pose3d import cropping, geometry


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
