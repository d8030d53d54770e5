"""Build a pose model by name from the config, and rebuild one from a training checkpoint.

Checkpoint contract (written by the trainer): a dict holding at least `model` (state_dict),
`model_name`, `config` (`Config.to_dict()`), `keypoints_layout`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pose3d import skeleton
from pose3d.config import Config, config_from_dict
from pose3d.models.common import count_parameters

log = logging.getLogger(__name__)

MODEL_NAMES: tuple[str, ...] = ("cnn", "transformer", "lifter", "depth_lifter")
# Models of the lifter's kind (an MLP on the 2D keypoints, sized by their own `model.<name>` section):
# the keypoint-only baseline and a second one that also reads the depth cues, the image models' base.
LIFTER_MODELS: tuple[str, ...] = ("lifter", "depth_lifter")
CHECKPOINT_KEYS: tuple[str, ...] = ("model", "model_name", "config", "keypoints_layout")


def build_model(name: str, config: Config, keypoints_layout: str) -> nn.Module:
    """The model `name` (one of MODEL_NAMES) sized by `config.model`, for 2D keypoints in `keypoints_layout`.

    Every model maps a batch dict (image, depth, keypoints_2d, intrinsics, crop; only the fields of
    its `pose3d.models.inputs.model_inputs`) to joints_rel_mm (B, 17, 3), root_mm (B, 3) and
    joints_mm (B, 17, 3), Human3.6M-17 in camera space.
    """
    skeleton.get_layout(keypoints_layout)  # a clear error for an unknown layout
    image_size = config.shards.image_size
    if name == "cnn":
        from pose3d.models.cnn import CnnPoseModel

        model = CnnPoseModel(config.model.cnn, image_size, keypoints_layout, base_lifter(name, config, keypoints_layout))
    elif name == "transformer":
        from pose3d.models.transformer import TransformerPoseModel

        model = TransformerPoseModel(
            config.model.transformer, image_size, keypoints_layout, base_lifter(name, config, keypoints_layout)
        )
    elif name in LIFTER_MODELS:
        from pose3d.models.lifter import LifterPoseModel

        model = LifterPoseModel(getattr(config.model, name), image_size, keypoints_layout)
    else:
        raise ValueError(f"unknown model {name!r}; known: {list(MODEL_NAMES)}")
    log.info("built model %s (%s keypoints): %.2fM parameters", name, keypoints_layout, count_parameters(model) / 1e6)
    return model


def base_lifter(name: str, config: Config, keypoints_layout: str) -> nn.Module | None:
    """The frozen lifter named by `model.<name>.base_model` (lifter | depth_lifter), shaped by its own
    `model.<base>` section; None for base_model: none.

    Its weights come from that lifter's training (`base_lifter.load_base_lifter`) or from the image
    model's own checkpoint, which holds them.
    """
    base = getattr(getattr(config.model, name), "base_model", "none")
    if base == "none":
        return None
    if base not in LIFTER_MODELS:
        raise ValueError(f"config key 'model.{name}.base_model': unknown base {base!r}; allowed values: "
                         f"{['none', *LIFTER_MODELS]}")
    from pose3d.models.base_lifter import FrozenLifter
    from pose3d.models.lifter import LifterPoseModel

    return FrozenLifter(LifterPoseModel(getattr(config.model, base), config.shards.image_size, keypoints_layout), base)


def load_model_from_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model saved in a training checkpoint; returns (model in eval mode, checkpoint dict)."""
    from pose3d.validation import load_state_checked, read_checkpoint_file

    path = Path(path)
    checkpoint = read_checkpoint_file(path, device)
    missing = [key for key in CHECKPOINT_KEYS if not isinstance(checkpoint, dict) or key not in checkpoint]
    if missing:
        raise ValueError(f"model checkpoint {path} lacks the keys {missing}; is it a pose3d training checkpoint?")
    config = config_from_dict(checkpoint["config"])
    model = build_model(checkpoint["model_name"], config, checkpoint["keypoints_layout"])
    state = {key.removeprefix("module."): value for key, value in checkpoint["model"].items()}  # DDP-saved too
    load_state_checked(model, state, path)
    model.to(device).eval()
    return model, checkpoint
