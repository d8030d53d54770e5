"""Which input modalities (rgb, depth, keypoints) a model reads, and the sample fields that follow.

`model.cnn.inputs` and `model.transformer.inputs` switch modalities off (an ablation); the lifter
reads the 2D keypoints, and with `model.lifter.inputs: [keypoints, depth]` also the depth cues at them. A switched-off modality is removed before the network sees it:
its channels are dropped (rgb, depth) or its keypoints are marked missing (score 0), so nothing
of it can leak into the prediction. The training and evaluation datasets then skip reading and
decoding what no model input needs (image crops are the expensive part of a shard).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from pose3d.config import MODEL_INPUTS, Config

# Sample fields every model needs: the target, the camera and the crop (the 2D keypoints also
# drive augmentation and give the models their camera-normalised frame; they are blanked, not dropped).
BASE_FIELDS: tuple[str, ...] = ("keypoints_2d", "joints_3d", "intrinsics", "crop")
FIELD_OF_INPUT = {"rgb": "image", "depth": "depth"}


def model_inputs(model_name: str, config: Config) -> tuple[str, ...]:
    """The modalities `model_name` reads under `config`, in the canonical order rgb, depth, keypoints."""
    section = getattr(config.model, model_name, None)
    if section is None or not hasattr(section, "inputs"):
        raise ValueError(f"unknown model {model_name!r}")
    return check_inputs(section.inputs, f"model.{model_name}.inputs")


def check_inputs(inputs: Sequence[str], key: str = "inputs") -> tuple[str, ...]:
    """Validate a list of modalities; returns it in canonical order."""
    unknown = sorted(set(inputs) - set(MODEL_INPUTS))
    if unknown:
        raise ValueError(f"config key '{key}': unknown inputs {unknown}; allowed values: {list(MODEL_INPUTS)}")
    if not inputs:
        raise ValueError(f"config key '{key}': at least one input is needed; allowed values: {list(MODEL_INPUTS)}")
    return tuple(name for name in MODEL_INPUTS if name in inputs)


def sample_fields(inputs: Sequence[str]) -> tuple[str, ...]:
    """The sample fields (training-dataset contract) a model with these inputs needs."""
    return BASE_FIELDS + tuple(FIELD_OF_INPUT[name] for name in MODEL_INPUTS if name in inputs and name in FIELD_OF_INPUT)


def blank_keypoints(keypoints: torch.Tensor, inputs: Sequence[str]) -> torch.Tensor:
    """Keypoints (B, J, 3) as given, or all missing (zeros, score 0) when `keypoints` is switched off."""
    return keypoints if "keypoints" in inputs else torch.zeros_like(keypoints)
