"""Drawing: 2D skeletons, upright equal-axis 3D plots, depth colours, contact sheets, the inference 2x2 panel."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pose3d import viz
from pose3d.inference import panels
from pose3d.skeleton import H36M17
from pose3d.testing.samples import TEMPLATE_MM


def standing_person_mm(depth_mm: float = 4000.0) -> np.ndarray:
    """The standing template pose in camera space (y down), pelvis at (0, 0, depth)."""
    return TEMPLATE_MM + np.array([0.0, 0.0, depth_mm])


def test_draw_skeleton_2d_colours_left_and_right_and_skips_low_scores():
    image = np.zeros((100, 100, 3), np.uint8)
    keypoints = np.zeros((17, 3))
    keypoints[:, 2] = 1.0
    keypoints[H36M17.index("l_shoulder"), :2] = (20, 20)
    keypoints[H36M17.index("l_elbow"), :2] = (20, 80)
    keypoints[H36M17.index("r_shoulder"), :2] = (80, 20)
    keypoints[H36M17.index("r_elbow"), :2] = (80, 80)
    keypoints[H36M17.index("r_elbow"), 2] = 0.0  # below min_score: the right upper arm is not drawn
    others = [i for i in range(17) if i not in (11, 12, 14, 15)]
    keypoints[others, 2] = 0.0
    drawn = viz.draw_skeleton_2d(image, keypoints, "h36m17")
    assert drawn.shape == image.shape and not drawn[:, :10].any() and image.sum() == 0  # input untouched
    left = drawn[50, 19:22].max(axis=0).astype(int)  # anti-aliased line: take its brightest pixel
    assert left[0] > 150 and left[0] > 2 * left[2]  # LEFT_COLOR is warm (red > blue)
    assert not drawn[50, 80].any()
    with pytest.raises(ValueError, match="keypoints must be"):
        viz.draw_skeleton_2d(image, np.zeros((5, 2)), "coco17")


def test_equal_axes_and_upright_plot():
    fig = viz.new_figure((4, 4), 50)
    ax = fig.add_subplot(projection="3d")
    joints = standing_person_mm()
    viz.plot_skeleton_3d(ax, joints, label="prediction")
    viz.set_equal_3d_axes(ax, joints)
    spans = [np.diff(limits)[0] for limits in (ax.get_xlim(), ax.get_ylim(), ax.get_zlim())]
    assert np.allclose(spans, spans[0])
    # Plot z is -camera y: the head is above the feet.
    head_z, ankle_z = -joints[H36M17.index("head"), 1], -joints[H36M17.index("r_ankle"), 1]
    low, high = ax.get_zlim()
    assert low <= ankle_z < head_z <= high
    assert viz.figure_to_array(fig).shape == (200, 200, 3)


def test_depth_to_color_marks_invalid_pixels_black():
    depth = np.linspace(1.0, 5.0, 64).reshape(8, 8)
    depth[0, 0] = 0.0
    depth[1, 1] = np.nan
    colored = viz.depth_to_color(depth, vmin=1.0, vmax=5.0)
    assert colored.shape == (8, 8, 3) and colored.dtype == np.uint8
    assert not colored[0, 0].any() and not colored[1, 1].any()
    assert not np.array_equal(colored[2, 0], colored[7, 7])  # near and far differ


def test_contact_sheet_tiles_images_of_different_sizes():
    images = [np.full((30, 40, 3), 50, np.uint8), np.full((20, 60, 3), 100, np.uint8), np.zeros((10, 10, 3), np.uint8)]
    sheet = viz.contact_sheet(images, columns=2, titles=["a", "b", "c"], pad=5)
    assert sheet.shape == (2 * (30 + 24 + 5) + 5, 2 * (60 + 5) + 5, 3)
    with pytest.raises(ValueError):
        viz.contact_sheet([], columns=2)


def test_panel_2x2_with_ground_truth_and_empty_panel(tmp_path):
    image = np.full((96, 128, 3), 90, np.uint8)
    joints = standing_person_mm()
    pixels = 200 * joints[:, :2] / joints[:, 2:] + (64, 48)
    keypoints = np.concatenate([pixels, np.ones((17, 1))], axis=1)[None]
    depth = np.full((96, 128), 4.5, np.float32)
    path = tmp_path / "panel.png"
    panel = panels.panel_2x2(
        image, keypoints, "h36m17", depth, joints[None], joints[None] + 20, title="one person",
        boxes=np.array([[40, 10, 90, 90]]), scores=np.array([0.9]), output_path=path,
    )
    assert panel.shape == (*panels.PANEL_SIZE_PX, 3)
    written = cv2.imread(str(path))
    assert written is not None and written.shape == panel.shape
    empty = panels.panel_2x2(image, None, "coco17", None, np.zeros((0, 17, 3)), title="nobody")
    assert empty.shape == panel.shape
    assert not np.array_equal(empty, panel)


def test_a_long_title_stays_in_its_own_cell_and_keeps_its_end():
    """Inference titles are image paths, far wider than a tile: they were written over the next tile."""
    images = [np.zeros((40, 120, 3), np.uint8)] * 2
    long = "s_09_act_02_subact_01_ca_01/s_09_act_02_subact_01_ca_01_000021.jpg"
    sheet = viz.contact_sheet(images, columns=2, titles=[long, ""], pad=6)
    second_title_strip = sheet[6:6 + 24, 6 + 120 + 6:]
    assert (second_title_strip == 255).all()
    fitted = viz.fit_text(long, 116, viz.TITLE_FONT, viz.TITLE_SCALE)
    assert fitted.startswith("...") and long.endswith(fitted[3:])
    assert viz.fit_text("S9", 116, viz.TITLE_FONT, viz.TITLE_SCALE) == "S9"
