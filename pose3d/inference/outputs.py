"""The files inference writes: per-image `.npy` + `.json`, and `summary.json`, with their JSON Schemas.

They are written by `run_inference` through `pose3d.io` (temporary name, then rename).

The schemas below are the documentation of the output format (and the tests validate
every written file against them). Units: pixels for 2D, millimetres for 3D, camera
space x right, y down, z forward; 3D joints are Human3.6M-17, root (pelvis) first.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

OUTPUT_SCHEMA_VERSION = 1
INTRINSICS_SOURCES = ("user", "dataset", "exif_35mm", "exif_focal_plane", "depthpro_fov", "default_fov")

_POINT2 = {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3}
_POINT3 = {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3}
_JOINTS3 = {"type": "array", "items": _POINT3, "minItems": 17, "maxItems": 17}

REPROJECTION_SCHEMA: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "how far the 3D joints, projected with the intrinsics, land from the detected 2D keypoints "
    "(pose3d.inference.reprojection); null with fewer than 6 detected joints",
    "required": ["px", "of_size", "joints", "doubtful"],
    "additionalProperties": False,
    "properties": {
        "px": {"type": "number", "minimum": 0, "description": "mean distance, image pixels"},
        "of_size": {"type": "number", "minimum": 0, "description": "px over the person's 2D size (RMS joint spread)"},
        "joints": {"type": "integer", "minimum": 0, "description": "joints compared"},
        "doubtful": {"type": "boolean", "description": "of_size above DOUBTFUL_SHARE: doubt this result"},
    },
}

IMAGE_RESULT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "pose3d inference result for one image ({name}.json)",
    "type": "object",
    "required": ["schema_version", "image", "model", "intrinsics", "backends", "people"],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"const": OUTPUT_SCHEMA_VERSION},
        "image": {
            "type": "object",
            "required": ["path", "name", "width", "height"],
            "additionalProperties": False,
            "properties": {
                "path": {"type": "string", "description": "the input image file"},
                "name": {"type": "string", "description": "output name, the image path below the input folder with its extension: {name}.npy, {name}.json"},
                "width": {"type": "integer", "minimum": 1},
                "height": {"type": "integer", "minimum": 1},
            },
        },
        "model": {
            "type": "object",
            "required": ["name", "checkpoint", "checkpoint_id"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "description": "model family, e.g. cnn | transformer"},
                "checkpoint": {"type": "string", "description": "checkpoint file path"},
                "checkpoint_id": {"type": "string", "description": "first 16 hex digits of the file's sha256"},
            },
        },
        "intrinsics": {
            "type": "object",
            "required": ["fx", "fy", "cx", "cy", "source"],
            "additionalProperties": False,
            "description": "pinhole intrinsics of the original image, pixels",
            "properties": {
                "fx": {"type": "number", "exclusiveMinimum": 0},
                "fy": {"type": "number", "exclusiveMinimum": 0},
                "cx": {"type": "number"},
                "cy": {"type": "number"},
                "source": {
                    "enum": list(INTRINSICS_SOURCES),
                    "description": "user: given; dataset: the dataset camera; exif_35mm / exif_focal_plane: "
                    "the photo's EXIF focal length (35 mm equivalent, or mm with the focal-plane resolution); "
                    "depthpro_fov: DepthPro's field-of-view focal estimate; default_fov: a 60 degree horizontal "
                    "field of view (pose3d.inference.intrinsics). Principal point at the image centre unless "
                    "user or dataset",
                },
            },
        },
        "backends": {
            "type": "object",
            "required": ["keypoints", "depth"],
            "additionalProperties": False,
            "properties": {"keypoints": {"type": "string"}, "depth": {"type": "string"}},
        },
        "people": {
            "type": "array",
            "description": "one entry per detected person, in the order of the .npy rows (empty: nobody found)",
            "items": {
                "type": "object",
                "required": ["box_xyxy", "score", "keypoints_2d", "joints_3d_mm", "root_mm"],
                "additionalProperties": False,
                "properties": {
                    "box_xyxy": {
                        "type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4,
                        "description": "person box x0, y0, x1, y1 in image pixels",
                    },
                    "score": {"type": "number", "description": "detector confidence (1 for dataset boxes)"},
                    "keypoints_2d": {
                        "type": "object",
                        "required": ["layout", "points"],
                        "additionalProperties": False,
                        "properties": {
                            "layout": {"enum": ["coco17", "h36m17"]},
                            "points": {
                                "type": "array", "items": _POINT2, "minItems": 17, "maxItems": 17,
                                "description": "x, y image pixels and score per joint",
                            },
                        },
                    },
                    "joints_3d_mm": {**_JOINTS3, "description": "Human3.6M-17 joints, camera space, mm"},
                    "root_mm": {**_POINT3, "description": "pelvis (joint 0), camera space, mm"},
                    "reprojection": REPROJECTION_SCHEMA,
                    "joints_3d_gt_mm": {**_JOINTS3, "description": "ground truth, dataset images only"},
                    "mediapipe_world_mm": {
                        **_JOINTS3,
                        "description": "mediapipe backend only: MediaPipe's own 3D (pose_world_landmarks) as "
                        "Human3.6M-17, mm, pelvis at 0: a peer estimate, not ground truth",
                    },
                },
            },
        },
    },
}

VIDEO_RESULT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "pose3d inference result for one video ({name}.json beside {name}.npy of shape (T, P, 17, 3))",
    "type": "object",
    "required": ["schema_version", "video", "model", "intrinsics", "backends", "smoothing", "tracks", "frames"],
    "properties": {
        "schema_version": {"const": OUTPUT_SCHEMA_VERSION},
        "video": {
            "type": "object",
            "required": ["path", "name", "width", "height", "fps", "frames"],
            "properties": {
                "path": {"type": "string"}, "name": {"type": "string"},
                "width": {"type": "integer", "minimum": 1}, "height": {"type": "integer", "minimum": 1},
                "fps": {"type": "number", "exclusiveMinimum": 0},
                "frames": {"type": "integer", "minimum": 0, "description": "frames decoded (T)"},
            },
        },
        "model": {"type": "object"},
        "intrinsics": {"type": "object", "required": ["fx", "fy", "cx", "cy", "source"]},
        "backends": {"type": "object"},
        "smoothing": {
            "type": "object",
            "required": ["filter"],
            "description": "filter: none | one_euro (with min_cutoff, beta, d_cutoff)",
        },
        "tracks": {
            "type": "array",
            "description": "one entry per person track, in the order of the .npy's P axis",
            "items": {
                "type": "object",
                "required": ["id", "first_frame", "last_frame", "frames_seen"],
                "properties": {
                    "id": {"type": "integer"}, "first_frame": {"type": "integer"},
                    "last_frame": {"type": "integer"}, "frames_seen": {"type": "integer"},
                },
            },
        },
        "frames": {
            "type": "array",
            "description": "per frame: which tracks were seen, their boxes and 2D keypoints (NaN rows in the "
            ".npy where a track is absent)",
            "items": {
                "type": "object",
                "required": ["index", "people"],
                "properties": {
                    "index": {"type": "integer"},
                    "time_s": {
                        "type": ["number", "null"],
                        "description": "the frame's presentation time from the container, seconds: a phone's "
                        "video has a variable frame rate, where index / fps drifts",
                    },
                    "people": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["track", "box_xyxy", "score", "keypoints_2d"],
                            "properties": {"reprojection": REPROJECTION_SCHEMA},
                        },
                    },
                },
            },
        },
    },
}

SUMMARY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "pose3d inference run summary (summary.json)",
    "type": "object",
    "required": [
        "schema_version", "checkpoint", "model", "device", "images_found", "images_processed", "images_skipped",
        "people_found", "stage_seconds", "images_per_second",
    ],
    "properties": {
        "schema_version": {"const": OUTPUT_SCHEMA_VERSION},
        "checkpoint": {"type": "string"},
        "model": {"type": "string"},
        "device": {"type": "string"},
        "images_found": {"type": "integer", "minimum": 0, "description": "image files considered"},
        "images_processed": {"type": "integer", "minimum": 0},
        "images_skipped": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "reason"],
                "properties": {"path": {"type": "string"}, "reason": {"type": "string"}},
            },
            "description": "inputs not processed (non-image files, unreadable images) and why",
        },
        "people_found": {"type": "integer", "minimum": 0},
        "people_doubtful": {
            "type": "integer", "minimum": 0,
            "description": "people (video: person-frames) whose 3D pose does not reproject onto their 2D keypoints",
        },
        "stage_seconds": {
            "type": "object",
            "description": "wall time per stage: load, keypoints, depth, model, write, draw",
            "additionalProperties": {"type": "number", "minimum": 0},
        },
        "images_per_second": {"type": "number", "minimum": 0},
        "outputs": {"type": "array", "items": {"type": "string"}, "description": "written output names ({name}.npy, {name}.json)"},
    },
}


def checkpoint_id(path: str | Path, digits: int = 16) -> str:
    """The first `digits` hex digits of the checkpoint file's sha256: names the exact weights used."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:digits]


def validate_result(data: dict[str, Any], schema: dict[str, Any] = IMAGE_RESULT_SCHEMA) -> None:
    """Raise jsonschema.ValidationError when `data` does not follow `schema`."""
    import jsonschema

    jsonschema.Draft202012Validator(schema).validate(data)
