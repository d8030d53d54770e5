"""The pixel part of augmentation, for a whole batch: warp images and depth by each sample's crop-pixel
affine, and jitter colours.

Only the pixel operation itself runs per sample (one OpenCV call on a (S, S, 3) crop): on one CPU core
that is several times faster than a batched torch `grid_sample` in float, and parameters, matrices and
the choice of what to do are computed for the whole batch at once. Samples whose affine is the identity
are not touched, and a pure mirror is a slice: both exact and cheaper than a warp.

Images are resampled bilinearly, depth with nearest so no surface is blended with "no surface" = 0.
"""

from __future__ import annotations

import cv2
import numpy as np

_TOLERANCE = 1e-12


def _which(affines: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of samples mirrored horizontally (and nothing else) and of those needing a warp."""
    mirror = np.array([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    is_identity = np.abs(affines - np.eye(3)).max(axis=(1, 2)) <= _TOLERANCE
    is_mirror = np.abs(affines - mirror).max(axis=(1, 2)) <= _TOLERANCE
    return np.flatnonzero(is_mirror), np.flatnonzero(~(is_identity | is_mirror))


def warp_images(images: np.ndarray, affines: np.ndarray) -> np.ndarray:
    """Images (B, S, S, C), uint8 or float32, warped by crop-pixel affines (B, 3, 3) old -> new; a new array."""
    size = images.shape[1]
    mirrored, warped = _which(affines, size)
    out = np.empty_like(images)
    kept = np.setdiff1d(np.arange(len(images)), np.concatenate([mirrored, warped]))
    out[kept] = images[kept]
    out[mirrored] = images[mirrored, :, ::-1]
    for k in warped:
        cv2.warpAffine(images[k], affines[k, :2], (size, size), dst=out[k], flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out


def warp_depths(depths: np.ndarray, affines: np.ndarray, image_size: int) -> np.ndarray:
    """Depth crops (B, 1, Sd, Sd) or (B, Sd, Sd), any float dtype, covering the same crops as images of
    side `image_size`, warped with nearest resampling; a new array of the same dtype."""
    side = depths.shape[-1]
    ratio = image_size / side
    # Depth pixel d is centred at crop pixel (d + 0.5) * ratio - 0.5.
    to_crop = np.array([[ratio, 0.0, 0.5 * ratio - 0.5], [0.0, ratio, 0.5 * ratio - 0.5], [0.0, 0.0, 1.0]])
    depth_affines = np.linalg.inv(to_crop) @ affines @ to_crop
    mirrored, warped = _which(affines, image_size)
    out = depths.copy()
    out[mirrored] = depths[mirrored, ..., ::-1]
    for k in warped:
        plane = np.asarray(depths[k].reshape(side, side), dtype=np.float32)  # OpenCV cannot warp float16
        out[k] = cv2.warpAffine(plane, depth_affines[k, :2], (side, side), flags=cv2.INTER_NEAREST,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0.0).reshape(out[k].shape)
    return out


def colour_matrices(means: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """(B, 3, 4) per-pixel channel maps of brightness b, contrast c (about the image mean), saturation s
    (about the pixel's grey): out = s b c p + (1 - s) b c grey(p) + b (1 - c) mean; `means` (B,) in pixel units."""
    brightness, contrast, saturation = factors[:, 0], factors[:, 1], factors[:, 2]
    gain = saturation * brightness * contrast
    grey = (1.0 - saturation) * brightness * contrast / 3.0
    matrices = np.zeros((len(factors), 3, 4))
    matrices[:, :, :3] = gain[:, None, None] * np.eye(3) + grey[:, None, None]
    matrices[:, :, 3] = (brightness * (1.0 - contrast) * means)[:, None]
    return matrices


def jitter_colours(images: np.ndarray, factors: np.ndarray, chosen: np.ndarray) -> None:
    """Brightness, contrast and saturation jitter, in place, of RGB images (B, S, S, 3), uint8 or float32 in
    [0, 1], by `factors` (B, 3) on the samples where `chosen` (B,) is set; values stay in the range."""
    indices = np.flatnonzero(chosen)
    means = np.array([sum(cv2.mean(images[k])[:3]) / 3.0 for k in indices])
    matrices = colour_matrices(means, factors[indices])
    for k, matrix in zip(indices, matrices, strict=True):
        cv2.transform(images[k], matrix, dst=images[k])  # uint8: rounded and saturated to [0, 255]
    if images.dtype != np.uint8 and len(indices):
        np.clip(images, 0.0, 1.0, out=images)
