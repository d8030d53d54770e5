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
