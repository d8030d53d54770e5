"""People tracked across video frames: boxes matched to tracks by IoU with the Hungarian algorithm.

Enough for a handful of people in a steady shot; a track unseen for `max_missed` frames ends, and a
person who comes back later gets a new id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment


def iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """IoU of every box in (A, 4) with every box in (B, 4), xyxy pixels -> (A, B)."""
    a = np.asarray(boxes_a, np.float64).reshape(-1, 1, 4)
    b = np.asarray(boxes_b, np.float64).reshape(1, -1, 4)
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    intersection = width * height
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return intersection / np.maximum(area_a + area_b - intersection, 1e-9)


@dataclass
class Track:
    id: int
    box_xyxy: np.ndarray
    first_frame: int
    last_frame: int
    frames_seen: int = 1


class IoUTracker:
    """Assigns a track id to each box of each frame, in frame order.

    A box continues the track whose last box it overlaps best (one-to-one, maximising total IoU),
    when that IoU is at least `min_iou`; otherwise it starts a new track.
    """

    def __init__(self, min_iou: float = 0.3, max_missed: int = 10) -> None:
        self.min_iou = min_iou
        self.max_missed = max_missed
        self.tracks: list[Track] = []  # every track ever started, by id
        self._frame = -1

    def update(self, boxes_xyxy: np.ndarray) -> list[int]:
        """Track ids (one per row of `boxes_xyxy`, (N, 4)) for the next frame."""
        self._frame += 1
        boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
        live = [t for t in self.tracks if self._frame - t.last_frame <= self.max_missed]
        ids = [-1] * len(boxes)
        if live and len(boxes):
            overlap = iou_matrix(boxes, np.stack([t.box_xyxy for t in live]))
            rows, cols = linear_sum_assignment(-overlap)
            for row, col in zip(rows, cols, strict=True):
                if overlap[row, col] >= self.min_iou:
                    track = live[col]
                    track.box_xyxy, track.last_frame = boxes[row], self._frame
                    track.frames_seen += 1
                    ids[row] = track.id
        for row, box in enumerate(boxes):
            if ids[row] < 0:
                track = Track(len(self.tracks), box, self._frame, self._frame)
                self.tracks.append(track)
                ids[row] = track.id
        return ids
