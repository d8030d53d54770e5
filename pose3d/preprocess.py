"""The preprocess stage: one sequence folder -> per-frame 2D keypoints, person box and depth crop.

Every n-th frame (`dataset.frame_step`, or `test_frame_step` for a test subject) is decoded with OpenCV, passed through the configured
keypoint and depth backends in batches, and the person a sample is about is chosen by
`pose3d.perception.select_person` (preferring the annotated person box). A square crop around
that person's box (`shards.crop_padding` x its longer side) is cut out of the depth map at
`shards.depth_size` pixels, covering the square the RGB crop of `shards.image_size` pixels will
cover, with the pixel centres of `cropping.crop_depth`. The chunk stage turns this file into
training samples.

Preprocessed file format (HDF5, `results/preprocessed/{sequence}.h5`; N = frames SEEN, kept or not)

Attributes: `schema` = "pose3d.preprocessed", `schema_version` = 2, `sequence` (folder name),
`subject`, `action`, `subaction`, `camera` (int), `keypoints_layout` ("coco17" for yolo,
"h36m17" for groundtruth), `keypoints_backend`, `depth_backend`, `image_size`, `depth_size` (int),
`crop_padding` (float), `image_width`, `image_height` (pixels of the original images),
`keypoints_error_model`, `depth_error_model` ("realistic" | "oracle" for the groundtruth / dataset
backends, "none" for the real models).

| dataset        | shape, dtype                  | meaning |
|----------------|-------------------------------|---------|
| frame          | (N,) int32                    | frame_idx (0-based, as in the annotations) |
| image_file     | (N,) utf-8 str                | image path relative to the dataset root's `images/` |
| status         | (N,) uint8                    | 0 ok, 1 no_person, 2 unreadable_image, 3 missing_annotation, 4 missing_depth |
| keypoints_2d   | (N, 17, 3) float32            | (x, y, score) in original pixels, `keypoints_layout`; NaN when not ok (zeros for a missed annotated subject) |
| box            | (N, 4) float32                | person box xyxy, original pixels; NaN when not ok |
| person_score   | (N,) float32                  | detector confidence of the chosen person (1 for groundtruth); NaN when not ok |
| crop           | (N, 3) float32                | square crop (x0, y0, side) in original pixels; NaN when not ok (a missed annotated subject: its box's) |
| depth          | (N, depth_size, depth_size) float16 | depth crop in metres (0 = no surface / outside the image); NaN when not ok |
| focal_estimate | (N,) float32                  | focal length in pixels: DepthPro's field-of-view estimate, or the camera's mean focal for the dataset backend; NaN if unknown |
| joints_cam_mm  | (N, 17, 3) float32            | ground-truth Human3.6M-17 camera-space joints, mm; NaN if missing |
| intrinsics     | (N, 4) float32                | fx, fy, cx, cy of the original image (annotated camera) |

A frame's status is the first failing check, in this order: image unreadable (or a JPEG
without its end marker), no ground-truth joints, no depth map, nobody detected. A `no_person`
frame whose subject has an annotated box keeps that box, its crop and depth, and keypoints of
score 0 (person_score 0): chunk writes it as a sample without 2D keypoints, split leaves it out of
training and keeps it for validation and test, where the protocol counts every frame.
"""

from __future__ import annotations

import logging
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm import tqdm

from pose3d import cropping
from pose3d import io as files
from pose3d.config import Config
from pose3d.datasets.frame_steps import frame_step_for_subject
from pose3d.datasets.layout import SequenceId
from pose3d.geometry import square_crop_from_box
from pose3d.perception import (
    Frame,
    PerceptionError,
    depth_backend_from_config,
    keypoint_backend_from_config,
    select_person,
)
from pose3d.perception.agreement import describe_offset, keypoint_agreement
from pose3d.perception.base import has_box
from pose3d.perception.second_look import look_again_at_missed, takes_second_look

log = logging.getLogger(__name__)

SCHEMA_NAME = "pose3d.preprocessed"
SCHEMA_VERSION = 2  # 2: centre-aligned depth crops (version 1 files are half a crop pixel off)

DECODE_THREADS = 4  # image decoding threads per job, one batch ahead of the networks

STATUS_OK = 0
STATUS_NO_PERSON = 1
STATUS_UNREADABLE_IMAGE = 2
STATUS_MISSING_ANNOTATION = 3
STATUS_MISSING_DEPTH = 4
STATUS_NAMES = {
    STATUS_OK: "ok",
    STATUS_NO_PERSON: "no_person",
    STATUS_UNREADABLE_IMAGE: "unreadable_image",
    STATUS_MISSING_ANNOTATION: "missing_annotation",
    STATUS_MISSING_DEPTH: "missing_depth",
}


class PerceptionModels:
    """The perception backends of one job, built when first asked: a network loads once per job.

    The groundtruth keypoint and dataset depth backends are rebuilt per sequence (no weights): their
    simulated errors are seeded by the sequence name, so reruns, and one job or many, agree.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self._keypoints = None
        self._depth = None
        self.load_seconds = 0.0  # spent building the backends so far

    def keypoints(self, sequence_name: str):
        started = time.perf_counter()
        if self.config.perception.keypoints.backend == "groundtruth":
            backend = keypoint_backend_from_config(self.config, seed=zlib.crc32(sequence_name.encode()))
        else:
            self._keypoints = self._keypoints or keypoint_backend_from_config(self.config)
            backend = self._keypoints
        self.load_seconds += time.perf_counter() - started
        return backend

    def depth(self, sequence_name: str):
        started = time.perf_counter()
        if self.config.perception.depth.backend == "dataset":
            backend = depth_backend_from_config(self.config, seed=zlib.crc32(f"depth:{sequence_name}".encode()))
        else:
            self._depth = self._depth or depth_backend_from_config(self.config)
            backend = self._depth
        self.load_seconds += time.perf_counter() - started
        return backend


def preprocess_sequences(
    config: Config, sequence_names: list[str], outputs_h5: list[Path], reports_json: list[Path],
    index_path: Path | None = None,
) -> list[dict[str, Any]]:
    """Several sequences of one subject in one job, the networks loaded once (GPU jobs, see README)."""
    models = PerceptionModels(config)
    return [preprocess_sequence(config, name, Path(h5), Path(report), index_path, models)
            for name, h5, report in zip(sequence_names, outputs_h5, reports_json, strict=True)]


def preprocess_sequence(
    config: Config, sequence_name: str, output_h5: Path, report_json: Path, index_path: Path | None = None,
    models: PerceptionModels | None = None,
) -> dict[str, Any]:
    """Run perception on one sequence and write its HDF5 file and JSON report; return the report.

    The frames come from the subject's annotation index (`pose3d.datasets.index`, rule `index`)
    when `index_path` is given, else from parsing the annotation JSONs. The subject's role in
    the split decides the frame step (`pose3d.datasets.frame_steps`). `models` shares loaded
    backends between the sequences of one job. Image decoding runs in threads, one batch ahead
    of the networks.
    """
    started = time.perf_counter()
    models = models or PerceptionModels(config)
    sequence = SequenceId.parse(sequence_name)
    root = Path(config.dataset.root)
    frame_step = frame_step_for_subject(config, sequence.subject)
    record = load_record(config, sequence, frame_step, index_path)
    kp_settings, depth_settings = config.perception.keypoints, config.perception.depth
    if depth_settings.backend == "dataset" and record.depth_paths is None:
        raise PerceptionError(
            f"config key 'perception.depth.backend' is 'dataset' but {root / 'depth' / sequence_name} holds no "
            "depth maps (real Human3.6M has none); use the 'depthpro' backend"
        )
    loaded_before = models.load_seconds
    keypoint_backend = models.keypoints(sequence_name)
    depth_backend = models.depth(sequence_name)
    load_seconds = models.load_seconds - loaded_before

    n = len(record.frame_indices)
    size = config.shards.depth_size
    out = _empty_outputs(n, size)
    out["frame"][:] = record.frame_indices
    joints = np.asarray(record.joints_cam_mm, dtype=np.float32)
    out["joints_cam_mm"][:] = joints
    camera = record.camera
    focal = np.asarray(camera.focal, np.float64)
    center = np.asarray(camera.center, np.float64)
    out["intrinsics"][:] = np.array([focal[0], focal[1], center[0], center[1]], np.float32)
    boxes_xywh = np.asarray(record.bboxes_xywh, np.float64)
    image_files = [_relative_to_images(Path(p), root) for p in record.image_paths]
    skipped: dict[str, list[str]] = {name: [] for code, name in STATUS_NAMES.items() if code != STATUS_OK}
    # A whole-frame detector gets a second look at the annotated box of a frame whose subject it missed.
    second_look = takes_second_look(kp_settings)
    looked_again = found_again = 0

    step = max(kp_settings.batch_size, depth_settings.batch_size)
    batches = [range(start, min(n, start + step)) for start in range(0, n, step)]
    with tqdm(total=n, desc=f"preprocess {sequence_name}", unit="frame", mininterval=2.0) as progress, \
            ThreadPoolExecutor(max_workers=DECODE_THREADS) as decoder:
        # OpenCV decodes without the GIL: the next batch decodes while the networks run on this one.
        pending = [decoder.submit(files.read_image, Path(record.image_paths[i])) for i in batches[0]] if batches else []
        for number, batch in enumerate(batches):
            images = [future.result() for future in pending]
            if number + 1 < len(batches):
                pending = [decoder.submit(files.read_image, Path(record.image_paths[i])) for i in batches[number + 1]]
            frames, indices = [], []
            for i, image in zip(batch, images, strict=True):
                if image is None:
                    out["status"][i] = STATUS_UNREADABLE_IMAGE
                elif not np.all(np.isfinite(joints[i])):
                    out["status"][i] = STATUS_MISSING_ANNOTATION
                else:
                    box = boxes_xywh[i]
                    frames.append(Frame(
                        image=image, image_path=Path(record.image_paths[i]),
                        depth_path=Path(record.depth_paths[i]) if record.depth_paths is not None else None,
                        joints_cam_mm=joints[i], focal=focal, center=center,
                        bbox_xyxy=np.array([box[0], box[1], box[0] + box[2], box[1] + box[3]]),
                    ))
                    indices.append(i)
            if frames:
                looked, found = _perceive(frames, indices, keypoint_backend, depth_backend, out,
                                          config.shards.image_size, size, config.shards.crop_padding, second_look)
                looked_again, found_again = looked_again + looked, found_again + found
            progress.update(len(batch))

    for i, code in enumerate(out["status"]):
        if code != STATUS_OK:
            skipped[STATUS_NAMES[int(code)]].append(str(record.image_paths[i]))
    attrs = {
        "schema": SCHEMA_NAME, "schema_version": SCHEMA_VERSION, "sequence": sequence_name,
        "subject": sequence.subject, "action": sequence.action, "subaction": sequence.subaction,
        "camera": sequence.camera, "keypoints_layout": keypoint_backend.layout,
        "keypoints_backend": kp_settings.backend, "depth_backend": depth_settings.backend,
        "keypoints_error_model": kp_settings.error_model if kp_settings.backend == "groundtruth" else "none",
        "depth_error_model": depth_settings.error_model if depth_settings.backend == "dataset" else "none",
        "image_size": int(config.shards.image_size), "depth_size": size, "crop_padding": float(config.shards.crop_padding),
        "image_width": int(camera.width), "image_height": int(camera.height),
    }
    _write_h5(Path(output_h5), attrs, out, image_files)
    seconds = time.perf_counter() - started
    kept = int(np.sum(out["status"] == STATUS_OK))
    missed = int(np.sum((out["status"] == STATUS_NO_PERSON) & np.isfinite(out["crop"][:, 2])))
    # The person's height as the simulated detector takes it: the annotated box's longer side.
    heights = boxes_xywh[:, 2:4].max(axis=1) if n else np.zeros(0)
    agreement = keypoint_agreement(out["keypoints_2d"], keypoint_backend.layout, out["joints_cam_mm"], out["intrinsics"],
                                   heights, out["status"] == STATUS_OK)
    if agreement is not None and agreement["misaligned"]:
        log.warning(describe_offset(sequence_name, agreement))
    report = {
        "sequence": sequence_name,
        "keypoints_backend": kp_settings.backend,
        "depth_backend": depth_settings.backend,
        "frame_step": frame_step,
        "frames_seen": n,
        "frames_kept": kept,
        # no_person frames cropped at the annotated box, without keypoints: evaluated, never trained on.
        "frames_missed_kept_for_evaluation": missed,
        # Frames whose subject the whole-frame detector missed, looked at again on the annotated box
        # (`perception.keypoints.second_look`), and the subjects found there (kept as ordinary frames).
        "second_look": {"frames": looked_again, "found": found_again} if second_look else None,
        "skipped": {name: {"count": len(paths), "paths": paths} for name, paths in skipped.items()},
        # The 2D keypoints against the annotation's projected 3D joints (`pose3d.perception.agreement`).
        "keypoints_vs_annotation": agreement,
        # Frames the annotations list but the reader dropped before preprocess saw them (no rows here).
        "skipped_by_reader": dict(record.skipped),
        "seconds": round(seconds, 3),
        "load_seconds": round(load_seconds, 3),  # building the backends (0 when the job had them loaded)
        "frames_per_second": round(n / seconds, 2) if seconds > 0 else None,
    }
    files.write_json(report_json, report)
    log.info("%s: kept %d of %d frames (%s)%s%s", sequence_name, kept, n,
             ", ".join(f"{k} {len(v)}" for k, v in skipped.items() if v) or "no skips",
             f"; {found_again} of {looked_again} subjects missed in the whole frame found on the annotated box"
             if looked_again else "",
             f"; {missed} frames whose subject was missed kept for evaluation, without keypoints" if missed else "")
    return report


def load_record(config: Config, sequence: SequenceId, frame_step: int, index_path: Path | None = None):
    """The sequence's annotated frames: from the subject's index file, or by parsing its JSONs."""
    if index_path is not None:
        from pose3d.datasets.index import AnnotationIndex

        index = AnnotationIndex(index_path)
        if index.camera_t != config.dataset.camera_t:
            raise ValueError(f"{index_path}: built with camera_t {index.camera_t!r}, config says "
                             f"{config.dataset.camera_t!r}; rerun rule index")
        return index.load_sequence(sequence, config.dataset.root, frame_step)
    from pose3d.datasets.h36m import H36MReader

    return H36MReader(config.dataset.root, camera_t=config.dataset.camera_t).load_sequence(sequence, frame_step)


def _perceive(
    frames, indices, keypoint_backend, depth_backend, out, image_size: int, depth_size: int, padding: float,
    second_look: bool = False,
) -> tuple[int, int]:
    """Run both backends on a batch of readable, annotated frames and fill their output rows.

    Returns (frames looked at again, subjects found on that second look); (0, 0) without it.
    """
    detections = keypoint_backend(frames)
    looked = found_again = 0
    if second_look:
        detections, looked, found_again = look_again_at_missed(keypoint_backend, frames, detections)
    depths = depth_backend(frames)
    for frame, i, found, depth in zip(frames, indices, detections, depths, strict=True):
        if depth is None:
            out["status"][i] = STATUS_MISSING_DEPTH
            continue
        person = select_person(found, frame.bbox_xyxy)
        if person is None:
            out["status"][i] = STATUS_NO_PERSON
            if not has_box(frame.bbox_xyxy):
                continue
            # The annotated subject was missed. Its frame stays usable for evaluation, as the protocol
            # counts every frame: cropped at the annotated box, with no 2D keypoints (every score 0).
            box, keypoints, score = frame.bbox_xyxy, np.zeros((17, 3), np.float32), 0.0
        else:
            out["status"][i] = STATUS_OK
            box, keypoints, score = found.boxes_xyxy[person], found.keypoints[person], found.scores[person]
        # The crop inference cuts too (`cropping.crop_person`): the depth pixels sit where training reads them.
        crop = square_crop_from_box(box, image_size, padding)
        depth_crop = cropping.crop_depth(depth.depth_m, crop, image_size, depth_size, frame.image.shape[:2])
        out["keypoints_2d"][i] = keypoints
        out["box"][i] = box
        out["person_score"][i] = score
        out["crop"][i] = (crop[0], crop[1], crop[2] * image_size)
        out["depth"][i] = depth_crop.astype(np.float16)
        out["focal_estimate"][i] = depth.focal_px
    return looked, found_again


def _empty_outputs(n: int, depth_size: int) -> dict[str, np.ndarray]:
    return {
        "frame": np.zeros(n, np.int32),
        "status": np.zeros(n, np.uint8),
        "keypoints_2d": np.full((n, 17, 3), np.nan, np.float32),
        "box": np.full((n, 4), np.nan, np.float32),
        "person_score": np.full(n, np.nan, np.float32),
        "crop": np.full((n, 3), np.nan, np.float32),
        "depth": np.full((n, depth_size, depth_size), np.nan, np.float16),
        "focal_estimate": np.full(n, np.nan, np.float32),
        "joints_cam_mm": np.full((n, 17, 3), np.nan, np.float32),
        "intrinsics": np.full((n, 4), np.nan, np.float32),
    }


def _relative_to_images(path: Path, root: Path) -> str:
    """An image path as stored in the file: relative to `<root>/images/`."""
    images = root / "images"
    for base in (images, images.resolve()):
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            continue
    try:
        return path.resolve().relative_to(images.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _write_h5(path: Path, attrs: dict[str, Any], arrays: dict[str, np.ndarray], image_files: list[str]) -> None:
    """Write the preprocessed file under a temporary name, then rename it into place."""
    with files.atomic_path(path) as temporary, h5py.File(temporary, "w") as handle:
        for key, value in attrs.items():
            handle.attrs[key] = value
        for key, value in arrays.items():
            handle.create_dataset(key, data=value, compression="gzip" if key == "depth" else None)
        handle.create_dataset(
            "image_file", data=np.array(image_files, dtype=object), dtype=h5py.string_dtype("utf-8")
        )
