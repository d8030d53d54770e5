"""A subject's annotations parsed once into a compact HDF5 index that the preprocess jobs read.

The release's `Human36M_subject{S}_data.json` and `_joint_3d.json` reach hundreds of MB per
subject; parsing them in every preprocess job (~840 at full scale) costs seconds and GB each.
Rule `index {subject}` writes `results/index/S{subject}.h5` once; a job then reads the few
rows of its sequence.

Index file format (HDF5; F = annotated frames of the subject, S = its sequences, C = cameras)

Attributes: `schema` = "pose3d.annotation_index", `schema_version` = 1, `subject`,
`camera_t` (how the camera file's t was read: translation | centre), `dataset_root`.

| dataset            | shape, dtype        | meaning |
|--------------------|---------------------|---------|
| sequence           | (S,) utf-8 str      | sequence folder name, sorted |
| sequence_start     | (S,) int64          | first row of the sequence in the frame datasets |
| sequence_count     | (S,) int64          | its number of rows |
| image_size         | (S, 2) int32        | width, height of its images |
| frame              | (F,) int32          | frame_idx (0-based) |
| image_id           | (F,) int64          | image id of data.json |
| image_file         | (F,) utf-8 str      | image path below `images/` |
| bbox_xywh          | (F, 4) float32      | annotated person box, pixels; NaN if absent |
| joints_cam_mm      | (F, 17, 3) float32  | Human3.6M-17 joints in the frame's camera, mm; NaN if absent |
| camera_id          | (C,) int32          | cam_idx |
| camera_rotation    | (C, 3, 3) float64   | R of X_cam = R @ X_world + t |
| camera_translation | (C, 3) float64      | t of that equation, mm (converted when the file stores the centre) |
| camera_focal       | (C, 2) float64      | fx, fy, pixels |
| camera_center      | (C, 2) float64      | cx, cy, pixels |
"""

from __future__ import annotations

import logging
from pathlib import Path

import h5py
import numpy as np

from pose3d import io as files
from pose3d.datasets.h36m import (
    Camera,
    DatasetError,
    FrameTable,
    H36MReader,
    SequenceRecord,
    record_from_table,
)
from pose3d.datasets.layout import SequenceId
from pose3d.geometry import camera_to_world, world_to_camera
from pose3d.skeleton import H36M17

log = logging.getLogger(__name__)

SCHEMA_NAME = "pose3d.annotation_index"
SCHEMA_VERSION = 1


def build_index(root: str | Path, subject: int, output: str | Path, camera_t: str = "translation") -> dict:
    """Parse `subject`'s annotation files under `root` and write its index to `output`; returns a summary."""
    reader = H36MReader(root, camera_t=camera_t)
    sequences = reader.sequences(subject)
    tables: list[FrameTable] = [reader.frame_table(seq) for seq in sequences]
    cameras = sorted(reader.raw_cameras(subject))
    camera_of = {cam: reader.camera(subject, cam, 0, 0) for cam in cameras}
    counts = np.array([len(table.frame_indices) for table in tables], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    joints_cam = [
        world_to_camera(table.joints_world_mm, camera_of[seq.camera].rotation, camera_of[seq.camera].translation_mm)
        for seq, table in zip(sequences, tables, strict=True)
    ]
    arrays = {
        "sequence_start": starts,
        "sequence_count": counts,
        "image_size": np.array([[t.width, t.height] for t in tables], dtype=np.int32).reshape(-1, 2),
        "frame": _concat([t.frame_indices for t in tables], np.int32, (0,)),
        "image_id": _concat([t.image_ids for t in tables], np.int64, (0,)),
        "bbox_xywh": _concat([t.bboxes_xywh for t in tables], np.float32, (0, 4)),
        "joints_cam_mm": _concat(joints_cam, np.float32, (0, H36M17.num_joints, 3)),
        "camera_id": np.array(cameras, dtype=np.int32),
        "camera_rotation": np.array([camera_of[c].rotation for c in cameras], dtype=np.float64).reshape(-1, 3, 3),
        "camera_translation": np.array([camera_of[c].translation_mm for c in cameras], np.float64).reshape(-1, 3),
        "camera_focal": np.array([camera_of[c].focal for c in cameras], dtype=np.float64).reshape(-1, 2),
        "camera_center": np.array([camera_of[c].center for c in cameras], dtype=np.float64).reshape(-1, 2),
    }
    strings = {
        "sequence": [seq.name for seq in sequences],
        "image_file": [name for table in tables for name in table.file_names],
    }
    attrs = {"schema": SCHEMA_NAME, "schema_version": SCHEMA_VERSION, "subject": int(subject),
             "camera_t": camera_t, "dataset_root": str(Path(root).resolve())}
    _write(Path(output), attrs, arrays, strings)
    summary = {"subject": int(subject), "sequences": len(sequences), "frames": int(counts.sum()),
               "cameras": cameras, "bytes": Path(output).stat().st_size}
    log.info("index S%d: %d sequences, %d frames -> %s", subject, summary["sequences"], summary["frames"], output)
    return summary


def _concat(parts: list[np.ndarray], dtype, empty_shape: tuple[int, ...]) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.empty(empty_shape, dtype)


def _write(path: Path, attrs: dict, arrays: dict[str, np.ndarray], strings: dict[str, list[str]]) -> None:
    """Write under a temporary name, then rename: an interrupted job leaves no finished-looking index."""
    with files.atomic_path(path) as temporary, h5py.File(temporary, "w") as handle:
        handle.attrs.update(attrs)
        for name, values in arrays.items():
            handle.create_dataset(name, data=values)
        for name, values in strings.items():
            handle.create_dataset(name, data=np.array(values, dtype=object), dtype=h5py.string_dtype("utf-8"))


class AnnotationIndex:
    """Read access to one subject's index file: the same records as `H36MReader`, without the JSON."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            handle = h5py.File(self.path, "r")
        except OSError as error:
            raise DatasetError(f"{self.path}: not a readable annotation index ({error}); rerun rule index") from None
        with handle:
            attrs = {key: (value.decode() if isinstance(value, bytes) else value) for key, value in handle.attrs.items()}
            if attrs.get("schema") != SCHEMA_NAME or attrs.get("schema_version") != SCHEMA_VERSION:
                raise DatasetError(f"{self.path}: expected schema {SCHEMA_NAME!r} version {SCHEMA_VERSION}, found "
                                   f"{attrs.get('schema')!r} version {attrs.get('schema_version')!r}; rerun rule index")
            self.subject = int(attrs["subject"])
            self.camera_t = str(attrs["camera_t"])
            names = [name.decode() if isinstance(name, bytes) else str(name) for name in handle["sequence"][()]]
            starts, counts = handle["sequence_start"][()], handle["sequence_count"][()]
            sizes = handle["image_size"][()]
            self._rows = {name: (int(s), int(n), int(w), int(h))
                          for name, s, n, (w, h) in zip(names, starts, counts, sizes, strict=True)}
            self._cameras = {
                int(cam): (rotation, translation, focal, center)
                for cam, rotation, translation, focal, center in zip(
                    handle["camera_id"][()], handle["camera_rotation"][()], handle["camera_translation"][()],
                    handle["camera_focal"][()], handle["camera_center"][()], strict=True)
            }

    def sequences(self) -> list[SequenceId]:
        return [SequenceId.parse(name) for name in self._rows]

    def camera(self, cam_idx: int, width: int, height: int) -> Camera:
        if cam_idx not in self._cameras:
            raise DatasetError(f"{self.path}: no camera {cam_idx} (has {sorted(self._cameras)})")
        rotation, translation, focal, center = self._cameras[cam_idx]
        return Camera(rotation, translation, focal, center, width, height)

    def load_sequence(self, seq: SequenceId, root: str | Path, frame_step: int = 1) -> SequenceRecord:
        """Frames of `seq` at multiples of `frame_step`, image paths below `root`/images (as H36MReader)."""
        if seq.subject != self.subject:
            raise DatasetError(f"{self.path}: indexes subject {self.subject}, not {seq.name}")
        if seq.name not in self._rows:
            raise DatasetError(f"{self.path}: no images of sequence {seq.name} in the annotations")
        start, count, width, height = self._rows[seq.name]
        rows = slice(start, start + count)
        with h5py.File(self.path, "r") as handle:
            frames = handle["frame"][rows].astype(np.int64)
            image_ids = handle["image_id"][rows]
            files = [name.decode() if isinstance(name, bytes) else str(name) for name in handle["image_file"][rows]]
            boxes = handle["bbox_xywh"][rows].astype(np.float64)
            joints_cam = handle["joints_cam_mm"][rows].astype(np.float64)
        camera = self.camera(seq.camera, width, height)
        joints_world = camera_to_world(joints_cam, camera.rotation, camera.translation_mm)
        table = FrameTable(frames, image_ids, files, width, height, joints_world, boxes)
        return record_from_table(Path(root), seq, table, camera, frame_step)
