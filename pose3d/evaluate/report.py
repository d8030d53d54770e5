"""Metric tables of an evaluation: per action (averaged over actions, as the literature does) and per joint.

Writes `metrics.json`, `per_action.csv` and `metrics.md`, each through a temporary name.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from pose3d import io as files
from pose3d import metrics
from pose3d.datasets.layout import ACTIONS
from pose3d.skeleton import H36M17

METRIC_NAMES = ("mpjpe", "pa_mpjpe", "n_mpjpe")
METRIC_TITLES = {"mpjpe": "MPJPE", "pa_mpjpe": "PA-MPJPE", "n_mpjpe": "N-MPJPE"}


def selection_title(results: dict[str, Any]) -> str:
    """The metric best.pt was selected on, as the tables title it (MPJPE for older metrics files)."""
    return METRIC_TITLES.get((results.get("model_selection") or {}).get("metric", "mpjpe"), "MPJPE")


def action_name(action: Any) -> str:
    """Human3.6M action_idx -> its name (`Directions`); unknown ids stay numbers."""
    try:
        return ACTIONS.get(int(action), str(action))
    except (TypeError, ValueError):
        return str(action)


def per_sample_errors(predicted_mm: np.ndarray, true_mm: np.ndarray) -> dict[str, np.ndarray]:
    """Each metric per sample (N,) in mm, for (N, 17, 3) camera-space joints."""
    predicted_mm = np.asarray(predicted_mm, dtype=np.float64)
    true_mm = np.asarray(true_mm, dtype=np.float64)
    return {name: np.asarray(metrics.METRICS[name](predicted_mm, true_mm)) for name in METRIC_NAMES}


def summarize(predicted_mm: np.ndarray, true_mm: np.ndarray, actions: np.ndarray) -> dict[str, Any]:
    """Per-action table (keys: action names, `average`, `all_samples`) and per-joint MPJPE, mm."""
    errors = per_sample_errors(predicted_mm, true_mm)
    table = metrics.per_action_table(errors, actions)
    per_action = {
        (key if key in ("average", "all_samples") else action_name(key)): values for key, values in table.items()
    }
    per_joint = metrics.per_joint_error(np.asarray(predicted_mm, np.float64), np.asarray(true_mm, np.float64)).mean(0)
    return {
        "average": per_action.pop("average"),
        "all_samples": per_action.pop("all_samples"),
        "per_action": per_action,
        "per_joint_mpjpe": {name: float(v) for name, v in zip(H36M17.joint_names, per_joint, strict=True)},
    }


def _rows(results: dict[str, Any], counts: dict[str, int]) -> list[list[Any]]:
    """One row per action then `average`: action, samples, model metrics..., baseline metrics..."""
    model, baseline = results["model"], results["baseline"]
    rows = []
    for action in [*model["per_action"], "average"]:
        model_row = model["average"] if action == "average" else model["per_action"][action]
        baseline_row = baseline["average"] if action == "average" else baseline["per_action"][action]
        rows.append(
            [action, counts.get(action, sum(counts.values()))]
            + [model_row[m] for m in METRIC_NAMES]
            + [baseline_row[m] for m in METRIC_NAMES]
        )
    return rows


def _header() -> list[str]:
    return ["action", "samples"] + [f"model_{m}" for m in METRIC_NAMES] + [f"baseline_{m}" for m in METRIC_NAMES]


def _protocol_lines(results: dict[str, Any]) -> list[str]:
    """metrics.md's line on how much of the protocol's test frames the figures cover (unknown: no line)."""
    protocol = results.get("protocol")
    if not protocol:
        return []
    if protocol["evaluated"] == protocol["frames"]:
        return [f"- Frames: all {protocol['frames']} test frames of the protocol (every annotated frame of the test "
                "subjects at the test frame step).", ""]
    return [f"- Frames: **{protocol['evaluated']} of the protocol's {protocol['frames']}** test frames "
            f"({100 * (protocol['coverage'] or 0):.1f} %): {protocol['note']}.", ""]


def _reprojection_lines(results: dict[str, Any]) -> list[str]:
    """metrics.md's line on inference's doubt flag measured on these samples."""
    check = results.get("reprojection_check")
    if not check:
        return []
    share = 100 * check["doubtful"] / max(check["samples"], 1)
    line = (f"- Reprojection check (what `pose3d infer` flags as doubtful on photos): the 3D joints land a median "
            f"{check['median']:.3f} of the person's 2D size from the 2D keypoints (90th percentile {check['p90']:.3f}); "
            f"{check['doubtful']} of {check['samples']} samples ({share:.1f} %) are above {check['threshold']}.")
    if check.get("mpjpe_top_tenth") is not None:
        line += (f" MPJPE of the tenth with the largest share {check['mpjpe_top_tenth']:.1f} mm, of the rest "
                 f"{check['mpjpe_lower_nine_tenths']:.1f} mm (mean over samples).")
    return [line, ""]


def _input_error_lines(results: dict[str, Any]) -> list[str]:
    """metrics.md's line on how far the 2D inputs were from the projected ground truth."""
    error = results.get("input_keypoint_error")
    if not error:
        return []
    return [f"- 2D inputs measured: {error['mean_error_px']:.1f} px mean joint error ({error['mean_error_of_height']:.3f} "
            f"of the person's height) from the projected ground truth, over the {error['samples']} samples with a "
            f"detected person and the {error['joints']} joints compared."]


def _missed_lines(results: dict[str, Any]) -> list[str]:
    """metrics.md's note on samples whose subject the detector missed (none: no note)."""
    missed = results.get("people_missed") or {}
    if not missed.get("samples"):
        return []
    others = missed.get("mpjpe_over_the_others")
    per_action = ", ".join(f"{action} {count}" for action, count in missed.get("per_action", {}).items())
    return [
        f"- The detector missed the subject in **{missed['samples']}** of {results['num_samples']} samples ({per_action}). "
        "They are in every figure below, predicted without 2D keypoints from the annotated box's crop: the protocol "
        "counts every frame." + (f" MPJPE over the other samples: {others:.1f} mm." if others is not None else ""),
        "",
    ]


def write_reports(results: dict[str, Any], actions: np.ndarray, out_dir: str | Path) -> None:
    """metrics.json (everything), per_action.csv and metrics.md (model beside the baseline), in mm."""
    out_dir = Path(out_dir)
    names, counts_array = np.unique([action_name(a) for a in actions], return_counts=True)
    counts = {str(n): int(c) for n, c in zip(names, counts_array, strict=True)}
    files.write_json(out_dir / "metrics.json", results)
    rows = _rows(results, counts)

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_header())
    for row in rows:
        writer.writerow([f"{v:.2f}" if isinstance(v, float) else v for v in row])
    files.write_text(out_dir / "per_action.csv", buffer.getvalue())

    titles = [METRIC_TITLES[m] for m in METRIC_NAMES]
    inputs = results.get("inputs", {})
    split = results.get("split", "test")
    subjects = ", ".join(f"S{s}" for s in results.get("subjects", []))
    lines = [
        f"# Evaluation of `{results['model_name']}` on {results['num_samples']} {split} samples",
        "",
        f"- Split: **{split}**" + (f" (subjects {subjects})" if subjects else "")
        + f"; the checkpoint was selected on the validation split (lowest {selection_title(results)}).",
        f"- Inputs: **{inputs.get('kind', 'unknown')}**. 2D keypoints: {inputs.get('keypoints', 'unknown')}."
        f" Depth: {inputs.get('depth', 'unknown')}.",
        *_input_error_lines(results),
        "",
        *_protocol_lines(results),
        *_missed_lines(results),
        *_reprojection_lines(results),
        "Errors in mm. `average` is the mean over actions (each action weighs the same), as the literature reports.",
        f"Baseline: the training set's mean root-relative pose. MPJPE model / baseline = {results['mpjpe_ratio_to_baseline']:.3f}.",
        "",
        "| action | samples | " + " | ".join(titles) + " | " + " | ".join(f"baseline {t}" for t in titles) + " |",
        "|---|---:|" + "---:|" * (2 * len(titles)),
    ]
    for row in rows:
        cells = [f"**{row[0]}**" if row[0] == "average" else str(row[0]), str(row[1])] + [f"{v:.1f}" for v in row[2:]]
        lines.append("| " + " | ".join(cells) + " |")
    files.write_text(out_dir / "metrics.md", "\n".join(lines) + "\n")
