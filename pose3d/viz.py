"""Drawing primitives: 2D skeleton overlays, upright 3D skeleton plots, depth colouring, contact sheets.

Images are RGB uint8 (H, W, 3) numpy arrays throughout. 3D joints are camera space in
millimetres (x right, y down, z forward); plots show them upright by drawing
(x, z, -y), so the person stands on a horizontal ground plane and the camera looks
along the plot's depth axis. Figures are drawn on an Agg canvas of their own (no pyplot
state, no display needed). Composite panels live with their user (`pose3d.inference.panels`).
"""

from __future__ import annotations

from typing import Any

import cv2
import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pose3d.skeleton import JointLayout, get_layout

# Left/right colours (RGB): the usual convention of pose papers, left warm, right cool.
LEFT_COLOR = (230, 90, 40)
RIGHT_COLOR = (40, 120, 230)
CENTER_COLOR = (60, 190, 90)
GROUND_TRUTH_COLOR = (30, 30, 30)


def _as_layout(layout: str | JointLayout) -> JointLayout:
    return layout if isinstance(layout, JointLayout) else get_layout(layout)


def _side(joint_name: str) -> str:
    if joint_name.startswith("l_"):
        return "left"
    if joint_name.startswith("r_"):
        return "right"
    return "center"


def bone_colors(layout: str | JointLayout) -> list[tuple[int, int, int]]:
    """RGB colour of each bone in `layout.bones` order, by the side of the child joint."""
    layout = _as_layout(layout)
    palette = {"left": LEFT_COLOR, "right": RIGHT_COLOR, "center": CENTER_COLOR}
    return [palette[_side(layout.joint_names[child])] for _, child in layout.bones]


def _rgb01(color: tuple[int, int, int] | str) -> Any:
    if isinstance(color, str):
        return color
    return tuple(c / 255.0 for c in color)


def draw_skeleton_2d(
    image_rgb: np.ndarray,
    keypoints: np.ndarray,
    layout: str | JointLayout,
    color: tuple[int, int, int] | None = None,
    min_score: float = 0.1,
) -> np.ndarray:
    """A copy of `image_rgb` with one skeleton drawn on it.

    keypoints: (J, 2) pixels or (J, 3) pixels + score; joints scoring below `min_score`
    or not finite are left out with their bones. `color=None` colours left/right sides.
    """
    layout = _as_layout(layout)
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.shape != (layout.num_joints, 2) and keypoints.shape != (layout.num_joints, 3):
        raise ValueError(f"keypoints must be ({layout.num_joints}, 2|3) for {layout.name}, got {keypoints.shape}")
    canvas = np.ascontiguousarray(image_rgb, dtype=np.uint8).copy()
    visible = np.isfinite(keypoints[:, :2]).all(axis=1)
    if keypoints.shape[1] == 3:
        visible &= keypoints[:, 2] >= min_score
    size = max(canvas.shape[:2])
    thickness = max(1, round(size / 200))
    radius = max(2, round(size / 130))
    colors = bone_colors(layout) if color is None else [color] * len(layout.bones)
    for (parent, child), bone_color in zip(layout.bones, colors, strict=True):
        if visible[parent] and visible[child]:
            start = tuple(int(round(v)) for v in keypoints[parent, :2])
            end = tuple(int(round(v)) for v in keypoints[child, :2])
            cv2.line(canvas, start, end, tuple(int(c) for c in bone_color), thickness, cv2.LINE_AA)
    for joint in np.flatnonzero(visible):
        centre = tuple(int(round(v)) for v in keypoints[joint, :2])
        cv2.circle(canvas, centre, radius, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(canvas, centre, radius, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def draw_box(
    image_rgb: np.ndarray, box_xyxy: np.ndarray, label: str | None = None, color=(255, 220, 0)
) -> np.ndarray:
    """A copy of `image_rgb` with a person box (x0, y0, x1, y1 pixels) and an optional label."""
    canvas = np.ascontiguousarray(image_rgb, dtype=np.uint8).copy()
    x0, y0, x1, y1 = (int(round(v)) for v in box_xyxy)
    thickness = max(1, round(max(canvas.shape[:2]) / 300))
    cv2.rectangle(canvas, (x0, y0), (x1, y1), color, thickness, cv2.LINE_AA)
    if label:
        scale = max(0.35, max(canvas.shape[:2]) / 900)
        cv2.putText(canvas, label, (x0 + 2, max(y0 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)
    return canvas


def _to_plot(joints_mm: np.ndarray) -> np.ndarray:
    """Camera (x right, y down, z forward) -> plot axes (x, z, -y): the person stands upright."""
    joints_mm = np.asarray(joints_mm, dtype=np.float64)
    return np.stack([joints_mm[..., 0], joints_mm[..., 2], -joints_mm[..., 1]], axis=-1)


def plot_skeleton_3d(
    ax: Any,
    joints_mm: np.ndarray,
    layout: str | JointLayout = "h36m17",
    color: tuple[int, int, int] | str | None = None,
    label: str | None = None,
    linestyle: str = "-",
    linewidth: float = 2.0,
) -> None:
    """Draw one skeleton (J, 3) camera-space mm on a matplotlib 3D axis, upright.

    `color=None` colours left/right sides; `label` names the skeleton once in the legend.
    Non-finite joints are skipped with their bones.
    """
    layout = _as_layout(layout)
    points = _to_plot(joints_mm)
    if points.shape != (layout.num_joints, 3):
        raise ValueError(f"joints must be ({layout.num_joints}, 3) for {layout.name}, got {np.shape(joints_mm)}")
    colors = bone_colors(layout) if color is None else [color] * len(layout.bones)
    labelled = False
    for (parent, child), bone_color in zip(layout.bones, colors, strict=True):
        segment = points[[parent, child]]
        if not np.isfinite(segment).all():
            continue
        ax.plot(
            segment[:, 0], segment[:, 1], segment[:, 2],
            color=_rgb01(bone_color), linestyle=linestyle, linewidth=linewidth,
            label=label if (label and not labelled) else None,
        )
        labelled = True
    finite = points[np.isfinite(points).all(axis=1)]
    if len(finite):
        marker_color = "k" if color is None else _rgb01(color)
        ax.scatter(finite[:, 0], finite[:, 1], finite[:, 2], color=marker_color, s=6, depthshade=False)


def set_equal_3d_axes(ax: Any, points_mm: np.ndarray, margin: float = 0.1) -> None:
    """Equal scale on all three plot axes around camera-space points (..., 3) mm.

    Without this, matplotlib stretches each axis to its data and a person looks squashed.
    """
    points = _to_plot(np.asarray(points_mm).reshape(-1, 3))
    points = points[np.isfinite(points).all(axis=1)]
    if len(points) == 0:
        points = np.zeros((1, 3))
    low, high = points.min(axis=0), points.max(axis=0)
    centre = 0.5 * (low + high)
    half = max(0.5 * float((high - low).max()) * (1 + margin), 250.0)  # never zoom below half a metre
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] - half, centre[1] + half)
    ax.set_zlim(centre[2] - half, centre[2] + half)
    ax.set_box_aspect((1, 1, 1))


def plot_prediction_vs_truth(ax: Any, predicted_mm: np.ndarray, true_mm: np.ndarray, label_size: int = 6) -> None:
    """Root-relative H36M-17 prediction (solid) over ground truth (dashed) on one 3D axis.

    Root-relative, because the absolute root error would hide the pose error.
    """
    pred_rel = predicted_mm - predicted_mm[:1]
    true_rel = true_mm - true_mm[:1]
    plot_skeleton_3d(ax, pred_rel, "h36m17", label="prediction")
    plot_skeleton_3d(ax, true_rel, "h36m17", color=GROUND_TRUTH_COLOR, linestyle="--", linewidth=1.2,
                     label="ground truth")
    set_equal_3d_axes(ax, np.concatenate([pred_rel, true_rel]))
    ax.view_init(elev=15, azim=-70)
    ax.tick_params(labelsize=label_size)


def draw_ground_plane(ax: Any, joints_mm: np.ndarray, margin_mm: float = 300.0, color="0.6") -> None:
    """A translucent floor under the lowest joint of camera-space joints (..., 3) mm.

    The floor is horizontal in plot space (constant camera y), a fair picture for a
    near-level camera such as Human3.6M's.
    """
    points = _to_plot(np.asarray(joints_mm).reshape(-1, 3))
    points = points[np.isfinite(points).all(axis=1)]
    if len(points) == 0:
        return
    low, high = points.min(axis=0) - margin_mm, points.max(axis=0) + margin_mm
    xs, ys = np.meshgrid(np.linspace(low[0], high[0], 6), np.linspace(low[1], high[1], 6))
    floor = np.full_like(xs, points[:, 2].min())
    ax.plot_surface(xs, ys, floor, color=color, alpha=0.25, linewidth=0, shade=False)
    ax.plot_wireframe(xs, ys, floor, color=color, linewidth=0.4, alpha=0.6)


def depth_to_color(
    depth_m: np.ndarray, vmin: float | None = None, vmax: float | None = None, colormap: str = "turbo"
) -> np.ndarray:
    """Depth (H, W) metres -> RGB uint8 (H, W, 3); invalid (<= 0 or non-finite) pixels are black.

    `vmin`/`vmax` default to the 2nd/98th percentile of the valid depths.
    """
    depth_m = np.asarray(depth_m, dtype=np.float64)
    valid = np.isfinite(depth_m) & (depth_m > 0)
    if valid.any():
        lo = float(np.percentile(depth_m[valid], 2)) if vmin is None else float(vmin)
        hi = float(np.percentile(depth_m[valid], 98)) if vmax is None else float(vmax)
    else:
        lo, hi = 0.0, 1.0
    normalised = np.clip((np.where(valid, depth_m, lo) - lo) / max(hi - lo, 1e-6), 0, 1)
    rgb = (matplotlib.colormaps[colormap](normalised)[..., :3] * 255).round().astype(np.uint8)
    rgb[~valid] = 0
    return rgb


def new_figure(figsize_in: tuple[float, float], dpi: int = 100) -> Figure:
    """A matplotlib Figure on its own Agg canvas: no pyplot global state to close or leak."""
    fig = Figure(figsize=figsize_in, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def figure_to_array(fig: Any) -> np.ndarray:
    """Render a matplotlib figure to an RGB uint8 array (H, W, 3)."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


TITLE_FONT, TITLE_SCALE = cv2.FONT_HERSHEY_SIMPLEX, 0.55


def fit_text(text: str, width: int, font: int, scale: float) -> str:
    """`text`, or its end after "..." when it is wider than `width` pixels: a file name's end tells tiles apart."""
    if cv2.getTextSize(text, font, scale, 1)[0][0] <= width:
        return text
    for start in range(1, len(text)):
        shortened = "..." + text[start:]
        if cv2.getTextSize(shortened, font, scale, 1)[0][0] <= width:
            return shortened
    return ""


def contact_sheet(
    images: list[np.ndarray], columns: int, titles: list[str] | None = None, pad: int = 6
) -> np.ndarray:
    """Tile RGB images into one sheet, `columns` wide, each cell the size of the largest image.

    `titles` (one per image) are written in a strip above each cell.
    """
    if not images:
        raise ValueError("contact_sheet needs at least one image")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"{len(titles)} titles for {len(images)} images")
    columns = max(1, min(columns, len(images)))
    rows = -(-len(images) // columns)
    cell_h = max(img.shape[0] for img in images)
    cell_w = max(img.shape[1] for img in images)
    title_h = 24 if titles else 0
    sheet = np.full(
        (rows * (cell_h + title_h + pad) + pad, columns * (cell_w + pad) + pad, 3), 255, dtype=np.uint8
    )
    for index, image in enumerate(images):
        row, col = divmod(index, columns)
        y = pad + row * (cell_h + title_h + pad)
        x = pad + col * (cell_w + pad)
        image = np.asarray(image, dtype=np.uint8)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        if titles:
            title = fit_text(str(titles[index]), cell_w - 4, TITLE_FONT, TITLE_SCALE)
            cv2.putText(sheet, title, (x + 2, y + 17), TITLE_FONT, TITLE_SCALE, (0, 0, 0), 1, cv2.LINE_AA)
        sheet[y + title_h:y + title_h + image.shape[0], x:x + image.shape[1]] = image[..., :3]
    return sheet
