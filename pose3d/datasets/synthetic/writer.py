"""The three Human3.6M annotation JSONs of one subject."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pose3d import io as files
from pose3d.datasets.layout import ACTIONS, SequenceId, annotation_path

# Image ids are unique over the whole dataset: subject * ID_STRIDE + running index.
ID_STRIDE = 10_000_000


def write_json_atomic(path: Path, payload: Any) -> int:
    """Deterministic JSON (sorted keys, compact) written atomically; returns bytes written."""
    return files.write_json(path, payload, indent=None, sort_keys=True)


def subject_annotations(
    root: Path,
    subject: int,
    cameras: dict[int, dict],
    joints_world: dict[tuple[int, int], np.ndarray],
    frame_records: dict[SequenceId, list[dict]],
    width: int,
    height: int,
) -> int:
    """Write Human36M_subject{S}_{camera,joint_3d,data}.json; returns bytes written.

    `joints_world[(action, subaction)]` is (F, 17, 3) world mm; `frame_records[seq]` holds
    per-frame {frame_idx, bbox, keypoints_vis} for each rendered sequence of the subject.
    """
    written = write_json_atomic(annotation_path(root, subject, "camera"),
                                {str(cam): params for cam, params in sorted(cameras.items())})
    joint_3d: dict[str, dict[str, dict[str, list]]] = {}
    for (action, subaction), joints in sorted(joints_world.items()):
        frames = {str(f): np.round(joints[f], 2).tolist() for f in range(len(joints))}
        joint_3d.setdefault(str(action), {})[str(subaction)] = frames
    written += write_json_atomic(annotation_path(root, subject, "joint_3d"), joint_3d)

    images, annotations = [], []
    next_id = subject * ID_STRIDE
    for seq in sorted(frame_records):
        for record in frame_records[seq]:
            x, y, w, h = record["bbox"]
            images.append({
                "id": next_id, "file_name": seq.image_name(record["frame_idx"]), "width": width, "height": height,
                "subject": seq.subject, "action_name": ACTIONS[seq.action], "action_idx": seq.action,
                "subaction_idx": seq.subaction, "cam_idx": seq.camera, "frame_idx": record["frame_idx"],
            })
            annotations.append({
                "id": next_id, "image_id": next_id, "category_id": 1, "iscrowd": 0,
                "bbox": [x, y, w, h], "area": w * h, "keypoints_vis": record["keypoints_vis"],
            })
            next_id += 1
    data = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "supercategory": "person"}],
    }
    written += write_json_atomic(annotation_path(root, subject, "data"), data)
    return written
