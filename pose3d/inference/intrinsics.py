"""Camera intrinsics of an image in the wild, and where they came from.

In order of preference: the user's values; the dataset camera (dataset images); the photo's
EXIF (35 mm-equivalent focal length, else focal length in mm with the sensor's focal-plane
resolution); DepthPro's field-of-view estimate (when that depth backend runs); else a default
horizontal field of view of `DEFAULT_HORIZONTAL_FOV_DEG` degrees, about what a phone's main
camera or a webcam sees. The principal point is the image centre unless the user or the dataset
says otherwise. Every result names its source: `user`, `dataset`, `exif_35mm`,
`exif_focal_plane`, `depthpro_fov` or `default_fov`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pose3d.heif import register_heif_opener
from pose3d.perception.base import Frame

log = logging.getLogger(__name__)

DEFAULT_HORIZONTAL_FOV_DEG = 60.0
FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)  # the 35 mm film frame that "35 mm equivalent" refers to

# EXIF tag numbers (CIPA DC-008).
EXIF_IFD = 0x8769
FOCAL_LENGTH = 0x920A
FOCAL_LENGTH_35MM = 0xA405
FOCAL_PLANE_X_RESOLUTION = 0xA20E
FOCAL_PLANE_RESOLUTION_UNIT = 0xA210
EXIF_IMAGE_WIDTH = 0xA002
ORIENTATION = 0x0112  # in IFD0; 5-8: the stored pixels are turned a quarter from how the photo is shown
QUARTER_TURNS = {5, 6, 7, 8}
RESOLUTION_UNIT_MM = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}  # inch, cm, mm, micrometre


def focal_from_fov(width: int, horizontal_fov_deg: float) -> float:
    """Focal length in pixels of an image `width` pixels wide seeing `horizontal_fov_deg` degrees."""
    return 0.5 * width / math.tan(math.radians(horizontal_fov_deg) / 2.0)


def exif_focal_px(path: str | Path, width: int, height: int) -> tuple[float, str] | None:
    """(focal length in pixels, source) from a photo's EXIF, or None when it has no usable focal length.

    `exif_35mm`: f_px = f35 * image diagonal / 43.27 mm (the 35 mm-equivalent focal length is defined on
    the diagonal). `exif_focal_plane`: f_px = f_mm * FocalPlaneXResolution / unit, scaled from the
    EXIF image width to the stored width when the photo was resized. `width` and `height` are the
    decoded image's, which the decoder has turned upright by the EXIF orientation: for a portrait
    photo from a camera held on its side the stored (sensor) width is the decoded height.
    """
    # An iPhone's HEIC photos carry their EXIF too. Outside the try: a missing pillow-heif must be an
    # error, not every photo's EXIF silently ignored.
    register_heif_opener()
    try:
        from PIL import Image

        with Image.open(path) as image:
            exif = image.getexif()
            tags = dict(exif.get_ifd(EXIF_IFD))
            orientation = exif.get(ORIENTATION)
    except Exception as error:  # not a format PIL reads, or a broken EXIF block: no EXIF intrinsics
        log.debug("%s: no EXIF read (%s)", path, error)
        return None
    focal_35mm = _number(tags.get(FOCAL_LENGTH_35MM))
    if focal_35mm is not None and focal_35mm > 0:
        return focal_35mm * math.hypot(width, height) / FULL_FRAME_DIAGONAL_MM, "exif_35mm"
    focal_mm = _number(tags.get(FOCAL_LENGTH))
    plane_resolution = _number(tags.get(FOCAL_PLANE_X_RESOLUTION))
    unit_mm = RESOLUTION_UNIT_MM.get(int(_number(tags.get(FOCAL_PLANE_RESOLUTION_UNIT)) or 2))
    if focal_mm and plane_resolution and unit_mm and focal_mm > 0 and plane_resolution > 0:
        pixels_per_mm = plane_resolution / unit_mm
        exif_width = _number(tags.get(EXIF_IMAGE_WIDTH))
        stored_width = height if _number(orientation) in QUARTER_TURNS else width  # the sensor's x axis
        scale = stored_width / exif_width if exif_width and exif_width > 0 else 1.0
        return focal_mm * pixels_per_mm * scale, "exif_focal_plane"
    return None


def _number(value) -> float | None:
    """An EXIF rational or integer as a float; None when absent or not a number."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def choose_intrinsics(
    user: Sequence[float] | None, frame: Frame, depth_focal_px: float | None, image_shape: tuple[int, int]
) -> tuple[np.ndarray, str]:
    """(fx, fy, cx, cy) in pixels and its source, by the preference order of this module's docstring."""
    height, width = image_shape
    if user is not None and len(user) > 0:
        if len(user) != 4:
            raise ValueError(f"intrinsics must be 4 numbers fx fy cx cy, got {list(user)}")
        return np.asarray(user, dtype=np.float64), "user"
    if frame.focal is not None and frame.center is not None:
        return np.concatenate([np.asarray(frame.focal, np.float64), np.asarray(frame.center, np.float64)]), "dataset"
    centre = (width / 2.0, height / 2.0)
    if frame.image_path is not None:
        from_exif = exif_focal_px(frame.image_path, width, height)
        if from_exif is not None:
            return np.array([from_exif[0], from_exif[0], *centre]), from_exif[1]
    if depth_focal_px is not None and np.isfinite(depth_focal_px) and depth_focal_px > 0:
        return np.array([depth_focal_px, depth_focal_px, *centre]), "depthpro_fov"
    focal = focal_from_fov(width, DEFAULT_HORIZONTAL_FOV_DEG)
    return np.array([focal, focal, *centre]), "default_fov"
