"""Which images inference reads, what to call their outputs, and what a dataset knows about them.

A folder, an image or a list is expanded into image files (other files are skipped with a
reason); images from a Human3.6M-layout dataset also get their camera, 3D joints, person box
and depth map, so panels can show ground truth beside the prediction.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pose3d.config import Config
from pose3d.heif import HEIF_SUFFIXES
from pose3d.perception.base import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", *HEIF_SUFFIXES)
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


def is_video(inputs) -> bool:
    """True when `inputs` is one video file (by suffix): inference then runs on its frames."""
    return isinstance(inputs, str | Path) and Path(inputs).suffix.lower() in VIDEO_SUFFIXES


def default_inference_images(config: Config) -> list[Path]:
    """Held-out images: the first test subject's sequences, frames spread evenly, round robin.

    At most `infer.max_images` (0 = all); a missing sequence folder is an error naming it.
    """
    from pose3d.datasets.layout import sequence_ids

    subject = config.split.test_subjects[0]
    sequences = sequence_ids([subject], config.dataset.actions, config.dataset.subactions, config.dataset.cameras)
    per_sequence = []
    for sequence in sequences:
        folder = Path(config.dataset.root) / "images" / sequence.name
        files = sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
        if not files:
            raise FileNotFoundError(f"no held-out images in {folder} (test subject {subject}; is the dataset complete?)")
        per_sequence.append(files)
    limit = config.infer.max_images or sum(len(files) for files in per_sequence)
    take = -(-limit // len(per_sequence))
    # The middle frame of each of `take` equal stretches: spread over the motion, never only frame 1.
    picked = [
        [files[int(i)] for i in np.unique(((np.arange(min(take, len(files))) + 0.5) * len(files) / min(take, len(files))).astype(int))]
        for files in per_sequence
    ]
    interleaved = [files[i] for i in range(take) for files in picked if i < len(files)]
    return interleaved[:limit]


def list_inputs(inputs: str | Path | Sequence[str | Path]) -> tuple[list[Path], list[dict[str, str]]]:
    """Image files of a file, a folder (recursively, sorted) or an explicit list -> (images, skipped).

    Files whose suffix is not an image's are skipped with a warning and a reason.
    """
    if isinstance(inputs, str | Path):
        root = Path(inputs)
        if root.is_dir():
            candidates = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif root.is_file():
            candidates = [root]
        else:
            raise FileNotFoundError(f"inference input {root} is neither an image file nor a folder")
    else:
        # The same file named twice is one image (one output name).
        candidates = list({os.path.abspath(p): Path(p) for p in inputs}.values())
    images, skipped = [], []
    for path in candidates:
        if path.suffix.lower() in IMAGE_SUFFIXES:
            images.append(path)
        elif path.suffix.lower() in VIDEO_SUFFIXES:
            log.warning("skipping %s: a video among images; give it alone as the input", path)
            skipped.append({"path": str(path), "reason": "a video inside an image folder (give the video alone as input)"})
        else:
            log.warning("skipping %s: not an image file (suffix %r)", path, path.suffix)
            skipped.append({"path": str(path), "reason": f"not an image file (suffix {path.suffix!r})"})
    return images, skipped


def output_names(paths: Sequence[Path]) -> list[str]:
    """Output names that cannot collide: each image's path relative to the inputs' common folder,
    extension kept (`img.jpg` and `img.png` -> `img.jpg`, `img.png`; `a/x.jpg` -> `a/x.jpg`).

    Results are written as `{name}.npy`, `{name}.json`, `panels/{name}.png`, so two different
    images always get different files, and no name can be `summary` or `contact_sheet`.
    """
    if not paths:
        return []
    resolved = [Path(os.path.abspath(p)) for p in paths]
    common = Path(os.path.commonpath([str(p.parent) for p in resolved]))
    return [p.relative_to(common).as_posix() for p in resolved]


class DatasetLookup:
    """What a Human3.6M-layout dataset knows about one of its images: camera, joints, box, depth.

    Images are recognised by their sequence folder (`s_09_act_02_subact_01_ca_01/..._000001.jpg`);
    annotations are read once per sequence.
    """

    def __init__(self, root: str | Path, camera_t: str = "translation") -> None:
        from pose3d.datasets.h36m import H36MReader

        self.root = Path(root)
        self.reader = H36MReader(self.root, camera_t=camera_t)
        self._sequences: dict[str, dict[str, dict[str, Any]]] = {}

    def frame_for(self, image_path: Path, image_bgr: np.ndarray) -> Frame:
        """A perception Frame with every annotation of `image_path`; image-only if it is not a dataset image."""
        from pose3d.datasets.layout import SequenceId

        frame = Frame(image=image_bgr, image_path=image_path)
        try:
            sequence = SequenceId.parse(image_path.parent.name)
        except ValueError:
            return frame
        entries = self._sequence(sequence)
        entry = entries.get(image_path.name)
        if entry is None:
            return frame
        frame.depth_path = entry["depth_path"]
        frame.joints_cam_mm = entry["joints_cam_mm"]
        frame.focal = entry["focal"]
        frame.center = entry["center"]
        frame.bbox_xyxy = entry["bbox_xyxy"]
        return frame

    def sequence_images(self, sequence_name: str) -> list[Path]:
        """The annotated images of a sequence of this dataset, in frame order (a video of it shows these)."""
        from pose3d.datasets.layout import SequenceId

        try:
            sequence = SequenceId.parse(sequence_name)
        except ValueError as error:
            raise ValueError(f"{sequence_name!r} does not name a dataset sequence: {error}") from None
        entries = self._sequence(sequence)
        return [self.root / "images" / sequence.name / name for name in entries]

    def _sequence(self, sequence) -> dict[str, dict[str, Any]]:
        if sequence.name not in self._sequences:
            record = self.reader.load_sequence(sequence, 1)
            camera = record.camera
            entries = {}
            for index, image_path in enumerate(record.image_paths):
                x, y, w, h = np.asarray(record.bboxes_xywh[index], dtype=np.float64)
                entries[Path(image_path).name] = {
                    "depth_path": Path(record.depth_paths[index]) if record.depth_paths is not None else None,
                    "joints_cam_mm": np.asarray(record.joints_cam_mm[index], dtype=np.float64),
                    "focal": np.asarray(camera.focal, dtype=np.float64),
                    "center": np.asarray(camera.center, dtype=np.float64),
                    "bbox_xyxy": np.array([x, y, x + w, y + h]),
                }
            self._sequences[sequence.name] = entries
        return self._sequences[sequence.name]
