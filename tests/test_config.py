"""Config loading: the defaults validate, wrong values fail naming the key."""

from __future__ import annotations

import pytest
import yaml

from pose3d.config import Config, ConfigError, config_from_dict, load_config
from pose3d.testing.config import REPO_ROOT


def default_dict() -> dict:
    with open(REPO_ROOT / "config" / "config.yaml") as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize("name", ["config.yaml", "h36m.yaml"])
def test_shipped_configs_validate(name):
    config = load_config(REPO_ROOT / "config" / name)
    assert isinstance(config, Config)
    assert set(config.split.train_subjects).isdisjoint(config.split.test_subjects)


def test_defaults_fill_missing_keys():
    config = config_from_dict({})
    assert config.train.loss.mse == 1.0
    assert config.shards.image_codec == "jpeg"
    assert config.to_dict()["train"]["augment"]["flip_prob"] == 0.5


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("train", "batch_size", 0, "train.batch_size"),
        ("shards", "image_codec", "png", "shards.image_codec"),
        ("dataset", "source", "coco", "allowed values: ['synthetic', 'h36m']"),
        ("train", "lr", -1.0, "train.lr"),
        ("split", "test_subjects", [9, 12], "split.test_subjects.1"),
        ("perception", "device", "gpu0", "perception.device"),
        ("train", "amp", "fp8", "train.amp"),
        ("storage", "remote", "no-colon", "storage.remote"),
    ],
)
def test_wrong_values_name_the_key(section, key, value, message):
    raw = default_dict()
    raw[section][key] = value
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        config_from_dict(raw)


def test_unknown_key_lists_known_keys():
    raw = default_dict()
    raw["train"]["epochz"] = 3
    with pytest.raises(ConfigError, match="known keys"):
        config_from_dict(raw)


def test_overlapping_split_subjects_fail():
    raw = default_dict()
    raw["split"]["test_subjects"] = [8, 9]
    with pytest.raises(ConfigError, match="share subjects \\[8\\]"):
        config_from_dict(raw)


def test_infer_model_must_be_trained():
    raw = default_dict()
    raw["models"] = ["transformer"]
    raw["infer"]["model"] = "cnn"
    with pytest.raises(ConfigError, match="infer.model"):
        config_from_dict(raw)


def test_missing_file_and_bad_yaml_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


@pytest.mark.slow
def test_installed_wheel_validates_the_shipped_config(tmp_path):
    """The schema travels as package data: a wheel installed away from the checkout validates config.yaml."""
    import os
    import shutil
    import subprocess
    import sys

    # Build from a copy: the checkout gets no build/ or egg-info, and copytree follows the
    # schema link, so the copy holds the schema itself as an sdist would.
    source = tmp_path / "source"
    shutil.copytree(REPO_ROOT / "pose3d", source / "pose3d", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(tmp_path / "dist"),
         str(source)], capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("pose3d-*.whl")
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    check = (
        "import sys, pose3d, pose3d.config as c; "
        f"assert pose3d.__file__.startswith({str(target)!r}), pose3d.__file__; "
        f"config = c.load_config({str(REPO_ROOT / 'config' / 'config.yaml')!r}); "
        "print(pose3d.__file__, config.split.test_subjects)"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}  # the installed copy only, never the checkout
    result = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert str(target) in result.stdout
