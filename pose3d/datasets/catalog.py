"""What a Human3.6M-layout release holds, known when the workflow's DAG is built.

The sequences to process are those the annotations list AND whose image folder holds files:
the image release has folders the annotations leave out (S11 Directions subaction 2
camera 1 is shipped empty) and could lack folders the annotations list. Each such folder is
skipped with a reason, never turned into a job that fails.

`subject_catalog` parses a subject's annotation files once and keeps a small JSON summary
(sequences with their frame counts, and how well each camera-`t` reading fits the person
boxes) next to the workflow's results, reused while the annotation files keep their size and
modification time: building the DAG again costs a JSON read per subject, not a parse of
hundreds of MB.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pose3d import io as files
from pose3d.config import Config
from pose3d.datasets.camera_convention import ConventionFit, check_camera_convention, measure_fit
from pose3d.datasets.h36m import DatasetError, H36MReader
from pose3d.datasets.layout import ACTIONS, SequenceId, annotation_path, sequence_ids

log = logging.getLogger(__name__)

CATALOG_VERSION = 1
# Frames per camera whose projected joints are compared with their boxes (spread over its sequences).
CONVENTION_SAMPLE = 64

SKIP_NO_IMAGES = "no_images"  # annotated, but the image folder is missing or empty
SKIP_NO_ANNOTATIONS = "no_annotations"  # an image folder the annotations do not list


def _file_stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _annotation_stamps(root: Path, subject: int) -> dict[str, list[int]]:
    stamps = {}
    for kind in ("data", "camera", "joint_3d"):
        path = annotation_path(root, subject, kind)
        if not path.is_file():
            raise DatasetError(f"{path}: annotation file is missing (subject {subject} is in dataset.subjects)")
        stamps[kind] = _file_stamp(path)
    return stamps


def build_subject_catalog(root: str | Path, subject: int) -> dict[str, Any]:
    """Parse one subject's annotations: its sequences with frame counts and the camera-`t` fits."""
    root = Path(root)
    reader = H36MReader(root)  # raw cameras are compared under both readings, so the reading is irrelevant
    sequences = reader.sequences(subject)
    raw_cameras = reader.raw_cameras(subject)
    tables = {seq: reader.frame_table(seq) for seq in sequences}
    fits = []
    for camera in sorted({seq.camera for seq in sequences}):
        if camera not in raw_cameras:
            raise DatasetError(f"{annotation_path(root, subject, 'camera')}: no camera {camera}, which "
                               f"{annotation_path(root, subject, 'data')} uses")
        joints = np.concatenate([tables[seq].joints_world_mm for seq in sequences if seq.camera == camera])
        boxes = np.concatenate([tables[seq].bboxes_xywh for seq in sequences if seq.camera == camera])
        usable = np.flatnonzero(np.isfinite(joints).all(axis=(1, 2)) & np.isfinite(boxes).all(axis=1))
        sample = usable[np.linspace(0, len(usable) - 1, min(CONVENTION_SAMPLE, len(usable))).astype(int)] \
            if len(usable) else usable
        fits.append(measure_fit(subject, camera, raw_cameras[camera], joints[sample], boxes[sample]).as_dict())
    return {
        "version": CATALOG_VERSION,
        "subject": subject,
        "files": _annotation_stamps(root, subject),
        "sequences": {seq.name: len(tables[seq].frame_indices) for seq in sequences},
        "convention_fits": fits,
    }


def subject_catalog(root: str | Path, subject: int, cache_dir: str | Path | None = None) -> dict[str, Any]:
    """The subject's catalog, from `cache_dir/S{subject}.catalog.json` while the annotation files are unchanged."""
    root = Path(root)
    stamps = _annotation_stamps(root, subject)
    cache = Path(cache_dir) / f"S{subject}.catalog.json" if cache_dir else None
    if cache is not None and cache.is_file():
        try:
            cached = json.loads(cache.read_text())
        except ValueError:
            cached = {}
        if cached.get("version") == CATALOG_VERSION and cached.get("files") == stamps \
                and cached.get("root") == str(root.resolve()):
            return cached
    log.info("cataloguing the annotations of subject %d in %s (once; cached in %s)", subject, root, cache)
    catalog = {**build_subject_catalog(root, subject), "root": str(root.resolve())}
    if cache is not None:
        files.write_json(cache, catalog, indent=1)
    return catalog


@dataclass
class DatasetPlan:
    """The sequences the workflow processes and the folders it leaves out (with reasons)."""

    sequences: list[str]
    frames: dict[str, int]  # annotated frames of each processed sequence
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {sequence, reason, detail[, frames annotated]}
    convention_fits: list[dict] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        reasons: dict[str, int] = {}
        for entry in self.skipped:
            reasons[entry["reason"]] = reasons.get(entry["reason"], 0) + 1
        return {
            "sequences": len(self.sequences),
            "annotated_frames": int(sum(self.frames.values())),
            "skipped_sequences": len(self.skipped),
            "skipped_by_reason": reasons,
            "skipped": self.skipped,
            "camera_convention_fits": self.convention_fits,
        }


def _has_files(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(entry.is_file() for entry in entries)
    except (FileNotFoundError, NotADirectoryError):
        return False


def plan_release(
    root: str | Path, subjects: list[int], actions: list[int], subactions: list[int], cameras: list[int],
    camera_t: str = "translation", cache_dir: str | Path | None = None,
) -> DatasetPlan:
    """Annotated sequences (filtered like `layout.sequence_ids`) whose image folder holds files.

    Raises DatasetError when a subject's annotation files are missing or malformed, and
    CameraConventionError when the 3D joints miss the person boxes with `camera_t`.
    """
    root = Path(root)
    images = root / "images"
    if not images.is_dir():
        raise DatasetError(f"{root}: no images/ folder (dataset.source = h36m expects the Human3.6M layout)")
    wanted_actions = set(actions) or set(ACTIONS)

    def wanted(seq: SequenceId) -> bool:
        return (seq.subject in subjects and seq.action in wanted_actions and seq.subaction in subactions
                and seq.camera in cameras)

    plan = DatasetPlan(sequences=[], frames={})
    annotated: set[str] = set()
    for subject in sorted(subjects):
        catalog = subject_catalog(root, subject, cache_dir)
        fits = [ConventionFit(**fit) for fit in catalog["convention_fits"] if fit["camera"] in cameras]
        check_camera_convention(fits, camera_t, str(annotation_path(root, subject, "camera")))
        plan.convention_fits += [fit.as_dict() for fit in fits]
        for name, frames in sorted(catalog["sequences"].items()):
            if not wanted(SequenceId.parse(name)):
                continue
            annotated.add(name)
            if _has_files(images / name):
                plan.sequences.append(name)
                plan.frames[name] = int(frames)
            else:
                detail = "folder is empty" if (images / name).is_dir() else "no folder"
                plan.skipped.append({"sequence": name, "reason": SKIP_NO_IMAGES, "frames": int(frames),
                                     "detail": f"{detail} in {images}; the annotations list {frames} frames"})
    for folder in sorted(os.listdir(images)):
        try:
            seq = SequenceId.parse(folder)
        except ValueError:
            continue
        if not wanted(seq) or folder in annotated:
            continue
        unlisted = f"{annotation_path(root, seq.subject, 'data')} lists no frame of it"
        if _has_files(images / folder):
            plan.skipped.append({"sequence": folder, "reason": SKIP_NO_ANNOTATIONS, "detail": unlisted})
        else:  # the release's empty folder: neither images nor annotations
            plan.skipped.append({"sequence": folder, "reason": SKIP_NO_IMAGES,
                                 "detail": f"folder is empty in {images} and {unlisted}"})
    for entry in plan.skipped:
        log.warning("dataset: skipping %s (%s: %s)", entry["sequence"], entry["reason"], entry["detail"])
    return plan


def plan_for_config(config: Config, cache_dir: str | Path | None = None) -> DatasetPlan:
    """The dataset plan of a workflow config: every configured combination for the synthetic dataset
    (the generator writes all of them, `synthetic.frames_per_sequence` frames each), `plan_release` for
    a Human3.6M-layout release."""
    dataset = config.dataset
    if dataset.source == "synthetic":
        wanted = sequence_ids(dataset.subjects, dataset.actions, dataset.subactions, dataset.cameras)
        return DatasetPlan(sequences=[seq.name for seq in wanted],
                           frames={seq.name: int(config.synthetic.frames_per_sequence) for seq in wanted})
    return plan_release(dataset.root, dataset.subjects, dataset.actions, dataset.subactions, dataset.cameras,
                        dataset.camera_t, cache_dir=cache_dir)


def write_report(report: dict[str, Any], path: str | Path) -> None:
    """Write the dataset report JSON atomically."""
    files.write_json(path, report, indent=1)
