"""A contact sheet of a Human3.6M-layout dataset: frames of every camera, skeleton drawn over them.

The skeleton is the annotated 3D pose projected with the annotated camera, so the sheet
checks the whole chain (motion, rendering, cameras, annotation files, reader) by eye.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from pose3d import io as files
from pose3d.datasets.layout import ACTIONS, SequenceId
from pose3d.skeleton import H36M17

log = logging.getLogger(__name__)

_LEFT = {H36M17.index(n) for n in ("l_hip", "l_knee", "l_ankle", "l_shoulder", "l_elbow", "l_wrist")}


def draw_skeleton(image_bgr: np.ndarray, pixels: np.ndarray, thickness: int = 1) -> np.ndarray:
    """Draw Human3.6M-17 bones (left blue, right red, centre green) and joints on a BGR image."""
    for parent, child in H36M17.bones:
        colour = (255, 120, 0) if child in _LEFT else (0, 200, 0) if child in (7, 8, 9, 10) else (0, 0, 255)
        a = tuple(int(round(v)) for v in pixels[parent])
        b = tuple(int(round(v)) for v in pixels[child])
        cv2.line(image_bgr, a, b, colour, thickness, cv2.LINE_AA)
    for point in pixels:
        cv2.circle(image_bgr, tuple(int(round(v)) for v in point), max(1, thickness), (0, 255, 255), -1)
    return image_bgr


def write_preview(root: str | Path, out_path: str | Path, frames_per_action: int = 2, tile: int = 256) -> Path:
    """Contact sheet: one row per (action, sample), one column per camera; returns out_path.

    Each row takes a different subject and frame, so bodies and poses vary down the sheet.
    """
    from pose3d.datasets.h36m import H36MReader
    from pose3d.geometry import camera_to_pixel

    reader = H36MReader(root)
    subjects = reader.subjects()
    by_action: dict[int, list[SequenceId]] = {}
    for subject in subjects:
        for seq in reader.sequences(subject):
            by_action.setdefault(seq.action, []).append(seq)
    cameras = sorted({seq.camera for seqs in by_action.values() for seq in seqs})
    rows = []
    for action in sorted(by_action):
        for sample in range(frames_per_action):
            subject = subjects[(action + sample * 3) % len(subjects)]
            row = []
            for cam in cameras:
                seqs = [s for s in by_action[action] if s.subject == subject and s.camera == cam]
                cell = np.zeros((tile, tile, 3), np.uint8)
                if seqs:
                    record = reader.load_sequence(seqs[sample % len(seqs)])
                    k = (len(record) * (2 * sample + 1)) // (2 * frames_per_action)
                    image = cv2.imread(str(record.image_paths[k]))
                    if image is None:
                        raise FileNotFoundError(f"cannot read {record.image_paths[k]}")
                    pixels = camera_to_pixel(record.joints_cam_mm[k][None].astype(np.float64),
                                             record.camera.focal, record.camera.center)[0]
                    scale = tile / max(image.shape[:2])
                    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                    draw_skeleton(image, pixels * scale)
                    x, y, w, h = record.bboxes_xywh[k] * scale
                    cv2.rectangle(image, (int(x), int(y)), (int(x + w), int(y + h)), (200, 200, 200), 1)
                    label = f"S{subject} {ACTIONS[action]} ca{cam} f{int(record.frame_indices[k])}"
                    cv2.putText(image, label, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1,
                                cv2.LINE_AA)
                    cell[: image.shape[0], : image.shape[1]] = image
                row.append(cell)
            rows.append(np.concatenate(row, axis=1))
    sheet = np.concatenate(rows, axis=0)
    out_path = Path(out_path)
    files.write_bytes(out_path, files.encode_image(sheet, out_path.suffix or ".png"))
    log.info("preview written to %s", out_path)
    return out_path
