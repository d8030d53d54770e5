"""The geometric part of augmentation, for a whole batch: new keypoints, joints and crops, and each
sample's crop-pixel affine, with array operations over the batch axis only.

Every step is an affine map of crop pixels (old -> new) together with an exact change of the 3D
joints and of the crop, such that projecting the new `joints_3d` through
`geometry.crop_intrinsics(intrinsics, crop)` lands on the new `keypoints_2d`:

- flip: mirror the crop horizontally (x -> S - 1 - x, pixel centres at integers); the world is
  mirrored about the camera's x = 0 plane (X -> -X), left/right joints swap in 2D and 3D, and the
  crop moves to where the mirrored person appears in the mirrored full image (x0 -> 2 cx - x0 - s (S - 1)).
- rotation: rotate the 3D joints by angle a about the optical axis (z); the crop is warped by
  A = F R(a) F^-1 about its centre (F = diag(fx, fy): an exact rotation when fx = fy) and the
  crop origin moves so that the principal point follows.
- crop jitter (zoom, shift): a new crop window (x0, y0, scale); 3D unchanged.

The steps run in this order; each sample's crop-pixel affines and 3D linear maps are composed as
(B, 3, 3) matrices, then applied once to the keypoints and joints. A sample a step leaves out keeps
its values bit for bit. `intrinsics` (of the original image) never change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose3d import geometry, skeleton
from pose3d.training.augment_params import AugmentParams


@dataclass(frozen=True)
class AugmentedGeometry:
    """keypoints_2d (B, K, 3), joints_3d (B, 17, 3), crop (B, 3) float32; affine (B, 3, 3) float64, crop
    pixels old -> new, what the image and depth must be warped by."""

    keypoints_2d: np.ndarray
    joints_3d: np.ndarray
    crop: np.ndarray
    affine: np.ndarray


def _eye(count: int) -> np.ndarray:
    return np.broadcast_to(np.eye(3), (count, 3, 3)).copy()


def flip_step(crop: np.ndarray, intrinsics: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mirror: (new crop (B, 3), crop-pixel affine (B, 3, 3), 3D linear map (B, 3, 3))."""
    count = len(crop)
    affine = np.broadcast_to(np.array([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), (count, 3, 3))
    linear = np.broadcast_to(np.diag([-1.0, 1.0, 1.0]), (count, 3, 3))
    new_crop = crop.copy()
    new_crop[:, 0] = 2.0 * intrinsics[:, 2] - crop[:, 0] - crop[:, 2] * (size - 1)
    return new_crop, affine, linear


def mirror(keypoints_2d: np.ndarray, joints_3d: np.ndarray, crop: np.ndarray, intrinsics: np.ndarray,
           image_size: int, keypoints_layout: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The flip alone for every sample, without the matrices: (keypoints_2d, joints_3d, crop), float32.

    Equal to `augment_geometry` with only `flip` set, at a tenth of the cost: keypoint-only batches
    (the lifter's) are mirrored this way, where the matrices cost more than the model's data.
    """
    new_crop, _, _ = flip_step(np.asarray(crop, dtype=np.float64), np.asarray(intrinsics, dtype=np.float64), image_size)
    keypoints = np.array(keypoints_2d, dtype=np.float32)[:, skeleton.get_layout(keypoints_layout).flip_permutation]
    keypoints[..., 0] = (image_size - 1.0) - keypoints[..., 0]
    joints = np.array(joints_3d, dtype=np.float32)[:, skeleton.H36M17.flip_permutation]
    joints[..., 0] = -joints[..., 0]
    return keypoints, joints, new_crop.astype(np.float32)


def rotation_step(crop: np.ndarray, intrinsics: np.ndarray, size: int,
                  angle_rad: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotation about the optical axis by `angle_rad` (B,): (new crop, crop-pixel affine, 3D rotation)."""
    count = len(crop)
    cos, sin = np.cos(angle_rad), np.sin(angle_rad)
    rotation = _eye(count)
    rotation[:, 0, 0], rotation[:, 0, 1], rotation[:, 1, 0], rotation[:, 1, 1] = cos, -sin, sin, cos
    crop_k = geometry.crop_intrinsics(intrinsics, crop)
    aspect = crop_k[:, 0] / crop_k[:, 1]  # fx / fy
    linear = np.empty((count, 2, 2))  # F R F^-1, F = diag(fx, fy)
    linear[:, 0, 0], linear[:, 0, 1], linear[:, 1, 0], linear[:, 1, 1] = cos, -sin * aspect, sin / aspect, cos
    centre = np.full(2, (size - 1) / 2.0)
    affine = _eye(count)
    affine[:, :2, :2] = linear
    affine[:, :2, 2] = centre - linear @ centre
    new_principal = np.einsum("bij,bj->bi", linear, crop_k[:, 2:] - centre) + centre
    new_crop = crop.copy()
    new_crop[:, :2] = intrinsics[:, 2:] - crop[:, 2:3] * new_principal
    return new_crop, affine, rotation


def crop_jitter_step(crop: np.ndarray, size: int, zoom: np.ndarray,
                     shift: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A new crop window, `zoom` (B,) times as wide, centre moved by `shift` (B, 2) sides: (new crop, affine, identity)."""
    count = len(crop)
    origin, scale = crop[:, :2], crop[:, 2]
    new_scale = scale * zoom
    centre = (size - 1) / 2.0
    new_origin = origin + (scale * centre)[:, None] + shift * (size * scale)[:, None] - (new_scale * centre)[:, None]
    affine = _eye(count)
    affine[:, 0, 0] = affine[:, 1, 1] = scale / new_scale
    affine[:, :2, 2] = (origin - new_origin) / new_scale[:, None]
    return np.concatenate([new_origin, new_scale[:, None]], axis=1), affine, _eye(count)


def augment_geometry(keypoints_2d: np.ndarray, joints_3d: np.ndarray, crop: np.ndarray, intrinsics: np.ndarray,
                     image_size: int, keypoints_layout: str, params: AugmentParams) -> AugmentedGeometry:
    """Apply `params`' flip, rotation and crop jitter to a batch's geometry (see the module doc)."""
    crop = np.asarray(crop, dtype=np.float64)
    intrinsics = np.asarray(intrinsics, dtype=np.float64)
    count = len(crop)
    affine, linear = _eye(count), _eye(count)
    steps = (
        (params.flip, lambda: flip_step(crop, intrinsics, image_size)),
        (params.rotate, lambda: rotation_step(crop, intrinsics, image_size, params.angle_rad)),
        (params.jitter_crop, lambda: crop_jitter_step(crop, image_size, params.zoom, params.shift)),
    )
    for mask, step in steps:
        if not mask.any():
            continue
        new_crop, step_affine, step_linear = step()  # reads the crop left by the previous steps
        crop = np.where(mask[:, None], new_crop, crop)
        affine = np.where(mask[:, None, None], step_affine @ affine, affine)
        linear = np.where(mask[:, None, None], step_linear @ linear, linear)
    keypoints = np.asarray(keypoints_2d, dtype=np.float32)
    joints = np.asarray(joints_3d, dtype=np.float64)
    if params.flip.any():  # left and right swap names; the linear maps commute with the relabelling
        flipped = params.flip[:, None, None]
        keypoints = np.where(flipped, keypoints[:, skeleton.get_layout(keypoints_layout).flip_permutation], keypoints)
        joints = np.where(flipped, joints[:, skeleton.H36M17.flip_permutation], joints)
    keypoints = keypoints.copy()
    xy = keypoints[..., :2].astype(np.float64)
    keypoints[..., :2] = xy @ np.swapaxes(affine[:, :2, :2], 1, 2) + affine[:, None, :2, 2]
    return AugmentedGeometry(
        keypoints_2d=keypoints,
        joints_3d=(joints @ np.swapaxes(linear, 1, 2)).astype(np.float32),
        crop=crop.astype(np.float32),
        affine=affine,
    )
