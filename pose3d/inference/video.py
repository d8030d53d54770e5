"""Inference on a video: frames decoded in order, people tracked, 3D per frame, optionally smoothed.

Frames come from OpenCV's VideoCapture (FFmpeg). Each batch of frames goes through the same
perception, cropping and model calls as still images (`pose3d.inference.run`); boxes are linked
into tracks (`tracking.IoUTracker`); each track's 3D joints may be smoothed over time with a One
Euro filter (`smoothing`). Writes `{name}.npy` (T, P, 17, 3) camera mm, NaN where a track is
absent; `{name}.json` (format: `outputs.VIDEO_RESULT_SCHEMA`); `panels/{name}.mp4` (frame with 2D
keypoints beside the 3D skeletons, `fast_panels`) when visualising; and `summary.json`. `name` is
the video's file name, extension kept (`clip.mp4` -> `clip.mp4.npy`), as image outputs are named.

With the `dataset` keypoint backend the video must show a dataset sequence: its file stem names
the sequence (`s_09_act_02_subact_01_ca_01.mp4`), and frame t is the sequence's t-th annotated image.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from pose3d import io as files
from pose3d.inference import outputs
from pose3d.inference.fast_panels import PanelRenderer
from pose3d.inference.inputs import DatasetLookup
from pose3d.inference.smoothing import BETA, DERIVATIVE_CUTOFF_HZ, MIN_CUTOFF_HZ, OneEuroFilter
from pose3d.inference.tracking import IoUTracker
from pose3d.perception import Frame, resolve_device

log = logging.getLogger(__name__)

SMOOTHING_FILTERS = ("none", "one_euro")
PANEL_HEIGHT = 480


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    fps: float
    frame_count: int  # as the container reports it (may be 0 or approximate); decoding decides
    width: int
    height: int


def open_video(path: str | Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    """An opened capture and what the container says about it; a clear error when it cannot be decoded."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video {path} not found")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"video {path}: OpenCV cannot open it (unknown container or codec)")
    fps = float(capture.get(cv2.CAP_PROP_FPS))
    info = VideoInfo(
        path=path, fps=fps if np.isfinite(fps) and fps > 0 else 25.0,
        frame_count=max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))),
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    )
    return capture, info


def decode_frames(path: str | Path, max_frames: int = 0) -> Iterator[np.ndarray]:
    """BGR uint8 frames of the video in order (at most `max_frames`, 0 = all)."""
    for frame, _time in decode_timed_frames(path, max_frames):
        yield frame


def decode_timed_frames(path: str | Path, max_frames: int = 0) -> Iterator[tuple[np.ndarray, float]]:
    """(BGR uint8 frame, its presentation time in seconds) in order (at most `max_frames`, 0 = all).

    Times are the container's timestamps: a phone records at a variable frame rate, where frame
    index / fps drifts (a 30 fps clip slowed to 10 fps in low light). A container without usable
    timestamps (none, or not increasing) gets 1 / fps per frame from then on.
    """
    capture, info = open_video(path)
    try:
        index, last = 0, -np.inf
        trusted = True
        while not max_frames or index < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            seconds = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            trusted = trusted and np.isfinite(seconds) and seconds > last
            seconds = seconds if trusted else (index / info.fps if index == 0 else last + 1.0 / info.fps)
            last = seconds
            yield frame, float(seconds)
            index += 1
    finally:
        capture.release()


class Mp4Writer:
    """RGB frames (all one size) -> an MPEG-4 (mp4v) file, written under a temporary name and renamed by `close()`.

    The file has one fixed rate, `fps`. A phone video's frames come at a varying rate, and frames an
    input skips leave gaps: given each frame's time (`append(frame, time_s)`), a frame after a gap is
    repeated to fill it, so the panel video stays in step with the source instead of running ahead.
    No frame is ever dropped; frames that come faster than `fps` are written once each.
    """

    MAX_REPEAT_S = 10.0  # a longer jump in the times is taken for a broken timestamp, not a pause

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        self.fps = fps
        self.temporary = files.temporary_path(self.path, keep_suffix=True)
        self.writer: cv2.VideoWriter | None = None
        self.count = 0
        self.start_s: float | None = None

    def append(self, frame_rgb: np.ndarray, time_s: float | None = None) -> None:
        repeats = 1
        if time_s is not None and np.isfinite(time_s) and self.fps > 0:
            self.start_s = time_s if self.start_s is None else self.start_s
            slot = int(round((time_s - self.start_s) * self.fps))  # this frame's place at the fixed rate
            repeats = int(np.clip(slot - self.count + 1, 1, max(1, self.MAX_REPEAT_S * self.fps)))
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            height, width = frame_rgb.shape[:2]
            self.writer = cv2.VideoWriter(str(self.temporary), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height))
            if not self.writer.isOpened():
                raise OSError(f"OpenCV cannot write an mp4v video at {self.path}")
        frame_bgr = cv2.cvtColor(np.ascontiguousarray(frame_rgb), cv2.COLOR_RGB2BGR)
        for _ in range(repeats):
            self.writer.write(frame_bgr)
        self.count += repeats

    def close(self, commit: bool = True) -> int:
        """Finish the file; with `commit` and at least one frame, rename it into place. Returns the frame count."""
        if self.writer is not None:
            self.writer.release()
            self.writer = None
        if commit and self.count:
            os.replace(self.temporary, self.path)
        else:
            self.temporary.unlink(missing_ok=True)
        return self.count


def write_video(path: str | Path, frames_rgb, fps: float) -> int:
    """Write an iterable of RGB frames as an mp4 atomically; returns the frame count."""
    writer = Mp4Writer(path, fps)
    try:
        for frame in frames_rgb:
            writer.append(frame)
    except BaseException:
        writer.close(commit=False)
        raise
    if writer.count == 0:
        writer.close(commit=False)
        raise ValueError(f"no frames to write to {path}")
    return writer.close()


class _Smoother:
    """One One Euro filter per track; a track that skipped frames starts its filter over."""

    def __init__(self, kind: str, fps: float, min_cutoff: float, beta: float) -> None:
        if kind not in SMOOTHING_FILTERS:
            raise ValueError(f"unknown smoothing {kind!r}; allowed: {list(SMOOTHING_FILTERS)}")
        self.kind, self.fps, self.min_cutoff, self.beta = kind, fps, min_cutoff, beta
        self.filters: dict[int, OneEuroFilter] = {}
        self.last_seen: dict[int, tuple[int, float]] = {}  # track -> (frame index, time in seconds)

    def __call__(self, track: int, frame: int, joints_mm: np.ndarray, time_s: float | None = None) -> np.ndarray:
        if self.kind == "none":
            return joints_mm
        smoother = self.filters.setdefault(track, OneEuroFilter(self.fps, self.min_cutoff, self.beta))
        previous = self.last_seen.get(track)
        if previous is not None and previous[0] != frame - 1:
            smoother.reset()
        dt = time_s - previous[1] if previous is not None and time_s is not None else None
        self.last_seen[track] = (frame, time_s)
        return smoother(joints_mm, dt).astype(np.float32)

    def describe(self) -> dict[str, Any]:
        if self.kind == "none":
            return {"filter": "none"}
        return {"filter": "one_euro", "min_cutoff": self.min_cutoff, "beta": self.beta, "d_cutoff": DERIVATIVE_CUTOFF_HZ}


def infer_video(
    checkpoint: str | Path, video_path: str | Path, output_dir: str | Path, options=None, overwrite: bool = False,
) -> dict[str, Any]:
    """Estimate 3D poses of every person in every frame of `video_path`; returns the summary dict.

    `options` is an `InferenceOptions`; its `smoothing` ("none" | "one_euro"), `smoothing_min_cutoff`
    and `smoothing_beta` choose the temporal filter, `max_images` caps the frames (0 = all). An
    `output_dir` holding files inference did not write is refused unless `overwrite`.
    """
    from pose3d.inference import run
    from pose3d.models.registry import load_model_from_checkpoint
    from pose3d.validation import check_output_folder, claim_output_folder

    options = options or run.InferenceOptions()
    device = resolve_device(options.device)
    options = replace(options, device=device)
    started = time.perf_counter()
    output_dir = Path(output_dir)
    check_output_folder(output_dir, "infer", overwrite)  # refuse before any work
    timer = run._StageTimer(device)
    capture, info = open_video(video_path)
    capture.release()
    name = info.path.name  # outputs keep the extension, as for images: clip.mp4 -> clip.mp4.npy

    with timer("setup"):
        model, ckpt = load_model_from_checkpoint(checkpoint, device)
        shards, model_layout = ckpt["config"]["shards"], ckpt["keypoints_layout"]
        model_info = {"name": str(ckpt["model_name"]), "checkpoint": str(checkpoint),
                      "checkpoint_id": outputs.checkpoint_id(checkpoint)}
        options = run._without_unused_depth(options, model)
        keypoint_backend, depth_backend = run.perception_backends(options)
        dataset_images = None
        lookup = None
        if options.keypoints_backend == "dataset" or options.depth_backend == "dataset":
            if options.dataset_root is None:
                raise ValueError("the dataset keypoint/depth backends need options.dataset_root (config 'dataset.root')")
            lookup = DatasetLookup(options.dataset_root)
            dataset_images = lookup.sequence_images(info.path.stem)
    smoother = _Smoother(options.smoothing, info.fps, options.smoothing_min_cutoff, options.smoothing_beta)
    tracker = IoUTracker()
    log.info("video %s: %dx%d at %.2f fps, ~%d frames; model %s, keypoints %s, smoothing %s",
             info.path, info.width, info.height, info.fps, info.frame_count, model_info["name"],
             options.keypoints_backend, options.smoothing)

    per_frame: list[dict[int, np.ndarray]] = []  # track id -> (17, 3) mm, per frame
    frame_records: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    claim_output_folder(output_dir, "infer", overwrite)
    renderer = PanelRenderer(PANEL_HEIGHT) if options.visualize else None
    panel_video = Mp4Writer(output_dir / "panels" / f"{name}.mp4", info.fps) if options.visualize else None
    intrinsics, intrinsics_source = None, ""
    total = min(info.frame_count, options.max_images) if options.max_images else info.frame_count
    progress = tqdm(total=total or None, desc=f"infer {name}", unit="frame", disable=not options.progress)
    batch: list[run._Image] = []

    doubtful = person_frames = 0

    def flush() -> None:
        nonlocal intrinsics, intrinsics_source, doubtful, person_frames
        if not batch:
            return
        kept = run._perceive(list(batch), keypoint_backend, depth_backend, options, skipped, timer, progress)
        with timer("model"):
            run._estimate(kept, model, model_layout, shards, options.batch_size, device)
        kept_ids = {id(item) for item in kept}
        for item in batch:
            index = int(item.name.rsplit("#", 1)[1])
            if id(item) not in kept_ids:
                per_frame.append({})
                frame_records.append({"index": index, "time_s": _seconds(item.time_s), "people": [], "skipped": True})
                continue
            if intrinsics is None:
                intrinsics, intrinsics_source = item.intrinsics, item.intrinsics_source
            found = item.detections
            tracks = tracker.update(found.boxes_xyxy)
            joints_by_track, people = {}, []
            for person, track in enumerate(tracks):
                joints_by_track[track] = smoother(track, index, np.asarray(item.joints_mm[person], np.float32),
                                                  item.time_s)
                people.append({
                    "track": int(track), "box_xyxy": run._finite(found.boxes_xyxy[person]),
                    "score": float(found.scores[person]),
                    "keypoints_2d": {"layout": item.keypoints_layout, "points": run._finite(found.keypoints[person])},
                    "reprojection": item.reprojection[person],
                })
                person_frames += 1
                doubtful += bool(item.reprojection[person] and item.reprojection[person]["doubtful"])
            per_frame.append(joints_by_track)
            frame_records.append({"index": index, "time_s": _seconds(item.time_s), "people": people})
            if renderer is not None:
                with timer("draw"):
                    joints = np.stack([joints_by_track[t] for t in tracks]) if tracks else np.zeros((0, 17, 3))
                    panel_video.append(renderer.render(
                        item.image_rgb, found.keypoints, item.keypoints_layout, joints,
                        labels=[f"#{t}" for t in tracks], boxes_xyxy=found.boxes_xyxy,
                    ), item.time_s)
            progress.update(1)
        batch.clear()

    frames = decode_timed_frames(info.path, options.max_images)
    try:
        _decode_loop(frames, batch, flush, dataset_images, lookup, info, name, options, skipped)
    except BaseException:
        if panel_video is not None:
            panel_video.close(commit=False)
        raise
    progress.close()
    run.close_backend(keypoint_backend)

    num_frames = len(per_frame)
    num_tracks = len(tracker.tracks)
    joints = np.full((num_frames, num_tracks, 17, 3), np.nan, np.float32)
    for frame_index, by_track in enumerate(per_frame):
        for track, track_joints in by_track.items():
            joints[frame_index, track] = track_joints
    with timer("write"):
        files.write_npy(output_dir / f"{name}.npy", joints)
        fx, fy, cx, cy = (float(v) for v in (intrinsics if intrinsics is not None else (np.nan,) * 4))
        result = {
            "schema_version": outputs.OUTPUT_SCHEMA_VERSION,
            "video": {"path": str(info.path), "name": name, "width": info.width, "height": info.height,
                      "fps": info.fps, "frames": num_frames},
            "model": model_info,
            "intrinsics": {"fx": fx, "fy": fy, "cx": cx, "cy": cy, "source": intrinsics_source or "none"},
            "backends": {"keypoints": options.keypoints_backend, "depth": options.depth_backend},
            "smoothing": smoother.describe(),
            "tracks": [{"id": t.id, "first_frame": t.first_frame, "last_frame": t.last_frame,
                        "frames_seen": t.frames_seen} for t in tracker.tracks],
            "frames": frame_records,
        }
        files.write_json(output_dir / f"{name}.json", result, indent=1)
    if panel_video is not None:
        panel_video.close()
    elapsed = time.perf_counter() - started
    summary = {
        "schema_version": outputs.OUTPUT_SCHEMA_VERSION,
        "checkpoint": str(checkpoint),
        "model": model_info["name"],
        "device": device,
        "video": str(info.path),
        "images_found": num_frames,
        "images_processed": sum(1 for record in frame_records if not record.get("skipped")),
        "images_skipped": skipped,
        "people_found": num_tracks,
        "people_doubtful": doubtful,
        "stage_seconds": {stage: round(seconds, 4) for stage, seconds in timer.seconds.items()},
        "images_per_second": round(num_frames / elapsed, 4) if elapsed > 0 else 0.0,
        "outputs": [name],
    }
    files.write_json(output_dir / "summary.json", summary, indent=1)
    log.info("video done: %d frames, %d tracks, %.2f frames/s", num_frames, num_tracks, summary["images_per_second"])
    if doubtful:
        log.warning("%d of %d person-frames have a 3D pose that does not reproject onto their 2D keypoints (see "
                    "'reprojection' in %s.json): an unusual pose or view, or a cut-off person", doubtful,
                    person_frames, name)
    return summary


def _seconds(time_s: float | None) -> float | None:
    return None if time_s is None else round(float(time_s), 6)


def _decode_loop(frames, batch, flush, dataset_images, lookup, info, name, options, skipped) -> None:
    """Decoded frames -> batches of `run._Image` handed to `flush`; dataset videos get their annotations."""
    from pose3d.inference import run

    for index, (image_bgr, time_s) in enumerate(frames):
        if dataset_images is not None:
            if index >= len(dataset_images):
                log.warning("%s: frame %d and later have no annotated image in sequence %s; stopping",
                            info.path, index, name)
                skipped.append({"path": f"{info.path}#{index}", "reason": "frames beyond the dataset sequence"})
                break
            frame = lookup.frame_for(dataset_images[index], image_bgr)
        else:
            frame = Frame(image_bgr, None)
        batch.append(run._Image(info.path, f"{name}#{index:06d}", frame, cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB),
                                time_s=time_s))
        if len(batch) >= max(1, options.batch_size):
            flush()
    flush()


__all__ = ["MIN_CUTOFF_HZ", "BETA", "decode_frames", "decode_timed_frames", "infer_video", "open_video", "write_video"]
