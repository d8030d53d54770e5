"""Release-size Human3.6M annotation files without the licensed data, for full-scale rehearsals.

Writes `annotations/Human36M_subject{S}_{data,camera,joint_3d}.json` for all 7 subjects, 15
actions, 2 subactions and 4 cameras with frame counts of the real release's order (about
1000-4300 frames per recording at 50 fps, ~2.2 M images in all), the published cameras
(`synthetic.cameras`), plausible standing/walking poses and person boxes drawn around the
projected joints. The release's empty folder is reproduced: S11 Directions subaction 2
camera 1 is absent from the annotations and, with images, its folder is empty.

Images are optional: `images="placeholder"` writes one small JPEG per sequence folder, enough
for the workflow to see the folder on disk; `images="none"` writes none. The poses are not
the synthetic renderer's (no images to match); they only need the right sizes and geometry.

Fast by design: poses and boxes are vectorised numpy, and the JSON is streamed per
recording with one `%`-format per record block (no per-number Python calls).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np

from pose3d.datasets.layout import ACTIONS, CAMERAS, SUBACTIONS, SUBJECTS, SequenceId, annotation_path
from pose3d.datasets.synthetic.cameras import INTRINSICS, camera_for

log = logging.getLogger(__name__)

# The release's one recording without video (S11, Directions, subaction 2, camera 1).
EMPTY_SEQUENCE = SequenceId(11, 2, 2, 1)
FRAMES_RANGE = (1000, 4300)  # frames per (subject, action, subaction) at 50 fps, all cameras alike
IMAGE_ID_STRIDE = 10_000_000

# A neutral Human3.6M-17 standing pose, world mm (z up), pelvis at the origin.
_REST_POSE = np.array([
    [0, 0, 0], [-130, 0, 0], [-130, 20, -440], [-130, 60, -880], [130, 0, 0], [130, 20, -440],
    [130, 60, -880], [0, 0, 230], [0, 0, 480], [0, -30, 560], [0, 0, 680], [160, 0, 450],
    [420, 0, 450], [650, 0, 450], [-160, 0, 450], [-420, 0, 450], [-650, 0, 450],
], dtype=np.float64)


def frame_counts(seed: int = 0, frame_scale: float = 1.0) -> dict[tuple[int, int, int], int]:
    """(subject, action, subaction) -> frames of that recording (every camera sees all of them)."""
    rng = np.random.default_rng(seed)
    counts = {}
    for subject in SUBJECTS:
        for action in ACTIONS:
            for subaction in SUBACTIONS:
                frames = int(rng.integers(*FRAMES_RANGE))
                counts[(subject, action, subaction)] = max(1, round(frames * frame_scale))
    return counts


def poses(frames: int, rng: np.random.Generator) -> np.ndarray:
    """(frames, 17, 3) world mm: the rest pose swaying and walking a loop about the room centre."""
    t = np.arange(frames) / 50.0
    phase = rng.uniform(0, 2 * np.pi)
    radius = rng.uniform(200, 1200)
    root = np.stack([radius * np.cos(0.2 * t + phase), radius * np.sin(0.2 * t + phase),
                     920 + 20 * np.sin(4 * t)], axis=1)
    sway = 60 * np.sin(2 * t[:, None, None] + np.arange(17)[None, :, None] * 0.7 + np.arange(3)[None, None, :])
    return _REST_POSE[None] + sway + root[:, None, :]


def boxes_xywh(joints_world: np.ndarray, rotation: np.ndarray, translation: np.ndarray, focal: np.ndarray,
               center: np.ndarray) -> np.ndarray:
    """(F, 4) person boxes around the projected joints, grown by 15 % (as boxes drawn on silhouettes)."""
    cam = joints_world @ rotation.T + translation
    pixels = focal * cam[..., :2] / cam[..., 2:] + center
    low, high = pixels.min(axis=1), pixels.max(axis=1)
    pad = 0.15 * (high - low)
    low, high = low - pad, high + pad
    return np.concatenate([low, high - low], axis=1)


def _frame_block_template(frames: int) -> str:
    joint = "[%.2f,%.2f,%.2f]"
    frame = '"%d":[' + ",".join([joint] * 17) + "]"
    return ",".join([frame] * frames)


def _write_joint_3d(path: Path, joints: dict[tuple[int, int], np.ndarray]) -> int:
    """{action: {subaction: {frame: 17x3}}}, one % per recording."""
    written = 0
    with open(path, "w") as handle:
        handle.write("{")
        actions = sorted({action for action, _ in joints})
        for a, action in enumerate(actions):
            handle.write(("," if a else "") + f'"{action}":{{')
            subactions = sorted(sub for act, sub in joints if act == action)
            for s, subaction in enumerate(subactions):
                values = joints[(action, subaction)]
                frames = len(values)
                flat = np.concatenate([np.arange(frames)[:, None], values.reshape(frames, -1)], axis=1)
                values_tuple = tuple(flat.ravel().tolist())
                block = _frame_block_template(frames) % values_tuple
                handle.write(("," if s else "") + f'"{subaction}":{{' + block + "}")
            handle.write("}")
        handle.write("}")
        written = handle.tell()
    return written


_IMAGE = ('{"id":%d,"file_name":"%s","width":%d,"height":%d,"subject":%d,"action_name":"%s","action_idx":%d,'
          '"subaction_idx":%d,"cam_idx":%d,"frame_idx":%d}')
_ANNOTATION = '{"id":%d,"image_id":%d,"category_id":1,"iscrowd":0,"bbox":[%.2f,%.2f,%.2f,%.2f],"area":%.1f}'


def _write_data(path: Path, records: list[tuple[SequenceId, int, int, int, np.ndarray]]) -> int:
    """COCO-style {images, annotations, categories}; records: (seq, first id, width, height, boxes)."""
    with open(path, "w") as handle:
        handle.write('{"images":[')
        for k, (seq, first_id, width, height, boxes) in enumerate(records):
            frames = len(boxes)
            ids = range(first_id, first_id + frames)
            rows = [(image_id, seq.image_name(f), width, height, seq.subject, ACTIONS[seq.action], seq.action,
                     seq.subaction, seq.camera, f) for f, image_id in zip(range(frames), ids, strict=True)]
            handle.write(("," if k else "") + ",".join([_IMAGE] * frames) % tuple(v for row in rows for v in row))
        handle.write('],"annotations":[')
        for k, (_seq, first_id, _width, _height, boxes) in enumerate(records):
            frames = len(boxes)
            ids = np.arange(first_id, first_id + frames)
            table = np.concatenate([ids[:, None], ids[:, None], boxes, (boxes[:, 2] * boxes[:, 3])[:, None]], axis=1)
            values = [v for row in table.tolist() for v in row]
            handle.write(("," if k else "") + ",".join([_ANNOTATION] * frames) % tuple(values))
        handle.write('],"categories":[{"id":1,"name":"person","supercategory":"person"}]}')
        return handle.tell()


def _write_cameras(path: Path, subject: int) -> int:
    import json

    cameras = {str(cam): camera_for(subject, cam, *INTRINSICS[cam]["size"]).to_json() for cam in CAMERAS}
    text = json.dumps(cameras, sort_keys=True)
    path.write_text(text)
    return len(text)


def _placeholder_jpeg() -> bytes:
    ok, encoded = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))
    assert ok
    return encoded.tobytes()


def write_subject(root: Path, subject: int, counts: dict[tuple[int, int, int], int], seed: int = 0,
                  images: str = "none") -> dict:
    """One subject's three annotation files (and optional placeholder images); returns a summary."""
    started = time.perf_counter()
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, subject])
    joints = {(a, s): poses(counts[(subject, a, s)], rng) for a in ACTIONS for s in SUBACTIONS}
    cameras = {cam: camera_for(subject, cam, *INTRINSICS[cam]["size"]) for cam in CAMERAS}
    records, next_id = [], subject * IMAGE_ID_STRIDE
    jpeg = _placeholder_jpeg() if images == "placeholder" else None
    for (action, subaction), values in sorted(joints.items()):
        for cam, camera in cameras.items():
            seq = SequenceId(subject, action, subaction, cam)
            folder = root / "images" / seq.name
            if images == "placeholder":
                folder.mkdir(parents=True, exist_ok=True)
            if seq == EMPTY_SEQUENCE:
                continue  # shipped as an empty folder, left out of the annotations
            if jpeg is not None:
                (folder / Path(seq.image_name(0)).name).write_bytes(jpeg)
            boxes = boxes_xywh(values, camera.rotation, camera.translation_mm, camera.focal, camera.center)
            records.append((seq, next_id, camera.width, camera.height, boxes))
            next_id += len(values)
    written = _write_cameras(annotation_path(root, subject, "camera"), subject)
    written += _write_joint_3d(annotation_path(root, subject, "joint_3d"), joints)
    written += _write_data(annotation_path(root, subject, "data"), records)
    summary = {"subject": subject, "sequences": len(records), "images": int(sum(len(r[4]) for r in records)),
               "bytes": written, "seconds": round(time.perf_counter() - started, 2)}
    log.info("release-scale S%d: %d sequences, %d images, %.0f MB in %.1f s", subject, summary["sequences"],
             summary["images"], written / 1e6, summary["seconds"])
    return summary


def write_release(root: str | Path, subjects: tuple[int, ...] = SUBJECTS, seed: int = 0, frame_scale: float = 1.0,
                  images: str = "none") -> list[dict]:
    """Release-size annotation files for `subjects` under `root`; `frame_scale` shrinks every recording."""
    if images not in ("none", "placeholder"):
        raise ValueError(f"images must be 'none' or 'placeholder', got {images!r}")
    counts = frame_counts(seed, frame_scale)
    return [write_subject(Path(root), subject, counts, seed, images) for subject in subjects]
