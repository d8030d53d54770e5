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


def resolve_device(device: str) -> str:
    """`auto` -> `cuda` when a GPU is visible, else `cpu`; other values pass through."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise PerceptionError(f"config key 'perception.device' is {device!r} but no CUDA device is visible")
    return device
