"""A second look at the annotated box, for frames whose subject the whole-frame detector missed.

A detector run on a whole frame sees the person at the resolution its input size leaves them (YOLO
letterboxes a 1000 px Human3.6M frame to 640 px; MediaPipe's detector works at 224 px), so a small,
far or unusually posed subject (lying on the floor, half behind a chair) can go unseen. Human3.6M
annotates the subject's box, so such a frame is looked at again: the detector runs on the crop
around the box, which it resizes up to its input size, and what it finds there maps back to the
frame's pixels. Only frames whose subject was missed are looked at again (a second pass on that
share of the frames), and a subject found only then is an ordinary detection for every later stage.
Each preprocess report counts the frames looked at again and the subjects found that way.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence

import numpy as np

from pose3d.config import KeypointsConfig
from pose3d.perception.base import Frame, has_box, padded_box
from pose3d.perception.keypoints import Detections, select_person

log = logging.getLogger(__name__)

CONTEXT = 0.25  # of the box's width and height added on each side: the detector sees the whole body and some room


def takes_second_look(settings: KeypointsConfig) -> bool:
    """Whether these `perception.keypoints` settings make preprocess look again at missed subjects:
    `second_look` on, with a detector that looks at whole frames (`yolo`, or `mediapipe` on YOLO's
    boxes; `mediapipe` on the annotated box already looks there, `groundtruth` detects nothing)."""
    whole_frames = settings.backend == "yolo" or (settings.backend == "mediapipe" and settings.person_boxes == "yolo")
    return settings.second_look and whole_frames


def shifted(detections: Detections, dx: float, dy: float) -> Detections:
    """The same detections, found in a crop whose top-left corner is (dx, dy) of the frame, in frame pixels."""
    boxes = detections.boxes_xyxy + np.array([dx, dy, dx, dy], np.float32)
    keypoints = detections.keypoints.copy()
    keypoints[..., 0] += dx
    keypoints[..., 1] += dy
    return dataclasses.replace(detections, boxes_xyxy=boxes, keypoints=keypoints)


def look_again_at_missed(
    detect: Callable[[list[Frame]], list[Detections]], frames: Sequence[Frame], detections: Sequence[Detections],
) -> tuple[list[Detections], int, int]:
    """Run `detect` again on the annotated-box crops of the frames whose subject it missed.

    Returns (detections, frames looked at again, subjects found on the second look). A frame's
    detections are replaced only when the second look finds someone on its annotated box.
    """
    result = list(detections)
    missed = [i for i, (frame, found) in enumerate(zip(frames, detections, strict=True))
              if has_box(frame.bbox_xyxy) and select_person(found, frame.bbox_xyxy) is None]
    crops, corners = [], []
    for i in missed:
        image = frames[i].image
        left, top, right, bottom = padded_box(frames[i].bbox_xyxy, image.shape[1], image.shape[0], CONTEXT)
        if right - left < 8 or bottom - top < 8:
            continue
        crops.append(Frame(image=np.ascontiguousarray(image[top:bottom, left:right]), image_path=frames[i].image_path))
        corners.append((i, left, top))
    found_again = 0
    for (i, left, top), found in zip(corners, detect(crops) if crops else [], strict=True):
        in_frame = shifted(found, left, top)
        if select_person(in_frame, frames[i].bbox_xyxy) is not None:
            result[i] = in_frame
            found_again += 1
    if missed:
        log.debug("second look at %d frames whose subject was missed: %d found", len(missed), found_again)
    return result, len(missed), found_again
