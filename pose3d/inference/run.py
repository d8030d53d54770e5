"""Inference on images: every person -> 2D keypoints + depth -> 3D joints in camera space (mm).

For each image: the keypoint backend finds every person (YOLO, or the dataset's annotation
projected into the image), depth is estimated once per image, each person is cropped exactly
as training samples are (`pose3d.cropping`), and the model runs on all people of several
images in one batch. Intrinsics come from the user, the dataset camera, or DepthPro's
field-of-view focal estimate (principal point at the image centre), in that order, and each
result says which. Which images are read: `inference.inputs`; the files written and their
JSON Schemas: `inference.outputs`; the 2x2 panels: `inference.panels`.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from tqdm import tqdm

from pose3d import cropping, skeleton, viz
from pose3d import io as files
from pose3d.config import Config
from pose3d.inference import outputs, panels
from pose3d.inference.inputs import (
    DatasetLookup,
    default_inference_images,
    is_video,
    list_inputs,
    output_names,
)
from pose3d.inference.intrinsics import choose_intrinsics
from pose3d.inference.reprojection import reprojection_error
from pose3d.perception import (
    Frame,
    build_depth_backend,
    build_keypoint_backend,
    resolve_device,
)

log = logging.getLogger(__name__)

__all__ = ["InferenceOptions", "default_inference_images", "options_from_config", "run_inference"]

SHEET_MAX_PANELS = 48  # a contact sheet of more panels is unreadable anyway
SHEET_PANEL_WIDTH = 480


@dataclass
class InferenceOptions:
    """How to find people, depth and intrinsics; defaults mirror `infer:` in config.yaml."""

    keypoints_backend: str = "dataset"
    depth_backend: str = "dataset"
    dataset_root: str | Path | None = None  # dataset backends: the Human3.6M-layout root
    camera_t: str = "translation"  # dataset backends: how its camera files' t reads (dataset.camera_t)
    yolo_weights: str | Path = "yolo11x-pose.pt"
    person_boxes: str = "frame"  # mediapipe: "frame" (annotated box, else whole image) or "yolo" boxes
    depth_model: str | Path = "apple/DepthPro-hf"
    intrinsics: Sequence[float] | None = None  # user [fx, fy, cx, cy] pixels for every image
    device: str = "auto"
    visualize: bool = True
    max_images: int = 0  # 0 = all
    confidence: float = 0.25
    max_people: int = 5
    batch_size: int = 16  # people per model call, and images per perception call
    depth_batch_size: int = 4  # images per DepthPro call (memory-bound)
    progress: bool = True
    smoothing: str = "none"  # videos: none | one_euro (temporal filter of each track's 3D joints)
    smoothing_min_cutoff: float = 1.0  # one_euro: cutoff at rest, Hz
    smoothing_beta: float = 0.005  # one_euro: cutoff increase per mm/s of joint speed


def options_from_config(config: Config) -> InferenceOptions:
    """InferenceOptions from the `infer:`, `perception:` and `dataset:` config sections."""
    return InferenceOptions(
        keypoints_backend=config.infer.keypoints_backend,
        depth_backend=config.infer.depth_backend,
        dataset_root=config.dataset.root,
        camera_t=config.dataset.camera_t,
        yolo_weights=config.perception.keypoints.weights,
        person_boxes=config.perception.keypoints.person_boxes,
        depth_model=config.perception.depth.model,
        intrinsics=list(config.infer.intrinsics) or None,
        device=config.perception.device,
        visualize=config.infer.visualize,
        max_images=config.infer.max_images,
        confidence=config.infer.confidence,
        max_people=config.infer.max_people,
        batch_size=config.perception.keypoints.batch_size,
        depth_batch_size=config.perception.depth.batch_size,
        smoothing=config.infer.smoothing,
        smoothing_min_cutoff=config.infer.smoothing_min_cutoff,
        smoothing_beta=config.infer.smoothing_beta,
    )


@dataclass
class _Image:
    """One image in flight, from loading to writing."""

    path: Path
    name: str
    frame: Frame
    image_rgb: np.ndarray
    detections: Any = None  # perception Detections
    keypoints_layout: str = ""
    depth_m: np.ndarray | None = None
    intrinsics: np.ndarray | None = None  # fx, fy, cx, cy
    intrinsics_source: str = ""
    joints_gt_mm: np.ndarray | None = None  # (P, 17, 3) dataset images only
    joints_mm: list[np.ndarray] = field(default_factory=list)
    reprojection: list[dict[str, Any] | None] = field(default_factory=list)  # per person, `reprojection_error`
    time_s: float | None = None  # a video frame's presentation time


def perception_backends(options: InferenceOptions):
    """(keypoint backend, depth backend) for inference, from the perception factories; depth None for `none`."""
    if options.keypoints_backend not in ("dataset", "yolo", "mediapipe"):
        raise ValueError(
            f"unknown keypoints backend {options.keypoints_backend!r}; allowed: ['dataset', 'yolo', 'mediapipe']"
        )
    keypoints = build_keypoint_backend(
        options.keypoints_backend, weights=options.yolo_weights, batch_size=options.batch_size,
        confidence=options.confidence, device=options.device, person_boxes=options.person_boxes,
        config_key="infer.keypoints_backend",
    )
    if options.depth_backend == "none":  # a model that reads no depth runs no depth model
        return keypoints, None
    depth = build_depth_backend(
        options.depth_backend, model=options.depth_model, batch_size=options.depth_batch_size,
        device=options.device, config_key="infer.depth_backend",
    )
    return keypoints, depth


def close_backend(backend) -> None:
    """Release a backend that holds a running graph (mediapipe); others need nothing."""
    close = getattr(backend, "close", None)
    if close is not None:
        close()


def keypoints_in_layout(keypoints: np.ndarray, source: str, target: str) -> np.ndarray:
    """(P, 17, 3) keypoints from layout `source` to `target`; joints one layout lacks get score 0."""
    if source == target:
        return keypoints
    if source == "coco17" and target == "h36m17":
        return skeleton.coco_to_h36m(keypoints).astype(np.float32)
    if source == "h36m17" and target == "coco17":
        converted = skeleton.h36m_to_coco(keypoints).astype(np.float32)
        missing = ~np.isfinite(converted).all(axis=-1)
        converted[missing] = 0.0
        return converted
    raise ValueError(f"no keypoint conversion from {source!r} to {target!r}")


class _StageTimer:
    """Wall time per stage, summed over the run (synchronising CUDA so GPU work is counted)."""

    def __init__(self, device: str) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.sync = device.startswith("cuda")

    def __call__(self, stage: str):
        timer = self

        class _Span:
            def __enter__(self):
                self.start = time.perf_counter()

            def __exit__(self, *exc):
                if timer.sync:
                    torch.cuda.synchronize()
                timer.seconds[stage] += time.perf_counter() - self.start

        return _Span()


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def run_inference(
    checkpoint: str | Path,
    inputs: str | Path | Sequence[str | Path],
    output_dir: str | Path,
    options: InferenceOptions | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Estimate 3D poses of every person in `inputs` (an image, a folder, a list of images, or a video).

    Writes `{name}.npy` (P, 17, 3) camera mm and `{name}.json` per image, with
    `options.visualize` also `panels/{name}.png` and `contact_sheet.png`, and `summary.json`;
    returns the summary dict. A bad image is skipped and reported; missing weights raise
    PerceptionError naming the file. An `output_dir` holding files inference did not write is
    refused (OutputConflictError) unless `overwrite`. A video file goes to `video.infer_video`.
    """
    from pose3d.models.registry import load_model_from_checkpoint
    from pose3d.validation import check_output_folder, claim_output_folder

    if is_video(inputs):
        from pose3d.inference.video import infer_video

        return infer_video(checkpoint, inputs, output_dir, options, overwrite=overwrite)

    device = resolve_device((options or InferenceOptions()).device)
    options = replace(options or InferenceOptions(), device=device)
    started = time.perf_counter()
    output_dir = Path(output_dir)
    check_output_folder(output_dir, "infer", overwrite)  # refuse before any work; claim it before writing
    timer = _StageTimer(device)

    image_paths, skipped = list_inputs(inputs)
    if options.max_images and len(image_paths) > options.max_images:
        log.info("using the first %d of %d images (max_images)", options.max_images, len(image_paths))
        image_paths = image_paths[: options.max_images]
    if not image_paths:
        log.warning("no image files in %s: nothing to infer", inputs)
    names = output_names(image_paths)

    with timer("setup"):
        model, ckpt = load_model_from_checkpoint(checkpoint, device)
        shards = ckpt["config"]["shards"]
        model_layout = ckpt["keypoints_layout"]
        model_info = {
            "name": str(ckpt["model_name"]), "checkpoint": str(checkpoint),
            "checkpoint_id": outputs.checkpoint_id(checkpoint),
        }
        options = _without_unused_depth(options, model)
        keypoint_backend, depth_backend = perception_backends(options)
        needs_dataset = options.keypoints_backend == "dataset" or options.depth_backend == "dataset"
        lookup = None
        if needs_dataset:
            if options.dataset_root is None:
                raise ValueError("the dataset keypoint/depth backends need options.dataset_root (config 'dataset.root')")
            lookup = DatasetLookup(options.dataset_root, options.camera_t)
    claim_output_folder(output_dir, "infer", overwrite)
    log.info(
        "inference: %d images, model %s (%s), keypoints %s, depth %s, device %s",
        len(image_paths), model_info["name"], model_info["checkpoint_id"], options.keypoints_backend,
        options.depth_backend, device,
    )

    written: list[str] = []
    people_found = doubtful = 0
    sheet_panels: list[np.ndarray] = []
    sheet_titles: list[str] = []
    progress = tqdm(total=len(image_paths), desc="infer", unit="img", disable=not options.progress)
    for chunk in _chunks(list(zip(image_paths, names, strict=True)), max(1, options.batch_size)):
        with timer("load"):
            items = []
            for path, name in chunk:
                image_bgr = files.read_image(path)
                if image_bgr is None:
                    log.warning("skipping %s: the file cannot be read as an image", path)
                    skipped.append({"path": str(path), "reason": "unreadable image (missing, corrupt or truncated)"})
                    progress.update(1)
                    continue
                frame = lookup.frame_for(path, image_bgr) if lookup is not None else Frame(image_bgr, path)
                if options.keypoints_backend == "dataset" and frame.joints_cam_mm is None:
                    reason = f"not an annotated image of the dataset in {options.dataset_root} (keypoints backend 'dataset')"
                    log.warning("skipping %s: %s", path, reason)
                    skipped.append({"path": str(path), "reason": reason})
                    progress.update(1)
                    continue
                items.append(_Image(path, name, frame, cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)))
        if not items:
            continue
        items = _perceive(items, keypoint_backend, depth_backend, options, skipped, timer, progress)
        with timer("model"):
            _estimate(items, model, model_layout, shards, options.batch_size, device)
        for item in items:
            with timer("write"):
                people_found += len(item.joints_mm)
                doubtful += _log_doubtful(item)
                _write_result(item, output_dir, model_info, options)
                written.append(item.name)
            if options.visualize:
                with timer("draw"):
                    panel = _draw_panel(item, output_dir)
                    if len(sheet_panels) < SHEET_MAX_PANELS:
                        height = round(panel.shape[0] * SHEET_PANEL_WIDTH / panel.shape[1])
                        sheet_panels.append(cv2.resize(panel, (SHEET_PANEL_WIDTH, height), interpolation=cv2.INTER_AREA))
                        sheet_titles.append(item.name)
            progress.update(1)
    progress.close()
    close_backend(keypoint_backend)

    if options.visualize and sheet_panels:
        with timer("draw"):
            sheet = viz.contact_sheet(sheet_panels, columns=math.ceil(math.sqrt(len(sheet_panels))), titles=sheet_titles)
            files.write_png(output_dir / "contact_sheet.png", sheet)
    elapsed = time.perf_counter() - started
    summary = {
        "schema_version": outputs.OUTPUT_SCHEMA_VERSION,
        "checkpoint": str(checkpoint),
        "model": model_info["name"],
        "device": device,
        "images_found": len(image_paths),
        "images_processed": len(written),
        "images_skipped": skipped,
        "people_found": people_found,
        # People whose 3D pose does not project onto their 2D keypoints (pose3d.inference.reprojection).
        "people_doubtful": doubtful,
        "stage_seconds": {stage: round(seconds, 4) for stage, seconds in timer.seconds.items()},
        "images_per_second": round(len(written) / elapsed, 4) if elapsed > 0 else 0.0,
        "outputs": written,
    }
    files.write_json(output_dir / "summary.json", summary, indent=1)
    log.info(
        "inference done: %d images, %d people (%d doubtful), %d skipped, %.2f images/s",
        len(written), people_found, doubtful, len(skipped), summary["images_per_second"],
    )
    return summary


def _without_unused_depth(options: InferenceOptions, model) -> InferenceOptions:
    """Options whose depth backend is `none` when the model reads no depth; an error when it needs depth."""
    from pose3d.config import MODEL_INPUTS

    reads_depth = "depth" in getattr(model, "inputs", MODEL_INPUTS)
    if reads_depth and options.depth_backend == "none":
        raise ValueError(
            f"depth backend 'none': the model reads depth (inputs {list(getattr(model, 'inputs', MODEL_INPUTS))}); "
            "use 'dataset' or 'depthpro', or a model without depth (the lifter)"
        )
    if not reads_depth and options.depth_backend != "none":
        log.info("the model reads no depth: depth backend %r is not run", options.depth_backend)
        return replace(options, depth_backend="none")
    return options


def _perceive(items, keypoint_backend, depth_backend, options, skipped, timer, progress) -> list[_Image]:
    """Fill detections, depth and intrinsics; images that cannot be processed are skipped and reported.

    `depth_backend` None (backend `none`): no depth map, and no focal length estimate from one.
    """
    frames = [item.frame for item in items]
    with timer("keypoints"):
        detections = keypoint_backend(frames)
    if depth_backend is None:
        depths = [None] * len(frames)
    else:
        with timer("depth"):
            depths = depth_backend(frames)
    kept = []
    for item, found, depth in zip(items, detections, depths, strict=True):
        if depth is None and depth_backend is not None:
            log.warning("skipping %s: no depth map (dataset depth backend and no depth file)", item.path)
            skipped.append({"path": str(item.path), "reason": "no depth map for this image in the dataset"})
            progress.update(1)
            continue
        item.intrinsics, item.intrinsics_source = choose_intrinsics(
            options.intrinsics, item.frame, depth.focal_px if depth is not None else None, item.image_rgb.shape[:2]
        )
        order = np.argsort(-found.scores, kind="stable")[: max(0, options.max_people)]
        found.boxes_xyxy, found.scores, found.keypoints = (
            found.boxes_xyxy[order], found.scores[order], found.keypoints[order],
        )
        if getattr(found, "world_mm", None) is not None:  # mediapipe: its own 3D, kept as a peer
            found.world_mm = found.world_mm[order]
        item.detections = found
        item.keypoints_layout = keypoint_backend.layout
        item.depth_m = depth.depth_m if depth is not None else None
        if item.frame.joints_cam_mm is not None and options.keypoints_backend == "dataset" and len(found):
            item.joints_gt_mm = np.asarray(item.frame.joints_cam_mm, np.float64)[None]
        kept.append(item)
    return kept


def crop_people(
    image_rgb: np.ndarray, depth_m: np.ndarray | None, detections, keypoints_layout: str, model_layout: str,
    shards: dict[str, Any],
) -> list[cropping.PersonCrop]:
    """Every detected person cut exactly as chunk cuts a training sample (`cropping.crop_person`).

    `shards` holds the checkpoint's `image_size`, `depth_size` and `crop_padding`; keypoints go
    from the backend's layout to the model's.
    """
    keypoints = keypoints_in_layout(detections.keypoints, keypoints_layout, model_layout)
    return [
        cropping.crop_person(
            image_rgb, depth_m, box, person_keypoints,
            int(shards["image_size"]), int(shards["depth_size"]), float(shards["crop_padding"]),
        )
        for box, person_keypoints in zip(detections.boxes_xyxy, keypoints, strict=True)
    ]


@torch.inference_mode()
def _estimate(items: list[_Image], model, model_layout: str, shards: dict, batch_size: int, device: str) -> None:
    """Crop every person of every image and run the model on them, `batch_size` people per call."""
    people = [
        (item, person)
        for item in items
        for person in crop_people(item.image_rgb, item.depth_m, item.detections, item.keypoints_layout, model_layout, shards)
    ]
    for batch_people in _chunks(people, max(1, batch_size)):
        batch = {
            "image": torch.from_numpy(np.stack([p.image for _, p in batch_people])).permute(0, 3, 1, 2).float() / 255.0,
            "depth": torch.from_numpy(np.stack([p.depth for _, p in batch_people]))[:, None].float(),
            "keypoints_2d": torch.from_numpy(np.stack([p.keypoints_2d for _, p in batch_people])).float(),
            "intrinsics": torch.from_numpy(np.stack([item.intrinsics for item, _ in batch_people])).float(),
            "crop": torch.from_numpy(np.stack([p.crop for _, p in batch_people])).float(),
        }
        batch = {key: value.to(device) for key, value in batch.items()}
        joints_mm = model(batch)["joints_mm"].float().cpu().numpy()
        for (item, _), joints in zip(batch_people, joints_mm, strict=True):
            index = len(item.joints_mm)
            item.joints_mm.append(joints)
            item.reprojection.append(reprojection_error(
                joints, item.detections.keypoints[index], item.keypoints_layout, item.intrinsics))


def _log_doubtful(item: _Image) -> int:
    """Warn about each person of `item` whose 3D pose does not reproject onto its 2D keypoints; their count."""
    count = 0
    for index, agreement in enumerate(item.reprojection):
        if agreement is not None and agreement["doubtful"]:
            count += 1
            log.warning("%s, person %d: the 3D pose reprojects %.0f px (%.0f %% of the person's size) from the 2D "
                        "keypoints; an unusual pose or view, or a cut-off person: doubt this result",
                        item.name, index, agreement["px"], 100 * agreement["of_size"])
    return count


def _finite(values: np.ndarray) -> list:
    """Numbers for JSON: non-finite values (a joint a layout lacks) become 0."""
    return np.where(np.isfinite(values), values, 0.0).round(3).tolist()


def _write_result(item: _Image, output_dir: Path, model_info: dict[str, str], options: InferenceOptions) -> None:
    joints = np.stack(item.joints_mm).astype(np.float32) if item.joints_mm else np.zeros((0, 17, 3), np.float32)
    people = []
    for index, person_joints in enumerate(joints):
        person = {
            "box_xyxy": _finite(item.detections.boxes_xyxy[index]),
            "score": float(item.detections.scores[index]),
            "keypoints_2d": {"layout": item.keypoints_layout, "points": _finite(item.detections.keypoints[index])},
            "joints_3d_mm": _finite(person_joints),
            "root_mm": _finite(person_joints[skeleton.ROOT_JOINT]),
            "reprojection": item.reprojection[index],
        }
        if item.joints_gt_mm is not None and index < len(item.joints_gt_mm):
            person["joints_3d_gt_mm"] = _finite(item.joints_gt_mm[index])
        if getattr(item.detections, "world_mm", None) is not None:
            person["mediapipe_world_mm"] = _finite(item.detections.world_mm[index])
        people.append(person)
    fx, fy, cx, cy = (float(v) for v in item.intrinsics)
    result = {
        "schema_version": outputs.OUTPUT_SCHEMA_VERSION,
        "image": {
            "path": str(item.path), "name": item.name,
            "width": int(item.image_rgb.shape[1]), "height": int(item.image_rgb.shape[0]),
        },
        "model": model_info,
        "intrinsics": {"fx": fx, "fy": fy, "cx": cx, "cy": cy, "source": item.intrinsics_source},
        "backends": {"keypoints": options.keypoints_backend, "depth": options.depth_backend},
        "people": people,
    }
    files.write_npy(output_dir / f"{item.name}.npy", joints)
    files.write_json(output_dir / f"{item.name}.json", result, indent=1)


def _draw_panel(item: _Image, output_dir: Path) -> np.ndarray:
    joints = np.stack(item.joints_mm) if item.joints_mm else np.zeros((0, 17, 3))
    found = item.detections
    title = f"{item.name}: {len(joints)} {'person' if len(joints) == 1 else 'people'}, intrinsics {item.intrinsics_source}"
    doubtful = [str(index) for index, agreement in enumerate(item.reprojection) if agreement and agreement["doubtful"]]
    if doubtful:
        title += f"; 3D doubtful (off its 2D keypoints): person {', '.join(doubtful)}"
    return panels.panel_2x2(
        item.image_rgb, found.keypoints, item.keypoints_layout, item.depth_m, joints, item.joints_gt_mm,
        title=title, boxes=found.boxes_xyxy, scores=found.scores,
        output_path=output_dir / "panels" / f"{item.name}.png",
    )
