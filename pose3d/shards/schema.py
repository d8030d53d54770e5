"""The shard format (see README "Shard format"): dataset names, dtypes and file attributes.

Writers and readers import these names; nobody spells a dataset name as a string literal.
"""

from __future__ import annotations

import numpy as np

SCHEMA_VERSION = 2  # 2: depth crops centre-aligned with the image crop (version 1 was half a crop pixel off)
SCHEMA_NAME = "pose3d.shard"

# Per-sample datasets; N is the first axis of each.
IMAGE = "image"  # (N,) vlen uint8 JPEG bytes, or (N, S, S, 3) uint8 when image_codec == "raw"
DEPTH = "depth"  # (N, Sd, Sd) float16, metres, aligned with the image crop
KEYPOINTS_2D = "keypoints_2d"  # (N, 17, 3) float32 (x, y, score) in image-crop pixels; all scores 0: subject missed
JOINTS_3D = "joints_3d"  # (N, 17, 3) float32 Human3.6M-17, camera space, mm, absolute
INTRINSICS = "intrinsics"  # (N, 4) float32 fx, fy, cx, cy of the original image
CROP = "crop"  # (N, 3) float32 x0, y0, scale: original = crop_pixel * scale + (x0, y0)
SUBJECT = "subject"
ACTION = "action"
SUBACTION = "subaction"
CAMERA = "camera"
FRAME = "frame"
PROVENANCE = (SUBJECT, ACTION, SUBACTION, CAMERA, FRAME)  # (N,) int32 each

ARRAY_DATASETS = (DEPTH, KEYPOINTS_2D, JOINTS_3D, INTRINSICS, CROP, *PROVENANCE)
ALL_DATASETS = (IMAGE, *ARRAY_DATASETS)
# Measurements: the writer refuses, and the reader names, a NaN or an infinity in any of them.
FLOAT_DATASETS = (DEPTH, KEYPOINTS_2D, JOINTS_3D, INTRINSICS, CROP)

# File attributes.
ATTR_SCHEMA_NAME = "schema"
ATTR_SCHEMA_VERSION = "schema_version"
ATTR_KEYPOINTS_LAYOUT = "keypoints_layout"  # "coco17" | "h36m17"
ATTR_JOINTS_LAYOUT = "joints_layout"  # always "h36m17"
ATTR_IMAGE_SIZE = "image_size"  # S
ATTR_DEPTH_SIZE = "depth_size"  # Sd
ATTR_IMAGE_CODEC = "image_codec"  # "jpeg" | "raw"
ATTR_SOURCE = "source"  # free text: dataset source and perception backends
ATTR_SPLIT = "split"  # split shards: "train" | "val" | "test" (shuffled train shards keep "train")
ATTR_NUM_SAMPLES = "num_samples"  # written last; a file without it was never finished


def person_detected(keypoints_2d: np.ndarray) -> np.ndarray:
    """(N,) bool from (N, 17, 3) keypoints: False for a sample whose subject the detector missed.

    Such a sample (chunk writes it with every score 0, cropped at the annotated box) is trained on
    by nobody and evaluated like every other frame of the protocol.
    """
    return (np.asarray(keypoints_2d)[..., 2] > 0).any(axis=-1)
