"""Render one sequence (subject, action, subaction, camera) and write its images and depth maps."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from pose3d import io as files
from pose3d.datasets.layout import SequenceId
from pose3d.datasets.synthetic.body import Body, make_body
from pose3d.datasets.synthetic.cameras import SyntheticCamera, camera_for
from pose3d.datasets.synthetic.mannequin import chair_primitives, palette, person_primitives
from pose3d.datasets.synthetic.motion import Motion, make_motion
from pose3d.datasets.synthetic.render import PERSON_PARTS, RoomView, cast, render_room, shade


@dataclass(frozen=True)
class SequenceJob:
    """Everything a worker needs to render one sequence (picklable, no config object)."""

    root: str
    seed: int
    sequence: SequenceId
    frames: int
    width: int
    height: int
    jpeg_quality: int


@lru_cache(maxsize=8)
def _body(subject: int, seed: int) -> Body:
    return make_body(subject, seed)


@lru_cache(maxsize=4)
def _motion(subject: int, action: int, subaction: int, frames: int, seed: int) -> Motion:
    return make_motion(action, subaction, frames, _body(subject, seed), seed)


@lru_cache(maxsize=4)  # the four cameras of a subject; large images make each room big
def _room(subject: int, cam_idx: int, width: int, height: int, seed: int) -> tuple[SyntheticCamera, RoomView]:
    camera = camera_for(subject, cam_idx, width, height)
    return camera, render_room(camera, subject, seed)


def motion_of(subject: int, action: int, subaction: int, frames: int, seed: int) -> Motion:
    """The (cached) motion shared by the four cameras of a (subject, action, subaction)."""
    return _motion(subject, action, subaction, frames, seed)


def render_frame(job: SequenceJob, frame_idx: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One frame -> (RGB uint8 (H,W,3), depth uint16 mm (H,W), person mask bool (H,W))."""
    seq = job.sequence
    body = _body(seq.subject, job.seed)
    motion = _motion(seq.subject, seq.action, seq.subaction, job.frames, job.seed)
    camera, room = _room(seq.subject, seq.camera, job.width, job.height, job.seed)
    prims = person_primitives(motion.pose, frame_idx, body, camera)
    chair_rgb = np.random.default_rng([job.seed, seq.subject, 707]).uniform(0.3, 0.7, 3)
    if motion.chair is not None:
        prims += chair_primitives(motion.chair, camera)
    depth_mm, part, normals = cast(prims, camera, room)
    feet = motion.pose.joints[frame_idx, [3, 6], :2]
    shadows = [(motion.pose.joints[frame_idx, 0, :2], 380.0, 0.35)] + [(f, 150.0, 0.3) for f in feet]
    noise_rng = np.random.default_rng([job.seed, seq.subject, seq.action, seq.subaction, seq.camera, frame_idx])
    rgb = shade(room, camera, part, normals, palette(body, chair_rgb), shadows, noise_rng)
    depth_u16 = np.clip(np.round(np.where(np.isfinite(depth_mm), depth_mm, 0)), 0, 65535).astype(np.uint16)
    person = (part > 0) & (part <= PERSON_PARTS)
    return rgb, depth_u16, person


def _person_box(mask: np.ndarray, joint_pixels: np.ndarray, width: int, height: int) -> list[int]:
    """[x, y, w, h] around the rendered silhouette and every projected joint, clipped to the image.

    Joints count too so that a part hidden behind a prop (a chair back) stays in the box.
    """
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    lo = np.floor(joint_pixels.min(0))
    hi = np.ceil(joint_pixels.max(0))
    if len(rows):
        lo = np.minimum(lo, [cols[0], rows[0]])
        hi = np.maximum(hi, [cols[-1], rows[-1]])
    lo = np.clip(lo, 0, [width - 1, height - 1]).astype(int)
    hi = np.clip(hi, 0, [width - 1, height - 1]).astype(int)
    return [int(lo[0]), int(lo[1]), int(hi[0] - lo[0] + 1), int(hi[1] - lo[1] + 1)]


def render_sequence(job: SequenceJob) -> tuple[SequenceId, list[dict], int]:
    """Render and write all frames of a sequence -> (sequence, per-frame records, bytes written).

    A record is {frame_idx, bbox [x, y, w, h] around the silhouette and projected joints, keypoints_vis (17 bools:
    projected inside the image and not hidden behind another surface)}.
    """
    seq = job.sequence
    root = Path(job.root)
    body = _body(seq.subject, job.seed)
    motion = _motion(seq.subject, seq.action, seq.subaction, job.frames, job.seed)
    camera, _ = _room(seq.subject, seq.camera, job.width, job.height, job.seed)
    joints_cam = motion.pose.joints @ camera.rotation.T + camera.translation_mm
    pixels = camera.focal * joints_cam[..., :2] / joints_cam[..., 2:3] + camera.center
    records, written = [], 0
    for frame_idx in range(job.frames):
        rgb, depth, person = render_frame(job, frame_idx)
        ok, jpeg = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, job.jpeg_quality])
        ok_png, png = cv2.imencode(".png", depth, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not (ok and ok_png):
            raise RuntimeError(f"OpenCV could not encode frame {frame_idx} of {seq.name}")
        written += files.write_bytes(root / "images" / seq.image_name(frame_idx), jpeg.tobytes())
        written += files.write_bytes(root / "depth" / seq.depth_name(frame_idx), png.tobytes())
        px = np.round(pixels[frame_idx]).astype(int)
        inside = (px[:, 0] >= 0) & (px[:, 0] < job.width) & (px[:, 1] >= 0) & (px[:, 1] < job.height)
        surface = depth[np.clip(px[:, 1], 0, job.height - 1), np.clip(px[:, 0], 0, job.width - 1)]
        visible = inside & (surface >= joints_cam[frame_idx, :, 2] - body.max_radius_mm)
        bbox = _person_box(person, pixels[frame_idx], job.width, job.height)
        records.append({"frame_idx": frame_idx, "bbox": bbox, "keypoints_vis": visible.tolist()})
    return seq, records, written
