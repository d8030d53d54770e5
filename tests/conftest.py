"""Shared test set-up: offline model hubs, the tiny config as a fixture, and a tiny synthetic dataset.

Fixtures that benchmarks use too live in `pose3d.testing`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pose3d.testing.config import tiny_config_dict

REPO_ROOT = Path(__file__).resolve().parent.parent

# Nothing in the tests may wait on a network: weights are built and saved by the tests.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / "pose3d-tests-yolo-config"))
Path(os.environ["YOLO_CONFIG_DIR"]).mkdir(parents=True, exist_ok=True)



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
