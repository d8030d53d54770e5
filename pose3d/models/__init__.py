"""Pose models: RGB crop + depth crop + 2D keypoints (or keypoints alone) -> Human3.6M-17 joints in camera space (mm)."""

from pose3d.models.registry import CHECKPOINT_KEYS, MODEL_NAMES, build_model, load_model_from_checkpoint

__all__ = ["CHECKPOINT_KEYS", "MODEL_NAMES", "build_model", "load_model_from_checkpoint"]
