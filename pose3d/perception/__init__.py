"""Perception backends: 2D keypoints (yolo, groundtruth) and depth maps (depthpro, dataset).

Every backend is a small class called on a batch of `Frame`s; `build_keypoint_backend` and
`build_depth_backend` are the one way to make one (preprocess and inference alike),
`*_from_config` feed them the `perception:` settings. Model weights are never downloaded: a missing
file is a `PerceptionError` that says which file to put where.
"""

from pose3d.perception.base import Frame, PerceptionError, resolve_device
from pose3d.perception.depth import (
    DatasetDepth,
    DepthProDepth,
    DepthResult,
    build_depth_backend,
    depth_backend_from_config,
)
from pose3d.perception.keypoints import (
    Detections,
    GroundTruthKeypoints,
    YoloKeypoints,
    box_iou,
    build_keypoint_backend,
    keypoint_backend_from_config,
    select_person,
)

__all__ = [
    "DatasetDepth",
    "DepthProDepth",
    "DepthResult",
    "Detections",
    "Frame",
    "GroundTruthKeypoints",
    "PerceptionError",
    "YoloKeypoints",
    "box_iou",
    "build_depth_backend",
    "build_keypoint_backend",
    "depth_backend_from_config",
    "keypoint_backend_from_config",
    "resolve_device",
    "select_person",
]
