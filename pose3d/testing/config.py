"""The default config shrunk to seconds of work: for tests, benchmarks and quick manual runs.

Reads `config/config.yaml` of the source checkout this package sits in.
"""

from __future__ import annotations

from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]

TINY_OVERRIDES = {
    "dataset": {"subjects": [1, 9], "actions": [2, 14], "subactions": [1], "cameras": [1, 2], "frame_step": 2},
    "synthetic": {"frames_per_sequence": 8, "image_width": 128, "image_height": 128},
    "shards": {"image_size": 32, "depth_size": 16},
    "split": {"train_subjects": [1], "test_subjects": [9], "train_shards": 2, "test_shards": 1},
    "model": {
        # From scratch, so a unit test can train an image model alone; tests/test_base_lifter.py and the
        # end-to-end workflow test train one on a base lifter (the default's base_model: depth_lifter).
        "cnn": {"backbone": "resnet18", "hidden_dim": 64, "heatmap_size": 16, "base_model": "none"},
        "transformer": {"patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2, "base_model": "none"},
        "lifter": {"hidden_dim": 64, "blocks": 1, "train": {"epochs": 2, "batch_size": 8}},
        "depth_lifter": {"hidden_dim": 64, "blocks": 1, "train": {"epochs": 2, "batch_size": 8}},
    },
    "train": {"epochs": 1, "batch_size": 8, "num_workers": 0, "shuffle_buffer": 16, "warmup_steps": 2, "log_every": 1},
    "evaluate": {"batch_size": 16, "sheet_samples": 2},
    "infer": {"max_images": 2},
}


def tiny_config_dict(root: str | Path, **section_overrides) -> dict:
    """The default config shrunk to seconds of work, with the dataset under `root`."""
    from pose3d.config import deep_merge

    config_path = REPO_ROOT / "config" / "config.yaml"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} not found: pose3d.testing needs a source checkout")
    with open(config_path) as handle:
        base = yaml.safe_load(handle)
    for name in ("cnn", "transformer"):  # their training overrides are for the lifter's correction
        base.get("model", {}).get(name, {}).pop("train", None)
    merged = deep_merge(base, TINY_OVERRIDES)
    merged = deep_merge(merged, {"dataset": {"root": str(root)}})
    return deep_merge(merged, section_overrides)
