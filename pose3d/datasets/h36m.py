"""Read the Human3.6M annotation layout (the real release or the synthetic twin) per sequence.

Layout (see DESIGN §3): `images/<seq>/<seq>_000001.jpg`, optional `depth/<seq>/<seq>_000001.png`
(synthetic only: uint16 mm, 0 = no surface), and per subject
`annotations/Human36M_subject{S}_{data,camera,joint_3d}.json`.

Stable API (preprocess, chunk and infer build on it):

    reader = H36MReader(root)
    reader.subjects() -> list[int]                      subjects with annotation files
    reader.sequences(subject) -> list[SequenceId]      sequences listed in the subject's data.json
    reader.camera(subject, cam_idx, width, height) -> Camera
    reader.load_sequence(seq, frame_step=1) -> SequenceRecord
    reader.iter_sequences(subjects, actions, subactions, cameras, frame_step) -> Iterator[SequenceRecord]

`SequenceRecord` fields: sequence (SequenceId), frame_indices (F,) int64 (0-based, multiples
of frame_step), image_ids (F,) int64, image_paths list[Path], depth_paths list[Path] | None
(None when the root has no depth/ folder), camera (Camera), joints_world_mm (F,17,3)
float32, joints_cam_mm (F,17,3) float32 (`X_cam = R @ X_world + t`), bboxes_xywh (F,4)
float32 (person box in image pixels), skipped {reason: count}. Joints are Human3.6M-17
(`pose3d.skeleton.H36M17`). A frame whose image entry exists but whose 3D joints or box
are missing is skipped and counted (reasons `no_joint_3d`, `no_bbox`) and logged.

Each subject's three JSONs are parsed once (they reach hundreds of MB on the real data),
turned into compact numpy indexes, and the parsed JSON is dropped. A missing or malformed
file raises `DatasetError` (a ValueError) naming the file and what is wrong.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pose3d.datasets.camera_convention import CAMERA_T_CONVENTIONS, translation_from_annotation
from pose3d.datasets.layout import SequenceId, annotation_path
from pose3d.geometry import world_to_camera
from pose3d.skeleton import H36M17

log = logging.getLogger(__name__)


class DatasetError(ValueError):
    """A dataset file is missing or malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Camera:
    """A Human3.6M annotation camera: X_cam = R @ X_world + t (mm); pixel = f * xy / z + c."""

    rotation: np.ndarray  # (3, 3)
    translation_mm: np.ndarray  # (3,)
    focal: np.ndarray  # (2,) pixels
    center: np.ndarray  # (2,) pixels
    width: int
    height: int

    @property
    def intrinsics(self) -> np.ndarray:
        """(fx, fy, cx, cy) float32, the order of the shard `intrinsics` dataset."""
        return np.concatenate([self.focal, self.center]).astype(np.float32)


@dataclass
class SequenceRecord:
    """One sequence's frames with their camera, 3D joints and person boxes (see module doc)."""

    sequence: SequenceId
    frame_indices: np.ndarray
    image_ids: np.ndarray
    image_paths: list[Path]
    depth_paths: list[Path] | None
    camera: Camera
    joints_world_mm: np.ndarray
    joints_cam_mm: np.ndarray
    bboxes_xywh: np.ndarray
    skipped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frame_indices)


@dataclass
class FrameTable:
    """Every annotated frame of one sequence, before any frame step or skip.

    frame_indices, image_ids (F,) int64; file_names (below images/); joints_world_mm (F,17,3)
    float64 and bboxes_xywh (F,4) float64, NaN where the annotations lack them.
    """

    frame_indices: np.ndarray
    image_ids: np.ndarray
    file_names: list[str]
    width: int
    height: int
    joints_world_mm: np.ndarray
    bboxes_xywh: np.ndarray


def record_from_table(
    root: Path, seq: SequenceId, table: FrameTable, camera: Camera, frame_step: int
) -> SequenceRecord:
    """The frames of `table` at multiples of `frame_step`; frames lacking joints or a box are counted."""
    if frame_step < 1:
        raise ValueError(f"frame_step must be >= 1, got {frame_step}")
    on_step = table.frame_indices % frame_step == 0
    has_joints = np.isfinite(table.joints_world_mm).all(axis=(1, 2))
    has_box = np.isfinite(table.bboxes_xywh).all(axis=1)
    skipped = {}
    if np.any(on_step & ~has_joints):
        skipped["no_joint_3d"] = int(np.sum(on_step & ~has_joints))
    if np.any(on_step & has_joints & ~has_box):
        skipped["no_bbox"] = int(np.sum(on_step & has_joints & ~has_box))
    if skipped:
        log.warning("%s: skipped frames %s", seq.name, skipped)
    keep = np.flatnonzero(on_step & has_joints & has_box)
    joints_world = table.joints_world_mm[keep].reshape(-1, H36M17.num_joints, 3)
    joints_cam = world_to_camera(joints_world, camera.rotation, camera.translation_mm)
    root = Path(root)
    depth_paths = None
    if (root / "depth").is_dir():
        depth_paths = [(root / "depth" / table.file_names[k]).with_suffix(".png") for k in keep]
    return SequenceRecord(
        sequence=seq,
        frame_indices=np.asarray(table.frame_indices[keep], dtype=np.int64),
        image_ids=np.asarray(table.image_ids[keep], dtype=np.int64),
        image_paths=[root / "images" / table.file_names[k] for k in keep],
        depth_paths=depth_paths,
        camera=camera,
        joints_world_mm=joints_world.astype(np.float32),
        joints_cam_mm=np.asarray(joints_cam, dtype=np.float32),
        bboxes_xywh=table.bboxes_xywh[keep].astype(np.float32).reshape(-1, 4),
        skipped=skipped,
    )


@dataclass
class _SequenceIndex:
    frame_indices: np.ndarray
    image_ids: np.ndarray
    file_names: list[str]
    width: int
    height: int


@dataclass
class _SubjectIndex:
    sequences: dict[SequenceId, _SequenceIndex]
    bboxes: dict[int, np.ndarray]  # image id -> (4,)
    cameras: dict[int, dict[str, np.ndarray]]
    joints: dict[tuple[int, int], np.ndarray]  # (action, subaction) -> (frames, 17, 3), NaN = absent


def _load_json(path: Path) -> Any:
    if not path.is_file():
        raise DatasetError(f"{path}: annotation file is missing")
    try:
        with open(path, "rb") as handle:
            return json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: not valid JSON ({error})") from None


def _array(value: Any, shape: tuple[int, ...], path: Path, where: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: {where} is not a numeric array") from None
    if array.size == int(np.prod(shape)) and array.shape != shape:
        array = array.reshape(shape)  # some releases store t as 3x1
    if array.shape != shape:
        raise DatasetError(f"{path}: {where} has shape {array.shape}, expected {shape}")
    if not np.all(np.isfinite(array)):
        raise DatasetError(f"{path}: {where} contains NaN or infinity")
    return array


class H36MReader:
    """Per-sequence access to a Human3.6M-layout dataset under `root` (see module doc)."""

    def __init__(self, root: str | Path, camera_t: str = "translation"):
        if camera_t not in CAMERA_T_CONVENTIONS:
            raise ValueError(f"camera_t must be one of {CAMERA_T_CONVENTIONS}, got {camera_t!r}")
        self.root = Path(root)
        self.camera_t = camera_t
        if not (self.root / "annotations").is_dir():
            raise DatasetError(f"{self.root}: no annotations/ folder (expected the Human3.6M layout)")
        self._subjects: dict[int, _SubjectIndex] = {}

    def subjects(self) -> list[int]:
        """Subjects with a data.json in annotations/."""
        found = []
        for path in (self.root / "annotations").glob("Human36M_subject*_data.json"):
            number = path.name[len("Human36M_subject"):-len("_data.json")]
            if number.isdigit():
                found.append(int(number))
        return sorted(found)

    def sequences(self, subject: int) -> list[SequenceId]:
        return sorted(self._subject(subject).sequences)

    def camera(self, subject: int, cam_idx: int, width: int, height: int) -> Camera:
        cameras = self._subject(subject).cameras
        if cam_idx not in cameras:
            path = annotation_path(self.root, subject, "camera")
            raise DatasetError(f"{path}: no camera {cam_idx} (has {sorted(cameras)})")
        params = cameras[cam_idx]
        translation = translation_from_annotation(params["R"], params["t"], self.camera_t)
        return Camera(params["R"], translation, params["f"], params["c"], width, height)

    def raw_cameras(self, subject: int) -> dict[int, dict[str, np.ndarray]]:
        """The subject's cameras exactly as the file stores them: {cam_idx: {R, t, f, c}}."""
        return self._subject(subject).cameras

    def load_sequence(self, seq: SequenceId, frame_step: int = 1) -> SequenceRecord:
        """Frames of `seq` whose frame_idx is a multiple of `frame_step`, with joints and boxes."""
        table = self.frame_table(seq)
        camera = self.camera(seq.subject, seq.camera, table.width, table.height)
        return record_from_table(self.root, seq, table, camera, frame_step)

    def frame_table(self, seq: SequenceId) -> FrameTable:
        """Every annotated frame of `seq`, NaN joints / boxes where the annotations lack them."""
        index = self._subject(seq.subject)
        if seq not in index.sequences:
            path = annotation_path(self.root, seq.subject, "data")
            raise DatasetError(f"{path}: no images of sequence {seq.name}")
        entries = index.sequences[seq]
        joints_of = index.joints.get((seq.action, seq.subaction), np.empty((0, H36M17.num_joints, 3)))
        count = len(entries.frame_indices)
        joints = np.full((count, H36M17.num_joints, 3), np.nan)
        annotated = entries.frame_indices < len(joints_of)
        joints[annotated] = joints_of[entries.frame_indices[annotated]]
        boxes = np.full((count, 4), np.nan)
        for k, image_id in enumerate(entries.image_ids):
            box = index.bboxes.get(int(image_id))
            if box is not None:
                boxes[k] = box
        return FrameTable(entries.frame_indices, entries.image_ids, list(entries.file_names), entries.width,
                          entries.height, joints, boxes)

    def iter_sequences(
        self,
        subjects: Iterable[int],
        actions: Iterable[int] = (),
        subactions: Iterable[int] = (),
        cameras: Iterable[int] = (),
        frame_step: int = 1,
    ) -> Iterator[SequenceRecord]:
        """Records of every listed sequence matching the filters (empty filter = all), sorted."""
        actions, subactions, cameras = set(actions), set(subactions), set(cameras)
        for subject in sorted(subjects):
            for seq in self.sequences(subject):
                if ((not actions or seq.action in actions) and (not subactions or seq.subaction in subactions)
                        and (not cameras or seq.camera in cameras)):
                    yield self.load_sequence(seq, frame_step)

    def clear_cache(self) -> None:
        self._subjects.clear()

    def _subject(self, subject: int) -> _SubjectIndex:
        if subject not in self._subjects:
            self._subjects[subject] = self._index_subject(subject)
        return self._subjects[subject]

    def _index_subject(self, subject: int) -> _SubjectIndex:
        log.info("indexing annotations of subject %d in %s", subject, self.root)
        return _SubjectIndex(*self._index_data(subject), self._index_cameras(subject), self._index_joints(subject))

    def _index_data(self, subject: int) -> tuple[dict[SequenceId, _SequenceIndex], dict[int, np.ndarray]]:
        path = annotation_path(self.root, subject, "data")
        data = _load_json(path)
        if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
                or not isinstance(data.get("annotations"), list):
            raise DatasetError(f"{path}: expected a COCO-style object with 'images' and 'annotations' lists")
        grouped: dict[SequenceId, list[tuple[int, int, str, int, int]]] = defaultdict(list)
        for position, image in enumerate(data["images"]):
            try:
                seq = SequenceId(int(image["subject"]), int(image["action_idx"]), int(image["subaction_idx"]),
                                 int(image["cam_idx"]))
                entry = (int(image["frame_idx"]), int(image["id"]), str(image["file_name"]),
                         int(image["width"]), int(image["height"]))
            except (KeyError, TypeError, ValueError) as error:
                raise DatasetError(f"{path}: images[{position}] lacks or has a bad field ({error!r}); needs id, "
                                   "file_name, width, height, subject, action_idx, subaction_idx, cam_idx, "
                                   "frame_idx") from None
            grouped[seq].append(entry)
        sequences = {}
        for seq, entries in grouped.items():
            entries.sort()
            sequences[seq] = _SequenceIndex(
                frame_indices=np.array([e[0] for e in entries], dtype=np.int64),
                image_ids=np.array([e[1] for e in entries], dtype=np.int64),
                file_names=[e[2] for e in entries],
                width=entries[0][3],
                height=entries[0][4],
            )
        try:
            image_ids = [int(annotation["image_id"]) for annotation in data["annotations"]]
            boxes = [annotation["bbox"] for annotation in data["annotations"]]
        except (KeyError, TypeError, ValueError):
            image_ids, boxes = [], []
            for position, annotation in enumerate(data["annotations"]):  # find the entry to name
                try:
                    image_ids.append(int(annotation["image_id"]))
                    boxes.append(annotation["bbox"])
                except (KeyError, TypeError, ValueError) as error:
                    raise DatasetError(f"{path}: annotations[{position}] lacks image_id or bbox ({error!r})") from None
        try:  # one conversion for all boxes; on failure, the slow path names the bad entry
            box_array = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
            if len(box_array) != len(boxes) or not np.all(np.isfinite(box_array)):
                raise ValueError
        except (TypeError, ValueError):
            box_array = np.array([_array(bbox, (4,), path, f"annotations[{position}].bbox")
                                  for position, bbox in enumerate(boxes)]).reshape(-1, 4)
        return sequences, dict(zip(image_ids, box_array, strict=True))

    def _index_cameras(self, subject: int) -> dict[int, dict[str, np.ndarray]]:
        path = annotation_path(self.root, subject, "camera")
        raw = _load_json(path)
        if not isinstance(raw, dict):
            raise DatasetError(f"{path}: expected an object {{cam_idx: {{R, t, f, c}}}}")
        cameras = {}
        shapes = {"R": (3, 3), "t": (3,), "f": (2,), "c": (2,)}
        for key, params in raw.items():
            if not str(key).isdigit() or not isinstance(params, dict):
                raise DatasetError(f"{path}: entry {key!r} is not cam_idx -> {{R, t, f, c}}")
            missing = [name for name in shapes if name not in params]
            if missing:
                raise DatasetError(f"{path}: camera {key} lacks {missing}")
            cameras[int(key)] = {name: _array(params[name], shape, path, f"camera {key} {name}")
                                 for name, shape in shapes.items()}
        return cameras

    def _index_joints(self, subject: int) -> dict[tuple[int, int], np.ndarray]:
        """(action, subaction) -> dense (max_frame + 1, 17, 3) float64 world mm, NaN where a frame is absent."""
        path = annotation_path(self.root, subject, "joint_3d")
        raw = _load_json(path)
        if not isinstance(raw, dict):
            raise DatasetError(f"{path}: expected {{action_idx: {{subaction_idx: {{frame_idx: 17x3}}}}}}")
        joints: dict[tuple[int, int], np.ndarray] = {}
        shape = (H36M17.num_joints, 3)
        for action, by_subaction in raw.items():
            if not isinstance(by_subaction, dict):
                raise DatasetError(f"{path}: action {action} is not an object of subactions")
            for subaction, frames in by_subaction.items():
                where = f"action {action} subaction {subaction}"
                if not isinstance(frames, dict):
                    raise DatasetError(f"{path}: {where} is not an object of frames")
                try:
                    key = (int(action), int(subaction))
                    numbers = [int(frame) for frame in frames]
                except ValueError as error:
                    raise DatasetError(f"{path}: non-integer key under {where} ({error})") from None
                dense = np.full((max(numbers, default=-1) + 1,) + shape, np.nan)
                try:  # one conversion per recording; on failure, the slow path names the bad frame
                    values = np.asarray(list(frames.values()), dtype=np.float64).reshape((len(numbers),) + shape)
                    if not np.all(np.isfinite(values)):
                        raise ValueError
                    dense[numbers] = values
                except (TypeError, ValueError):
                    for number, value in zip(numbers, frames.values(), strict=True):
                        dense[number] = _array(value, shape, path, f"joints of {where} frame {number}")
                joints[key] = dense
        return joints
