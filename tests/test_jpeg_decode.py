"""The loader's JPEG decode (simplejpeg) gives OpenCV's pixels and refuses damaged crops."""

import cv2
import numpy as np
import pytest
from ultralytics.utils import ASSETS

from pose3d.shards.errors import ShardError
from pose3d.shards.jpeg import decode_rgb, decode_rgb_into
from pose3d.shards.reader import decode_image
from pose3d.shards.writer import encode_image


def photo_crops(size: int) -> list[np.ndarray]:
    """Crops of the real photos that ship with ultralytics, resized to `size` px, encoded as the shards store them."""
    crops = []
    for name in ("bus.jpg", "zidane.jpg"):
        rgb = cv2.cvtColor(cv2.imread(str(ASSETS / name)), cv2.COLOR_BGR2RGB)
        height, width = rgb.shape[:2]
        for top, left in ((0, 0), (height // 3, width // 3), (height - 300, width - 300)):
            crop = cv2.resize(rgb[top:top + 300, left:left + 300], (size, size), interpolation=cv2.INTER_AREA)
            crops.append(encode_image(crop, "jpeg", 90))
    return crops


@pytest.mark.parametrize("size", [64, 128, 256])
def test_pixels_equal_opencvs(size):
    for payload in photo_crops(size):
        expected = cv2.cvtColor(cv2.imdecode(payload, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        assert np.array_equal(decode_rgb(payload), expected)
        assert np.array_equal(decode_image(payload, "jpeg"), expected)
        batch = np.zeros((2, size, size, 3), dtype=np.uint8)
        decode_rgb_into(payload, batch[1], "x.h5")
        assert np.array_equal(batch[1], expected) and not batch[0].any()


def test_damaged_or_misfit_crops_raise_with_the_shard_path():
    payload = photo_crops(64)[0]
    with pytest.raises(ShardError, match="x.h5.*not a decodable"):
        decode_rgb(payload[: len(payload) // 2], "x.h5")  # truncated: no half image
    with pytest.raises(ShardError, match="x.h5.*not a decodable"):
        decode_rgb(np.frombuffer(b"not a jpeg at all", np.uint8), "x.h5")
    with pytest.raises(ShardError, match="x.h5.*64 px"):
        decode_rgb_into(photo_crops(128)[0], np.zeros((64, 64, 3), np.uint8), "x.h5")  # larger than the shard says
    with pytest.raises(ShardError, match="x.h5.*is 64x64 px, the shard says 128"):
        decode_rgb_into(payload, np.zeros((128, 128, 3), np.uint8), "x.h5")
