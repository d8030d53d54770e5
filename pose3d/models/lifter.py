"""A 2D-to-3D lifter: camera-normalised 2D keypoints -> Human3.6M-17 joints (Martinez et al. 2017).

The field's single-frame baseline: no image and no depth, only where the 2D joints are. Keypoints
are read in camera-normalised coordinates ((u - cx) / fx, (v - cy) / fy) of the original image, so
the model does not depend on the image size, the crop or the focal length.
"""

from __future__ import annotations

import torch
from torch import nn

from pose3d import skeleton
from pose3d.config import LifterConfig
from pose3d.models import common

# RMS distance (mm) of the 17 joints from their centroid for an adult; with the 2D RMS radius r of
# the normalised keypoints it gives a reference root depth REFERENCE_RADIUS_MM / r (a weak-perspective
# guess), so the network predicts only log(z / z_ref), a number near 0.
REFERENCE_RADIUS_MM = 500.0
MIN_RADIUS = 1e-4  # normalised units; keeps a degenerate (single-joint) 2D pose finite


def camera_normalised(keypoints: torch.Tensor, intrinsics: torch.Tensor, crop: torch.Tensor) -> torch.Tensor:
    """Keypoints (B, J, 3) in crop pixels -> (B, J, 3) with x, y = ((u - cx) / fx, (v - cy) / fy).

    u, v are original-image pixels (u = x * scale + x0 with crop = (x0, y0, scale)); intrinsics
    (B, 4) = fx, fy, cx, cy of the original image. The score column is kept.
    """
    original = keypoints[..., :2] * crop[:, None, 2:3] + crop[:, None, 0:2]
    normalised = (original - intrinsics[:, None, 2:4]) / intrinsics[:, None, 0:2]
    return torch.cat([normalised, keypoints[..., 2:3]], dim=-1)


def centre_and_radius(points: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centroid (B, 2) and RMS radius (B,) of the present points (B, J, 2); present (B, J) bool."""
    weight = present.to(points.dtype)[..., None]
    count = weight.sum(1).clamp_min(1.0)
    centre = (points * weight).sum(1) / count
    radius = (((points - centre[:, None]) ** 2).sum(-1, keepdim=True) * weight).sum(1) / count
    return centre, radius[:, 0].sqrt().clamp_min(MIN_RADIUS)


class ResidualBlock(nn.Module):
    """Two (Linear, BatchNorm, ReLU, Dropout) layers with a skip connection, as in Martinez et al."""

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features + self.layers(features)


class LifterPoseModel(nn.Module):
    """2D keypoints -> residual MLP -> root-relative joints and the absolute root.

    Input per joint (Human3.6M-17 order): the normalised keypoint minus the 2D centroid, divided
    by the 2D RMS radius, and its score; globally the centroid and log radius (where the person is
    in the field of view, how large). A missing joint (score 0) enters as zeros. Output:
    root-relative joints (mm), the root as its normalised 2D position (the pelvis keypoint plus a
    predicted offset) at a predicted depth log(z / z_ref), z_ref = REFERENCE_RADIUS_MM / radius.
    """

    def __init__(self, config: LifterConfig, keypoints_layout: str) -> None:
        super().__init__()
        self.config = config
        self.keypoints_layout = keypoints_layout
        self.inputs = ("keypoints",)
        joints = common.NUM_JOINTS
        width = config.hidden_dim
        out = nn.Linear(width, joints * 3 + 3)
        nn.init.normal_(out.weight, std=1e-3)
        nn.init.zeros_(out.bias)
        self.network = nn.Sequential(
            nn.Linear(joints * 3 + 3, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(config.dropout),
            *[ResidualBlock(width, config.dropout) for _ in range(config.blocks)],
            out,
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        keypoints = common.clean_keypoints(batch["keypoints_2d"].float())
        keypoints = common.keypoints_to_h36m(keypoints, self.keypoints_layout)
        normalised = camera_normalised(keypoints, batch["intrinsics"].float(), batch["crop"].float())
        present = normalised[..., 2] > 0
        centre, radius = centre_and_radius(normalised[..., :2], present)
        local = (normalised[..., :2] - centre[:, None]) / radius[:, None, None]
        local = torch.where(present[..., None], local, torch.zeros_like(local))
        score = normalised[..., 2:3].clamp(0.0, 1.0)
        features = torch.cat([torch.cat([local, score], -1).flatten(1), centre, radius.log()[:, None]], dim=1)
        raw = common.run_in_float32(self.network, features)

        joints = common.NUM_JOINTS
        root = skeleton.ROOT_JOINT
        relative_mm = 1000.0 * raw[:, : joints * 3].reshape(-1, joints, 3)
        relative_mm = relative_mm - relative_mm[:, root : root + 1]
        pelvis = torch.where(present[:, root, None], normalised[:, root, :2], centre)
        root_xy = pelvis + raw[:, joints * 3 : joints * 3 + 2] * radius[:, None]
        root_depth_mm = (REFERENCE_RADIUS_MM / radius) * torch.exp(raw[:, -1])
        root_mm = torch.cat([root_xy * root_depth_mm[:, None], root_depth_mm[:, None]], dim=1)
        return {
            "joints_rel_mm": relative_mm,
            "root_mm": root_mm,
            "joints_mm": relative_mm + root_mm[:, None],
            "root_depth_mm": root_depth_mm,
        }
