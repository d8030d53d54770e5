"""Shared test set-up: offline model hubs, a tiny config, and a tiny synthetic dataset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent

# Nothing in the tests may wait on a network: weights are built and saved by the tests.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / "pose3d-tests-yolo-config"))
Path(os.environ["YOLO_CONFIG_DIR"]).mkdir(parents=True, exist_ok=True)

TINY_OVERRIDES = {
    "dataset": {"subjects": [1, 9], "actions": [2, 14], "subactions": [1], "cameras": [1, 2], "frame_step": 2},
    "synthetic": {"frames_per_sequence": 8, "image_width": 128, "image_height": 128},
    "shards": {"image_size": 32, "depth_size": 16},
    "split": {"train_subjects": [1], "test_subjects": [9], "train_shards": 2, "test_shards": 1},
    "model": {
        "cnn": {"backbone": "resnet18", "hidden_dim": 64, "heatmap_size": 16},
        "transformer": {"patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2},
    },
    "train": {"epochs": 1, "batch_size": 8, "num_workers": 0, "shuffle_buffer": 16, "warmup_steps": 2, "log_every": 1},
    "evaluate": {"batch_size": 16, "sheet_samples": 2},
    "infer": {"max_images": 2},
}


def tiny_config_dict(root: str | Path, **section_overrides) -> dict:
    """The default config shrunk to seconds of work, with the dataset under `root`."""
    from pose3d.config import deep_merge

    with open(REPO_ROOT / "config" / "config.yaml") as handle:
        base = yaml.safe_load(handle)
    merged = deep_merge(base, TINY_OVERRIDES)
    merged = deep_merge(merged, {"dataset": {"root": str(root)}})
    return deep_merge(merged, section_overrides)


@pytest.fixture
def tiny_config(tmp_path):
    """A validated tiny Config whose dataset root is a fresh temporary folder."""
    from pose3d.config import config_from_dict

    return config_from_dict(tiny_config_dict(tmp_path / "synthetic"))


@pytest.fixture(scope="session")
def tiny_synthetic(tmp_path_factory):
    """A tiny synthetic dataset in the Human3.6M layout, generated once per test session.

    Returns (root, config): do not modify the files; copy them if a test must.
    """
    from pose3d.config import config_from_dict
    from pose3d.datasets.synthetic import generate_dataset

    root = tmp_path_factory.mktemp("tiny_synthetic") / "synthetic"
    config = config_from_dict(tiny_config_dict(root))
    generate_dataset(config, root)
    return root, config
