"""MediaPipe Pose (BlazePose) as a 2D keypoint backend: COCO-17 keypoints, one person per box, offline.

`mediapipe==0.10.14` ships the BlazePose detector and the full landmark model inside its wheel
(`mediapipe/modules/pose_detection/pose_detection.tflite`, `pose_landmark/pose_landmark_full.tflite`),
so nothing is downloaded; later releases fetch them at run time, hence the pin. Its legacy
`solutions.pose` API finds one person per image: with person boxes known (the dataset's
annotated box, or a person detector's boxes) it runs once per box on a padded crop, else once
on the whole image. The 33 BlazePose landmarks map to COCO-17; a landmark's visibility is its score,
and 0 for a landmark MediaPipe places outside the image (its guess at a joint the frame cuts off).
MediaPipe's own 3D estimate (`pose_world_landmarks`, metres, origin between the hips) is kept as
`world_mm` in Human3.6M-17, a peer to compare a lifter with on real photos.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from pose3d import skeleton
from pose3d.perception.base import Frame, PerceptionError, has_box, padded_box
from pose3d.perception.keypoints import Detections

log = logging.getLogger(__name__)

# BlazePose landmark index of each COCO-17 joint (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles).
COCO_FROM_BLAZEPOSE = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
NUM_LANDMARKS = 33
BOX_PADDING = 0.25  # each side of a person box grows by this fraction before the crop MediaPipe sees
LANDMARK_MODEL_COMPLEXITY = 1  # the "full" model: the only one the 0.10.14 wheel carries


@dataclass
class MediaPipeDetections(Detections):
    """Detections plus MediaPipe's metric 3D per person: world_mm (P, 17, 3) Human3.6M-17, mm, pelvis at 0.

    Axes as MediaPipe gives them (x right, y down, z away from the camera, like camera space but
    centred on the hips and without the camera's rotation removed).
    """

    world_mm: np.ndarray = field(default_factory=lambda: np.zeros((0, 17, 3), np.float32))

    @classmethod
    def empty(cls) -> MediaPipeDetections:
        base = Detections.empty()
        return cls(base.boxes_xyxy, base.scores, base.keypoints)


def blazepose_to_coco(landmarks_xyv: np.ndarray) -> np.ndarray:
    """(..., 33, C) BlazePose landmarks -> (..., 17, C) COCO-17 (same channels, e.g. x, y, visibility)."""
    landmarks_xyv = np.asarray(landmarks_xyv)
    assert landmarks_xyv.shape[-2] == NUM_LANDMARKS, landmarks_xyv.shape
    return landmarks_xyv[..., COCO_FROM_BLAZEPOSE, :]


def world_to_h36m_mm(world_xyz_m: np.ndarray) -> np.ndarray:
    """(33, 3) `pose_world_landmarks` in metres -> (17, 3) Human3.6M-17 in mm, pelvis at the origin.

    Joints Human3.6M has and COCO lacks (pelvis, spine, thorax, head) are built as
    `skeleton.coco_to_h36m` builds them from a detector's keypoints.
    """
    coco_mm = blazepose_to_coco(np.asarray(world_xyz_m, np.float64)) * 1000.0
    h36m = skeleton.coco_to_h36m(np.concatenate([coco_mm, np.ones((17, 1))], axis=1))[:, :3]
    return (h36m - h36m[skeleton.ROOT_JOINT]).astype(np.float32)


class MediaPipeKeypoints:
    """BlazePose on BGR frames: every person as COCO-17 (x, y, visibility) in original image pixels.

    `person_detector` (any keypoint backend, e.g. `YoloKeypoints`) supplies person boxes; without
    one, a frame's annotated box (`Frame.bbox_xyxy`) is used, else the whole image (one person).
    `confidence` is MediaPipe's minimum person-detection confidence. The person score is the mean
    visibility of the 17 COCO joints.
    """

    layout = "coco17"
    name = "mediapipe"

    def __init__(self, confidence: float = 0.5, person_detector=None) -> None:
        try:
            from mediapipe.python.solutions import pose as mp_pose
        except ImportError as error:  # the package is a pinned dependency: say how to get it
            raise PerceptionError(
                f"the mediapipe keypoint backend needs the mediapipe package (pip install mediapipe==0.10.14): {error}"
            ) from error
        self.confidence = float(confidence)
        self.person_detector = person_detector
        # static_image_mode: every call is a fresh detection (frames and crops are unrelated images);
        # tracking people across video frames is the caller's job.
        self._pose = mp_pose.Pose(
            static_image_mode=True, model_complexity=LANDMARK_MODEL_COMPLEXITY, enable_segmentation=False,
            min_detection_confidence=self.confidence,
        )

    def close(self) -> None:
        """Stop MediaPipe's graph; call when done (closing it from a finaliser at interpreter exit can hang)."""
        if self._pose is not None:
            self._pose.close()
            self._pose = None

    def __call__(self, frames: list[Frame]) -> list[MediaPipeDetections]:
        boxes_per_frame: list[np.ndarray | None] = [None] * len(frames)
        if self.person_detector is not None:
            boxes_per_frame = [found.boxes_xyxy for found in self.person_detector(frames)]
        else:
            for index, frame in enumerate(frames):
                if has_box(frame.bbox_xyxy):
                    boxes_per_frame[index] = np.asarray(frame.bbox_xyxy, np.float64)[None]
        return [self._one(frame.image, boxes) for frame, boxes in zip(frames, boxes_per_frame, strict=True)]

    def _one(self, image_bgr: np.ndarray, boxes_xyxy: np.ndarray | None) -> MediaPipeDetections:
        height, width = image_bgr.shape[:2]
        image_rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        regions = [(0, 0, width, height)] if boxes_xyxy is None else [
            padded_box(box, width, height, BOX_PADDING) for box in np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
        ]
        boxes, scores, keypoints, world = [], [], [], []
        for given_box, (left, top, right, bottom) in zip(
            [None] * len(regions) if boxes_xyxy is None else np.asarray(boxes_xyxy).reshape(-1, 4), regions, strict=True
        ):
            if right - left < 8 or bottom - top < 8:
                continue
            found = self._landmarks(np.ascontiguousarray(image_rgb[top:bottom, left:right]))
            if found is None:
                continue
            image_xyv, world_xyz = found
            image_xyv[:, 0] = image_xyv[:, 0] * (right - left) + left
            image_xyv[:, 1] = image_xyv[:, 1] * (bottom - top) + top
            coco = blazepose_to_coco(image_xyv).astype(np.float32)
            # MediaPipe guesses joints beyond the frame (legs below a portrait's edge): not seen, score 0.
            outside = (coco[:, 0] < 0) | (coco[:, 0] > width) | (coco[:, 1] < 0) | (coco[:, 1] > height)
            coco[outside, 2] = 0.0
            if given_box is None:
                seen = coco[coco[:, 2] > 0.5, :2] if np.sum(coco[:, 2] > 0.5) >= 2 else coco[:, :2]
                box = np.array([*np.clip(seen.min(0), 0, None), *seen.max(0)], np.float32)
                box[2], box[3] = min(box[2], width), min(box[3], height)
            else:
                box = np.asarray(given_box, np.float32)
            boxes.append(box)
            scores.append(float(np.mean(coco[:, 2])))
            keypoints.append(coco)
            world.append(world_to_h36m_mm(world_xyz))
        if not boxes:
            return MediaPipeDetections.empty()
        return MediaPipeDetections(
            boxes_xyxy=np.stack(boxes).astype(np.float32), scores=np.asarray(scores, np.float32),
            keypoints=np.stack(keypoints).astype(np.float32), world_mm=np.stack(world).astype(np.float32),
        )

    def _landmarks(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(33, 3) normalised (x, y, visibility) in the given image and (33, 3) world metres, or None."""
        if self._pose is None:
            raise PerceptionError("the mediapipe backend was closed")
        result = self._pose.process(image_rgb)
        if result.pose_landmarks is None:
            return None
        image_xyv = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark], np.float64)
        image_xyv[:, 2] = np.clip(image_xyv[:, 2], 0.0, 1.0)
        world_xyz = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark], np.float64)
        return image_xyv, world_xyz
