"""2D keypoint backends: Ultralytics YOLO pose (COCO-17) and projected ground truth (H36M-17); MediaPipe in mediapipe_pose.

Both return, for each frame of a batch, every person found as `Detections` (boxes xyxy,
scores, keypoints (x, y, score) in original image pixels), so preprocessing and inference
share them; `select_person` is the one rule that picks the person a training sample is about.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d.config import Config
from pose3d.geometry import camera_to_pixel
from pose3d.perception.base import Frame, PerceptionError, resolve_device
from pose3d.perception.error_models import DetectorErrors

log = logging.getLogger(__name__)


@dataclass
class Detections:
    """All persons found in one image. P persons; pixels of the original image.

    boxes_xyxy (P, 4) float32, scores (P,) float32 in [0, 1],
    keypoints (P, 17, 3) float32 (x, y, score) in the backend's joint layout.
    """

    boxes_xyxy: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0, 17, 3), np.float32))

    def __len__(self) -> int:
        return len(self.scores)


def box_iou(boxes_xyxy: np.ndarray, box_xyxy: np.ndarray) -> np.ndarray:
    """Intersection over union of each box (P, 4) with one box (4,) -> (P,)."""
    boxes_xyxy = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    box_xyxy = np.asarray(box_xyxy, dtype=np.float64)
    width = np.clip(np.minimum(boxes_xyxy[:, 2], box_xyxy[2]) - np.maximum(boxes_xyxy[:, 0], box_xyxy[0]), 0, None)
    height = np.clip(np.minimum(boxes_xyxy[:, 3], box_xyxy[3]) - np.maximum(boxes_xyxy[:, 1], box_xyxy[1]), 0, None)
    intersection = width * height
    area = (boxes_xyxy[:, 2] - boxes_xyxy[:, 0]) * (boxes_xyxy[:, 3] - boxes_xyxy[:, 1])
    reference = (box_xyxy[2] - box_xyxy[0]) * (box_xyxy[3] - box_xyxy[1])
    return intersection / np.maximum(area + reference - intersection, 1e-9)


def select_person(
    detections: Detections, annotated_box_xyxy: np.ndarray | None = None, min_iou: float = 0.1
) -> int | None:
    """Index of the person a sample is about, or None when there is nobody.

    Rule: with an annotated person box, the detection overlapping it most (IoU >= `min_iou`)
    wins, because Human3.6M annotates exactly one subject and bystanders or reflections must not
    replace them; when nothing overlaps it the subject was missed (None): anyone else's keypoints
    paired with the subject's 3D joints would be a wrong sample. Without a box the largest box
    area x confidence wins: the subject is usually the biggest, surest person in the frame.
    """
    if len(detections) == 0:
        return None
    if annotated_box_xyxy is not None and np.all(np.isfinite(annotated_box_xyxy)):
        iou = box_iou(detections.boxes_xyxy, annotated_box_xyxy)
        return int(np.argmax(iou)) if iou.max() >= min_iou else None
    boxes = detections.boxes_xyxy.astype(np.float64)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return int(np.argmax(area * detections.scores))


class YoloKeypoints:
    """Ultralytics YOLO pose on BGR frames, batched; COCO-17 keypoints for every person.

    `weights` must be a local `.pt` file: the path is checked before Ultralytics sees it,
    because Ultralytics would otherwise try to download a missing official name.
    """

    layout = "coco17"
    name = "yolo"

    def __init__(
        self, weights: str | Path, batch_size: int = 16, confidence: float = 0.25, device: str = "auto",
        image_size: int | None = None,
    ) -> None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise PerceptionError(
                f"YOLO pose weights not found: {path.resolve()} (config key 'perception.keypoints.weights' = "
                f"{str(weights)!r}). Nothing is downloaded: place the file there (e.g. yolo11x-pose.pt from "
                "https://github.com/ultralytics/assets/releases) or point the key at a local .pt file."
            )
        os.environ.setdefault("YOLO_OFFLINE", "1")  # never phone home, even for update checks
        from ultralytics import YOLO

        try:
            self.model = YOLO(str(path))
        except Exception as error:  # a corrupt or foreign file: name it
            raise PerceptionError(f"cannot load YOLO weights {path}: {error}") from error
        if self.model.task != "pose":
            raise PerceptionError(f"YOLO weights {path} are a {self.model.task!r} model, not a pose model")
        self.batch_size = batch_size
        self.confidence = confidence
        self.device = resolve_device(device)
        self.image_size = image_size
        self._extra_arguments = _predict_arguments(self.device, image_size)

    def __call__(self, frames: list[Frame]) -> list[Detections]:
        results: list[Detections] = []
        for start in range(0, len(frames), self.batch_size):
            images = [frame.image for frame in frames[start : start + self.batch_size]]
            predictions = self.model.predict(
                images, conf=self.confidence, device=self.device, verbose=False, **self._extra_arguments
            )
            results.extend(_to_detections(prediction) for prediction in predictions)
        return results


def _predict_arguments(device: str, image_size: int | None) -> dict:
    """fp16 on CUDA (`quantize=16` in Ultralytics >= 8.4, `half=True` before), input size if set."""
    from ultralytics.cfg import DEFAULT_CFG_DICT

    arguments: dict = {"imgsz": image_size} if image_size else {}
    if device.startswith("cuda"):
        arguments.update({"quantize": 16} if "quantize" in DEFAULT_CFG_DICT else {"half": True})
    return arguments


def _to_detections(prediction) -> Detections:
    """One Ultralytics `Results` -> Detections (float32 numpy)."""
    if prediction.boxes is None or len(prediction.boxes) == 0 or prediction.keypoints is None:
        return Detections.empty()
    keypoints = prediction.keypoints.data.float().cpu().numpy()
    if keypoints.shape[-1] == 2:  # a pose head without visibility: treat every joint as seen
        keypoints = np.concatenate([keypoints, np.ones_like(keypoints[..., :1])], axis=-1)
    return Detections(
        boxes_xyxy=prediction.boxes.xyxy.float().cpu().numpy().astype(np.float32),
        scores=prediction.boxes.conf.float().cpu().numpy().astype(np.float32),
        keypoints=keypoints.astype(np.float32),
    )


class GroundTruthKeypoints:
    """The annotated 3D joints projected into the image: the "GT 2D" protocol, H36M-17 layout.

    `errors` (a `DetectorErrors`, the `realistic` error model) turns the exact projection into
    what a 2D detector outputs; without it the keypoints are the oracle. Optional extra Gaussian
    pixel noise (`noise_px`, std) and joint dropout (`dropout`, probability that a joint's score
    is 0; its coordinates stay) come on top. All draw from a generator seeded with `seed`, so a
    rerun writes the same keypoints. Joints behind the camera get score 0. The person box is the
    annotated box when there is one, else the extent of the projected joints; the person score is 1.
    """

    layout = "h36m17"
    name = "groundtruth"

    def __init__(
        self, noise_px: float = 0.0, dropout: float = 0.0, seed: int = 0, errors: DetectorErrors | None = None
    ) -> None:
        self.noise_px = noise_px
        self.dropout = dropout
        self.errors = errors
        self.rng = np.random.default_rng(seed)

    def __call__(self, frames: list[Frame]) -> list[Detections]:
        return [self._one(frame) for frame in frames]

    def _one(self, frame: Frame) -> Detections:
        joints = frame.joints_cam_mm
        if joints is None or not np.all(np.isfinite(joints)) or frame.focal is None or frame.center is None:
            return Detections.empty()
        joints = np.asarray(joints, dtype=np.float64)
        pixels = camera_to_pixel(joints, np.asarray(frame.focal, np.float64), np.asarray(frame.center, np.float64))
        in_front = joints[:, 2] > 0
        box = frame.bbox_xyxy
        if box is None or not np.all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
            visible = pixels[in_front]
            if len(visible) == 0:
                return Detections.empty()
            box = np.concatenate([visible.min(axis=0), visible.max(axis=0)])
        scores = in_front.astype(np.float64)
        # Drawn only when misses are simulated, so runs without them keep the same random stream.
        if self.errors is not None and self.errors.miss_prob > 0 and self.rng.random() < self.errors.miss_prob:
            return Detections.empty()
        if self.errors is not None:
            person_height_px = float(max(box[2] - box[0], box[3] - box[1]))
            detected = self.errors(pixels, joints, person_height_px, self.rng)
            pixels, scores = detected[:, :2], scores * detected[:, 2]
        if self.noise_px > 0:
            pixels = pixels + self.rng.normal(0.0, self.noise_px, size=pixels.shape)
        if self.dropout > 0:
            scores = scores * (self.rng.random(len(scores)) >= self.dropout)
        keypoints = np.concatenate([pixels, scores[:, None]], axis=-1).astype(np.float32)
        return Detections(
            boxes_xyxy=np.asarray(box, np.float32)[None],
            scores=np.ones(1, np.float32),
            keypoints=keypoints[None],
        )


KEYPOINT_BACKENDS = ("yolo", "mediapipe", "groundtruth", "dataset")


def build_keypoint_backend(
    name: str,
    *,
    weights: str | Path = "yolo11x-pose.pt",
    batch_size: int = 16,
    confidence: float = 0.25,
    device: str = "cpu",
    noise_px: float = 0.0,
    dropout: float = 0.0,
    seed: int = 0,
    person_boxes: str = "frame",
    errors: DetectorErrors | None = None,
    config_key: str = "perception.keypoints.backend",
) -> YoloKeypoints | GroundTruthKeypoints:
    """The one factory of 2D backends, for preprocess and inference alike.

    `yolo`: Ultralytics pose weights; `groundtruth`: the annotation projected, turned into
    detector-like keypoints by `errors` when given, with `noise_px` Gaussian noise and `dropout`
    on top (all seeded by `seed`); `dataset`: the annotation projected exactly (inference's name
    for groundtruth without errors); `mediapipe`: BlazePose from the mediapipe wheel, per person box
    (`person_boxes` "frame": the annotated box, else the whole image; "yolo": YOLO's boxes from
    `weights`). `config_key` names the setting in errors.
    """
    if name == "yolo":
        return YoloKeypoints(weights, batch_size, confidence, device)
    if name == "mediapipe":
        from pose3d.perception.mediapipe_pose import MediaPipeKeypoints

        if person_boxes not in ("frame", "yolo"):
            raise PerceptionError(f"mediapipe person boxes {person_boxes!r}: allowed values ['frame', 'yolo']")
        detector = YoloKeypoints(weights, batch_size, confidence, device) if person_boxes == "yolo" else None
        return MediaPipeKeypoints(confidence=confidence, person_detector=detector)
    if name == "groundtruth":
        return GroundTruthKeypoints(noise_px, dropout, seed, errors)
    if name == "dataset":
        return GroundTruthKeypoints(noise_px=0.0, dropout=0.0)
    raise PerceptionError(
        f"config key {config_key!r}: unknown backend {name!r}; allowed values: {list(KEYPOINT_BACKENDS)}"
    )


def keypoint_backend_from_config(config: Config, seed: int = 0) -> YoloKeypoints | GroundTruthKeypoints:
    """`build_keypoint_backend` with the `perception.keypoints` settings; `seed` feeds the groundtruth error model."""
    settings = config.perception.keypoints
    errors = None
    if settings.error_model == "realistic":
        errors = DetectorErrors(settings.relative_error, settings.swap_prob, settings.occluded_drop_prob,
                                settings.miss_prob)
    return build_keypoint_backend(
        settings.backend, weights=settings.weights, batch_size=settings.batch_size,
        confidence=settings.confidence, device=config.perception.device, noise_px=settings.noise_px,
        dropout=settings.dropout, errors=errors, seed=seed, person_boxes=settings.person_boxes,
    )
