"""Training-time augmentation that keeps image, 2D keypoints, 3D joints and camera exactly consistent.

Every geometric step is an affine map of crop pixels (old -> new) together with an exact change of
the 3D joints and of the crop, such that projecting the new `joints_3d` through
`geometry.crop_intrinsics(intrinsics, crop)` lands on the new `keypoints_2d`:

- flip: mirror the crop horizontally (x -> S - 1 - x, pixel centres at integers); the world is
  mirrored about the camera's x = 0 plane (X -> -X), left/right joints swap in 2D and 3D, and the
  crop moves to where the mirrored person appears in the mirrored full image (x0 -> 2 cx - x0 - s (S - 1)).
- rotation: rotate the 3D joints by angle a about the optical axis (z); the crop is warped by
  A = F R(a) F^-1 about its centre (F = diag(fx, fy): an exact rotation when fx = fy) and the
  crop origin moves so that the principal point follows.
- crop jitter (scale, translation): a new crop window (x0, y0, scale); 3D unchanged.
- colour jitter: brightness, contrast, saturation of the image only.

Fields that change: image, depth, keypoints_2d, joints_3d, crop. `intrinsics` (of the original
image) and provenance never change. Image and depth are resampled once, with the composed warp
(bilinear for RGB, nearest for depth so no surface is blended with "no surface" = 0).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from pose3d import geometry, skeleton
from pose3d.config import AugmentConfig

Sample = dict[str, Any]
_GEOMETRY_KEYS = ("keypoints_2d", "joints_3d", "crop", "intrinsics")


def _crop_centre(size: int) -> float:
    return (size - 1) / 2.0


def _image_size(sample: Sample) -> int:
    image = np.asarray(sample["image"])
    return int(image.shape[1])  # (S, S, 3) and (3, S, S) alike


def _as_affine(matrix_2x3: np.ndarray) -> np.ndarray:
    return np.vstack([matrix_2x3, [0.0, 0.0, 1.0]])


def _apply_to_points(affine: np.ndarray, points_xy: np.ndarray) -> np.ndarray:
    return points_xy @ affine[:2, :2].T + affine[:2, 2]


def _with_keypoints_xy(keypoints: np.ndarray, xy: np.ndarray) -> np.ndarray:
    out = np.array(keypoints, dtype=np.float32, copy=True)
    out[..., :2] = xy
    return out


def flip_geometry(geo: Sample, size: int, keypoints_layout: str) -> tuple[Sample, np.ndarray]:
    """Mirror the crop horizontally; returns the new geometry and the 3x3 crop-pixel affine."""
    affine = np.array([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    keypoints = np.asarray(geo["keypoints_2d"], dtype=np.float32)
    keypoints = _with_keypoints_xy(keypoints, _apply_to_points(affine, keypoints[..., :2].astype(np.float64)))
    keypoints = keypoints[skeleton.get_layout(keypoints_layout).flip_permutation]
    joints = np.array(geo["joints_3d"], dtype=np.float64, copy=True)
    joints[..., 0] *= -1.0
    joints = joints[skeleton.H36M17.flip_permutation]
    crop = np.array(geo["crop"], dtype=np.float64, copy=True)
    cx = float(np.asarray(geo["intrinsics"])[2])
    crop[0] = 2.0 * cx - crop[0] - crop[2] * (size - 1)
    return _updated(geo, keypoints, joints, crop), affine


def rotation_geometry(geo: Sample, size: int, angle_rad: float) -> tuple[Sample, np.ndarray]:
    """Rotate the 3D joints about the optical axis and the crop about its centre (see module doc)."""
    cos, sin = np.cos(angle_rad), np.sin(angle_rad)
    rotation_3d = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
    crop_k = np.asarray(geometry.crop_intrinsics(np.asarray(geo["intrinsics"], np.float64),
                                                 np.asarray(geo["crop"], np.float64)), dtype=np.float64)
    focal = np.diag(crop_k[:2])
    linear = focal @ rotation_3d[:2, :2] @ np.linalg.inv(focal)
    centre = np.full(2, _crop_centre(size))
    affine = np.eye(3)
    affine[:2, :2] = linear
    affine[:2, 2] = centre - linear @ centre
    new_principal = linear @ (crop_k[2:] - centre) + centre
    crop = np.array(geo["crop"], dtype=np.float64, copy=True)
    crop[:2] = np.asarray(geo["intrinsics"], np.float64)[2:] - crop[2] * new_principal
    keypoints = np.asarray(geo["keypoints_2d"], dtype=np.float32)
    keypoints = _with_keypoints_xy(keypoints, _apply_to_points(affine, keypoints[..., :2].astype(np.float64)))
    joints = np.asarray(geo["joints_3d"], dtype=np.float64) @ rotation_3d.T
    return _updated(geo, keypoints, joints, crop), affine


def crop_jitter_geometry(geo: Sample, size: int, zoom: float, shift: tuple[float, float]) -> tuple[Sample, np.ndarray]:
    """A new crop window: `zoom` > 1 covers more of the image; `shift` moves the centre by a fraction of the side."""
    crop = np.asarray(geo["crop"], dtype=np.float64)
    x0, y0, scale = crop
    new_scale = scale * zoom
    centre = _crop_centre(size)
    new_x0 = x0 + scale * centre + shift[0] * size * scale - new_scale * centre
    new_y0 = y0 + scale * centre + shift[1] * size * scale - new_scale * centre
    ratio = scale / new_scale
    affine = np.array([[ratio, 0.0, (x0 - new_x0) / new_scale], [0.0, ratio, (y0 - new_y0) / new_scale], [0, 0, 1.0]])
    keypoints = np.asarray(geo["keypoints_2d"], dtype=np.float32)
    keypoints = _with_keypoints_xy(keypoints, _apply_to_points(affine, keypoints[..., :2].astype(np.float64)))
    return _updated(geo, keypoints, geo["joints_3d"], np.array([new_x0, new_y0, new_scale])), affine


def _updated(geo: Sample, keypoints: np.ndarray, joints: np.ndarray, crop: np.ndarray) -> Sample:
    out = dict(geo)
    out["keypoints_2d"] = np.asarray(keypoints, dtype=np.float32)
    out["joints_3d"] = np.asarray(joints, dtype=np.float32)
    out["crop"] = np.asarray(crop, dtype=np.float32)
    return out


def warp_image(image: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Warp an RGB crop, (S, S, 3) uint8 or (3, S, S) float, by a 3x3 crop-pixel affine (old -> new)."""
    channels_first = image.ndim == 3 and image.shape[0] == 3 and image.shape[-1] != 3
    pixels = np.ascontiguousarray(np.moveaxis(image, 0, -1) if channels_first else image)
    size = pixels.shape[1], pixels.shape[0]
    warped = cv2.warpAffine(pixels, affine[:2], size, flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return np.moveaxis(warped, -1, 0).copy() if channels_first else warped


def warp_depth(depth: np.ndarray, affine: np.ndarray, image_size: int) -> np.ndarray:
    """Warp a depth crop, (Sd, Sd) or (1, Sd, Sd), covering the same crop as an image of side `image_size`."""
    squeeze = depth.ndim == 3
    plane = np.asarray(depth[0] if squeeze else depth, dtype=np.float32)
    ratio = image_size / plane.shape[-1]
    to_crop = np.array([[ratio, 0.0, 0.5 * ratio - 0.5], [0.0, ratio, 0.5 * ratio - 0.5], [0.0, 0.0, 1.0]])
    depth_affine = np.linalg.inv(to_crop) @ affine @ to_crop
    warped = cv2.warpAffine(plane, depth_affine[:2], (plane.shape[1], plane.shape[0]), flags=cv2.INTER_NEAREST,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    warped = warped.astype(np.asarray(depth).dtype)
    return warped[None] if squeeze else warped


def jitter_colour(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Random brightness, contrast and saturation (each a factor in [1 - strength, 1 + strength])."""
    channels_first = image.ndim == 3 and image.shape[0] == 3 and image.shape[-1] != 3
    is_uint8 = image.dtype == np.uint8
    pixels = np.asarray(image, dtype=np.float32) / (255.0 if is_uint8 else 1.0)
    channel_axis = 0 if channels_first else -1
    brightness, contrast, saturation = rng.uniform(1.0 - strength, 1.0 + strength, size=3)
    pixels = pixels * brightness
    pixels = (pixels - pixels.mean()) * contrast + pixels.mean()
    grey = pixels.mean(axis=channel_axis, keepdims=True)
    pixels = np.clip((pixels - grey) * saturation + grey, 0.0, 1.0)
    if is_uint8:
        return np.round(pixels * 255.0).astype(np.uint8)
    return pixels.astype(image.dtype)


def apply_geometry(sample: Sample, geo: Sample, affine: np.ndarray, image_size: int | None = None) -> Sample:
    """The sample with new geometry fields and its image/depth (those it has) warped once by `affine`.

    `image_size` is the crop side, needed only for a sample with depth but no image.
    """
    out = dict(sample)
    for key in ("keypoints_2d", "joints_3d", "crop"):
        out[key] = geo[key]
    if not np.allclose(affine, np.eye(3)):
        if "image" in sample:
            out["image"] = warp_image(np.asarray(sample["image"]), affine)
        if "depth" in sample:
            size = _image_size(sample) if "image" in sample else image_size
            out["depth"] = warp_depth(np.asarray(sample["depth"]), affine, size)
    return out


class PoseAugmentor:
    """Random flip, in-plane rotation, crop jitter and colour jitter of a numpy training sample.

    Probabilities and ranges come from `config.train.augment`. Used as the training dataset's
    `transform`; each DataLoader worker draws from its own stream (seeded from `seed` and the
    worker's torch seed), so workers do not repeat each other's augmentations.
    """

    def __init__(self, config: AugmentConfig, keypoints_layout: str, seed: int, image_size: int | None = None) -> None:
        skeleton.get_layout(keypoints_layout)
        self.image_size = image_size  # the crop side of samples that carry no image (keypoint-only)
        self.config = config
        self.keypoints_layout = keypoints_layout
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._rng_owner: tuple[int, int] | None = None

    def _generator(self) -> np.random.Generator:
        try:
            import torch.utils.data

            info = torch.utils.data.get_worker_info()
        except ImportError:  # pragma: no cover - torch is a dependency
            info = None
        owner = None if info is None else (info.id, info.seed)
        if owner != self._rng_owner:
            self._rng = np.random.default_rng([self.seed, int(info.seed) % 2**63])
            self._rng_owner = owner
        return self._rng

    def __call__(self, sample: Sample, rng: np.random.Generator | None = None) -> Sample:
        """Augment one sample; draws from `rng` when given, else from this worker's own stream."""
        rng = self._generator() if rng is None else rng
        cfg = self.config
        if "image" in sample:
            size = _image_size(sample)
        elif self.image_size is not None:
            size = self.image_size
        else:
            raise ValueError("a sample without an image needs PoseAugmentor(image_size=...) (the crop side)")
        geo = {key: sample[key] for key in _GEOMETRY_KEYS}
        affine = np.eye(3)
        if rng.random() < cfg.flip_prob:
            geo, step = flip_geometry(geo, size, self.keypoints_layout)
            affine = step @ affine
        if rng.random() < cfg.rotation_prob:
            angle = np.deg2rad(rng.uniform(-cfg.rotation_deg, cfg.rotation_deg))
            geo, step = rotation_geometry(geo, size, angle)
            affine = step @ affine
        zoom = 1.0 + rng.uniform(-cfg.scale_range, cfg.scale_range) if rng.random() < cfg.scale_prob else 1.0
        shift = tuple(rng.uniform(-cfg.translate_range, cfg.translate_range, size=2)) if (
            rng.random() < cfg.translate_prob) else (0.0, 0.0)
        if zoom != 1.0 or shift != (0.0, 0.0):
            geo, step = crop_jitter_geometry(geo, size, zoom, shift)
            affine = step @ affine
        out = apply_geometry(sample, geo, affine, size)
        if rng.random() < cfg.color_prob and "image" in out:
            out["image"] = jitter_colour(np.asarray(out["image"]), rng, cfg.color_strength)
        return out
