"""What every perception backend shares: the input `Frame`, the error type, device choice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


class PerceptionError(RuntimeError):
    """A perception model or input cannot be used; the message names the file and the fix."""


@dataclass
class Frame:
    """One image and what is known about it; backends read only the fields they need.

    image: (H, W, 3) uint8 BGR as decoded by OpenCV. focal, center: (2,) pixels.
    joints_cam_mm: (17, 3) Human3.6M-17 camera-space joints, or None.
    bbox_xyxy: (4,) annotated person box in pixels, or None. depth_path: the dataset's depth map.
    """

    image: np.ndarray
    image_path: Path | None = None
    depth_path: Path | None = None
    joints_cam_mm: np.ndarray | None = None
    focal: np.ndarray | None = None
    center: np.ndarray | None = None
    bbox_xyxy: np.ndarray | None = None


def has_box(box_xyxy: np.ndarray | None) -> bool:
    """Whether an annotated person box is there and usable: finite, with a positive width and height."""
    return (box_xyxy is not None and bool(np.all(np.isfinite(box_xyxy)))
            and box_xyxy[2] > box_xyxy[0] and box_xyxy[3] > box_xyxy[1])


def padded_box(box_xyxy: np.ndarray, width: int, height: int, padding: float) -> tuple[int, int, int, int]:
    """Integer (x0, y0, x1, y1) of the box grown by `padding` of its size on each side, inside the image."""
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    grow_x, grow_y = padding * (x1 - x0), padding * (y1 - y0)
    left, top = max(0, int(np.floor(x0 - grow_x))), max(0, int(np.floor(y0 - grow_y)))
    right, bottom = min(width, int(np.ceil(x1 + grow_x))), min(height, int(np.ceil(y1 + grow_y)))
    return left, top, right, bottom


def resolve_device(device: str) -> str:
    """`auto` -> `cuda` when a GPU is visible, else `cpu`; other values pass through."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise PerceptionError(f"config key 'perception.device' is {device!r} but no CUDA device is visible")
    return device
