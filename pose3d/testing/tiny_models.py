"""Tiny random-weight perception models, saved to disk so tests load them through the real paths.

Nothing here downloads: YOLO is built from its architecture YAML (shipped inside ultralytics),
DepthPro from a shrunken `DepthProConfig`. Tests and benchmarks import them from here.
"""

from __future__ import annotations

import os
from pathlib import Path


def save_tiny_yolo_pose(path: Path) -> Path:
    """A yolo11n-pose network with random weights, saved as a `.pt` that `YOLO(path)` loads."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics import YOLO

    path.parent.mkdir(parents=True, exist_ok=True)
    YOLO("yolo11n-pose.yaml").save(str(path))
    return path


def save_tiny_depthpro(directory: Path, image_size: int = 32) -> Path:
    """A DepthPro with the field-of-view head, a few thousand weights, plus its image processor.

    The processor resizes every image to `image_size`; the model's patch size is half of it
    (DepthPro cuts the full-resolution image into overlapping patches of `patch_size`).
    """
    import torch
    from transformers import DepthProConfig, DepthProForDepthEstimation, DepthProImageProcessor

    torch.manual_seed(0)
    encoder = {
        "model_type": "dinov2", "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 32, "patch_size": 4, "image_size": image_size // 2,
    }
    config = DepthProConfig(
        patch_size=image_size // 2,
        fusion_hidden_size=16,
        intermediate_hook_ids=[1, 0],
        intermediate_feature_dims=[8, 8],
        scaled_images_ratios=[0.5, 1.0],
        scaled_images_overlap_ratios=[0.0, 0.5],
        scaled_images_feature_dims=[8, 8],
        merge_padding_value=1,
        use_fov_model=True,
        num_fov_head_layers=1,
        image_model_config=dict(encoder),
        patch_model_config=dict(encoder),
        fov_model_config=dict(encoder),
    )
    directory.mkdir(parents=True, exist_ok=True)
    DepthProForDepthEstimation(config).save_pretrained(directory)
    DepthProImageProcessor(size={"height": image_size, "width": image_size}).save_pretrained(directory)
    return directory


def untrained_checkpoint(config, model_name: str, train_shards, val_shards, out_dir: Path) -> Path:
    """`out_dir/best.pt` as the trainer writes it, of an untrained `model_name`: evaluation tests need a
    real checkpoint (its config, layout and identity), not a good model."""
    from pose3d.training.distributed import DistContext
    from pose3d.training.pipeline import build_trainer

    trainer = build_trainer(config, model_name, train_shards, val_shards, out_dir, DistContext())
    path = Path(out_dir) / "best.pt"
    trainer.save_checkpoint(path)
    return path
