"""Video panels drawn with OpenCV alone: the frame with 2D keypoints beside the 3D skeletons from a fixed viewpoint.

Meant for every frame of a video, where the matplotlib 2x2 figure (`panels.panel_2x2`, kept
for still images) is far too slow. The 3D view looks at the people from the camera's side,
raised by `VIEW_ELEVATION_DEG` and turned by `VIEW_AZIMUTH_DEG`, orthographic, upright (camera
y down is screen down), on a ground grid through the lowest foot; the scale is fixed per video
(`extent_mm`) so motion is not hidden by rescaling. Images are RGB uint8.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from pose3d import viz
from pose3d.geometry import rotation_about_axis
from pose3d.skeleton import H36M17, ROOT_JOINT

VIEW_AZIMUTH_DEG = 30.0
VIEW_ELEVATION_DEG = 15.0
DEFAULT_EXTENT_MM = 2400.0  # side of the square of the world the 3D view shows
BACKGROUND = (248, 248, 248)
GRID_COLOR = (200, 200, 200)


def view_rotation(azimuth_deg: float = VIEW_AZIMUTH_DEG, elevation_deg: float = VIEW_ELEVATION_DEG) -> np.ndarray:
    """(3, 3) rotation from camera space to the view: turn about the vertical (y) axis, then tilt about x."""
    turn = rotation_about_axis([0, 1, 0], math.radians(azimuth_deg))
    tilt = rotation_about_axis([1, 0, 0], -math.radians(elevation_deg))
    return tilt @ turn


class PanelRenderer:
    """Draws panels of one fixed size: `height` pixels tall, the frame scaled to it, a `height` x `height` 3D view.

    `centre_mm` (3,) is the camera-space point the 3D view centres on; None centres each panel on
    the people's mean root.
    """

    def __init__(self, height: int = 480, extent_mm: float = DEFAULT_EXTENT_MM, centre_mm: np.ndarray | None = None):
        self.height = int(height)
        self.extent_mm = float(extent_mm)
        self.centre_mm = None if centre_mm is None else np.asarray(centre_mm, np.float64)
        self.rotation = view_rotation()
        self.bone_colors = [tuple(int(c) for c in color) for color in viz.bone_colors(H36M17)]
        self._background = self._grid()

    def _grid(self) -> np.ndarray:
        """The empty 3D view: background and a ground grid (every 500 mm) seen from the view direction."""
        size = self.height
        canvas = np.full((size, size, 3), BACKGROUND, np.uint8)
        half = self.extent_mm / 2
        ground_y = 0.4 * self.extent_mm  # feet of a standing adult, below a root at the centre
        ticks = np.arange(-half, half + 1, 500.0)
        for tick in ticks:
            for start, end in (([tick, ground_y, -half], [tick, ground_y, half]),
                               ([-half, ground_y, tick], [half, ground_y, tick])):
                a, b = self._to_pixels(np.array([start, end], np.float64))
                cv2.line(canvas, tuple(a), tuple(b), GRID_COLOR, 1, cv2.LINE_AA)
        return canvas

    def _to_pixels(self, points_mm: np.ndarray) -> np.ndarray:
        """(N, 3) view-centred camera-space mm -> (N, 2) int pixels of the 3D view."""
        viewed = points_mm @ self.rotation.T
        scale = self.height / self.extent_mm
        pixels = viewed[:, :2] * scale + self.height / 2
        return np.round(pixels).astype(np.int32)

    def skeletons_3d(self, joints_mm: np.ndarray) -> np.ndarray:
        """The 3D view (height, height, 3) of (P, 17, 3) camera-space joints; people with NaN joints are left out."""
        canvas = self._background.copy()
        joints_mm = np.asarray(joints_mm, np.float64).reshape(-1, 17, 3)
        present = np.all(np.isfinite(joints_mm), axis=(1, 2))
        if not present.any():
            return canvas
        centre = self.centre_mm if self.centre_mm is not None else joints_mm[present, ROOT_JOINT].mean(0)
        thickness = max(2, self.height // 160)
        # Farthest person first, so nearer people are drawn over them.
        for person in sorted(np.flatnonzero(present), key=lambda p: -joints_mm[p, ROOT_JOINT, 2]):
            pixels = self._to_pixels(joints_mm[person] - centre)
            for (parent, child), color in zip(H36M17.bones, self.bone_colors, strict=True):
                cv2.line(canvas, tuple(pixels[parent]), tuple(pixels[child]), color, thickness, cv2.LINE_AA)
            for point in pixels:
                cv2.circle(canvas, tuple(point), thickness + 1, (40, 40, 40), -1, cv2.LINE_AA)
        return canvas

    def render(
        self, image_rgb: np.ndarray, keypoints: np.ndarray, keypoints_layout: str, joints_mm: np.ndarray,
        labels: list[str] | None = None, boxes_xyxy: np.ndarray | None = None,
    ) -> np.ndarray:
        """(height, width + height, 3) RGB: the frame with every person's 2D keypoints (P, 17, 3), then the 3D view."""
        scale = self.height / image_rgb.shape[0]
        width = max(1, round(image_rgb.shape[1] * scale))
        frame = image_rgb if scale == 1.0 else cv2.resize(image_rgb, (width, self.height), interpolation=cv2.INTER_AREA)
        frame = np.ascontiguousarray(frame)
        keypoints = np.asarray(keypoints, np.float64).reshape(-1, 17, 3)
        for index, person in enumerate(keypoints):
            scaled = person.copy()
            scaled[:, :2] *= scale
            frame = viz.draw_skeleton_2d(frame, scaled, keypoints_layout)
            if labels is not None and boxes_xyxy is not None and index < len(boxes_xyxy):
                x0, y0 = (int(v * scale) for v in np.asarray(boxes_xyxy)[index, :2])
                cv2.putText(frame, labels[index], (x0, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                            (255, 255, 0), 1, cv2.LINE_AA)
        return np.concatenate([frame, self.skeletons_3d(joints_mm)], axis=1)
