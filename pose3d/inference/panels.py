"""Inference panels: one image's result on four axes (image, 2D keypoints, depth, 3D skeletons).

Built from the drawing primitives of `pose3d.viz`; `run_inference` writes one per image
under `panels/` and tiles them into `contact_sheet.png`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from pose3d import io as files
from pose3d import viz
from pose3d.skeleton import JointLayout, get_layout

# The 2x2 panel: figure size in inches times dpi gives the PNG size in pixels.
PANEL_FIGSIZE_IN = (10.0, 9.0)
PANEL_DPI = 80
PANEL_SIZE_PX = (int(PANEL_FIGSIZE_IN[1] * PANEL_DPI), int(PANEL_FIGSIZE_IN[0] * PANEL_DPI))  # (H, W)


def _as_people(array: np.ndarray | None, last: int) -> np.ndarray:
    """(J, C) or (P, J, C) or None -> (P, J, C)."""
    if array is None:
        return np.zeros((0, 17, last))
    array = np.asarray(array, dtype=np.float64)
    return array[None] if array.ndim == 2 else array


def _message(ax: Any, text: str, three_d: bool = False) -> None:
    """A boxed message in the middle of an axis, readable over any image."""
    style = {
        "transform": ax.transAxes, "ha": "center", "va": "center", "fontsize": 14, "color": "0.15",
        "bbox": {"facecolor": "white", "alpha": 0.85, "edgecolor": "0.5", "boxstyle": "round"},
    }
    if three_d:
        ax.text2D(0.5, 0.5, text, **style)
    else:
        ax.text(0.5, 0.5, text, **style)


def _zoom_window(boxes: np.ndarray | None, image_shape: tuple[int, int]) -> tuple[float, ...] | None:
    """A square window around all person boxes (1.3x their extent), or None when it would not zoom in."""
    if boxes is None or len(boxes) == 0:
        return None
    boxes = np.asarray(boxes, dtype=np.float64)
    low, high = boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)
    centre = 0.5 * (low + high)
    half = 0.65 * max(float((high - low).max()), 16.0)
    height, width = image_shape
    if 2 * half >= 0.8 * max(height, width):
        return None
    return centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half


def panel_2x2(
    image: np.ndarray,
    keypoints: np.ndarray | None,
    layout: str | JointLayout,
    depth: np.ndarray | None,
    joints_pred_mm: np.ndarray | None,
    joints_gt_mm: np.ndarray | None = None,
    title: str = "",
    boxes: np.ndarray | None = None,
    scores: np.ndarray | None = None,
    output_path: str | Path | None = None,
) -> np.ndarray:
    """One image's result on four axes: original, 2D keypoints, depth (metres), 3D skeletons.

    keypoints (P, J, 2|3) image pixels in `layout`; depth (H', W') metres or None;
    joints_pred_mm / joints_gt_mm (P, 17, 3) Human3.6M-17 camera-space mm. P = 0 draws
    "no person detected". The 3D axes are equal with a ground plane under the lowest
    joint; prediction (left/right colours, solid) and ground truth (dark, dashed) share them.
    Returns the panel as RGB uint8 of PANEL_SIZE_PX; with `output_path` also writes a PNG.
    """
    image = np.asarray(image, dtype=np.uint8)
    keypoints_p = _as_people(keypoints, 3)
    pred = _as_people(joints_pred_mm, 3)
    gt = _as_people(joints_gt_mm, 3) if joints_gt_mm is not None else None
    num_people = len(pred)

    fig = viz.new_figure(PANEL_FIGSIZE_IN, PANEL_DPI)
    ax_image = fig.add_subplot(2, 2, 1)
    ax_image.imshow(image)
    ax_image.set_title(f"input {image.shape[1]}x{image.shape[0]}")
    ax_image.axis("off")

    overlay = image
    for person, person_keypoints in enumerate(keypoints_p):
        overlay = viz.draw_skeleton_2d(overlay, person_keypoints, layout)
        if boxes is not None and person < len(boxes):
            overlay = viz.draw_box(overlay, boxes[person])
    ax_2d = fig.add_subplot(2, 2, 2)
    ax_2d.imshow(overlay)
    for person in range(min(len(keypoints_p), 0 if boxes is None else len(boxes))):
        # Labels as matplotlib text: they stay readable whatever the zoom.
        label = f"#{person}" + (f" {float(scores[person]):.2f}" if scores is not None else "")
        ax_2d.text(
            float(boxes[person][0]), float(boxes[person][1]), label, fontsize=8, va="bottom", ha="left",
            bbox={"facecolor": (1.0, 0.86, 0.0), "alpha": 0.8, "pad": 1, "linewidth": 0}, clip_on=True,
        )
    people = f"{len(keypoints_p)} {'person' if len(keypoints_p) == 1 else 'people'}"
    zoom = _zoom_window(boxes, image.shape[:2])
    if zoom is not None:
        x0, y0, x1, y1 = zoom
        ax_2d.set_xlim(x0, x1)
        ax_2d.set_ylim(y1, y0)
        people += ", zoomed"
    ax_2d.set_title(f"2D keypoints ({get_layout(layout).name if isinstance(layout, str) else layout.name}): {people}")
    ax_2d.axis("off")
    if len(keypoints_p) == 0:
        _message(ax_2d, "no person detected")

    ax_depth = fig.add_subplot(2, 2, 3)
    if depth is None:
        ax_depth.axis("off")
        _message(ax_depth, "no depth map")
    else:
        depth = np.asarray(depth, dtype=np.float64)
        valid = np.isfinite(depth) & (depth > 0)
        masked = np.ma.masked_where(~valid, depth)
        # Percentile limits: a few wild pixels (sky, a depth model's outliers) must not wash out the person.
        limits = np.percentile(depth[valid], [2, 98]) if valid.any() else (0.0, 1.0)
        shown = ax_depth.imshow(masked, cmap="turbo", vmin=float(limits[0]), vmax=float(max(limits[1], limits[0] + 1e-3)))
        bar = fig.colorbar(shown, ax=ax_depth, fraction=0.046, pad=0.04)
        bar.set_label("depth (m)")
        ax_depth.set_title("depth")
        ax_depth.set_xticks([])
        ax_depth.set_yticks([])

    ax_3d = fig.add_subplot(2, 2, 4, projection="3d")
    everything = [pred.reshape(-1, 3)]
    for person in range(num_people):
        viz.plot_skeleton_3d(ax_3d, pred[person], "h36m17", label="prediction" if person == 0 else None)
    if gt is not None:
        everything.append(gt.reshape(-1, 3))
        for person in range(len(gt)):
            viz.plot_skeleton_3d(
                ax_3d, gt[person], "h36m17", color=viz.GROUND_TRUTH_COLOR, linestyle="--", linewidth=1.5,
                label="ground truth" if person == 0 else None,
            )
    points = np.concatenate(everything, axis=0)
    if len(points):
        viz.draw_ground_plane(ax_3d, points)
        viz.set_equal_3d_axes(ax_3d, points)
        ax_3d.legend(loc="upper left", fontsize=9)
    else:
        ax_3d.set_axis_off()
        _message(ax_3d, "no person detected", three_d=True)
    ax_3d.set_xlabel("x (mm)")
    ax_3d.set_ylabel("z, depth (mm)")
    ax_3d.set_zlabel("-y, up (mm)")
    ax_3d.tick_params(labelsize=7)
    for axis in (ax_3d.xaxis, ax_3d.yaxis, ax_3d.zaxis):
        axis.set_major_locator(MaxNLocator(5))
    ax_3d.view_init(elev=15, azim=-70)
    ax_3d.set_title("3D, camera space")
    if title:
        fig.suptitle(title, fontsize=12)
    # Fixed margins instead of tight_layout: it renders the figure twice, a third of the panel's cost.
    fig.subplots_adjust(left=0.02, right=0.96, top=0.92, bottom=0.03, wspace=0.12, hspace=0.12)
    panel = viz.figure_to_array(fig)
    if output_path is not None:
        files.write_png(output_path, panel)
    return panel

