"""Building blocks shared by the pose models: input encodings, a regression head, root recovery.

Crop-pixel convention (as `cv2.warpAffine` with `geometry.crop_affine`): pixel i's centre is
at coordinate i, so a crop of side S spans [-0.5, S - 0.5]. Normalised coordinates map that span
to [-1, 1], the `align_corners=False` convention of `torch.nn.functional.grid_sample`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pose3d import geometry, skeleton

NUM_JOINTS = skeleton.H36M17.num_joints
# Physical extent (mm) a crop is assumed to span: the person box (~1.8 m) times the crop padding.
# With it a crop of side S and focal f (crop pixels) gives a reference depth f * extent / S that is
# within a factor ~1.5 of the true root depth, so the models only predict log(z / z_ref).
REFERENCE_EXTENT_MM = 2000.0
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


def normalise_keypoints(keypoints: torch.Tensor, size: int) -> torch.Tensor:
    """Keypoints (B, J, 3) = (x, y, score) in crop pixels -> (B, J, 3) with x, y in [-1, 1].

    Joints with score 0 (not detected) get coordinates 0 so they carry no stale position.
    """
    xy = normalise_pixels(keypoints[..., :2], size)
    score = keypoints[..., 2:3].clamp(0.0, 1.0)
    xy = torch.where(score > 0, xy, torch.zeros_like(xy))
    return torch.cat([xy, score], dim=-1)


def normalise_image(image: torch.Tensor) -> torch.Tensor:
    """RGB (B, 3, S, S) in [0, 1] -> ImageNet-standardised (what timm backbones expect)."""
    mean = image.new_tensor(IMAGENET_MEAN)[None, :, None, None]
    std = image.new_tensor(IMAGENET_STD)[None, :, None, None]
    return (image - mean) / std


def reference_depth_mm(crop_intrinsics: torch.Tensor, size: int) -> torch.Tensor:
    """Depth (B,) at which REFERENCE_EXTENT_MM spans a crop of side `size` (crop intrinsics (B, 4))."""
    focal = 0.5 * (crop_intrinsics[..., 0] + crop_intrinsics[..., 1])
    return focal * (REFERENCE_EXTENT_MM / size)


def normalise_depth(depth_m: torch.Tensor, reference_mm: torch.Tensor) -> torch.Tensor:
    """Depth maps (B, 1, H, W) in metres -> depth / z_ref - 1 (about [-0.5, 0.5]); 0 where no surface."""
    ratio = depth_m * 1000.0 / reference_mm.reshape(-1, 1, 1, 1) - 1.0
    return torch.where(depth_m > 0, ratio, torch.zeros_like(ratio))


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


class RegressionHead(nn.Module):
    """A two-layer MLP: features (B, in_dim) -> (B, out_dim), last layer initialised small."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(in_dim, hidden_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, hidden_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, out_dim),
        )
        nn.init.normal_(self.layers[-1].weight, std=1e-3)
        nn.init.zeros_(self.layers[-1].bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


def run_in_float32(module: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """Run an output layer outside autocast: bf16 would quantise log-depth to ~1% (40 mm at 4 m)."""
    with torch.autocast(device_type=features.device.type, enabled=False):
        return module(features.float())


def recover_root_mm(
    root_pixel: torch.Tensor, log_depth_ratio: torch.Tensor, crop_intrinsics: torch.Tensor, size: int
) -> torch.Tensor:
    """Absolute root (B, 3) in camera mm from its crop pixel (B, 2) and log(z / z_ref) (B,).

    Differentiable; back-projects through the crop intrinsics (B, 4) with `geometry.pixel_to_camera`.
    """
    depth_mm = reference_depth_mm(crop_intrinsics, size) * torch.exp(log_depth_ratio)
    root = geometry.pixel_to_camera(
        root_pixel[:, None, :], depth_mm[:, None], crop_intrinsics[:, 0:2], crop_intrinsics[:, 2:4]
    )
    return root[:, 0, :]


def root_pixel_guess(keypoints_h36m: torch.Tensor, size: int) -> torch.Tensor:
    """The pelvis keypoint (B, 2) in crop pixels, or the crop centre where the pelvis is missing."""
    pelvis = keypoints_h36m[:, skeleton.ROOT_JOINT]
    centre = torch.full_like(pelvis[:, :2], (size - 1) / 2.0)
    return torch.where(pelvis[:, 2:3] > 0, pelvis[:, :2], centre)


def keypoint_depth_features(
    depth_m: torch.Tensor, keypoints_h36m: torch.Tensor, reference_mm: torch.Tensor, size: int
) -> torch.Tensor:
    """Per-joint depth cues (B, 17, 3): valid, log(d / z_ref), d - d_pelvis (metres); 0 where unknown.

    `d` is the depth map (B, 1, H, W, metres, 0 = no surface) read at each keypoint with nearest
    sampling, so a silhouette edge is never blended with "no surface". Joint 0's row describes the
    pelvis itself (its relative depth is 0), the cue the root depth is predicted from.
    """
    grid = normalise_pixels(keypoints_h36m[..., :2], size).unsqueeze(2)
    depth = nn.functional.grid_sample(depth_m, grid, mode="nearest", padding_mode="border", align_corners=False)
    depth = depth[:, 0, :, 0]  # (B, 17) metres
    valid = (depth > 0) & (keypoints_h36m[..., 2] > 0)
    safe = torch.where(valid, depth, torch.ones_like(depth))
    log_ratio = torch.where(valid, torch.log(safe * 1000.0 / reference_mm[:, None]), torch.zeros_like(depth))
    root = skeleton.ROOT_JOINT
    both = valid & valid[:, root : root + 1]
    relative = torch.where(both, (depth - depth[:, root : root + 1]).clamp(-1.0, 1.0), torch.zeros_like(depth))
    return torch.stack([valid.to(depth.dtype), log_ratio, relative], dim=-1)


MIN_DEPTH_MM = 100.0  # a joint predicted closer than this is clamped: it must stay in front of the camera


def assemble_output(
    joint_offsets: torch.Tensor, root_offset: torch.Tensor, keypoints_h36m: torch.Tensor,
    crop_intrinsics: torch.Tensor, size: int,
) -> dict[str, torch.Tensor]:
    """Turn raw head outputs into the common model output dict, by back-projecting the 2D keypoints.

    The representation is "2.5D": each joint is its 2D keypoint (or the pelvis guess where the
    keypoint is missing) moved by a predicted pixel residual, at the root depth plus a predicted
    relative depth. So an untrained model already has the right x, y up to depth, and the network
    mainly learns relative depths and the root depth.

    joint_offsets (B, 17, 3): (du, dv) in normalised crop units, dz in metres (joint 0's is ignored);
    root_offset (B, 3): (du, dv) of the pelvis from its 2D guess, and log(z / z_ref).
    Returns joints_rel_mm (joint 0 = 0), root_mm, joints_mm (B, 17, 3) camera mm, and root_pixel,
    root_depth_mm.
    """
    half = size / 2.0
    root_pixel = root_pixel_guess(keypoints_h36m, size) + root_offset[:, :2] * half
    root_depth_mm = reference_depth_mm(crop_intrinsics, size) * torch.exp(root_offset[:, 2])
    detected = keypoints_h36m[..., 2:3] > 0
    base = torch.where(detected, keypoints_h36m[..., :2], root_pixel[:, None, :].detach())
    pixels = base + joint_offsets[..., :2] * half
    depth_mm = (root_depth_mm[:, None] + 1000.0 * joint_offsets[..., 2]).clamp_min(MIN_DEPTH_MM)
    root = skeleton.ROOT_JOINT
    pixels = torch.cat([pixels[:, :root], root_pixel[:, None], pixels[:, root + 1 :]], dim=1)
    depth_mm = torch.cat([depth_mm[:, :root], root_depth_mm[:, None], depth_mm[:, root + 1 :]], dim=1)
    joints_mm = geometry.pixel_to_camera(pixels, depth_mm, crop_intrinsics[:, 0:2], crop_intrinsics[:, 2:4])
    root_mm = joints_mm[:, root]
    return {
        "joints_rel_mm": joints_mm - root_mm[:, None],
        "root_mm": root_mm,
        "joints_mm": joints_mm,
        "root_pixel": root_pixel,
        "root_depth_mm": root_depth_mm,
    }


def crop_intrinsics_of(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Crop-pixel intrinsics (B, 4) of a batch from its `intrinsics` and `crop`."""
    return geometry.crop_intrinsics(batch["intrinsics"].float(), batch["crop"].float())


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
