"""Drawing: 2D skeleton overlays, upright 3D skeleton plots, depth colouring, panels and sheets.

Images are RGB uint8 (H, W, 3) numpy arrays throughout. 3D joints are camera space in
millimetres (x right, y down, z forward); plots show them upright by drawing
(x, z, -y), so the person stands on a horizontal ground plane and the camera looks
along the plot's depth axis. Figures are drawn on an Agg canvas of their own (no pyplot
state, no display needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pose3d.skeleton import JointLayout, get_layout

# Left/right colours (RGB): the usual convention of pose papers, left warm, right cool.
LEFT_COLOR = (230, 90, 40)
RIGHT_COLOR = (40, 120, 230)
CENTER_COLOR = (60, 190, 90)
GROUND_TRUTH_COLOR = (30, 30, 30)

# The 2x2 panel: figure size in inches times dpi gives the PNG size in pixels.
PANEL_FIGSIZE_IN = (10.0, 9.0)
PANEL_DPI = 80
PANEL_SIZE_PX = (int(PANEL_FIGSIZE_IN[1] * PANEL_DPI), int(PANEL_FIGSIZE_IN[0] * PANEL_DPI))  # (H, W)


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
            cv2.putText(sheet, str(titles[index]), (x + 2, y + 17), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1,
                        cv2.LINE_AA)
        sheet[y + title_h:y + title_h + image.shape[0], x:x + image.shape[1]] = image[..., :3]
    return sheet


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

    fig = new_figure(PANEL_FIGSIZE_IN, PANEL_DPI)
    ax_image = fig.add_subplot(2, 2, 1)
    ax_image.imshow(image)
    ax_image.set_title(f"input {image.shape[1]}x{image.shape[0]}")
    ax_image.axis("off")

    overlay = image
    for person, person_keypoints in enumerate(keypoints_p):
        overlay = draw_skeleton_2d(overlay, person_keypoints, layout)
        if boxes is not None and person < len(boxes):
            overlay = draw_box(overlay, boxes[person])
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
    ax_2d.set_title(f"2D keypoints ({_as_layout(layout).name}): {people}")
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
        plot_skeleton_3d(ax_3d, pred[person], "h36m17", label="prediction" if person == 0 else None)
    if gt is not None:
        everything.append(gt.reshape(-1, 3))
        for person in range(len(gt)):
            plot_skeleton_3d(
                ax_3d, gt[person], "h36m17", color=GROUND_TRUTH_COLOR, linestyle="--", linewidth=1.5,
                label="ground truth" if person == 0 else None,
            )
    points = np.concatenate(everything, axis=0)
    if len(points):
        draw_ground_plane(ax_3d, points)
        set_equal_3d_axes(ax_3d, points)
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
    panel = figure_to_array(fig)
    if output_path is not None:
        write_png(output_path, panel)
    return panel


def write_png(path: str | Path, image_rgb: np.ndarray) -> None:
    """Write an RGB image as PNG through a temporary name, renamed when complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(np.asarray(image_rgb, dtype=np.uint8), cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode PNG for {path}")
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(encoded.tobytes())
    partial.replace(path)
