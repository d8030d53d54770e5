"""Building blocks shared by the pose models: keypoint clean-up and layout, image inputs, float32 output layers.

Crop-pixel convention (as `cv2.warpAffine` with `geometry.crop_affine`): pixel i's centre is
at coordinate i, so a crop of side S spans [-0.5, S - 0.5]. Normalised coordinates map that span
to [-1, 1], the `align_corners=False` convention of `torch.nn.functional.grid_sample`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pose3d import skeleton

NUM_JOINTS = skeleton.H36M17.num_joints
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalise_pixels(pixels: torch.Tensor, size: int) -> torch.Tensor:
    """Crop pixels (..., 2) of a crop of side `size` -> [-1, 1] (grid_sample, align_corners=False)."""
    return (pixels + 0.5) * (2.0 / size) - 1.0


def clean_keypoints(keypoints: torch.Tensor) -> torch.Tensor:
    """Keypoints (B, J, 3) with every missing joint as (0, 0, 0): score <= 0 or a non-finite value.

    A missing joint must not leak NaN (or a stale position) into heatmaps, tokens or the output.
    """
    finite = torch.isfinite(keypoints).all(dim=-1, keepdim=True)
    present = finite & (keypoints[..., 2:3] > 0)
    return torch.where(present, keypoints, torch.zeros_like(keypoints))


def normalise_image(image: torch.Tensor) -> torch.Tensor:
    """RGB (B, 3, S, S) in [0, 1] -> ImageNet-standardised (what timm backbones expect)."""
    mean = image.new_tensor(IMAGENET_MEAN)[None, :, None, None]
    std = image.new_tensor(IMAGENET_STD)[None, :, None, None]
    return (image - mean) / std


def keypoint_heatmaps(keypoints: torch.Tensor, size: int, heatmap_size: int, sigma: float) -> torch.Tensor:
    """Gaussian heatmaps (B, J, H, H) from keypoints (B, J, 3) in crop pixels of a crop of side `size`.

    Each map peaks at the keypoint with height equal to its score (0 = missing joint, empty map);
    `sigma` is in heatmap pixels.
    """
    scale = heatmap_size / size
    centres = (keypoints[..., :2] + 0.5) * scale - 0.5  # heatmap pixel coordinates
    axis = torch.arange(heatmap_size, device=keypoints.device, dtype=keypoints.dtype)
    dx = axis[None, None, :] - centres[..., 0:1]  # (B, J, H)
    dy = axis[None, None, :] - centres[..., 1:2]
    gauss_x = torch.exp(-0.5 * (dx / sigma) ** 2)
    gauss_y = torch.exp(-0.5 * (dy / sigma) ** 2)
    score = keypoints[..., 2].clamp(0.0, 1.0)
    return score[..., None, None] * gauss_y[..., :, None] * gauss_x[..., None, :]


def _coco_to_h36m_matrix() -> tuple[np.ndarray, np.ndarray]:
    """The linear map of `skeleton.coco_to_h36m` on coordinates, and which COCO joints feed each joint."""
    matrix = skeleton.coco_to_h36m(np.eye(skeleton.COCO17.num_joints, dtype=np.float64))  # (17 h36m, 17 coco)
    return matrix.astype(np.float32), np.abs(matrix) > 0


_COCO_TO_H36M, _COCO_TO_H36M_SOURCES = _coco_to_h36m_matrix()


def keypoints_to_h36m(keypoints: torch.Tensor, layout: str) -> torch.Tensor:
    """Keypoints (B, 17, 3) in `layout` -> Human3.6M-17 order (B, 17, 3), as `skeleton.coco_to_h36m`.

    A derived joint's score is the minimum score of the joints it is made from.
    """
    if layout == skeleton.H36M17.name:
        return keypoints
    if layout != skeleton.COCO17.name:
        skeleton.get_layout(layout)  # raises with the known names
        raise ValueError(f"no keypoint conversion from layout {layout!r} to h36m17")
    matrix = keypoints.new_tensor(_COCO_TO_H36M)
    xy = torch.einsum("hc,bcd->bhd", matrix, keypoints[..., :2])
    sources = torch.as_tensor(_COCO_TO_H36M_SOURCES, device=keypoints.device)
    scores = keypoints[..., 2][:, None, :].expand(-1, NUM_JOINTS, -1)  # (B, h36m, coco)
    scores = torch.where(sources[None], scores, torch.full_like(scores, float("inf"))).amin(-1)
    return torch.cat([xy, scores[..., None]], dim=-1)


def run_in_float32(module: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """Run an output layer outside autocast: bf16 would quantise log-depth to ~1% (40 mm at 4 m)."""
    with torch.autocast(device_type=features.device.type, enabled=False):
        return module(features.float())


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
