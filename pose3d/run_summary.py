"""Print what a workflow run built: data sizes, shard counts, model metrics, inference outputs.

`make run` calls this after Snakemake so a user sees the outcome without opening files.
Usage: python -m pose3d.run_summary [results_dir]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _load_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _count_samples(paths: list[Path]) -> int:
    import h5py

    from pose3d.shards.schema import ATTR_NUM_SAMPLES

    total = 0
    for path in paths:
        with h5py.File(path, "r") as handle:
            total += int(handle.attrs.get(ATTR_NUM_SAMPLES, 0))
    return total


def _preprocess_lines(results: Path) -> list[str]:
    reports = sorted((results / "preprocessed").glob("*.report.json"))
    if not reports:
        return []
    seen = kept = missed = looked_again = found_again = 0
    skipped: dict[str, int] = {}
    for report in reports:
        content = _load_json(report) or {}
        seen += int(content.get("frames_seen", 0))
        kept += int(content.get("frames_kept", 0))
        missed += int(content.get("frames_missed_kept_for_evaluation", 0))
        second_look = content.get("second_look") or {}
        looked_again += int(second_look.get("frames", 0))
        found_again += int(second_look.get("found", 0))
        for reason, detail in (content.get("skipped") or {}).items():
            skipped[reason] = skipped.get(reason, 0) + int(detail.get("count", 0))
    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(skipped.items()) if count) or "none"
    line = f"preprocess: {len(reports)} sequences, {kept}/{seen} frames kept (skipped: {reasons})"
    if looked_again:
        line += (f"; {found_again} of {looked_again} subjects missed in the whole frame found on a second look at "
                 "the annotated box")
    if missed:
        line += f"; {missed} of the no_person frames kept for evaluation without 2D keypoints (never trained on)"
    return [line, *_agreement_lines([_load_json(report) or {} for report in reports])]


def _agreement_lines(contents: list[dict]) -> list[str]:
    """The 2D keypoints against the annotation's projected joints, over every sequence (see
    `pose3d.perception.agreement`): the detector's error on this data, and sequences whose annotation
    sits off the video."""
    found = [(content.get("sequence", "?"), content["keypoints_vs_annotation"]) for content in contents
             if content.get("keypoints_vs_annotation")]
    if not found:
        return []
    frames = sum(agreement["frames"] for _, agreement in found)
    error = sum(agreement["mean_error_of_height"] * agreement["frames"] for _, agreement in found) / frames
    worst = max(agreement["mean_error_of_height"] for _, agreement in found)
    line = (f"2D keypoints vs the annotation's projected joints: mean error {error:.3f} of the person's height "
            f"over {frames} frames (worst sequence {worst:.3f})")
    shifted = sorted(sequence for sequence, agreement in found if agreement["misaligned"])
    failing = sorted(sequence for sequence, agreement in found if agreement.get("detector_off"))
    line += f"; offset as a whole (3D annotation off its video?): {_some(shifted)}"
    line += f"; detector off by over 0.1 of the height: {_some(failing)}"
    return [line]


def _some(names: list[str], shown: int = 5) -> str:
    if not names:
        return "none"
    return f"{len(names)} ({', '.join(names[:shown])}{', ...' if len(names) > shown else ''})"


def _dataset_lines(results: Path) -> list[str]:
    """The dataset plan: sequences processed and the folders left out, with their reasons."""
    report = _load_json(results / "dataset" / "report.json")
    if report is None:
        return []
    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(report.get("skipped_by_reason", {}).items()))
    lines = [f"dataset: {report.get('sequences', 0)} sequences, {report.get('skipped_sequences', 0)} folders skipped"
             + (f" ({reasons})" if reasons else "")]
    lines += [f"  skipped {entry['sequence']}: {entry['reason']} ({entry['detail']})" for entry in report.get("skipped", [])]
    return lines


def _shard_lines(results: Path) -> list[str]:
    lines = []
    for label, folder in [("chunks", "chunks"), ("split/train", "split/train"), ("split/val", "split/val"),
                          ("split/test", "split/test"), ("shuffled/train", "shuffled/train")]:
        shards = sorted((results / folder).glob("*.h5"))
        if shards:
            lines.append(f"{label}: {len(shards)} files, {_count_samples(shards)} samples")
    return lines


def _metric_lines(results: Path) -> list[str]:
    lines: list[str] = []
    seen_inputs: dict[tuple[str, str], str] = {}  # (keypoints, depth) -> their measured 2D error
    evaluated: dict[str, dict] = {}  # model -> its metrics.json
    for metrics_path in sorted((results / "eval").glob("*/metrics.json")):
        metrics = _load_json(metrics_path) or {}
        evaluated[metrics_path.parent.name] = metrics
        model = (metrics.get("model") or {}).get("average", {})
        baseline = (metrics.get("baseline") or {}).get("average", {})
        if "mpjpe" not in model:
            lines.append(f"eval {metrics_path.parent.name}: see {metrics_path}")
            continue
        inputs = metrics.get("inputs") or {}
        lines.append(
            f"eval {metrics_path.parent.name}: {metrics.get('split', 'test')} MPJPE {model['mpjpe']:.1f} mm, PA-MPJPE "
            f"{model.get('pa_mpjpe', float('nan')):.1f} mm (mean-pose baseline {baseline.get('mpjpe', float('nan')):.1f} mm, "
            f"ratio {metrics.get('mpjpe_ratio_to_baseline', float('nan')):.2f}; inputs: {inputs.get('kind', 'unknown')})"
            f"{_protocol_note(metrics)}{_missed_note(metrics)} -> {metrics_path.parent}"
        )
        described = (inputs.get("keypoints"), inputs.get("depth"))
        if all(described) and described not in seen_inputs:
            measured = metrics.get("input_keypoint_error")
            seen_inputs[described] = (f", measured on the {metrics.get('split', 'test')} samples {measured['mean_error_px']:.1f} px "
                                      f"({measured['mean_error_of_height']:.3f} of the person's height)" if measured else "")
    lines += _against_the_lifter(evaluated)
    if lines:
        lines.append("eval figures: mean over actions; best.pt chosen on the validation split (whole held-out takes)")
    for (keypoints, depth), measured in seen_inputs.items():
        lines.append(f"eval inputs: 2D keypoints = {keypoints}{measured}; depth = {depth}")
    return lines


def _against_the_lifter(evaluated: dict[str, dict]) -> list[str]:
    """The line with each model's MPJPE as a multiple of the keypoint lifter's (`evaluate.against_lifter`)."""
    from pose3d.evaluate.against_lifter import BASELINE_MODEL, ratios_to_lifter

    reference, ratios = ratios_to_lifter(evaluated)
    others = sorted((ratio, name) for name, ratio in ratios.items() if name != BASELINE_MODEL)
    if not others:
        return []
    listed = ", ".join(f"{name} {ratio:.2f}x" for ratio, name in others)
    split = evaluated[BASELINE_MODEL].get("split", "test")
    return [f"eval against the lifter (2D keypoints only, the field's baseline: {reference:.1f} mm): {listed} "
            f"({split} MPJPE on the same samples; below 1 = better than the 2D keypoints alone)"]


def _protocol_note(metrics: dict) -> str:
    """"; on N of the protocol's M test frames" when the figures cover only part of the protocol."""
    protocol = metrics.get("protocol") or {}
    if not protocol or protocol.get("evaluated") == protocol.get("frames"):
        return ""
    return f"; on {protocol['evaluated']} of the protocol's {protocol['frames']} test frames"


def _missed_note(metrics: dict) -> str:
    """", subject missed in N of M samples (included; X mm over the others)" when the detector missed anyone."""
    missed = metrics.get("people_missed") or {}
    if not missed.get("samples"):
        return ""
    others = missed.get("mpjpe_over_the_others")
    return (f"; subject missed in {missed['samples']} of {metrics.get('num_samples', '?')} samples (included"
            + (f"; {others:.1f} mm over the others)" if others is not None else ")"))


def _infer_lines(results: Path) -> list[str]:
    lines = []
    for summary_path in sorted((results / "infer").glob("*/summary.json")):
        summary = _load_json(summary_path) or {}
        lines.append(
            f"infer {summary_path.parent.name}: {summary.get('images_processed', 0)}/{summary.get('images_found', 0)} images, "
            f"{summary.get('people_found', 0)} people -> {summary_path.parent} (panels/, contact_sheet.png)"
        )
    return lines


def summarize(results: Path) -> list[str]:
    """Human-readable lines describing everything found under `results`."""
    return [*_dataset_lines(results), *_preprocess_lines(results), *_shard_lines(results), *_metric_lines(results), *_infer_lines(results)]


def main(argv: list[str] | None = None) -> int:
    results = Path((argv or sys.argv[1:] or ["results"])[0])
    lines = summarize(results)
    print("\n".join(["== pose3d run summary (" + str(results) + ")", *lines] if lines else ["nothing built yet"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
