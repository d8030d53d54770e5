"""Evaluate a trained checkpoint on the test shards and write its reports and figures.

Outputs in `out_dir`: metrics.json, per_action.csv, metrics.md, per_joint.png, worst_median.png.
The mean-pose baseline (from the train shards) is measured in the same run and reported beside.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from pose3d import metrics
from pose3d.config import Config
from pose3d.evaluate.baseline import baseline_predictions, mean_root_relative_pose
from pose3d.evaluate.plots import plot_per_joint, plot_worst_median_sheet, worst_and_median
from pose3d.evaluate.report import action_name, per_sample_errors, summarize, write_reports
from pose3d.inference.reprojection import DOUBTFUL_SHARE, reprojection_error
from pose3d.perception.agreement import keypoint_agreement
from pose3d.perception.error_models import perception_inputs
from pose3d.shards import schema
from pose3d.shards.reader import ShardReader, localize_shards
from pose3d.training.previews import crop_with_keypoints

log = logging.getLogger(__name__)


@dataclass
class Predictions:
    """A model's output on the test set, in evaluation order (shards as given, samples in file order)."""

    predicted_mm: np.ndarray  # (N, 17, 3) camera space
    true_mm: np.ndarray  # (N, 17, 3) camera space
    provenance: dict[str, np.ndarray]  # subject, action, subaction, camera, frame: (N,) each
    person_detected: np.ndarray  # (N,) bool; False: the detector missed the subject (no 2D keypoints)
    reprojection: np.ndarray  # (N,) inference's reprojection check (share of the 2D size), NaN: too few joints
    keypoints_px: np.ndarray  # (N, 17, 3) the 2D input keypoints in original image pixels
    intrinsics: np.ndarray  # (N, 4) fx, fy, cx, cy
    crop_scale: np.ndarray  # (N,) original pixels per crop pixel


@torch.no_grad()
def predict(model: torch.nn.Module, test_shards: Sequence[str | Path], batch_size: int, num_workers: int,
            device: torch.device, keypoints_layout: str = "h36m17") -> Predictions:
    """Run `model` over every test sample once, in order."""
    from torch.utils.data import DataLoader

    from pose3d.config import MODEL_INPUTS
    from pose3d.models.inputs import sample_fields
    from pose3d.training.dataset import ShardDataset
    from pose3d.training.packed_batch import packed_collate

    fields = sample_fields(getattr(model, "inputs", MODEL_INPUTS))  # a keypoint-only model decodes no image
    dataset = ShardDataset(test_shards, evaluation=True, rank=0, world_size=1, fields=fields)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=min(num_workers, len(dataset.paths)),
                        collate_fn=packed_collate)
    predicted, true, detected, reprojection, keypoints, intrinsics, crop_scales = [], [], [], [], [], [], []
    provenance: dict[str, list[np.ndarray]] = {name: [] for name in schema.PROVENANCE}
    model.eval()
    for batch in tqdm(loader, desc="evaluate", unit="batch", dynamic_ncols=True):
        inputs = {key: value.to(device) if torch.is_tensor(value) else value for key, value in batch.items()}
        predicted.append(model(inputs)["joints_mm"].float().cpu().numpy())
        true.append(batch["joints_3d"].numpy())
        detected.append(schema.person_detected(batch[schema.KEYPOINTS_2D].numpy()))
        keypoints.append(keypoints_in_image(batch))
        reprojection.append(reprojection_shares(predicted[-1], keypoints[-1], batch[schema.INTRINSICS].numpy(),
                                                keypoints_layout))
        intrinsics.append(batch[schema.INTRINSICS].numpy().astype(np.float64))
        crop_scales.append(batch[schema.CROP].numpy()[:, 2].astype(np.float64))
        for name in schema.PROVENANCE:
            provenance[name].append(batch[name].numpy())
    if not predicted:
        raise ValueError(f"evaluation: the test shards hold no samples: {[str(p) for p in test_shards]}")
    return Predictions(
        np.concatenate(predicted).astype(np.float64),
        np.concatenate(true).astype(np.float64),
        {name: np.concatenate(values) for name, values in provenance.items()},
        np.concatenate(detected),
        np.concatenate(reprojection),
        np.concatenate(keypoints),
        np.concatenate(intrinsics),
        np.concatenate(crop_scales),
    )


def keypoints_in_image(batch: dict[str, Any]) -> np.ndarray:
    """(B, 17, 3) a batch's 2D keypoints from crop pixels to original image pixels (score kept)."""
    keypoints = batch[schema.KEYPOINTS_2D].numpy().astype(np.float64)
    crop = batch[schema.CROP].numpy().astype(np.float64)
    keypoints[..., :2] = keypoints[..., :2] * crop[:, None, 2:3] + crop[:, None, :2]
    return keypoints


def reprojection_shares(joints_mm: np.ndarray, keypoints_px: np.ndarray, intrinsics: np.ndarray,
                        keypoints_layout: str) -> np.ndarray:
    """(B,) the reprojection check inference runs on photos (`pose3d.inference.reprojection`), per sample,
    from (B, 17, 3) keypoints in original image pixels and (B, 4) intrinsics."""
    shares = []
    for joints, points, camera in zip(joints_mm, keypoints_px, intrinsics, strict=True):
        result = reprojection_error(joints, points, keypoints_layout, camera)
        shares.append(np.nan if result is None else result["of_size"])
    return np.asarray(shares, np.float64)


def sample_crops(
    test_shards: Sequence[str | Path], wanted: dict[int, tuple[int, ...]], keypoints_layout: str
) -> dict[int, np.ndarray]:
    """Crops (with their 2D keypoints drawn) of the samples `wanted` = {sample index: provenance}.

    Samples are found by their provenance (subject, action, subaction, camera, frame), not by
    position: DataLoader workers interleave their batches, so prediction order is not file order.
    """
    crops: dict[int, np.ndarray] = {}
    by_provenance = {tuple(int(v) for v in key): index for index, key in wanted.items()}
    for path in test_shards:
        with ShardReader(path) as reader:
            ids = np.stack([reader.read(datasets=(name,))[name] for name in schema.PROVENANCE], axis=1)
            for row, key in enumerate(map(tuple, ids.tolist())):
                if key in by_provenance and by_provenance[key] not in crops:
                    sample = reader.read(row, row + 1, datasets=(schema.IMAGE, schema.KEYPOINTS_2D))
                    image = reader.decode(sample[schema.IMAGE][0])
                    crops[by_provenance[key]] = crop_with_keypoints(image, sample[schema.KEYPOINTS_2D][0], keypoints_layout)
    return crops


def shards_attr(paths: Sequence[str | Path], name: str) -> str:
    """One file attribute of the shards, "a | b" when they differ, "" when none has it."""
    values = []
    for path in paths:
        with ShardReader(path) as reader:
            value = str(reader.info.attrs.get(name, ""))
        if value and value not in values:
            values.append(value)
    return " | ".join(values)


def shards_split(paths: Sequence[str | Path]) -> str:
    """The split the evaluated shards were written as ("test"); shards from before the attribute count as test."""
    split = shards_attr(paths, schema.ATTR_SPLIT) or "test"
    if split != "test":
        log.warning("evaluating on shards written as split %r, not the test split: %s", split, [str(p) for p in paths])
    return split


def model_selection(state: dict[str, Any]) -> dict[str, Any]:
    """How best.pt was chosen: the validation metric it had the lowest value of, and its validation MPJPE."""
    history = state.get("history") or [{}]
    value, mpjpe = state.get("best_metric"), history[-1].get("val_mpjpe")  # best.pt's own record is its history's last
    return {
        "split": "val",
        "metric": state.get("best_metric_name", "mpjpe"),  # checkpoints before train.select_on chose on MPJPE
        "value": float(value) if value is not None and np.isfinite(value) else None,  # None: never validated
        "mpjpe": float(mpjpe) if mpjpe is not None else None,
        "averaging": "mean over actions",
    }


def evaluate_checkpoint(
    checkpoint: str | Path,
    test_shards: Sequence[str | Path],
    train_shards: Sequence[str | Path],
    out_dir: str | Path,
    config: Config,
    overwrite: bool = False,
    protocol_frames: int | None = None,
) -> dict[str, Any]:
    """Evaluate `checkpoint` against the mean-pose baseline; write every report; return metrics.json's content.

    An `out_dir` holding files evaluation did not write is refused unless `overwrite`.
    `protocol_frames`: the test frames the annotations list (`pose3d.datasets.protocol`); the
    results then say which share of them the figures cover.
    """
    from pose3d.models.registry import load_model_from_checkpoint
    from pose3d.training.distributed import resolve_device
    from pose3d.validation import check_output_folder, claim_output_folder

    out_dir = Path(out_dir)
    check_output_folder(out_dir, "evaluate", overwrite)  # refuse before any work; claim it before writing
    test_shards = localize_shards(test_shards, config.storage)  # remote shards via the local cache
    train_shards = localize_shards(train_shards, config.storage)
    device = resolve_device(config.train.device)
    model, state = load_model_from_checkpoint(checkpoint, device)
    claim_output_folder(out_dir, "evaluate", overwrite)
    model_name, layout = state["model_name"], state["keypoints_layout"]
    predictions = predict(model, test_shards, config.evaluate.batch_size, config.train.num_workers, device, layout)
    mean_pose = mean_root_relative_pose(train_shards)
    baseline = baseline_predictions(mean_pose, predictions.true_mm)
    actions = predictions.provenance[schema.ACTION]

    model_summary = summarize(predictions.predicted_mm, predictions.true_mm, actions)
    baseline_summary = summarize(baseline, predictions.true_mm, actions)
    errors = per_sample_errors(predictions.predicted_mm, predictions.true_mm)["mpjpe"]  # (N,) mm, read below
    coverage = person_coverage(predictions, errors)
    size = shards_attr(test_shards, schema.ATTR_IMAGE_SIZE)
    image_size = int(size) if size.isdigit() else config.shards.image_size
    results = {
        "model_name": model_name,
        "checkpoint": str(checkpoint),
        "checkpoint_epoch": int(state.get("epoch", 0)),
        # Which data every figure comes from: the split, how it is averaged, and what the inputs were.
        "split": shards_split(test_shards),
        "subjects": sorted(int(s) for s in np.unique(predictions.provenance[schema.SUBJECT])),
        "averaging": "mean over actions (each action weighs the same); all_samples: mean over samples",
        "inputs": perception_inputs(config.perception),
        # The 2D inputs measured against the projected ground truth (a real detector's error on these samples).
        "input_keypoint_error": input_keypoint_error(predictions, layout, image_size, config.shards.crop_padding),
        "shard_source": shards_attr(test_shards, schema.ATTR_SOURCE),
        "model_selection": model_selection(state),
        "num_samples": int(len(actions)),
        "people_missed": coverage,
        "protocol": protocol_coverage(len(actions), protocol_frames),
        "reprojection_check": reprojection_summary(predictions, errors),
        "units": "mm",
        "model": model_summary,
        "baseline": {"description": "training-set mean root-relative pose", **baseline_summary},
        "mpjpe_ratio_to_baseline": model_summary["average"]["mpjpe"] / max(baseline_summary["average"]["mpjpe"], 1e-9),
        "mean_pose_mm": mean_pose.round(2).tolist(),
    }
    write_reports(results, actions, out_dir)

    plot_per_joint(
        list(model_summary["per_joint_mpjpe"].values()), list(baseline_summary["per_joint_mpjpe"].values()),
        out_dir / "per_joint.png",
        f"{model_name}: per-joint MPJPE on {len(actions)} {results['split']} samples ({results['inputs']['kind']})",
    )
    prov = predictions.provenance
    labels = [
        f"S{prov['subject'][i]} {action_name(prov['action'][i])} c{prov['camera'][i]} f{prov['frame'][i]}"
        for i in range(len(errors))
    ]
    count = config.evaluate.sheet_samples
    worst, median = worst_and_median(errors, count)
    ids = np.stack([prov[name] for name in schema.PROVENANCE], axis=1)
    crops = sample_crops(test_shards, {int(i): tuple(ids[i]) for i in (*worst, *median)}, layout)
    plot_worst_median_sheet(
        predictions.predicted_mm, predictions.true_mm, errors, labels, count, out_dir / "worst_median.png", crops
    )
    log.info(
        "%s: %s MPJPE %.1f mm, PA-MPJPE %.1f mm (baseline %.1f / %.1f mm) on %d samples, mean over actions, inputs: %s",
        model_name, results["split"], model_summary["average"]["mpjpe"], model_summary["average"]["pa_mpjpe"],
        baseline_summary["average"]["mpjpe"], baseline_summary["average"]["pa_mpjpe"], len(actions),
        results["inputs"]["kind"],
    )
    protocol = results["protocol"]
    if protocol is not None and protocol["evaluated"] != protocol["frames"]:
        log.warning("%s: the figures cover %d of the protocol's %d test frames (%.1f %%): %s", model_name,
                    protocol["evaluated"], protocol["frames"], 100 * (protocol["coverage"] or 0), protocol["note"])
    if coverage["samples"]:
        log.warning("%s: the detector missed the subject in %d of %d %s samples; they are in the figures above "
                    "(no 2D keypoints); over the others MPJPE is %.1f mm", model_name, coverage["samples"],
                    len(actions), results["split"], coverage["mpjpe_over_the_others"] or float("nan"))
    return results


def input_keypoint_error(predictions: Predictions, layout: str, image_size: int, crop_padding: float) -> dict[str, Any] | None:
    """How far the test samples' 2D input keypoints lie from the projected ground truth, as a paper states
    its 2D detector's error: mean per joint in pixels and as a share of the person's height (the box's
    longer side, the crop's side / `crop_padding`), over the samples with a detected person."""
    heights = predictions.crop_scale * image_size / crop_padding
    agreement = keypoint_agreement(predictions.keypoints_px, layout, predictions.true_mm, predictions.intrinsics,
                                   heights, predictions.person_detected)
    if agreement is None:
        return None
    return {"samples": agreement["frames"], "joints": agreement["joints"], "mean_error_px": agreement["mean_error_px"],
            "mean_error_of_height": agreement["mean_error_of_height"], "averaging": "mean over samples"}


def reprojection_summary(predictions: Predictions, errors: np.ndarray) -> dict[str, Any] | None:
    """How inference's doubt flag behaves on the test samples: the spread of the reprojection share, how
    many would be flagged, and their MPJPE (`errors`, per sample) beside the others' (does the flag
    point at worse results?)."""
    shares = predictions.reprojection
    known = np.isfinite(shares)
    if not known.any():
        return None
    doubtful = known & (shares > DOUBTFUL_SHARE)
    others = known & ~doubtful
    top = known & (shares > np.percentile(shares[known], 90))
    return {
        "samples": int(known.sum()),
        "median": round(float(np.median(shares[known])), 4),
        "p90": round(float(np.percentile(shares[known], 90)), 4),
        "p99": round(float(np.percentile(shares[known], 99)), 4),
        "threshold": DOUBTFUL_SHARE,
        "doubtful": int(doubtful.sum()),
        "mpjpe_doubtful": round(float(errors[doubtful].mean()), 2) if doubtful.any() else None,
        "mpjpe_others": round(float(errors[others].mean()), 2) if others.any() else None,
        "mpjpe_top_tenth": round(float(errors[top].mean()), 2) if top.any() else None,  # highest tenth of shares
        "mpjpe_lower_nine_tenths": round(float(errors[known & ~top].mean()), 2) if (known & ~top).any() else None,
        "averaging": "mean over samples",
    }


def protocol_coverage(evaluated: int, protocol_frames: int | None) -> dict[str, Any] | None:
    """How many of the protocol's test frames the figures cover (None: the protocol size is not known)."""
    if protocol_frames is None:
        return None
    if evaluated < protocol_frames:
        note = ("frames the test subjects' annotations list at the test step are missing from the test shards: "
                "see results/dataset/report.json (folders without images) and the preprocess reports "
                "(unreadable images, frames without depth)")
    elif evaluated > protocol_frames:
        note = "more test samples than the annotations list: the test shards come from another dataset or config"
    else:
        note = "every frame of the protocol"
    return {"frames": int(protocol_frames), "evaluated": int(evaluated),
            "coverage": round(evaluated / protocol_frames, 4) if protocol_frames else None, "note": note}


def person_coverage(predictions: Predictions, errors: np.ndarray) -> dict[str, Any]:
    """How many evaluated samples had no detected person, per action, and the model's MPJPE without them
    (mean over actions of `errors`, the per-sample MPJPE).

    Those samples stay in every headline figure: the protocol evaluates every frame, and leaving a
    detector's misses out would flatter it (misses are the hard frames) and make runs with different
    detectors incomparable. The figure over the others is for reading, not for comparing.
    """
    missed = ~predictions.person_detected
    actions = predictions.provenance[schema.ACTION]
    others = None
    if missed.any() and (~missed).any():
        kept = ~missed
        others = metrics.per_action_table({"mpjpe": errors[kept]}, actions[kept])["average"]["mpjpe"]
    return {
        "samples": int(missed.sum()),
        "per_action": {action_name(a): int(c) for a, c in zip(*np.unique(actions[missed], return_counts=True), strict=True)},
        "included_in_figures": True,
        "mpjpe_over_the_others": others,
    }
