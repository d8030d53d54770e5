"""HEIC photos (an iPhone's default format): decoded upright through pillow-heif, by content as well as
by suffix; a truncated one is a clear skip. Made here from ultralytics' real bus.jpg with libheif's encoder."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from pose3d.inference.inputs import list_inputs
from pose3d.inference.intrinsics import exif_focal_px
from pose3d.io import decode_image_file, read_image
from pose3d.testing.heic import heic_from_jpeg


@pytest.fixture(scope="module")
def bus(tmp_path_factory):
    from ultralytics.utils import ASSETS

    folder = tmp_path_factory.mktemp("heic")
    return ASSETS / "bus.jpg", heic_from_jpeg(ASSETS / "bus.jpg", folder / "bus.heic", {0xA405: 26})


def test_a_heic_photo_decodes_to_the_same_picture_as_its_jpeg(bus):
    jpeg, heic = bus
    expected = cv2.imread(str(jpeg))
    image, problem = decode_image_file(heic)
    assert problem == "" and image.shape == expected.shape and image.dtype == np.uint8
    # BGR like OpenCV's, the same picture up to lossy coding: mean difference of a few grey levels.
    assert np.abs(image.astype(int) - expected.astype(int)).mean() < 4.0


def test_a_heic_file_named_jpg_is_recognised_by_its_content(bus, tmp_path):
    misnamed = tmp_path / "IMG_0001.jpg"  # what some phone exports do
    misnamed.write_bytes(bus[1].read_bytes())
    image, problem = decode_image_file(misnamed)
    assert problem == "" and image.shape == cv2.imread(str(bus[0])).shape


def test_a_truncated_heic_is_a_clear_skip(bus, tmp_path, caplog):
    truncated = tmp_path / "cut.heic"
    data = bus[1].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING, logger="pose3d.io"):
        assert read_image(truncated) is None
    assert "not a decodable HEIF image" in caplog.text and "cut.heic" in caplog.text


def test_heic_photos_are_listed_and_their_exif_focal_length_read(bus, tmp_path):
    heic = bus[1]
    images, skipped = list_inputs([heic, tmp_path / "notes.txt"])
    assert images == [heic] and len(skipped) == 1
    height, width = cv2.imread(str(bus[0])).shape[:2]
    focal, source = exif_focal_px(heic, width, height)
    assert source == "exif_35mm" and focal == pytest.approx(26 * np.hypot(width, height) / np.hypot(36, 24))
