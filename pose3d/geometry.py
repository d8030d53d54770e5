"""Camera and crop geometry, batched, for numpy arrays and torch tensors alike.

Conventions (pinned by tests): millimetres in 3D, pixels in 2D; camera space x right,
y down, z forward; Human3.6M cameras map `X_cam = R @ X_world + t`, and
`pixel = f * X_cam[:2] / X_cam[2] + c`. A crop is (x0, y0, scale) with
`original_pixel = crop_pixel * scale + (x0, y0)`.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

Array = Any  # np.ndarray or torch.Tensor; functions return the type they are given


def _is_torch(x: Array) -> bool:
    """True for a torch tensor, without importing torch (the data stages never need it)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _like(value: Array, reference: Array) -> Array:
    """Convert `value` to the array type, dtype and device of `reference`."""
    if _is_torch(reference):
        import torch

        return torch.as_tensor(value, dtype=reference.dtype, device=reference.device)
    return np.asarray(value, dtype=np.result_type(reference, np.float32))


def _matmul_points(points: Array, matrix: Array) -> Array:
    """points (..., N, 3) @ matrix.T -> (..., N, 3), with matrix (3, 3) or (..., 3, 3)."""
    if _is_torch(points):
        return points @ matrix.transpose(-1, -2)
    return points @ np.swapaxes(matrix, -1, -2)


def world_to_camera(points_world_mm: Array, rotation: Array, translation_mm: Array) -> Array:
    """Human3.6M world (..., N, 3) -> camera (..., N, 3): X_cam = R @ X_world + t."""
    rotation = _like(rotation, points_world_mm)
    translation_mm = _like(translation_mm, points_world_mm)
    return _matmul_points(points_world_mm, rotation) + translation_mm[..., None, :]


def camera_to_world(points_cam_mm: Array, rotation: Array, translation_mm: Array) -> Array:
    """Inverse of `world_to_camera`: X_world = R.T @ (X_cam - t)."""
    rotation = _like(rotation, points_cam_mm)
    translation_mm = _like(translation_mm, points_cam_mm)
    # Row vectors times R equal (R.T @ column vectors).
    return (points_cam_mm - translation_mm[..., None, :]) @ rotation


def camera_to_pixel(points_cam_mm: Array, focal: Array, center: Array) -> Array:
    """Pinhole projection (..., N, 3) -> (..., N, 2); focal and center are (..., 2)."""
    focal = _like(focal, points_cam_mm)[..., None, :]
    center = _like(center, points_cam_mm)[..., None, :]
    return focal * points_cam_mm[..., :2] / points_cam_mm[..., 2:3] + center


def camera_to_pixel_distorted(
    points_cam_mm: Array, focal: Array, center: Array, radial: Array, tangential: Array
) -> Array:
    """Projection with the Human3.6M lens model (radial k1..k3, tangential p1, p2).

    This is the model of the dataset's own `ProjectPointRadial`, as used by VideoPose3D:
    `x' = x * (1 + k1 r^2 + k2 r^4 + k3 r^6 + p . x) + p * r^2` on normalised coordinates.
    """
    focal = _like(focal, points_cam_mm)[..., None, :]
    center = _like(center, points_cam_mm)[..., None, :]
    radial = _like(radial, points_cam_mm)[..., None, :]
    tangential = _like(tangential, points_cam_mm)[..., None, :]
    normalised = points_cam_mm[..., :2] / points_cam_mm[..., 2:3]
    r2 = (normalised**2).sum(-1, **_keepdim(normalised))
    radial_gain = 1 + radial[..., 0:1] * r2 + radial[..., 1:2] * r2**2 + radial[..., 2:3] * r2**3
    tangential_term = (tangential * normalised).sum(-1, **_keepdim(normalised))
    distorted = normalised * (radial_gain + tangential_term) + tangential * r2
    return focal * distorted + center


def _keepdim(x: Array) -> dict[str, bool]:
    return {"keepdim": True} if _is_torch(x) else {"keepdims": True}


def pixel_to_camera(pixels: Array, depth_mm: Array, focal: Array, center: Array) -> Array:
    """Back-project pixels (..., N, 2) at depth z (..., N) -> camera points (..., N, 3)."""
    focal = _like(focal, pixels)[..., None, :]
    center = _like(center, pixels)[..., None, :]
    depth_mm = _like(depth_mm, pixels)[..., None]
    xy = (pixels - center) / focal * depth_mm
    if _is_torch(xy):
        import torch

        return torch.cat([xy, depth_mm], dim=-1)
    return np.concatenate([xy, depth_mm], axis=-1)


def square_crop_from_box(box_xyxy: Array, output_size: int, padding: float = 1.25) -> np.ndarray:
    """A square crop (x0, y0, scale) around a person box, `padding` times its longer side.

    `scale` is original pixels per crop pixel, so the crop covers `output_size * scale`
    original pixels. Shapes: box (..., 4) -> crop (..., 3).
    """
    box_xyxy = np.asarray(box_xyxy, dtype=np.float64)
    centre_x = 0.5 * (box_xyxy[..., 0] + box_xyxy[..., 2])
    centre_y = 0.5 * (box_xyxy[..., 1] + box_xyxy[..., 3])
    side = padding * np.maximum(box_xyxy[..., 2] - box_xyxy[..., 0], box_xyxy[..., 3] - box_xyxy[..., 1])
    side = np.maximum(side, 1.0)
    scale = side / output_size
    return np.stack([centre_x - side / 2, centre_y - side / 2, scale], axis=-1).astype(np.float32)


def crop_to_image(crop_pixels: Array, crop: Array) -> Array:
    """Crop pixels (..., N, 2) -> original image pixels, crop (..., 3) = (x0, y0, scale)."""
    crop = _like(crop, crop_pixels)
    return crop_pixels * crop[..., None, 2:3] + crop[..., None, 0:2]


def image_to_crop(image_pixels: Array, crop: Array) -> Array:
    """Original image pixels (..., N, 2) -> crop pixels; inverse of `crop_to_image`."""
    crop = _like(crop, image_pixels)
    return (image_pixels - crop[..., None, 0:2]) / crop[..., None, 2:3]


def crop_affine(crop: Array) -> np.ndarray:
    """2x3 matrix mapping original pixels to crop pixels, for `cv2.warpAffine`."""
    x0, y0, scale = (float(v) for v in np.asarray(crop))
    return np.array([[1 / scale, 0, -x0 / scale], [0, 1 / scale, -y0 / scale]], dtype=np.float64)


def crop_intrinsics(intrinsics: Array, crop: Array) -> Array:
    """Intrinsics (fx, fy, cx, cy) of the original image -> those of the crop's pixels."""
    intrinsics = _like(intrinsics, intrinsics)
    crop = _like(crop, intrinsics)
    scale = crop[..., 2:3]
    focal = intrinsics[..., 0:2] / scale
    centre = (intrinsics[..., 2:4] - crop[..., 0:2]) / scale
    if _is_torch(focal):
        import torch

        return torch.cat([focal, centre], dim=-1)
    return np.concatenate([focal, centre], axis=-1)


def procrustes_align(predicted: Array, target: Array) -> Array:
    """Similarity-align `predicted` to `target` (scale, rotation, translation; no reflection).

    Shapes (..., N, 3), numpy or torch (differentiable, on the tensors' device). Umeyama's
    closed form per batch element; a reflection is never used: when the best orthogonal map
    is improper, the smallest singular direction is flipped. One implementation for both array
    types: every call below exists under the same name in numpy and torch.
    """
    if _is_torch(predicted):
        import torch as xp
    else:
        xp = np
    mean_target = target.mean(-2)[..., None, :]
    pred_c = predicted - predicted.mean(-2)[..., None, :]
    target_c = target - mean_target
    u, s, vh = xp.linalg.svd(xp.swapaxes(target_c, -1, -2) @ pred_c)
    sign = xp.sign(xp.linalg.det(u @ vh))
    correction = xp.ones_like(s)
    correction[..., -1] = xp.where(sign == 0, 1.0, sign)
    rotation = u @ (correction[..., :, None] * vh)
    variance = xp.clip((pred_c**2).sum(-1).sum(-1), 1e-12, None)
    scale = (s * correction).sum(-1) / variance
    return scale[..., None, None] * pred_c @ xp.swapaxes(rotation, -1, -2) + mean_target


def rotation_about_axis(axis: Array, angle_rad: float) -> np.ndarray:
    """Rodrigues' formula: the 3x3 rotation by `angle_rad` about unit `axis`."""
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle_rad) * k + (1 - np.cos(angle_rad)) * k @ k
