"""Chunk: join one subject's preprocessed sequences, RGB crops and 3D joints into one shard.

Input per sequence: `results/preprocessed/{sequence}.h5` (schema "pose3d.preprocessed" v1:
per-frame status, 2D keypoints and box in original pixels, a square crop (x0, y0, side),
the depth already cut to that square, camera-space joints and intrinsics). For each frame
with status 0 the original image is read, the same square is warped to `shards.image_size`,
and the keypoints are moved to crop pixels. A frame whose annotated subject the detector missed
(status no_person with a crop) becomes a sample without 2D keypoints (every score 0): split keeps
it for validation and test only. Other frames are skipped, counted and logged when the preprocess
status is not ok, the image cannot be read, or the joints are not finite.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import h5py
import numpy as np
from tqdm import tqdm

from pose3d.config import Config
from pose3d.cropping import crop_image, keypoints_to_crop
from pose3d.io import read_image
from pose3d.preprocess import SCHEMA_NAME as PREPROCESSED_SCHEMA
from pose3d.preprocess import SCHEMA_VERSION as PREPROCESSED_VERSION
from pose3d.preprocess import STATUS_NAMES, STATUS_NO_PERSON, STATUS_OK
from pose3d.shards import schema
from pose3d.shards.writer import ShardWriter, encode_image

log = logging.getLogger(__name__)

_PREPROCESSED_DATASETS = (
    "frame", "image_file", "status", "keypoints_2d", "crop", "depth", "joints_cam_mm", "intrinsics",
)
_PREPROCESSED_ATTRS = ("sequence", "subject", "action", "subaction", "camera", "keypoints_layout")


class ChunkError(RuntimeError):
    """A preprocessed input cannot be chunked; the message names the file."""


@dataclass
class ChunkReport:
    """What chunk did with one subject's frames."""

    subject: int
    samples: int = 0
    frames_seen: int = 0
    samples_without_person: int = 0  # of `samples`: the detector missed the subject; no 2D keypoints
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    skipped_files: list[str] = field(default_factory=list)  # images that could not be read

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject, "samples": self.samples, "frames_seen": self.frames_seen,
            "samples_without_person": self.samples_without_person,
            "skipped": dict(self.skipped), "skipped_files": self.skipped_files,
        }


def _attr(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    return value.item() if isinstance(value, np.generic) else value


def read_preprocessed(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Validated attributes and arrays of one preprocessed sequence file."""
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ChunkError(f"{path}: not a readable HDF5 file (truncated or corrupt?): {error}") from None
    with handle:
        attrs = {key: _attr(value) for key, value in handle.attrs.items()}
        if attrs.get("schema") != PREPROCESSED_SCHEMA or attrs.get("schema_version") != PREPROCESSED_VERSION:
            raise ChunkError(
                f"{path}: expected schema {PREPROCESSED_SCHEMA!r} version {PREPROCESSED_VERSION}, "
                f"found {attrs.get('schema')!r} version {attrs.get('schema_version')!r}; rerun preprocess"
            )
        missing = [name for name in _PREPROCESSED_ATTRS if name not in attrs]
        missing += [name for name in _PREPROCESSED_DATASETS if name not in handle]
        if missing:
            raise ChunkError(f"{path}: missing attributes/datasets {missing}")
        try:
            arrays = {name: handle[name][()] for name in _PREPROCESSED_DATASETS}
        except (OSError, RuntimeError) as error:
            raise ChunkError(f"{path}: cannot read (truncated or corrupt?): {error}") from None
    arrays["image_file"] = np.array([f.decode() if isinstance(f, bytes) else str(f) for f in arrays["image_file"]])
    lengths = {name: len(values) for name, values in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ChunkError(f"{path}: datasets have different lengths {lengths}")
    return attrs, arrays


def chunk_subject(
    config: Config, subject: int, preprocessed_files: Sequence[str | Path], output_h5: str | Path
) -> ChunkReport:
    """Write `output_h5`, the shard of every usable frame of `subject`; return what was kept and skipped."""
    image_size, depth_size = config.shards.image_size, config.shards.depth_size
    codec, quality = config.shards.image_codec, config.shards.jpeg_quality
    images_root = Path(config.dataset.root) / "images"
    report = ChunkReport(subject=int(subject))
    inputs = [(Path(path), *read_preprocessed(path)) for path in sorted(preprocessed_files, key=str)]
    layouts = {attrs["keypoints_layout"] for _path, attrs, _arrays in inputs}
    if len(layouts) > 1:
        raise ChunkError(f"subject {subject}: preprocessed files mix keypoint layouts {sorted(layouts)}: {[str(p) for p, *_ in inputs]}")
    for path, attrs, _arrays in inputs:
        if int(attrs["subject"]) != int(subject):
            raise ChunkError(f"{path}: belongs to subject {attrs['subject']}, not {subject}")
    layout = layouts.pop() if layouts else "h36m17"
    backends = sorted({
        f"keypoints={a.get('keypoints_backend', '?')}({a.get('keypoints_error_model', '?')}), "
        f"depth={a.get('depth_backend', '?')}({a.get('depth_error_model', '?')})"
        for _p, a, _r in inputs
    })
    source = f"dataset={config.dataset.source}; " + " | ".join(backends)
    total = sum(len(arrays["frame"]) for _path, _attrs, arrays in inputs)
    with ShardWriter(
        output_h5, image_size=image_size, depth_size=depth_size, image_codec=codec,
        keypoints_layout=layout, source=source, attrs={"subject": int(subject)},
    ) as writer, tqdm(total=total, desc=f"chunk S{subject}", unit="frame") as bar:
        for path, attrs, arrays in inputs:
            provenance = {name: int(attrs[name]) for name in ("subject", "action", "subaction", "camera")}
            for i in range(len(arrays["frame"])):
                bar.update(1)
                report.frames_seen += 1
                sample = _chunk_frame(arrays, i, images_root, image_size, depth_size, codec, quality, report, path)
                if sample is not None:
                    writer.append_sample({**sample, **provenance, schema.FRAME: int(arrays["frame"][i])})
                    report.samples += 1
    skipped = sum(report.skipped.values())
    log.info("chunk S%s: %d samples from %d frames (%d without a detected person), %d skipped %s -> %s",
             subject, report.samples, report.frames_seen, report.samples_without_person, skipped,
             dict(report.skipped), output_h5)
    if report.samples == 0:
        log.warning("chunk S%s: no usable frame; %s is an empty shard", subject, output_h5)
    return report


def _chunk_frame(
    arrays: dict[str, np.ndarray], i: int, images_root: Path, image_size: int, depth_size: int,
    codec: str, quality: int, report: ChunkReport, path: Path,
) -> dict[str, Any] | None:
    """One frame -> a shard sample, or None (skip counted in `report`)."""
    status = int(arrays["status"][i])
    missed = status == STATUS_NO_PERSON and bool(np.all(np.isfinite(arrays["crop"][i])))
    if status != STATUS_OK and not missed:
        report.skipped[f"preprocess_{STATUS_NAMES.get(status, status)}"] += 1
        return None
    joints = np.asarray(arrays["joints_cam_mm"][i], dtype=np.float32)
    x0, y0, side = (float(v) for v in arrays["crop"][i])
    if not (np.isfinite(joints).all() and np.isfinite([x0, y0, side]).all() and side > 0):
        report.skipped["nonfinite_joints_or_crop"] += 1
        log.warning("%s: frame %d has non-finite joints or crop; skipped", path, int(arrays["frame"][i]))
        return None
    image_path = images_root / arrays["image_file"][i]
    bgr = read_image(image_path)  # a decoder warning counts as unreadable, as in preprocess
    if bgr is None:
        report.skipped["unreadable_image"] += 1
        report.skipped_files.append(str(image_path))
        log.warning("cannot read image %s; skipped", image_path)
        return None
    crop = np.array([x0, y0, side / image_size], dtype=np.float32)
    rgb = crop_image(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), crop, image_size)
    depth = np.asarray(arrays["depth"][i], dtype=np.float32)
    if depth.shape != (depth_size, depth_size):
        # Same square, another resolution: resample without blending valid and empty pixels.
        depth = cv2.resize(depth, (depth_size, depth_size), interpolation=cv2.INTER_NEAREST_EXACT)  # centre-aligned
    if missed:
        report.samples_without_person += 1
    keypoints = np.zeros((17, 3), np.float32) if missed else keypoints_to_crop(arrays["keypoints_2d"][i], crop)
    return {
        schema.IMAGE: encode_image(rgb, codec, quality),
        schema.DEPTH: depth.astype(np.float16),
        schema.KEYPOINTS_2D: keypoints,
        schema.JOINTS_3D: joints,
        schema.INTRINSICS: np.asarray(arrays["intrinsics"][i], dtype=np.float32),
        schema.CROP: crop,
    }
