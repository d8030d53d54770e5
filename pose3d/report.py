"""Files made for the Snakemake HTML report (`make report`): the models table, training curves, the contact sheet.

Each is a plain file under results/report/ that the `report()` outputs of rules/report.smk put
into results/report.html beside the evaluation figures; each is useful without the report too.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pose3d import io, viz
from pose3d.evaluate.against_lifter import ratios_to_lifter
from pose3d.evaluate.report import METRIC_TITLES, selection_title


def _read_metrics(metrics_files: Sequence[str | Path]) -> dict[str, dict[str, Any]]:
    """Each metrics.json by its model's folder name (results/eval/<model>/metrics.json)."""
    return {Path(path).parent.name: json.loads(Path(path).read_text()) for path in metrics_files}


def model_rows(evaluated: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per evaluated model (its folder name -> its metrics.json): the test figures, the baseline,
    the inputs."""
    rows = []
    _, to_lifter = ratios_to_lifter(evaluated)
    for name, metrics in evaluated.items():
        model, baseline = metrics["model"]["average"], metrics["baseline"]["average"]
        rows.append({
            "model": metrics["model_name"],
            "split": metrics.get("split", "test"),
            "samples": metrics["num_samples"],
            "mpjpe": model["mpjpe"],
            "pa_mpjpe": model["pa_mpjpe"],
            "baseline_mpjpe": baseline["mpjpe"],
            "ratio_to_baseline": metrics["mpjpe_ratio_to_baseline"],
            "ratio_to_lifter": to_lifter.get(name, float("nan")),  # nan: no lifter on these samples
            "val_mpjpe": (metrics.get("model_selection") or {}).get("mpjpe") or float("nan"),
            "epoch": metrics.get("checkpoint_epoch", 0),
            "selected_on": "val " + selection_title(metrics),
            "inputs": (metrics.get("inputs") or {}).get("kind", "unknown"),
        })
    return rows


def write_models_table(metrics_files: Sequence[str | Path], out_html: str | Path) -> list[dict[str, Any]]:
    """A small self-contained HTML page: every model's test MPJPE / PA-MPJPE beside the baseline; returns the rows."""
    evaluated = _read_metrics(metrics_files)
    rows = model_rows(evaluated)
    inputs = []
    for metrics in evaluated.values():
        described = metrics.get("inputs") or {}
        line = f"2D keypoints: {described.get('keypoints', 'unknown')}. Depth: {described.get('depth', 'unknown')}."
        if line not in inputs:
            inputs.append(line)
    header = ("model", "split", "samples", "MPJPE (mm)", "PA-MPJPE (mm)", "mean-pose MPJPE (mm)", "ratio",
              "x lifter", "val MPJPE at best.pt (mm)", "epoch", "best.pt: lowest", "inputs")
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in (
            row["model"], row["split"], row["samples"], f"{row['mpjpe']:.1f}", f"{row['pa_mpjpe']:.1f}",
            f"{row['baseline_mpjpe']:.1f}", f"{row['ratio_to_baseline']:.2f}", _times(row["ratio_to_lifter"]),
            f"{row['val_mpjpe']:.1f}",
            row["epoch"], row["selected_on"], row["inputs"],
        )) + "</tr>\n"
        for row in rows
    )
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>pose3d models</title>"
        "<style>body{font-family:sans-serif}td,th{padding:4px 10px;border-bottom:1px solid #ccc;text-align:right}"
        "td:first-child,th:first-child{text-align:left}</style></head><body>\n"
        "<h2>Test figures of every model</h2>\n"
        "<p>Errors in mm on the test subjects, mean over actions (each action weighs the same). Each model's "
        "best.pt was selected on the validation split (whole held-out takes of the training subjects); the "
        "mean-pose baseline is the training set's mean root-relative pose; \"x lifter\" is the MPJPE as a "
        "multiple of the keypoint lifter's on the same samples (below 1: RGB or depth added to the 2D keypoints)."
        "</p>\n"
        + "".join(f"<p>Inputs: {html.escape(line)}</p>\n" for line in inputs)
        + "<table>\n<tr>" + "".join(f"<th>{html.escape(name)}</th>" for name in header) + "</tr>\n"
        + body + "</table>\n</body></html>\n"
    )
    io.write_text(out_html, page)
    return rows


def _times(ratio: float) -> str:
    return "" if np.isnan(ratio) else f"{ratio:.2f}x"


def best_epoch_index(history: Sequence[dict[str, Any]]) -> int | None:
    """Index of best.pt's record: the last one the trainer marked is_best (older histories: lowest val MPJPE)."""
    marked = [index for index, record in enumerate(history) if record.get("is_best")]
    if marked:
        return marked[-1]
    mpjpe = [record.get("val_mpjpe", np.nan) for record in history]
    return int(np.nanargmin(mpjpe)) if np.isfinite(mpjpe).any() else None


def plot_training_curves(history: Sequence[dict[str, Any]], out_png: str | Path, title: str) -> None:
    """Train loss and validation MPJPE / PA-MPJPE per epoch, the best.pt epoch marked -> PNG."""
    epochs = [record["epoch"] for record in history]
    marker = "o" if len(epochs) <= 40 else None  # dots hide a long run's curve
    figure = viz.new_figure((10.0, 3.6), dpi=100)
    loss_ax, error_ax = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    loss_ax.plot(epochs, [record.get("train_loss", np.nan) for record in history], marker=marker, label="train loss")
    if any("val_loss" in record for record in history):
        loss_ax.plot(epochs, [record.get("val_loss", np.nan) for record in history], marker=marker, label="val loss")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss")
    loss_ax.legend()
    split = next((record["val_split"] for record in history if "val_split" in record), "val")
    for key, name in (("val_mpjpe", "MPJPE"), ("val_n_mpjpe", "N-MPJPE"), ("val_pa_mpjpe", "PA-MPJPE")):
        if any(key in record for record in history):
            error_ax.plot(epochs, [record.get(key, np.nan) for record in history], marker=marker, label=f"{split} {name}")
    best = best_epoch_index(history)
    if best is not None:
        selected_on = METRIC_TITLES.get(history[best].get("selected_on", "val_mpjpe").removeprefix("val_"), "MPJPE")
        error_ax.axvline(epochs[best], color="0.5", linestyle="--",
                         label=f"best.pt (epoch {epochs[best]}, lowest {selected_on})")
    error_ax.set_xlabel("epoch")
    error_ax.set_ylabel("mm, mean over actions")
    low, high = error_ax.get_ylim()
    error_ax.set_ylim(low, high + 0.5 * (high - low))  # headroom: the legend's four entries sit above the curves
    error_ax.legend(fontsize="small", loc="upper right")
    for ax in (loss_ax, error_ax):
        ax.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    io.write_png(out_png, viz.figure_to_array(figure))


def copy_contact_sheet(infer_dir: str | Path, out_png: str | Path) -> None:
    """The inference contact sheet, or a small image saying why there is none (no images, or drawing off)."""
    sheet = Path(infer_dir) / "contact_sheet.png"
    image = io.read_image(sheet) if sheet.is_file() else None
    if image is not None:
        io.write_png(out_png, image[..., ::-1])
        return
    figure = viz.new_figure((5.0, 1.5), dpi=100)
    ax = figure.add_subplot(1, 1, 1)
    ax.axis("off")
    ax.text(0.5, 0.5, f"no contact sheet in {infer_dir}\n(no image processed, or infer.visualize is false)",
            ha="center", va="center")
    io.write_png(out_png, viz.figure_to_array(figure))
