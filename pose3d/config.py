"""Load and validate the workflow config into one typed object.

The same schema serves the Snakefile (`snakemake.utils.validate` on `config/schema.yaml`) and
this module, so a value that one accepts the other accepts too. Defaults come from the schema.
It ships inside the package as `pose3d/config_schema.yaml` (in the checkout a link to
`config/schema.yaml`) and is read through `importlib.resources`, so an installed wheel
validates configs without the source tree.
"""

from __future__ import annotations

import copy
import importlib.resources
import re
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, get_type_hints

import jsonschema
import yaml

SCHEMA_RESOURCE = "config_schema.yaml"


class ConfigError(ValueError):
    """A config value is wrong; the message names the key and what is allowed."""


@dataclass(frozen=True)
class DatasetConfig:
    source: str
    root: str
    subjects: list[int]
    actions: list[int]
    subactions: list[int]
    cameras: list[int]
    frame_step: int
    test_frame_step: int | None  # None: the test subjects take frame_step too
    camera_t: str  # translation | centre: how the camera file's t is read


@dataclass(frozen=True)
class SyntheticConfig:
    seed: int
    frames_per_sequence: int
    image_width: int
    image_height: int
    jpeg_quality: int


@dataclass(frozen=True)
class KeypointsConfig:
    backend: str
    weights: str
    batch_size: int
    confidence: float
    noise_px: float
    dropout: float
    error_model: str
    relative_error: float
    swap_prob: float
    occluded_drop_prob: float
    person_boxes: str
    miss_prob: float
    second_look: bool = True  # a missed subject is looked for again on the annotated box (whole-frame detectors)


@dataclass(frozen=True)
class DepthConfig:
    backend: str
    model: str
    batch_size: int
    error_model: str
    scale_log_std: float
    distortion: float
    noise: float
    edge_blur: float


@dataclass(frozen=True)
class PerceptionConfig:
    device: str
    frames_per_job: int  # 0: one preprocess job per sequence; else jobs of >= this many frames
    keypoints: KeypointsConfig
    depth: DepthConfig


@dataclass(frozen=True)
class ShardsConfig:
    image_size: int
    depth_size: int
    image_codec: str
    jpeg_quality: int
    crop_padding: float


@dataclass(frozen=True)
class SplitConfig:
    train_subjects: list[int]
    test_subjects: list[int]
    train_shards: int
    test_shards: int
    val_fraction: float
    val_shards: int


@dataclass(frozen=True)
class ShuffleConfig:
    seed: int


MODEL_INPUTS: tuple[str, ...] = ("rgb", "depth", "keypoints")


@dataclass(frozen=True)
class CnnConfig:
    backbone: str
    pretrained: bool | str
    heatmap_size: int
    heatmap_sigma: float
    hidden_dim: int
    dropout: float
    inputs: list[str] = field(default_factory=lambda: list(MODEL_INPUTS))
    base_model: str = "none"  # "lifter" | "depth_lifter": learn a correction on top of that trained, frozen lifter
    train: dict[str, Any] = field(default_factory=dict)  # overrides of `train:` for this model


@dataclass(frozen=True)
class TransformerConfig:
    patch_size: int
    embed_dim: int
    depth: int
    num_heads: int
    mlp_ratio: float
    dropout: float
    inputs: list[str] = field(default_factory=lambda: list(MODEL_INPUTS))
    base_model: str = "none"  # "lifter" | "depth_lifter": learn a correction on top of that trained, frozen lifter
    train: dict[str, Any] = field(default_factory=dict)  # overrides of `train:` for this model


@dataclass(frozen=True)
class LifterConfig:
    hidden_dim: int
    blocks: int
    dropout: float
    inputs: list[str] = field(default_factory=lambda: ["keypoints"])  # + "depth": depth cues at the keypoints
    train: dict[str, Any] = field(default_factory=dict)  # overrides of `train:` for this model


@dataclass(frozen=True)
class ModelConfig:
    cnn: CnnConfig
    transformer: TransformerConfig
    lifter: LifterConfig
    depth_lifter: LifterConfig  # a second lifter, by default reading the depth cues too


@dataclass(frozen=True)
class LossWeights:
    mse: float
    l1: float
    distance: float
    root: float


@dataclass(frozen=True)
class AugmentConfig:
    flip_prob: float
    rotation_prob: float
    rotation_deg: float
    scale_prob: float
    scale_range: float
    translate_prob: float
    translate_range: float
    color_prob: float
    color_strength: float


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    batch_size: int
    grad_accum_steps: int
    lr: float
    weight_decay: float
    warmup_steps: int
    min_lr_ratio: float
    grad_clip: float
    amp: str
    num_workers: int
    shuffle_buffer: int
    decode_on: str
    device: str
    gpus: int
    seed: int
    log_every: int
    preview_samples: int
    checkpoint_every_steps: int
    checkpoint_every_minutes: float
    stop_before_time_limit_minutes: float
    select_on: str
    loss: LossWeights
    augment: AugmentConfig


@dataclass(frozen=True)
class EvaluateConfig:
    batch_size: int
    sheet_samples: int


@dataclass(frozen=True)
class InferConfig:
    enabled: bool
    model: str
    images: str
    max_images: int
    keypoints_backend: str
    depth_backend: str
    confidence: float
    max_people: int
    intrinsics: list[float]
    visualize: bool
    smoothing: str
    smoothing_min_cutoff: float
    smoothing_beta: float


@dataclass(frozen=True)
class StorageConfig:
    remote: str
    rclone_config: str
    cache_dir: str
    retries: int


@dataclass(frozen=True)
class Config:
    dataset: DatasetConfig
    synthetic: SyntheticConfig
    perception: PerceptionConfig
    shards: ShardsConfig
    split: SplitConfig
    shuffle: ShuffleConfig
    models: list[str]
    model: ModelConfig
    train: TrainConfig
    evaluate: EvaluateConfig
    infer: InferConfig
    storage: StorageConfig
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The validated config as plain data (with defaults filled), e.g. for checkpoints."""
        return copy.deepcopy(self.raw)

    def redacted_dict(self) -> dict[str, Any]:
        """`to_dict()` with the remote's credentials replaced by ***: for files that outlive the run."""
        from pose3d.validation import redact_secrets

        data = self.to_dict()
        data["storage"]["remote"] = redact_secrets(data["storage"]["remote"])
        return data


def load_schema(path: str | Path | None = None) -> dict[str, Any]:
    """The config JSON schema: the packaged `config_schema.yaml`, or the file at `path`."""
    if path is not None:
        return yaml.safe_load(Path(path).read_text())
    return yaml.safe_load(importlib.resources.files("pose3d").joinpath(SCHEMA_RESOURCE).read_text())


def _validator_filling_defaults(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    """A Draft 2020-12 validator that writes each property's `default` into missing keys."""
    base = jsonschema.Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema_node):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema_node)

    extended = jsonschema.validators.extend(base, {"properties": set_defaults})
    return extended(schema)


def _describe(error: jsonschema.ValidationError) -> str:
    key = ".".join(str(part) for part in error.absolute_path) or "<top level>"
    if error.validator == "enum":
        return f"config key '{key}': {error.instance!r} is not allowed; allowed values: {error.validator_value}"
    if error.validator == "additionalProperties":
        return f"config key '{key}': {error.message}; known keys: {sorted(error.schema.get('properties', {}))}"
    return f"config key '{key}': {error.message}"


def validate_dict(raw: dict[str, Any], schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fill defaults and validate; raise ConfigError naming every offending key."""
    data = copy.deepcopy(raw) if raw is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(f"config must be a mapping, got {type(data).__name__}")
    validator = _validator_filling_defaults(schema or load_schema())
    # One pass: a section's default ({}) is filled before the validator descends into it.
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(_describe(e) for e in errors))
    _check_consistency(data)
    return data


def _check_base_models(data: dict[str, Any]) -> None:
    """An image model on a base lifter needs that lifter trained, and every input the lifter reads."""
    for name in ("cnn", "transformer"):
        section = data["model"][name]
        base = section["base_model"]
        if name not in data["models"] or base == "none":
            continue
        key = f"model.{name}.base_model"
        if base not in data["models"]:
            raise ConfigError(f"config key '{key}': {base!r} needs the {base} trained; add {base} to 'models' "
                              f"(models = {data['models']}) or set {key}: none")
        base_inputs = set(data["model"][base]["inputs"])
        if not base_inputs <= set(section["inputs"]):
            raise ConfigError(f"config key '{key}': {base!r} reads {sorted(base_inputs)}, which model.{name}.inputs "
                              f"{section['inputs']} lacks; add them or set {key}: none")


def _check_consistency(data: dict[str, Any]) -> None:
    """Rules that span several keys and that a JSON schema cannot express."""
    split = data["split"]
    overlap = sorted(set(split["train_subjects"]) & set(split["test_subjects"]))
    if overlap:
        raise ConfigError(
            f"config keys 'split.train_subjects' and 'split.test_subjects' share subjects {overlap}; "
            "a subject must be in one split only"
        )
    missing = sorted((set(split["train_subjects"]) | set(split["test_subjects"])) - set(data["dataset"]["subjects"]))
    if missing:
        raise ConfigError(
            f"config key 'dataset.subjects': split subjects {missing} are not in it "
            f"(dataset.subjects = {data['dataset']['subjects']})"
        )
    infer = data["infer"]
    if infer["enabled"] and infer["model"] not in data["models"]:
        raise ConfigError(
            f"config key 'infer.model': {infer['model']!r} is not trained; allowed values: {data['models']}"
        )
    if infer["enabled"] and infer["depth_backend"] == "none" and (
        "depth" in data["model"][infer["model"]].get("inputs", [])
    ):
        raise ConfigError(
            f"config key 'infer.depth_backend': 'none' needs a model that reads no depth; "
            f"model {infer['model']!r} reads {data['model'][infer['model']]['inputs']}"
        )
    _check_base_models(data)
    heads = data["model"]["transformer"]
    if heads["embed_dim"] % heads["num_heads"]:
        raise ConfigError(
            f"config key 'model.transformer.num_heads': {heads['num_heads']} must divide "
            f"model.transformer.embed_dim ({heads['embed_dim']})"
        )
    if data["shards"]["image_size"] % heads["patch_size"]:
        raise ConfigError(
            f"config key 'model.transformer.patch_size': {heads['patch_size']} must divide "
            f"shards.image_size ({data['shards']['image_size']})"
        )


def _build(cls: type, data: dict[str, Any]) -> Any:
    hints = get_type_hints(cls)
    values = {}
    for item in fields(cls):
        if item.name == "raw":
            continue
        hint = hints[item.name]
        value = data[item.name]
        values[item.name] = _build(hint, value) if is_dataclass(hint) else value
    return cls(**values)


def config_from_dict(raw: dict[str, Any]) -> Config:
    """Validate a config mapping (as Snakemake holds it) into a typed Config."""
    data = validate_dict(raw)
    config = _build(Config, data)
    object.__setattr__(config, "raw", data)
    return config


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a YAML config file (not validated); ConfigError naming the file."""
    path = Path(path)
    try:
        with open(path) as handle:
            raw = yaml.safe_load(handle) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not a text file") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, not a {type(raw).__name__}")
    return raw


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> Config:
    """Read a YAML config file, apply nested overrides, validate, and type it."""
    path = Path(path)
    raw = read_config_file(path)
    if overrides:
        raw = deep_merge(raw, overrides)
    try:
        return config_from_dict(raw)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def config_with_flags(raw: dict[str, Any], flags: dict[str, tuple[str, Any]]) -> Config:
    """Validate command-line flags through the config schema: `flags` maps a flag (`--device`)
    to (dotted config key, value); None values are left out. A bad value raises ConfigError
    naming the flag and its key, exactly as the schema words it for a config file.
    """
    overrides: dict[str, Any] = {}
    for key, value in (item for item in flags.values() if item[1] is not None):
        *sections, name = key.split(".")
        node = overrides
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = value
    try:
        return config_from_dict(deep_merge(raw, overrides))
    except ConfigError as error:
        message = str(error)
        for flag, (key, value) in flags.items():
            if value is not None:
                pattern = re.compile(rf"config key '({re.escape(key)}(?:\.[^']*)?)'")
                message = pattern.sub(lambda match, flag=flag: f"{flag} (config key '{match.group(1)}')", message)
        raise ConfigError(message) from None


def model_training_config(config: Config, model_name: str) -> Config:
    """`config` with `train:` overridden by the model's own training settings, as that model trains.

    `model.<name>.train`: the lifter (a small MLP that reads no image) wants more epochs, another
    batch size and no DataLoader workers; an image model correcting a trained lifter a lower
    learning rate. Without overrides a model gets `config` itself.
    """
    overrides = getattr(config.model, model_name).train
    if not overrides:
        return config
    return config_from_dict(deep_merge(config.to_dict(), {"train": overrides}))


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge `overrides` into a copy of `base` (mappings merge, the rest replaces)."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
