"""Inference with a model that reads no depth (the lifter): depth backend `none`, and no depth run at all."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from pose3d.config import config_from_dict
from pose3d.inference import InferenceOptions, default_inference_images, options_from_config, run_inference
from pose3d.models.registry import build_model
from pose3d.testing.config import tiny_config_dict


def save_checkpoint(path: Path, config, name: str, layout: str = "h36m17") -> Path:
    torch.manual_seed(0)
    model = build_model(name, config, layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "model_name": name, "config": config.to_dict(),
                "keypoints_layout": layout}, path)
    return path


@pytest.mark.parametrize("depth_backend", ["none", "dataset"])
def test_lifter_infers_without_any_depth(tiny_synthetic, tmp_path, depth_backend):
    _root, config = tiny_synthetic
    checkpoint = save_checkpoint(tmp_path / "lifter.pt", config, "lifter")
    images = default_inference_images(config)
    options = replace(options_from_config(config), depth_backend=depth_backend, progress=False)
    summary = run_inference(checkpoint, images, tmp_path / "out", options)
    assert summary["images_processed"] == len(images) and summary["people_found"] == len(images)
    assert "depth" not in summary["stage_seconds"]  # no depth backend ran, whatever was configured
    assert len(summary["outputs"]) == len(images)
    for name in summary["outputs"]:
        joints = np.load(tmp_path / "out" / f"{name}.npy")
        result = json.loads((tmp_path / "out" / f"{name}.json").read_text())
        assert joints.shape == (1, 17, 3) and np.isfinite(joints).all() and (joints[..., 2] > 0).all()
        assert result["backends"]["depth"] == "none"


def test_depth_backend_none_is_refused_for_a_model_that_reads_depth(tiny_synthetic, tmp_path):
    _root, config = tiny_synthetic
    checkpoint = save_checkpoint(tmp_path / "transformer.pt", config, "transformer")
    options = replace(options_from_config(config), depth_backend="none", progress=False)
    with pytest.raises(ValueError, match="depth backend 'none'"):
        run_inference(checkpoint, default_inference_images(config), tmp_path / "out", options)


def test_transformer_without_depth_input_skips_depth(tiny_synthetic, tmp_path):
    root, _config = tiny_synthetic
    config = config_from_dict(tiny_config_dict(root, model={"transformer": {"inputs": ["rgb", "keypoints"]}}))
    checkpoint = save_checkpoint(tmp_path / "transformer.pt", config, "transformer")
    options = replace(InferenceOptions(keypoints_backend="dataset", depth_backend="depthpro", dataset_root=root,
                                       visualize=False, progress=False))
    summary = run_inference(checkpoint, default_inference_images(config)[:1], tmp_path / "out", options)
    assert summary["images_processed"] == 1 and "depth" not in summary["stage_seconds"]
