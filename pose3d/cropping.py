"""The person crop, built one way for training samples and for inference alike.

A person box (x0, y0, x1, y1 original pixels) becomes a square crop (x0, y0, scale)
`padding` times the box's longer side (`geometry.square_crop_from_box`). The RGB crop
is `image_size` pixels square; the depth crop covers the same square at `depth_size`
pixels; 2D keypoints move to RGB-crop pixels. Outside the image, RGB is black and depth
is 0 (= no surface, as in the dataset's depth maps).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pose3d import geometry


@dataclass(frozen=True)
class PersonCrop:
    """One person's model input, before batching."""

    image: np.ndarray  # (S, S, 3) uint8 RGB
    depth: np.ndarray  # (Sd, Sd) float32 metres, 0 = unknown
    keypoints_2d: np.ndarray  # (J, 3) float32 crop pixels + score
    crop: np.ndarray  # (3,) float32 x0, y0, scale: original = crop_px * scale + (x0, y0)


def crop_image(image_rgb: np.ndarray, crop: np.ndarray, image_size: int) -> np.ndarray:
    """RGB (H, W, 3) -> (image_size, image_size, 3) square crop, bilinear, black outside."""
    return cv2.warpAffine(
        np.ascontiguousarray(image_rgb), geometry.crop_affine(crop), (image_size, image_size),
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0),
    )


def crop_depth(
    depth_m: np.ndarray, crop: np.ndarray, image_size: int, depth_size: int,
    image_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Depth (Hd, Wd) metres -> (depth_size, depth_size) covering the same square as the RGB crop.

    One pixel convention everywhere (that of `grid_sample(align_corners=False)`): pixel
    centres sit at integer coordinates and pixel i covers [i - 0.5, i + 0.5]. The RGB crop
    (side S = `image_size`) spans crop coordinates [-0.5, S - 0.5]; depth pixel c (of Sd) is
    centred at crop coordinate (c + 0.5) * S / Sd - 0.5, as in `augment_pixels.warp_depths` and the
    models' depth sampler. `image_shape` (H, W) of the RGB image, when the depth map has another
    resolution (a depth model's output): map pixel u is centred at image pixel (u + 0.5) * W / Wd - 0.5.
    Nearest-neighbour sampling, so invalid (0) pixels never blend into valid ones.
    """
    depth_m = np.asarray(depth_m, dtype=np.float32)
    x0, y0, scale = (float(v) for v in np.asarray(crop))
    ratio = image_size / depth_size  # RGB-crop pixels per depth-crop pixel
    sy, sx = (1.0, 1.0) if image_shape is None else (depth_m.shape[0] / image_shape[0], depth_m.shape[1] / image_shape[1])
    # Depth-crop pixel c -> crop coordinate (c + 0.5) r - 0.5 -> image pixel x0 + scale * that
    # -> depth-map pixel (image + 0.5) s - 0.5: one affine map, given to OpenCV as the inverse map.
    inverse = np.array([
        [sx * scale * ratio, 0.0, sx * (x0 + scale * (0.5 * ratio - 0.5) + 0.5) - 0.5],
        [0.0, sy * scale * ratio, sy * (y0 + scale * (0.5 * ratio - 0.5) + 0.5) - 0.5],
    ], dtype=np.float64)
    return cv2.warpAffine(
        depth_m, inverse, (depth_size, depth_size),
        flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0,
    )


def keypoints_to_crop(keypoints: np.ndarray, crop: np.ndarray) -> np.ndarray:
    """Keypoints (J, 2|3) original pixels (+ score) -> (J, 3) float32 crop pixels + score.

    Joints without a score get 1; non-finite joints become (0, 0, score 0).
    """
    keypoints = np.asarray(keypoints, dtype=np.float32)
    out = np.zeros((keypoints.shape[0], 3), dtype=np.float32)
    out[:, :2] = geometry.image_to_crop(keypoints[:, :2], crop)
    out[:, 2] = keypoints[:, 2] if keypoints.shape[1] == 3 else 1.0
    missing = ~np.isfinite(out).all(axis=1)
    out[missing] = 0.0
    return out


def crop_person(
    image_rgb: np.ndarray,
    depth_m: np.ndarray | None,
    box_xyxy: np.ndarray,
    keypoints: np.ndarray,
    image_size: int,
    depth_size: int,
    padding: float,
) -> PersonCrop:
    """Cut one person's crop from an image, its depth map and its keypoints (original pixels).

    `depth_m` None gives an all-zero depth crop (unknown depth).
    """
    crop = geometry.square_crop_from_box(np.asarray(box_xyxy, dtype=np.float64), image_size, padding)
    if depth_m is None:
        depth_crop = np.zeros((depth_size, depth_size), dtype=np.float32)
    else:
        depth_crop = crop_depth(depth_m, crop, image_size, depth_size, image_rgb.shape[:2])
    return PersonCrop(
        image=crop_image(image_rgb, crop, image_size),
        depth=depth_crop,
        keypoints_2d=keypoints_to_crop(keypoints, crop),
        crop=crop.astype(np.float32),
    )
