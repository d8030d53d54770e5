"""Intrinsics in the wild: EXIF 35 mm-equivalent, EXIF focal length + focal-plane resolution, DepthPro, default FOV."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from pose3d.inference.intrinsics import (
    DEFAULT_HORIZONTAL_FOV_DEG,
    choose_intrinsics,
    exif_focal_px,
    focal_from_fov,
)
from pose3d.perception import Frame

WIDTH, HEIGHT = 400, 300


def _photo(path, tags=None, orientation=None):
    """A JPEG stored WIDTH x HEIGHT whose EXIF sub-IFD holds `tags` (tag number -> value)."""
    image = Image.fromarray(np.full((HEIGHT, WIDTH, 3), 128, np.uint8))
    exif = Image.Exif()
    exif.get_ifd(0x8769).update(tags or {})
    if orientation is not None:
        exif[0x0112] = orientation
    image.save(path, exif=exif)
    return path


def _choose(path, depth_focal=None):
    return choose_intrinsics(None, Frame(np.zeros((HEIGHT, WIDTH, 3), np.uint8), path), depth_focal, (HEIGHT, WIDTH))


def test_exif_35mm_equivalent_focal_length(tmp_path):
    path = _photo(tmp_path / "phone.jpg", {41989: 26})  # FocalLengthIn35mmFilm
    intrinsics, source = _choose(path, depth_focal=999.0)
    assert source == "exif_35mm"
    expected = 26 * math.hypot(WIDTH, HEIGHT) / math.hypot(36, 24)  # diagonal definition
    np.testing.assert_allclose(intrinsics, [expected, expected, WIDTH / 2, HEIGHT / 2])


def test_exif_focal_length_and_focal_plane_resolution(tmp_path):
    # 4.2 mm lens, 1000 pixels per cm on the sensor (unit 3 = cm), photo shot 800 px wide and resized to 400.
    path = _photo(tmp_path / "camera.jpg", {37386: 4.2, 41486: 1000.0, 41488: 3, 40962: 800})
    intrinsics, source = _choose(path)
    assert source == "exif_focal_plane"
    np.testing.assert_allclose(intrinsics[0], 4.2 * 100.0 * WIDTH / 800)


@pytest.mark.parametrize("orientation", [6, 8])
def test_a_portrait_photo_from_a_camera_on_its_side(tmp_path, orientation):
    """Stored landscape, shown (and decoded) upright as portrait: the focal-plane resolution is along the
    sensor's x axis, which is the decoded image's height, so the resize scale comes from that side."""
    from pose3d.io import read_image

    path = _photo(tmp_path / "portrait.jpg", {37386: 4.2, 41486: 1000.0, 41488: 3, 40962: 800}, orientation)
    assert read_image(path).shape == (WIDTH, HEIGHT, 3)  # the decoder turned it upright
    focal, source = exif_focal_px(path, HEIGHT, WIDTH)  # decoded: HEIGHT wide, WIDTH high
    assert source == "exif_focal_plane"
    assert focal == pytest.approx(4.2 * 100.0 * WIDTH / 800)  # as the same photo shot in landscape


def test_without_exif_depthpro_then_the_default_fov(tmp_path):
    path = _photo(tmp_path / "plain.jpg")
    assert exif_focal_px(path, WIDTH, HEIGHT) is None
    intrinsics, source = _choose(path, depth_focal=321.0)
    assert source == "depthpro_fov" and intrinsics[0] == 321.0
    intrinsics, source = _choose(path, depth_focal=float("nan"))
    assert source == "default_fov"
    np.testing.assert_allclose(intrinsics[0], focal_from_fov(WIDTH, DEFAULT_HORIZONTAL_FOV_DEG))
    np.testing.assert_allclose(2 * math.degrees(math.atan(WIDTH / 2 / intrinsics[0])), DEFAULT_HORIZONTAL_FOV_DEG)


def test_user_and_dataset_come_first(tmp_path):
    path = _photo(tmp_path / "phone.jpg", {41989: 26})
    frame = Frame(np.zeros((HEIGHT, WIDTH, 3), np.uint8), path, focal=np.array([500.0, 501.0]), center=np.array([200.0, 150.0]))
    assert choose_intrinsics(None, frame, None, (HEIGHT, WIDTH))[1] == "dataset"
    assert choose_intrinsics([1, 2, 3, 4], frame, None, (HEIGHT, WIDTH))[1] == "user"
    with pytest.raises(ValueError, match="4 numbers"):
        choose_intrinsics([1, 2, 3], frame, None, (HEIGHT, WIDTH))


def test_a_broken_exif_block_falls_back(tmp_path):
    path = _photo(tmp_path / "odd.jpg", {41989: 0, 37386: 0})
    assert exif_focal_px(path, WIDTH, HEIGHT) is None
    assert exif_focal_px(tmp_path / "missing.jpg", WIDTH, HEIGHT) is None
