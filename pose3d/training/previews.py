"""Validation previews for TensorBoard: the input crop with its 2D keypoints beside predicted vs true 3D."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch
from matplotlib.figure import Figure

from pose3d import metrics, viz


def crop_to_uint8(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """A (3, S, S) float [0, 1] crop -> (S, S, 3) uint8 RGB."""
    array = image.detach().cpu().float().numpy() if torch.is_tensor(image) else np.asarray(image, dtype=np.float32)
    return (np.clip(array.transpose(1, 2, 0), 0, 1) * 255).round().astype(np.uint8)


def crop_with_keypoints(crop_rgb: np.ndarray, keypoints: np.ndarray, keypoints_layout: str, min_side: int = 192) -> np.ndarray:
    """A crop (S, S, 3) uint8 enlarged to at least `min_side` pixels, its 2D keypoints (17, 2|3) drawn on it.

    Small crops (32-64 px) are enlarged first so that the skeleton lines stay readable.
    """
    factor = max(1, -(-min_side // crop_rgb.shape[0]))
    keypoints = np.array(keypoints, dtype=np.float64)
    if factor > 1:
        crop_rgb = cv2.resize(crop_rgb, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
        keypoints[:, :2] = (keypoints[:, :2] + 0.5) * factor - 0.5  # pixel centres stay on pixel centres
    return viz.draw_skeleton_2d(crop_rgb, keypoints, keypoints_layout)


def preview_figure(
    batch: dict[str, Any], predicted_mm: torch.Tensor | np.ndarray, keypoints_layout: str, count: int
) -> Figure:
    """One row per sample: crop + 2D keypoints | 3D prediction (coloured) vs ground truth (dashed).

    batch: image (B, 3, S, S), keypoints_2d (B, 17, 3) crop px, joints_3d (B, 17, 3) mm;
    predicted_mm (B, 17, 3) camera-space mm. Draws the first `count` samples.
    """
    count = max(1, min(count, len(predicted_mm)))
    predicted = np.asarray(predicted_mm, dtype=np.float64)
    truth = np.asarray(batch["joints_3d"], dtype=np.float64)
    figure = viz.new_figure((6.0, 3.0 * count), dpi=80)
    for row in range(count):
        ax_image = figure.add_subplot(count, 2, 2 * row + 1)
        if "image" in batch:
            crop = crop_to_uint8(batch["image"][row])
        else:  # a keypoint-only model's batch: draw its 2D input on a blank crop
            side = int(np.ceil(np.nanmax(np.abs(np.asarray(batch["keypoints_2d"][row])[:, :2]), initial=63.0))) + 1
            crop = np.full((side, side, 3), 255, np.uint8)
        ax_image.imshow(crop_with_keypoints(crop, np.asarray(batch["keypoints_2d"][row]), keypoints_layout))
        ax_image.axis("off")
        ax_3d = figure.add_subplot(count, 2, 2 * row + 2, projection="3d")
        viz.plot_prediction_vs_truth(ax_3d, predicted[row], truth[row])
        ax_3d.set_title(f"MPJPE {float(metrics.mpjpe(predicted[row], truth[row])):.0f} mm", fontsize=9)
        if row == 0:
            ax_3d.legend(loc="upper left", fontsize=7)
    figure.tight_layout()
    return figure
