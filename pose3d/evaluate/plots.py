"""Evaluation figures: per-joint error bars and a sheet of the worst and median predictions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pose3d import io as files
from pose3d import viz
from pose3d.skeleton import H36M17


def plot_per_joint(model_mm: Sequence[float], baseline_mm: Sequence[float], path: str | Path, title: str) -> None:
    """Bar chart of the per-joint MPJPE (mm) of the model beside the mean-pose baseline -> PNG."""
    names = H36M17.joint_names
    positions = np.arange(len(names))
    figure = viz.new_figure((10.0, 4.0), dpi=100)
    ax = figure.add_subplot(1, 1, 1)
    ax.bar(positions - 0.2, baseline_mm, width=0.4, color="0.7", label="mean-pose baseline")
    ax.bar(positions + 0.2, model_mm, width=0.4, color="tab:blue", label="model")
    ax.set_xticks(positions, names, rotation=45, ha="right")
    ax.set_ylabel("MPJPE (mm)")
    ax.set_title(title)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    files.write_png(path, viz.figure_to_array(figure))


def worst_and_median(errors_mm: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the `count` largest errors (worst first) and of `count` errors around the median."""
    order = np.argsort(errors_mm, kind="stable")
    count = max(1, min(count, len(order)))
    worst = order[::-1][:count]
    middle = len(order) // 2
    start = max(0, min(middle - count // 2, len(order) - count))
    return worst, order[start:start + count]


def plot_worst_median_sheet(
    predicted_mm: np.ndarray,
    true_mm: np.ndarray,
    errors_mm: np.ndarray,
    labels: Sequence[str],
    count: int,
    path: str | Path,
    crops: dict[int, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the worst and the median predictions (root-relative 3D vs ground truth) -> PNG.

    predicted_mm / true_mm (N, 17, 3); errors_mm (N,) MPJPE; labels (N,) per-sample captions;
    crops: optional {sample index: (S, S, 3) uint8 crop with its 2D keypoints drawn}, shown above
    each skeleton. Returns the (worst, median) sample indices.
    """
    worst, median = worst_and_median(errors_mm, count)
    columns = len(worst)
    rows_per_group = 2 if crops else 1
    figure = viz.new_figure((2.6 * columns, 2.8 * rows_per_group * 2), dpi=80)
    for group, (name, indices) in enumerate((("worst", worst), ("median", median))):
        for column, index in enumerate(indices):
            row = group * rows_per_group
            if crops:
                ax_image = figure.add_subplot(2 * rows_per_group, columns, row * columns + column + 1)
                ax_image.imshow(crops[int(index)])
                ax_image.axis("off")
                ax_image.set_title(f"{name}: {labels[index]}", fontsize=7)
                row += 1
            ax = figure.add_subplot(2 * rows_per_group, columns, row * columns + column + 1, projection="3d")
            viz.plot_prediction_vs_truth(ax, predicted_mm[index], true_mm[index], label_size=5)
            caption = f"{errors_mm[index]:.0f} mm" if crops else f"{name}: {labels[index]}\n{errors_mm[index]:.0f} mm"
            ax.set_title(caption, fontsize=7)
            if group == 0 and column == 0:
                ax.legend(loc="upper left", fontsize=6)
    figure.tight_layout()
    files.write_png(path, viz.figure_to_array(figure))
    return worst, median
